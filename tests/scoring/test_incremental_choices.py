"""`workbench assign --choices/--customers`: corrections change the value scored; objections follow the records' times."""

import subprocess
import sys

import joblib
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from workbench import features, scoring
from workbench.cli import app

from .test_export_sql import _PLAIN_DUCKDB, _plain_duckdb
from .test_incremental import SINCE, _in_run, _seeded_by_segment, run_copy  # noqa: F401 (a fixture)

INPUTS = ["household_size", "region", "price_sensitivity", "brand_affinity", "eco_concern", "device", "app_user",
          "email_opens_90d", "site_visits_90d"]


def _records(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["id", "kind", "value", "recorded_at"])


def _predicted(model, customers: pd.DataFrame, transactions: pd.DataFrame, run, as_of) -> pd.Series:
    """The run's model on features built from these tables at ``as_of`` (the full path), by pseudonym."""
    feats = features.build_features(customers.reset_index(), transactions, run.roles, as_of=as_of)
    return pd.Series(model.predict(feats[model.feature_names_in_]), index=feats["customer_id"])


def test_a_rectify_record_changes_the_value_scored_and_its_withdrawal_restores_it(run_copy):
    run, raw = run_copy
    saved, same, other = _seeded_by_segment(run, raw)
    who, donors = same[:4], other[:4]
    prepared = run.customers().set_index("customer_id")
    mine, theirs = raw["pseudonym"](pd.Series(who)), raw["pseudonym"](pd.Series(donors))
    # every model input of a customer corrected to a customer's of another segment, one record per column
    rows = [(c, "rectify", f"{col}={prepared.loc[d, col]}", "2026-07-10") for c, d in zip(who, theirs)
            for col in INPUTS]
    report = scoring.assign_incremental(run.path, since=SINCE, choices=_records(rows))
    assert report["new_choices"] == len(rows) and report["rescored"] == 4 == report["rescored_choice"]
    fixed = prepared.copy()
    fixed.loc[mine, INPUTS] = prepared.loc[theirs, INPUTS].to_numpy()
    model = joblib.load(run.artifact("segments/model.joblib"))
    expected = _predicted(model, fixed, run.transactions(), run, report["as_of"]).loc[mine]
    now = scoring.current(scoring.read_history(run.path)).loc[mine]
    np.testing.assert_array_equal(now["segment"].astype(int).to_numpy(), expected.to_numpy())
    assert (expected.to_numpy() != saved.loc[mine].to_numpy()).sum() == report["moved"] > 0
    assert (now.loc[expected.to_numpy() != saved.loc[mine].to_numpy(), "reason"] == "choice").all()
    # a later batch of new transactions still scores the corrected values (the records are stored)
    tx = pd.DataFrame({"customer_id": who, "timestamp": pd.Timestamp("2026-07-11"), "amount": 1.0,
                       "channel": "web", "category": "home"})
    later = scoring.assign_incremental(run.path, tx, SINCE)
    all_tx = pd.concat([run.transactions(), tx.assign(customer_id=mine)], ignore_index=True)
    assert later["rescored"] == 4 == later["rescored_new_data"]
    assert (_predicted(model, fixed, all_tx, run, later["as_of"]).loc[mine].to_numpy()
            == scoring.current(scoring.read_history(run.path)).loc[mine, "segment"].astype(int).to_numpy()).all()
    # withdrawing the corrections: the stored values count again
    back = scoring.assign_incremental(run.path, since=SINCE, choices=_records(
        [(c, "withdraw", "rectify", "2026-07-20") for c in who]))
    assert back["rescored_choice"] == 4
    plain = _predicted(model, prepared, all_tx, run, back["as_of"]).loc[mine]
    np.testing.assert_array_equal(
        scoring.current(scoring.read_history(run.path)).loc[mine, "segment"].astype(int).to_numpy(), plain.to_numpy())


def test_a_rectify_of_a_column_the_run_does_not_keep_or_of_the_wrong_type_exits_2(run_copy, tmp_path):
    run, raw = run_copy
    who = _in_run(raw, run)[0]
    assignments = run.path / "artifacts" / "assignments"
    for value, said in (("email=someone@example.com", "['email'] that the run does not keep"),
                        ("no equals sign", "1 rectify record(s) not of the form column=value"),
                        ("household_size=many", "column household_size hold a value that is not of the column's type")):
        _records([(who, "rectify", value, "2026-07-10")]).to_csv(tmp_path / "c.csv", index=False)
        res = CliRunner().invoke(app, ["assign", "--run", str(run.path), "--choices", str(tmp_path / "c.csv"),
                                       "--since", SINCE])
        assert res.exit_code == 2 and said in res.output, res.output
        assert "someone@example.com" not in res.output and "many" not in res.output.replace(said, "")
        assert not (assignments / "choices").exists() and not (assignments / "batches.json").exists()


