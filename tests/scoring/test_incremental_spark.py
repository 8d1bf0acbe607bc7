"""The incremental path on Spark ``local[2]``: the same batches give the same history as on DuckDB."""

import shutil

import numpy as np
import pandas as pd
import yaml

from workbench import Run, scoring

from .conftest import KEY
from .test_incremental import SINCE, _in_run, _one_new_month


def _batches(raw, run) -> list[dict]:
    """New transactions, then choices (an objection, a correction, a withdrawal) and a flag set and reset."""
    a, b, c = _in_run(raw, run)[:3]
    flag = "profiling_opt_out"
    return [
        {"transactions": _one_new_month(raw, run, share=0.03, seed=5)},
        {"choices": pd.DataFrame({"id": [a, b, b], "kind": ["object_profiling", "rectify", "rectify"],
                                  "value": [None, "price_sensitivity=0.95", "household_size=6"],
                                  "recorded_at": ["2026-07-10", "2026-07-11", "2026-07-11"]}),
         "customers": pd.DataFrame({"customer_id": [c], flag: [True]})},
        {"choices": pd.DataFrame({"id": [a], "kind": ["withdraw"], "value": ["object_profiling"],
                                  "recorded_at": ["2026-07-20"]}),
         "customers": pd.DataFrame({"customer_id": [c], flag: [False]}),
         "transactions": _one_new_month(raw, run, share=0.01, seed=6).assign(
             timestamp=lambda t: t["timestamp"] + pd.Timedelta(days=31))},
    ]


def _history_after(path, batches) -> tuple[pd.DataFrame, list[dict]]:
    reports = [scoring.assign_incremental(path, since=SINCE, **batch) for batch in batches]
    history = scoring.read_history(path).sort_values(["pseudonym", "valid_from", "valid_to"], na_position="last")
    return history.reset_index(drop=True), reports


def test_the_incremental_path_gives_the_same_history_on_spark_and_duckdb(scored_run, spark_engine, spark_settings,
                                                                         tmp_path, monkeypatch):
    run, raw = scored_run
    monkeypatch.setenv("WORKBENCH_PSEUDONYM_KEY", KEY)
    for name in ("duckdb", "spark"):
        shutil.copytree(run.path, tmp_path / name)
    config = yaml.safe_load((tmp_path / "spark" / "config.yaml").read_text())
    config.update(engine="spark", spark=spark_settings)
    (tmp_path / "spark" / "config.yaml").write_text(yaml.safe_dump(config))
    assert Run(tmp_path / "spark").config["engine"] == "spark"
    batches = _batches(raw, run)
    on_duckdb, duck_reports = _history_after(tmp_path / "duckdb", batches)
    on_spark, spark_reports = _history_after(tmp_path / "spark", batches)
    counts = ["rescored", "rescored_new_data", "rescored_choice", "unassigned", "held", "moved", "new_transactions"]
    assert [{k: r[k] for k in counts} for r in spark_reports] == [{k: r[k] for k in counts} for r in duck_reports]
    assert duck_reports[0]["moved"] > 0 and duck_reports[1]["unassigned"] == 2 and duck_reports[2]["rescored_choice"] == 2
    pd.testing.assert_frame_equal(on_spark.drop(columns="margin"), on_duckdb.drop(columns="margin"))
    np.testing.assert_allclose(on_spark["margin"].to_numpy(dtype=float), on_duckdb["margin"].to_numpy(dtype=float),
                               rtol=1e-9, atol=1e-9)
