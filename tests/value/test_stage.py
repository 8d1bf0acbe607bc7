"""Stage 07 on a small synthetic run: the artifacts, the value family in segmentation, published tables."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from workbench import segment, value
from workbench.data import load_config
from workbench.pipeline import prepare
from workbench.rundir import Run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    cfg = load_config(dataset="synthetic", overrides=[
        "dataset.params.n_customers=1200", "dataset.params.seed=5", "segmentation.k=3",
        "segmentation.features.predicted_value=[clv,p_alive]", "segmentation.value_order_by=predicted_clv",
        "value.fit_sample=800",
    ])
    run = prepare(cfg, tmp_path_factory.mktemp("run"))
    segment.segment_run(run)  # produces value/predicted.parquet on demand
    return run


def test_predicted_table_scores_every_customer(run):
    predicted = run.read_table(value.PREDICTED)
    customers = run.customers()
    assert predicted["customer_id"].tolist() == customers["customer_id"].tolist()
    buyers = predicted["frequency"] >= 0
    assert predicted.loc[buyers, ["clv", "p_alive", "expected_purchases"]].notna().all().all()
    assert predicted.loc[~buyers, "clv"].isna().all()
    assert predicted["p_alive"].dropna().between(0, 1).all()
    models = run.read_json("artifacts/value/models.json")
    assert models["fitted_customers"] == 800 and models["unit"] == "days" and models["converged"]


def test_value_family_enters_segmentation_and_orders_segments(run):
    info = run.read_json("artifacts/segments/segments.json")
    features = run.read_table("segments/features.parquet")
    assert {"clv", "p_alive"} <= set(features.columns)
    labels = run.read_table("segments/assignments.parquet")["segment"].to_numpy()
    means = [np.nanmean(features.loc[labels == j, "clv"]) for j in range(3)]
    assert info["value_order"] == [int(j) for j in np.argsort(means)]


def test_growth_and_targeting_tables_are_suppressed_and_registered(run):
    growth = value.growth_by_segment(run)
    k = run.read_json("data/prepare.json")["suppression_k"]
    shown = growth.to_numpy().ravel()
    shown = shown[~np.isnan(shown)]
    assert not ((shown > 0) & (shown < k)).any()
    targeting = value.targeting_audit(run)
    assert set(targeting) == set(run.roles.sensitive)
    published = {p.stem for p in (run.path / "artifacts" / "disclosure").glob("value_*.parquet")}
    assert {"value_holdout", "value_growth_by_segment"} | {f"value_targeting_{a}" for a in targeting} <= published
    result = value.value_run(run)
    lines = value.summarise_value(run, result, growth, targeting)
    fragment = json.loads((run.path / "summary" / "07_predicted_value.json").read_text())
    assert fragment["headline"] == lines
    ids = set(run.customers()["customer_id"])
    assert not any(i in json.dumps(fragment) for i in list(ids)[:50])


def test_bad_config_and_missing_log_are_named(run, monkeypatch, tmp_path):
    monkeypatch.setattr(run, "settings", lambda name, defaults: {**defaults, "horizon_days": -1})
    with pytest.raises(ValueError, match="value.horizon_days"):
        value.value_run(run)
    # a copy of the run whose log holds returns only: the engine's query finds no purchase
    shutil.copytree(run.path, tmp_path / "run")
    returns = Run(tmp_path / "run")
    tx = returns.transactions()
    tx.assign(amount=-tx["amount"].abs() - 1.0).to_parquet(returns.path / "data" / "transactions.parquet")
    assert value.has_transactions(run) and not value.has_transactions(returns)
    with pytest.raises(ValueError, match="transaction log"):
        value.value_run(returns)
    assert "no transaction log with purchases" in value.not_applicable_because(returns)


def test_p_alive_beside_the_latest_dynamics_state(run):
    assert value.p_alive_by_state(run) is None  # notebook 05 has not run: no dynamics states here
    customers = run.customers()["customer_id"]
    rng = np.random.default_rng(0)
    states = pd.DataFrame({"customer_id": customers, "2025Q4": rng.choice([0, 1, 2, -1], len(customers)).astype(np.int16)})
    run.write_table("dynamics/states.parquet", states)
    try:
        table = value.p_alive_by_state(run)
    finally:
        (run.path / "artifacts" / "dynamics" / "states.parquet").unlink()
    assert "inactive" in table.index and table.attrs["window"] == "2025Q4"
    buyers = run.read_table(value.PREDICTED)["p_alive"].notna().sum()
    assert abs(table.loc["Total", "Total"] - buyers) <= 2  # printed counts: perturbed by at most 2
    assert (run.path / "artifacts" / "disclosure" / "value_p_alive_by_state.parquet").exists()
