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
