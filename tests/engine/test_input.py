"""The engine input path on DuckDB: reading many files, each check's message, preparing from the views."""

import pandas as pd
import pytest
import yaml

from workbench import data, engine, privacy
from workbench.data import InputError, load_config, read_mode
from workbench.engine import register_input
from workbench.pipeline import prepare

ROLES = {
    "customers": {"id": "customer_id", "sensitive": ["age"], "consent": {"profiling_opt_out": "opt_out",
                                                                          "marketing_opt_in": "opt_in"}},
    "transactions": {"id": "customer_id", "timestamp": "timestamp", "amount": "amount"},
}


def _customers(n=60, start=0):
    ids = [f"C{i:04d}" for i in range(start, start + n)]
    return pd.DataFrame({"customer_id": ids, "age": [str(20 + i % 50) for i in range(n)],
                         "opt_out": ["no"] * n, "opt_in": ["yes", "no", ""] * (n // 3) + ["yes"] * (n % 3)})


def _spec(**extra):
    return {"roles": ROLES, "min_customers": 10, "as_of": "2024-12-31", **extra}


def _error(tmp_path, customers=None, transactions=None, **extra) -> str:
    """The engine path's message for the given tables (written as CSV into ``tmp_path``)."""
    (customers if customers is not None else _customers()).to_csv(tmp_path / "customers.csv", index=False)
    spec = _spec(customers="customers.csv", **extra)
    if transactions is not None:
        transactions.to_csv(tmp_path / "transactions.csv", index=False)
        spec["transactions"] = "transactions.csv"
    with engine.DuckDBEngine(threads=1) as eng, pytest.raises(InputError) as err:
        register_input(eng, spec, tmp_path)
    return str(err.value)


def _line(message: str, column: str, what: str) -> str:
    lines = [x for x in message.splitlines() if f"column '{column}' {what}" in x]
    assert len(lines) == 1, message
    return lines[0]


def test_read_mode_follows_the_config(tmp_path):
    (tmp_path / "parts").mkdir()
    assert read_mode({"dataset": {"customers": "c.csv"}}) == "pandas"
    assert read_mode({"dataset": {"customers": "c.csv"}, "engine": "spark"}) == "engine"
    assert read_mode({"dataset": {"customers": "parts/*.parquet"}}) == "engine"
    assert read_mode({"dataset": {"customers": ["a.csv", "b.csv"]}}) == "engine"
    assert read_mode({"dataset": {"customers": "parts"}, "_base_dir": str(tmp_path)}) == "engine"
    assert read_mode({"dataset": {"customers": "parts/*.csv", "read": "pandas"}}) == "pandas"
    assert read_mode({"dataset": {"builtin": "synthetic"}, "engine": "spark"}) == "pandas"
    with pytest.raises(InputError, match="dataset.read"):
        read_mode({"dataset": {"customers": "c.csv", "read": "polars"}})


def test_missing_and_duplicate_ids_name_the_file_never_the_id(tmp_path):
    customers = _customers()
    customers.loc[3, "customer_id"] = customers.loc[4, "customer_id"]
    customers.loc[7, "customer_id"] = "NA"  # pandas' spelling of a missing value
    message = _error(tmp_path, customers)
    assert "in 1 row(s), e.g. in customers.csv. What to do: fill in the missing values" in _line(
        message, "customer_id", "is empty")
    duplicate = _line(message, "customer_id", "has duplicate values")
    assert "in 2 row(s)" in duplicate and "each customer must appear once" in duplicate
    assert "C0004" not in message


def test_consent_flags_that_are_not_yes_no(tmp_path):
    customers = _customers()
    customers.loc[[2, 5], "opt_out"] = ["maybe", "Maybe"]
    line = _line(_error(tmp_path, customers), "opt_out", "holds values that are not yes/no flags")
    assert "in 2 row(s)" in line and "'Maybe', 'maybe'" in line and "use 1/0, true/false or yes/no" in line


def test_numeric_column_words_infinities_and_ranges(tmp_path):
    customers = _customers()
    customers.loc[[1, 2, 3, 4], "age"] = ["forty", "inf", "-Infinity", "200"]
    message = _error(tmp_path, customers, ranges={"age": [0, 120]})
    assert "'forty'. What to do: make the column numeric" in _line(message, "age", "holds values that are not numbers")
    assert "in 2 row(s)" in _line(message, "age", "holds infinite or not-a-number values")
    assert "declare another range (dataset.ranges.age)" in _line(message, "age", "holds values outside its range [0, 120]")


def test_transaction_timestamps_and_amounts(tmp_path):
    tx = pd.DataFrame({"customer_id": ["C0001", "C0002", "C0003", "C0004"],
                       "timestamp": ["2024-01-01", "31/13/2024", "", "2024-02-01T10:00:00"],
                       "amount": ["12.5", "€3", "", "1e13"]})
    message = _error(tmp_path, transactions=tx)
    assert "in 1 row(s), e.g. in transactions.csv" in _line(message, "timestamp", "is empty")
    assert "'31/13/2024'. What to do: use ISO dates" in _line(message, "timestamp", "holds values that are not dates")
    assert "fill in the values or remove those rows" in _line(message, "amount", "is empty")
    assert "'€3'" in _line(message, "amount", "holds values that are not numbers")
    assert "'1e13'" in _line(message, "amount", "holds values outside its range")


def test_missing_role_column_and_too_few_customers(tmp_path):
    message = _error(tmp_path, _customers().drop(columns=["opt_in"]))
    assert "missing column(s) 'opt_in': add the column" in message and "'opt_out'" in message
    message = _error(tmp_path, _customers(n=5))
    assert "5 customer(s), fewer than the minimum of 10 (dataset.min_customers)" in message


def test_messages_say_what_the_pandas_path_says(tmp_path):
    """Same wording, column and fix: only where it is (rows on pandas, files here) differs."""
    customers = _customers()
    customers.loc[[1, 2], "age"] = ["forty", "inf"]
    customers.loc[3, "opt_out"] = "maybe"
    customers.to_csv(tmp_path / "customers.csv", index=False)
    with pytest.raises(InputError) as err:
        data.from_config(_spec(customers="customers.csv", ranges={"age": [0, 120]}), tmp_path)
    ours = _error(tmp_path, customers, ranges={"age": [0, 120]})

    def shape(message):
        lines = message.splitlines()
        return lines[0], sorted((x.split(", e.g. ")[0], x.split("What to do: ")[1]) for x in lines[1:])

    assert shape(ours) == shape(str(err.value))
    assert len(ours.splitlines()) == 4


def _write_parts(folder, frame, parts=3, fmt="parquet"):
    folder.mkdir(parents=True, exist_ok=True)
    size = -(-len(frame) // parts)
    for i in range(parts):
        chunk = frame.iloc[i * size:(i + 1) * size]
        if fmt == "parquet":
            chunk.to_parquet(folder / f"part-{i}.parquet", index=False)
        else:
            chunk.to_csv(folder / f"part-{i}.csv", index=False)


def _byo(tmp_path, n=300):
    """A synthetic dataset as one CSV per table (the pandas path's input) and its config."""
    ds = data.load("synthetic", n_customers=n, seed=3)
    config_path = data.write_byo(ds, tmp_path / "byo")
    return ds, config_path


def _prepared(config_path, run_dir, **overrides):
    cfg = load_config(config=config_path, overrides=[f"{k}={v}" for k, v in overrides.items()])
    run = prepare(cfg, run_dir, fresh=True)
    return run, pd.read_parquet(run.path / "data" / "customers.parquet")


def test_a_folder_of_parquet_parts_and_a_glob_of_csvs_prepare_as_the_pandas_path(tmp_path):
    ds, config_path = _byo(tmp_path)
    byo = config_path.parent
    _write_parts(byo / "customer_parts", pd.read_csv(byo / "customers.csv", dtype={"customer_id": str}))
    _write_parts(byo / "tx_csv", pd.read_csv(byo / "transactions.csv"), fmt="csv")
    pandas_run, expected = _prepared(config_path, tmp_path / "pandas")
    engine_run, got = _prepared(config_path, tmp_path / "engine", **{
        "dataset.customers": "customer_parts", "dataset.transactions": "'tx_csv/part-*.csv'"})
    # same customers, pseudonyms and values; the engine path orders by raw id, the pandas path by input row
    by_id = lambda f: f.sort_values("customer_id").reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(by_id(got), by_id(expected), check_dtype=False)
    assert engine_run.read_json("data/prepare.json")["counts"] == pandas_run.read_json("data/prepare.json")["counts"]
    tx = [pd.read_parquet(r.path / "data" / "transactions.parquet") for r in (pandas_run, engine_run)]
    assert len(tx[0]) == len(tx[1]) > 0
    assert tx[0]["amount"].sum() == pytest.approx(tx[1]["amount"].sum(), rel=1e-12)
    # the consent fingerprint, streamed from the engine, is privacy.fingerprint of the pandas snapshot
    manifest = engine_run.read_json("manifest_parts/dataset.json")
    validated = data.from_config(load_config(config=config_path)["dataset"], byo)
    key = privacy.resolve_key(privacy.DEFAULTS)
    assert manifest["consent_snapshot_hmac_sha256"] == privacy.fingerprint(
        privacy.consent_snapshot(validated.customers, validated.roles), key)


def test_headers_match_roles_ignoring_case_and_transactions_outside_the_period_are_counted(tmp_path):
    customers = _customers().rename(columns={"customer_id": "Customer_ID ", "age": "AGE"})
    tx = pd.DataFrame({"CUSTOMER_ID": ["C0001"] * 4, "Timestamp": ["2023-12-31", "2024-03-01", "2024-12-31 23:00",
                                                                    "2025-01-01"], "amount": ["1", "2", "3", "4"]})
    customers.to_csv(tmp_path / "customers.csv", index=False)
    tx.to_csv(tmp_path / "tx.csv", index=False)
    with engine.DuckDBEngine(threads=1) as eng:
        found = register_input(eng, _spec(customers="customers.csv", transactions="tx.csv", since="2024-01-01"), tmp_path)
        kept = eng.sql(f"SELECT amount FROM {engine.PREP_TRANSACTIONS} ORDER BY amount")["amount"].tolist()
    assert found.columns[:2] == ["customer_id", "age"]
    assert found.checks["future_transactions_excluded"] == 1
    assert found.checks["transactions_before_since_excluded"] == 1
    assert found.checks["blank_consent_flags"] == {"profiling_opt_out": 0, "marketing_opt_in": 20}
    assert kept == [2.0, 3.0]


def test_config_schema_knows_dataset_read(tmp_path):
    from workbench.pipeline._config_schema import check_config

    _, config_path = _byo(tmp_path, n=60)
    check_config(load_config(config=config_path, overrides=["dataset.read=engine"]))
    with pytest.raises(InputError, match="dataset.read"):
        check_config(load_config(config=config_path, overrides=["dataset.read=polars"]))


def test_a_bad_file_writes_nothing(tmp_path):
    _, config_path = _byo(tmp_path, n=60)
    cfg = yaml.safe_load(config_path.read_text())
    customers = pd.read_csv(config_path.parent / "customers.csv", dtype=str)
    customers.loc[0, "age"] = "forty"
    customers.to_csv(config_path.parent / "customers.csv", index=False)
    cfg["dataset"]["ranges"] = {"age": [0, 120]}
    config_path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(InputError, match="column 'age' holds values that are not numbers"):
        _prepared(config_path, tmp_path / "run", **{"dataset.read": "engine"})
    assert not (tmp_path / "run" / "data").exists() or not any((tmp_path / "run" / "data").iterdir())