def test_objections_follow_the_records_times_and_the_flag_and_export_sql_agrees(run_copy, tmp_path):
    """Withdrawn and re-raised objections, records out of order, a flag set and reset: the history's
    customers without a segment are exactly those the exported SQL leaves out, the others have its segment."""
    run, raw = run_copy
    scoring.seed_history(run.path)
    a, b, c, d, e = _in_run(raw, run)[:5]
    flag = "profiling_opt_out"
    table = pd.read_parquet(raw["customers"]).astype({"customer_id": str})
    first = _records([(a, "object_profiling", None, "2026-07-10"),
                      (b, "object_profiling", None, "2026-07-14"),  # re-raised, given before its withdrawal
                      (b, "withdraw", "object_profiling", "2026-07-12"),
                      (b, "object_profiling", None, "2026-07-10"),
                      (c, "object_profiling", None, "2026-07-10"),
                      (c, "withdraw", "object_profiling", "2026-07-10")])  # same time: the withdrawal wins
    report = scoring.assign_incremental(run.path, since=SINCE, choices=first,
                                        customers=pd.DataFrame({"customer_id": [d, e], flag: [True, False]}))
    assert report["unassigned"] == 3 and report["changed_flags"] == 1  # a, b, d; e's flag was already unset
    second = _records([(a, "withdraw", "object_profiling", "2026-07-20"),
                       (b, "withdraw", "object_profiling", "2026-07-05")])  # older than b's objection: no effect
    report = scoring.assign_incremental(run.path, since="2026-07-01", choices=second,
                                        customers=pd.DataFrame({"customer_id": [d], flag: [False]}))
    assert report["rescored_choice"] == 2 and report["held"] == 1  # a and d back, b still objecting
    third = _records([(a, "object_profiling", None, "2026-07-25")])
    report = scoring.assign_incremental(run.path, since=SINCE, choices=third)
    assert report["unassigned"] == 1
    history = scoring.read_history(run.path)
    mine = history[history["pseudonym"] == raw["pseudonym"](pd.Series([a]))[0]]
    assert mine["segment"].isna().tolist() == [False, True, False, True] and mine["valid_to"].isna().sum() == 1
    now = scoring.current(history)

    # the warehouse: the same register and the customer table with d's flag as it now stands
    register = pd.concat([pd.read_parquet(raw["choices"]), first, second, third], ignore_index=True)
    register.to_parquet(tmp_path / "register.parquet")
    table.loc[table["customer_id"] == d, flag] = False
    table.to_parquet(tmp_path / "customers.parquet")
    scoring.export_sql(run.path, "duckdb", tmp_path / "seg.sql", choices="choices", as_of=report["as_of"])
    got = _plain_duckdb(tmp_path / "seg.sql", tmp_path / "customers.parquet", raw["transactions"], tmp_path,
                        choices=tmp_path / "register.parquet")
    got = got.set_index(raw["pseudonym"](got["customer_id"]))["segment"]
    without = set(now.index[now["segment"].isna()])
    assert without == set(raw["pseudonym"](pd.Series([a, b])))
    assert set(got.index) == set(now.index) - without
    np.testing.assert_array_equal(got.loc[now.index.difference(list(without))].to_numpy(),
                                  now.loc[now.index.difference(list(without)), "segment"].astype(int).to_numpy())


