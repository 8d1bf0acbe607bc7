"""Transaction features computed on Spark local[2] equal DuckDB's: counts exactly, floats within 1e-9."""

import numpy as np
import pandas as pd

import workbench
from workbench import engine, features


def test_transaction_features_identical_on_duckdb_and_spark(spark_engine):
    d = workbench.load("synthetic", n_customers=400, seed=11)
    ids = d.customers["customer_id"]
    as_of = features.default_as_of(d.transactions) - pd.Timedelta(days=90)  # some customers have no history
    duck = features.transaction_features(d.transactions, as_of=as_of, customer_ids=ids)
    with engine.using({"engine": "spark"}):
        spark = features.transaction_features(d.transactions, as_of=as_of, customer_ids=ids)
    assert list(spark.columns) == list(duck.columns) and len(duck) == len(ids)
    assert (spark["customer_id"] == duck["customer_id"]).all()
    assert (spark["frequency"] == duck["frequency"]).all() and duck["frequency"].eq(0).any()
    for col in duck.columns[2:]:
        np.testing.assert_allclose(spark[col].to_numpy(float), duck[col].to_numpy(float), rtol=0, atol=1e-9,
                                   equal_nan=True, err_msg=col)


def _close(a, b, path="summary"):
    """Equal JSON trees: numbers within 1e-9, everything else exactly."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            _close(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert abs(a - b) <= 1e-9, path
    else:
        assert a == b, path


def test_segmentation_stage_same_summary_and_segments_on_both_engines(engine_audits):
    # the segmentation stage of the session's whole audit on each engine (tests/conftest.py: engine_audits,
    # 2,000 customers, k chosen from 2-4), shared with tests/pipeline/test_engine_parity.py
    out = {name: (run.read_json("summary/02_segmentation.json"), run.read_table("segments/assignments.parquet"))
           for name, (run, _) in engine_audits.items()}
    _close(out["duckdb"][0], out["spark"][0])
    pd.testing.assert_frame_equal(out["duckdb"][1], out["spark"][1])
