"""Notebook 01's audit by engine queries gives the tables of the pandas functions, on DuckDB and Spark."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from workbench import engine, privacy
from workbench.privacy import _audit_queries as aq
from workbench.privacy._checks import checks_from_facts, prepared_data_checks


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A prepared-like customer table (ints with gaps, NaN, text, a flag) and transactions, as Parquet."""
    rng = np.random.default_rng(3)
    n = 600
    ids = [f"p{i:016x}" for i in range(n)]
    customers = pd.DataFrame({
        "customer_id": ids,
        "age": pd.array(rng.integers(18, 90, n), dtype="Int64"),
        "postcode": rng.choice([f"P{i}" for i in range(40)] + [None], n),
        "gender": rng.choice(["f", "m", None], n),
        "income": np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(10, 1, n)),
        "member": rng.random(n) < 0.5,
        "kids": rng.integers(0, 2, n),
        "notes": rng.choice(["call +44 20 7946 0000", "ok", "x@example.com"], n),
    })
    customers.loc[5, "age"] = pd.NA
    customers.loc[[7, 8], ["age", "postcode", "gender", "income", "member", "kids", "notes"]] = customers.loc[
        6, ["age", "postcode", "gender", "income", "member", "kids", "notes"]].to_numpy()
    customers["age"] = customers["age"].astype("Int64")
    tx = pd.DataFrame({
        "customer_id": rng.choice(ids[:500] + ["p_unknown"], 3000),
        "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400, 3000), unit="D"),
        "amount": np.round(rng.gamma(2, 30, 3000) * rng.choice([1, 1, 1, -1, 0], 3000), 2),
    })
    tx = pd.concat([tx, tx.iloc[:4]], ignore_index=True)  # exact duplicates
    tx.loc[10, "amount"] = 1e6
    folder = tmp_path_factory.mktemp("audit")
    customers.to_parquet(folder / "customers.parquet", index=False)
    tx.to_parquet(folder / "transactions.parquet", index=False)
    return folder


@pytest.fixture(params=["duckdb", "spark"])
def audit_engine(request, prepared, spark_engine):
    # spark_engine named up front (not fetched for the Spark case only): the scheduler (tests/conftest.py) then
    # runs this module with the Spark group, on the worker whose JVM is already up, never starting a second one
    eng = engine.DuckDBEngine(threads=1) if request.param == "duckdb" else spark_engine
    eng.register(aq.CUSTOMERS, [str(prepared / "customers.parquet")])
    eng.register(aq.TRANSACTIONS, [str(prepared / "transactions.parquet")])
    yield eng
    if request.param == "duckdb":
        eng.close()


def test_risk_quality_and_checks_by_queries_match_pandas(audit_engine, prepared):
    customers = pd.read_parquet(prepared / "customers.parquet")
    tx = pd.read_parquet(prepared / "transactions.parquet")
    kinds = aq.column_kinds(pq.read_schema(prepared / "customers.parquet"))
    assert kinds["age"] == "integer" and kinds["income"] == "floating" and kinds["member"] == "bool"
    qis = ["age", "postcode", "gender", "kids"]

    risk = aq.risk_from_engine(audit_engine, list(kinds), qis, len(customers), 5, 2)
    expected = privacy.reidentification_risk(customers, qis, 5, 2)
    assert risk["overall"] == expected["overall"]
    for table in ("combinations", "drivers", "class_sizes"):
        pd.testing.assert_frame_equal(risk[table], expected[table])

    quality = aq.quality_from_engine(audit_engine, kinds, list(tx.columns), 3.0)
    expected = privacy.data_quality(customers, tx, 3.0)
    pd.testing.assert_frame_equal(quality["missing"], expected["missing"])
    pd.testing.assert_frame_equal(quality["outliers"], expected["outliers"], rtol=1e-12)
    assert set(quality["outliers"]["column"]) == {"age", "income", "amount"}  # not the flag, not the 0/1 column
    assert quality["duplicates"] == expected["duplicates"] and quality["duplicates"][
        "customers_identical_to_another_on_all_kept_columns"] >= 3
    assert quality["transactions"] == expected["transactions"]

    prep = {"inventory": [{"column": c, "role": "feature", "kept": True} for c in customers.columns[1:]],
            "counts": {"customers_kept": len(customers), "opted_out_of_profiling": 0, "erased": 0}}
    facts = aq.check_facts(audit_engine, kinds, True)
    assert facts["unknown_customer_transactions"] > 0 and facts["invalid_transactions"] == 0
    assert facts.pop("scan_note") == "text values of 600 customers checked (the first by pseudonym)"
    pd.testing.assert_frame_equal(checks_from_facts(prep, facts), prepared_data_checks(prep, customers, tx))
    assert list(facts["scan"]["column"]) == ["notes"]


def test_spark_runs_the_exact_quantile():
    assert "PERCENTILE(x, 0.25)" in engine.to_spark_sql("SELECT quantile_cont(x, 0.25) FROM t")