def test_export_sql_applies_the_corrections_in_force_as_the_incremental_path_does(run_copy, spark_engine, tmp_path):
    """Corrections (one superseded by a later one, one withdrawn) given to `assign --choices` and the same register
    in the warehouse: plain DuckDB and Spark running the exported SQL give every customer the history's segment."""
    run, raw = run_copy
    scoring.seed_history(run.path)
    saved = run.read_table("segments/assignments.parquet").set_index("customer_id")["segment"]
    prepared = run.customers().set_index("customer_id")
    ids = _in_run(raw, run)
    segments = saved.loc[raw["pseudonym"](pd.Series(ids))].to_numpy()
    complete = prepared.loc[raw["pseudonym"](pd.Series(ids)), INPUTS].notna().all(axis=1).to_numpy()
    who, donors = ids[segments == segments[0]][:4], ids[(segments != segments[0]) & complete][:4]
    theirs = raw["pseudonym"](pd.Series(donors))
    rows = [(c, "rectify", f"{col}={prepared.loc[d, col]}", "2026-07-10") for c, d in zip(who, theirs) for col in INPUTS]
    rows.append((who[0], "rectify", "household_size=99", "2026-07-05"))  # superseded by the later correction
    first = _records(rows)
    report = scoring.assign_incremental(run.path, since=SINCE, choices=first)
    assert report["rescored_choice"] == 4 and report["moved"] > 0
    second = _records([(who[3], "withdraw", "rectify", "2026-07-20")])
    report = scoring.assign_incremental(run.path, since=SINCE, choices=second)
    now = scoring.current(scoring.read_history(run.path))
    back = raw["pseudonym"](pd.Series(who[3:]))
    assert report["rescored_choice"] == 1 and now.loc[back, "segment"].astype(int).tolist() == saved.loc[back].tolist()
    moved = raw["pseudonym"](pd.Series(who[:3]))
    assert (now.loc[moved, "segment"].astype(int).to_numpy() != saved.loc[moved].to_numpy()).any()
    expected = now.loc[now["segment"].notna(), "segment"].astype(int)

    register = pd.concat([pd.read_parquet(raw["choices"]), first, second], ignore_index=True)
    register.to_parquet(tmp_path / "register.parquet")
    scoring.export_sql(run.path, "duckdb", tmp_path / "seg.sql", choices="choices", as_of=report["as_of"])
    got = _plain_duckdb(tmp_path / "seg.sql", raw["customers"], raw["transactions"], tmp_path,
                        choices=tmp_path / "register.parquet")
    got = got.set_index(raw["pseudonym"](got["customer_id"]))["segment"]
    assert set(got.index) == set(expected.index)
    np.testing.assert_array_equal(got.loc[expected.index].to_numpy(), expected.to_numpy())

    spark = spark_engine.spark
    for view, path in (("customers", raw["customers"]), ("transactions", raw["transactions"]),
                       ("choices", tmp_path / "register.parquet")):
        spark.read.parquet(str(path)).createOrReplaceTempView(view)
    try:
        text = scoring.export_sql(run.path, "spark", choices="choices", as_of=report["as_of"])
        on_spark = spark.sql(text.rstrip().rstrip(";")).toPandas()
    finally:
        for view in ("customers", "transactions", "choices"):
            spark.catalog.dropTempView(view)
    on_spark = on_spark.set_index(raw["pseudonym"](on_spark["customer_id"]))["segment"]
    assert set(on_spark.index) == set(expected.index)
    np.testing.assert_array_equal(on_spark.loc[expected.index].to_numpy(), expected.to_numpy())


def test_a_correction_not_of_the_columns_type_is_refused_by_every_path(run_copy, spark_engine, tmp_path):
    """`assign --choices` exits 2, plain DuckDB and Spark running the exported SQL stop, each naming the column:
    an integer column corrected to 2.5 is not read as 2 (nor as NULL, as Spark's cast would)."""
    run, raw = run_copy
    who = _in_run(raw, run)[0]
    bad = _records([(who, "rectify", "household_size=2.5", "2026-06-10")])
    bad.to_csv(tmp_path / "bad.csv", index=False)
    res = CliRunner().invoke(app, ["assign", "--run", str(run.path), "--since", "2026-06-01", "--choices",
                                   str(tmp_path / "bad.csv")])
    assert res.exit_code == 2 and "column household_size hold a value that is not of the column's type" in res.output
    register = pd.concat([pd.read_parquet(raw["choices"]), bad], ignore_index=True)
    register.to_parquet(tmp_path / "register.parquet")
    said = "a rectify in force for column household_size holds a value that is not of the column's type (BIGINT)"

    scoring.export_sql(run.path, "duckdb", tmp_path / "seg.sql", choices="choices")
    with pytest.raises(subprocess.CalledProcessError) as failed:
        subprocess.run([sys.executable, "-c", _PLAIN_DUCKDB, str(tmp_path / "seg.sql"), str(raw["customers"]),
                        str(raw["transactions"]), str(tmp_path / "out.parquet"), "customers", "transactions",
                        str(tmp_path / "register.parquet")], check=True, capture_output=True, text=True)
    assert said in failed.value.stderr and "2.5" not in failed.value.stderr

    spark = spark_engine.spark
    for view, path in (("customers", raw["customers"]), ("transactions", raw["transactions"]),
                       ("choices", tmp_path / "register.parquet")):
        spark.read.parquet(str(path)).createOrReplaceTempView(view)
    try:
        with pytest.raises(Exception, match="column household_size holds a value that is not of the column"):
            spark.sql(scoring.export_sql(run.path, "spark", choices="choices").rstrip().rstrip(";")).toPandas()
        # withdrawn, the bad correction is not in force: the query runs
        register = pd.concat([register, _records([(who, "withdraw", "rectify", "2026-06-11")])], ignore_index=True)
        register.to_parquet(tmp_path / "withdrawn.parquet")
        spark.read.parquet(str(tmp_path / "withdrawn.parquet")).createOrReplaceTempView("choices")
        got = spark.sql(scoring.export_sql(run.path, "spark", choices="choices").rstrip().rstrip(";")).toPandas()
    finally:
        for view in ("customers", "transactions", "choices"):
            spark.catalog.dropTempView(view)
    assert len(got) == len(run.customers())
