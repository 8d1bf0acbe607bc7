"""The engine input path on DuckDB and Spark: the same bad files say the same, good parts prepare alike."""

import pandas as pd
import pytest

from workbench import data
from workbench.data import InputError, load_config
from workbench.engine import register_input
from workbench.pipeline import prepare

SPEC = {
    "customers": "customers/*.csv", "transactions": "transactions.csv", "min_customers": 5, "as_of": "2024-12-31",
    "ranges": {"age": [0, 120]},
    "roles": {
        "customers": {"id": "customer_id", "sensitive": ["age"], "consent": {"profiling_opt_out": "opt_out"},
                      "feature": {"demographic": ["income"]}},
        "transactions": {"id": "customer_id", "timestamp": "timestamp", "amount": "amount"},
    },
}


def _bad_files(folder):
    """Two customer files and a transaction file with one planted problem of every kind."""
    (folder / "customers").mkdir()
    pd.DataFrame({"Customer_ID": ["a1", "a2", "a2", None, "a5", "a6"],
                  "Age ": ["30", "forty", "inf", "200", "1e999", "31"],
                  "opt_out": ["yes", "no", "maybe", "", "Y", "N"]}).to_csv(folder / "customers" / "one.csv", index=False)
    pd.DataFrame({"Customer_ID": ["b1", "b2"], "Age ": ["€5", "40"],
                  "opt_out": ["0", "perhaps"]}).to_csv(
        folder / "customers" / "two+ b.csv", index=False)  # Spark URL-encodes file names: shown as they are
    pd.DataFrame({"customer_id": ["a1", "a2", None, "a5"], "timestamp": ["2024-01-01", "31/13/2024", None, " 2024-02-01 "],
                  "amount": ["12.5", "€3", "oops", "1"]}).to_csv(folder / "transactions.csv", index=False)


def test_the_same_bad_files_give_the_same_message_on_both_engines(tmp_path, engines):
    _bad_files(tmp_path)
    messages = {}
    for name, eng in engines.items():
        only_ids = {**SPEC["roles"], "customers": {"id": "customer_id"}}  # clean customers: transactions fail
        for spec in (SPEC, {**SPEC, "customers": "customers/two+ b.csv", "roles": only_ids}):
            with pytest.raises(InputError) as err:
                register_input(eng, spec, tmp_path)
            messages.setdefault(name, []).append(str(err.value))
    assert messages["duckdb"] == messages["spark"]
    customers, transactions = messages["duckdb"]
    for needle in ("missing column(s) 'income': add the column to the table, or map the role to an existing column "
                   "in the config's roles section. The table's columns are: 'Customer_ID', 'Age', 'opt_out' "
                   "(read as CSV, every column as text).",
                   "column 'customer_id' is empty in 1 row(s), e.g. in one.csv",
                   "column 'customer_id' has duplicate values in 2 row(s)",
                   "column 'opt_out' holds values that are not yes/no flags in 2 row(s), e.g. in one.csv, two+ b.csv: "
                   "'maybe', 'perhaps'",
                   "column 'age' holds values that are not numbers in 2 row(s), e.g. in one.csv, two+ b.csv: 'forty', '€5'",
                   "column 'age' holds infinite or not-a-number values in 2 row(s)",
                   "column 'age' holds values outside its range [0, 120] in 1 row(s), e.g. in one.csv: '200'"):
        assert needle in customers
    assert ("column 'amount' holds values that are not numbers in 2 row(s), e.g. in transactions.csv: 'oops', '€3'"
            in transactions)
    assert "column 'timestamp' holds values that are not dates/times in 1 row(s)" in transactions


def test_a_folder_of_parquet_parts_prepares_the_same_on_both_engines(tmp_path, spark_engine):
    ds = data.load("synthetic", n_customers=240, seed=5)
    config_path = data.write_byo(ds, tmp_path / "byo", fmt="parquet")
    byo = config_path.parent
    for table in ("customers", "transactions"):
        frame = pd.read_parquet(byo / f"{table}.parquet")
        (byo / table).mkdir()
        for i, part in enumerate(range(0, len(frame), -(-len(frame) // 3))):
            frame.iloc[part:part + -(-len(frame) // 3)].to_parquet(byo / table / f"part-{i}.parquet", index=False)
    prepared = {}
    for name in ("duckdb", "spark"):
        cfg = load_config(config=config_path, overrides=[
            f"engine={name}", "dataset.customers=customers", "dataset.transactions=transactions"])
        run = prepare(cfg, tmp_path / name)
        prepared[name] = [pd.read_parquet(run.path / "data" / f"{t}.parquet") for t in ("customers", "transactions")]
        prepared[name].append(run.read_json("data/prepare.json")["counts"])
    for a, b in zip(prepared["duckdb"][:2], prepared["spark"][:2]):
        pd.testing.assert_frame_equal(a, b, check_dtype=False)  # pseudonyms, values and order
    assert prepared["duckdb"][2] == prepared["spark"][2]
    assert len(prepared["duckdb"][0]) == prepared["duckdb"][2]["customers_kept"] > 0
