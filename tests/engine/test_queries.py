"""The heavy queries give identical results on DuckDB and Spark, and match the driver-side Python."""

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench import engine, features, privacy, segment


@pytest.mark.parametrize("secret", [b"sixteen-byte-key", bytes(range(200))])  # short, and longer than a block
def test_pseudonyms_identical_on_both_engines_and_to_python_hmac(engines, secret):
    ids = pd.DataFrame({"customer_id": ["C001", "bjørn-7", "", "12345", "a'b"]})
    key = privacy.PseudonymKey(secret, "file")
    expected = privacy.pseudonymise(ids["customer_id"], key).tolist()
    for eng in engines.values():
        eng.register("hmac_key", engine.hmac_key_table(secret)).register("ids", ids)
        got = eng.sql(engine.pseudonym_query("ids", "customer_id"))
        assert got["pseudonym"].tolist() == expected
        assert got["customer_id"].tolist() == ids["customer_id"].tolist()


@pytest.fixture(scope="module")
def fitted():
    d = workbench.load("synthetic", n_customers=1500, seed=5)
    X = features.build_features(d.customers, d.transactions, d.roles).drop(columns="customer_id")
    return X, segment.SegmentationModel(k=4, random_state=1, fit_sample=1000, n_init=2).fit(X)


def test_model_space_matches_the_fitted_pipeline(duckdb_engine, fitted):
    X, model = fitted
    frame = X[model.feature_names_in_].copy()
    duckdb_engine.register("f", frame)
    z = duckdb_engine.sql("SELECT " + ", ".join(f"{e} AS z{i}" for i, e in enumerate(engine.model_space_exprs(model))) + " FROM f")
    np.testing.assert_allclose(z.to_numpy(), model.transform(X), rtol=0, atol=1e-9)
    assert "onehot" in model.transforms_.values() and "log" in model.transforms_.values()


def test_scoring_query_assigns_the_models_segments_on_both_engines(engines, fitted):
    X, model = fitted
    expected = model.predict(X)
    for eng in engines.values():
        np.testing.assert_array_equal(engine.predict_segments(model, X, eng), expected)
        eng.close()


def test_spark_scoring_reads_its_inputs_from_parquet_and_keeps_the_row_order(spark_engine, fitted, monkeypatch):
    X, model = fitted
    # several Parquet row groups in, several Spark partitions out: order must come from the row number
    monkeypatch.setattr(engine._engine, "WRITE_BATCH_ROWS", 200)
    shuffled = X.sample(frac=1.0, random_state=3).reset_index(drop=True)
    labels = engine.predict_segments(model, shuffled, spark_engine)
    np.testing.assert_array_equal(labels, model.predict(shuffled))
    assert spark_engine.spark.table("score_input").inputFiles()  # a file scan, not a table sent from pandas
    spark_engine.close()


def test_gmm_scoring_stays_on_the_driver(fitted):
    X, _ = fitted
    gmm = segment.SegmentationModel(method="gmm", k=2, random_state=1, fit_sample=300, n_init=1).fit(X.iloc[:300])
    with pytest.raises(NotImplementedError, match="method='gmm'"):
        engine.score_query(gmm, "t")


def test_counts_identical_on_both_engines(engines):
    table = pd.DataFrame({"segment": [0, 1, 1, 2, 2, 2, 0], "gender": ["f", "m", None, "f", "f", "m", "m"]})
    results = [eng.register("t", table).sql(engine.count_query("t", ["segment", "gender"])) for eng in engines.values()]
    pd.testing.assert_frame_equal(results[0], results[1], check_dtype=False)
    assert results[0]["n"].sum() == len(table)
    assert results[0].iloc[1].tolist()[:2] == [0, "m"] and results[0]["gender"].isna().sum() == 1
