"""Shared fixtures of the fairness tests: a stand-in for stage 02 and the telco audit."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench import fairness, pipeline
from workbench.data import load_config
from workbench.features import rfm


# -- a stand-in for stage 02, so these tests do not depend on the segmentation's details ------------
def _stage02(run, k: int = 5, seed: int = 0) -> None:
    """Write segments/{features,assignments}.parquet and segments.json: k-means on numeric inputs."""
    from sklearn.cluster import KMeans
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    roles = run.roles
    cust = run.customers()
    num = [c for c in roles.feature_columns
           if c not in roles.sensitive and pd.api.types.is_numeric_dtype(cust[c])]
    feats = cust[["customer_id", *num]]
    if run.has_transactions:
        feats = feats.merge(rfm(run.transactions()), on="customer_id", how="left")
    X = feats.drop(columns="customer_id").astype(float)
    model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), KMeans(k, n_init=4, random_state=seed))
    labels = model.fit_predict(X.to_numpy())
    value = X["monetary"] if "monetary" in X else X[roles.features["value"][0]]
    order = [int(i) for i in value.groupby(labels).mean().sort_values().index]
    names = {i: f"Segment {i}" for i in range(k)}
    run.write_table("segments/features.parquet", feats)
    run.write_table("segments/assignments.parquet", pd.DataFrame({
        "customer_id": feats["customer_id"], "segment": labels, "segment_name": [names[i] for i in labels]}))
    run.write_json("artifacts/segments/segments.json", {
        "method": "kmeans", "k": k, "names": names, "inputs": list(X.columns), "value_order": order})


def _prepared(tmp_path, dataset: str, overrides: list[str]):
    cfg = load_config(dataset=dataset, overrides=[
        *overrides, "fairness.proxy.shap=false", "fairness.n_boot=300", "fairness.proxy.max_rows=3000"])
    run = pipeline.prepare(cfg, tmp_path / dataset, fresh=True)
    _stage02(run)
    return run


@pytest.fixture
def prepared():
    """``prepared(tmp_path, dataset, overrides)``: a prepared run with the stand-in stage 02."""
    return _prepared


@pytest.fixture(scope="session")
def telco_audit(tmp_path_factory):
    run = _prepared(tmp_path_factory.mktemp("telco"), "telco", [])
    return run, fairness.fairness_run(run)
