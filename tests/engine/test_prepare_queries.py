"""Preparation queries on DuckDB and Spark: consent and erasure as anti-joins, pseudonyms, counts."""

import pandas as pd
import pytest

from workbench import engine, privacy
from workbench.data import Roles, TransactionRoles

KEY = privacy.PseudonymKey(b"prepare-key-0123456789", "file")


def _inputs():
    customers = pd.DataFrame({
        "cid": ["00042", "b", "c", "d", "e", "f"],
        "name": ["n1", "n2", "n3", "n4", "n5", "n6"],
        "age": [30, 40, 50, 60, 70, 80],
        "opt_out": pd.array([False, True, None, False, False, False], dtype="boolean"),
        "mail": pd.array([True, None, False, None, True, True], dtype="boolean"),
    })
    roles = Roles(id="cid", direct_identifiers=["name"], quasi_identifiers=["age"], features={"demographic": ["age"]},
                  consent={"profiling_opt_out": "opt_out", "marketing_opt_in": "mail"},
                  transactions=TransactionRoles(id="cid", timestamp="ts", amount="amt"))
    tx = pd.DataFrame({"cid": ["00042", "b", "c", "e", "zz", "f", "00042"],
                       "ts": pd.to_datetime(["2024-01-0%d" % i for i in range(1, 8)]),
                       "amt": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]})
    return customers, tx, roles


@pytest.mark.parametrize("name", ["duckdb", "spark"])
@pytest.mark.parametrize("policy", ["no_consent", "consent"])
def test_consent_and_erasure_are_anti_joins_with_the_same_counts_and_pseudonyms(engines, name, policy):
    customers, tx, roles = _inputs()
    forget = ["e", "e", "nobody", "b"]  # a duplicate, an unknown id, an opted-out customer
    eng = engines[name]
    privacy.register_inputs(eng, customers, tx, roles, forget, KEY)
    counts = privacy.exclusion_counts(eng, roles, forget, policy, transactions=True)
    blank_dropped = policy == "no_consent"
    kept_ids = ["00042", *(["c"] if not blank_dropped else []), "d", "f"]
    assert counts == {
        "customers_in_input": 6, "opted_out_of_profiling": 1, "erasure_requests": 3,
        "erased": 1, "erasure_ids_not_found": 1, "customers_kept": len(kept_ids),
        "transactions_in_input": 7, "transactions_of_unknown_customers": 1,
        "transactions_kept": 3 if blank_dropped else 4,
        "profiling_flag_blank": 1, "blank_profiling_flag_treated_as": "opted out" if blank_dropped else "not opted out",
    }
    out = eng.sql(engine.prepared_customers_query("cid", ["cid", "age"], {"marketing_opt_in": "mail"}, policy))
    expected = privacy.pseudonymise(pd.Series(kept_ids), KEY).tolist()
    assert out["customer_id"].tolist() == expected  # input order, HMAC identical to Python's hmac
    mail = dict(zip(customers["cid"], customers["mail"]))
    assert out["consent_marketing_opt_in"].tolist() == [
        bool(mail[i]) if not pd.isna(mail[i]) else policy == "consent" for i in kept_ids
    ]
    assert list(out.columns) == ["customer_id", "age", "consent_marketing_opt_in"]
    record = privacy.consent_record(eng, roles, policy)
    flags, pandas_record = privacy.consent_columns(customers.set_index("cid").loc[kept_ids].reset_index(), roles, policy)
    assert record == pandas_record
    txs = eng.sql(engine.prepared_transactions_query({"cid": "customer_id", "ts": "timestamp", "amt": "amount"}, "cid"))
    kept_tx = tx[tx["cid"].isin(kept_ids)]
    assert txs["amount"].tolist() == kept_tx["amt"].tolist()
    assert txs["customer_id"].tolist() == privacy.pseudonymise(kept_tx["cid"].reset_index(drop=True), KEY).tolist()
    eng.close()


def test_exclude_customers_returns_the_rows_the_engine_keeps_unchanged():
    customers, tx, roles = _inputs()
    kept, kept_tx, counts = privacy.exclude_customers(customers, tx, roles, forget=["d"])
    assert kept["cid"].tolist() == ["00042", "e", "f"] and kept.index.tolist() == [0, 4, 5]
    assert kept.dtypes.equals(customers.dtypes)
    assert kept_tx.index.tolist() == [0, 3, 5, 6] and counts["customers_kept"] == 3


def test_prepare_writes_the_same_tables_and_record_on_both_engines(engine_audits):
    # the prepared data of the session's whole audit on each engine (tests/conftest.py: engine_audits,
    # 2,000 customers, three erasure requests: two customers and an unknown id), read, not rebuilt
    duck, spark = engine_audits["duckdb"][0], engine_audits["spark"][0]
    record = duck.read_json("data/prepare.json")
    assert record == spark.read_json("data/prepare.json")
    assert record["counts"]["erased"] + record["counts"]["erasure_ids_not_found"] == 3
    assert record["n_customers"] == record["counts"]["customers_kept"] == len(duck.customers())
    assert record["counts"]["objected_to_profiling"] > 0 and record["choices"]["applied"]["rectified_values"] > 0
    for table in ("customers.parquet", "transactions.parquet", "truth.parquet", "choices.parquet", "objections.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(duck.path / "data" / table),
                                      pd.read_parquet(spark.path / "data" / table), check_dtype=False)
        assert not list((duck.path / "data").glob("*.parts"))  # the engine's parts are merged and removed
    assert duck.read_json("manifest_parts/dataset.json") == spark.read_json("manifest_parts/dataset.json")
