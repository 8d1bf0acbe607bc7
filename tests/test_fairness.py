"""Tests of the fairness audit: agreement with Fairlearn, the bootstrap, verdicts, proxies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    selection_rate,
)

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


@pytest.fixture(scope="module")
def telco_audit(tmp_path_factory):
    run = _prepared(tmp_path_factory.mktemp("telco"), "telco", [])
    return run, fairness.fairness_run(run)


# -- rate_by_group and the bootstrap ----------------------------------------------------------------------
def test_rate_by_group_matches_metricframe_and_its_bootstrap():
    rng = np.random.default_rng(0)
    n = 3000
    groups = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    selected = rng.uniform(size=n) < np.select([groups == "a", groups == "b"], [0.3, 0.2], 0.1)
    ours = fairness.rate_by_group(selected, groups, n_boot=2000, seed=1).set_index("group")
    mf = MetricFrame(metrics=selection_rate, y_true=selected, y_pred=selected, sensitive_features=groups,
                     n_boot=200, ci_quantiles=[0.025, 0.975], random_state=2)
    np.testing.assert_allclose(ours["rate"], mf.by_group.reindex(ours.index), atol=1e-12)
    lo, hi = mf.by_group_ci
    # Same resampling scheme (rows with replacement), so the intervals agree up to Monte-Carlo error.
    np.testing.assert_allclose(ours["rate_low"], lo.reindex(ours.index), atol=0.012)
    np.testing.assert_allclose(ours["rate_high"], hi.reindex(ours.index), atol=0.012)
    assert ours.loc["a", "is_reference"] and ours.loc["a", "ratio"] == 1
    assert ours.loc["c", "ratio_high"] < 0.5 and ours.loc["c", "p_adjusted"] < 1e-6


def test_rate_by_group_makes_missing_explicit_and_flags_small_groups():
    groups = pd.Series(["x"] * 60 + ["y"] * 40 + [None] * 12 + ["z"] * 5)
    selected = np.r_[np.ones(30), np.zeros(30), np.ones(10), np.zeros(30), np.ones(12), np.ones(5)].astype(bool)
    t = fairness.rate_by_group(selected, groups, n_boot=50).set_index("group")
    assert list(t.index) == ["x", "y", "z", "unknown"]
    assert t.loc["unknown", "n"] == 12 and t.loc["unknown", "rate"] == 1.0
    assert not t.loc["z", "sufficient"] and t.loc["x", "sufficient"]
    # MetricFrame drops the missing rows: the known groups still agree with it.
    known = groups.notna().to_numpy()
    mf = MetricFrame(metrics=selection_rate, y_true=selected[known], y_pred=selected[known],
                     sensitive_features=groups[known].to_numpy()).by_group
    np.testing.assert_allclose(t.loc[["x", "y", "z"], "rate"], mf.reindex(["x", "y", "z"]), atol=1e-12)


def test_adjust_pvalues_holm_and_bh():
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.005])
    np.testing.assert_allclose(fairness.adjust_pvalues(p, "holm")[[4, 0, 2, 1]], [0.02, 0.03, 0.06, 0.06])
    np.testing.assert_allclose(fairness.adjust_pvalues(p, "bh")[[4, 0, 2, 1]], [0.02, 0.02, 0.04, 0.04])
    assert np.isnan(fairness.adjust_pvalues(p)[3])


def test_group_labels_bands_and_labels():
    age = pd.Series([17, 18, 29, 30, 61, np.nan, 119])
    g = fairness.group_labels(age, [18, 30, 45, 60, 120])
    assert list(g.astype(str)) == ["unknown", "18–29", "18–29", "30–44", "60+", "unknown", "60+"]
    f = fairness.group_labels(pd.Series([0, 1, 1]), labels={0: "men", 1: "women"})
    assert list(f.astype(str)) == ["men", "women", "women"]


def test_resolve_policy_by_id_name_and_value():
    names = {0: "A", 1: "B", 2: "C"}
    got = fairness.resolve_policy(
        {"x": {"top_value": 1}, "y": {"bottom_value": 2}, "z": {"names": ["B"]}, "w": [2]}, names, [2, 0, 1])
    assert got == {"x": [1], "y": [0, 2], "z": [1], "w": [2]}
    with pytest.raises(ValueError, match="do not exist"):
        fairness.resolve_policy({"x": {"names": ["nope"]}}, names)


def test_composition_balance():
    segs = np.repeat([0, 1], 200)
    groups = np.r_[np.repeat(["a", "b"], 100), np.repeat(["a", "b"], [180, 20])]
    long, bal = fairness.composition(segs, groups, n_boot=100)
    rr = long.set_index(["segment", "group"])["representation_ratio"]
    assert rr[(0, "a")] == pytest.approx(0.5 / 0.7) and rr[(1, "b")] == pytest.approx(0.1 / 0.3)
    assert bal.set_index("segment")["balance"].tolist() == pytest.approx([min(0.5 / 0.7, 0.3 / 0.5), 0.1 / 0.3])


def test_verdict_rule_small_groups_never_pass():
    rng = np.random.default_rng(3)
    groups = np.r_[np.repeat("big", 2000), np.repeat("small", 20)]
    selected = rng.uniform(size=len(groups)) < 0.3
    t = fairness.rate_by_group(selected, groups, n_boot=100).assign(action="a", attribute="g")
    v = fairness.verdicts(t, thresholds={"ratio": [0.8, 1.25], "difference": 0.1}, min_group_size=30, alpha=0.05)
    assert v["verdict"].tolist() == ["insufficient evidence"]
    assert "fewer than 30" in v["sentence"].iloc[0]


# -- telco: agreement with Fairlearn to 1e-9, outcome metrics, ThresholdOptimizer -------------------------
def test_telco_selection_and_dp_agree_with_metricframe(telco_audit):
    run, audit = telco_audit
    cust = run.customers()
    assign = run.read_table("segments/assignments.parquet").merge(cust, on="customer_id")
    seginfo = run.read_json("artifacts/segments/segments.json")
    policy = fairness.resolve_policy(fairness.DEFAULTS["policy"], {int(k): v for k, v in seginfo["names"].items()},
                                     seginfo["value_order"])
    sel_table = run.read_table("fairness/selection.parquet")
    dp = run.read_table("fairness/dp.parquet").set_index(["action", "attribute"])
    checked = 0
    for action, ids in policy.items():
        selected = assign["segment"].isin(ids).astype(int).to_numpy()
        for attr in ["female", "senior_citizen"]:
            labels = (run.config.get("fairness") or {}).get("labels", {}).get(attr)
            sf = fairness.group_labels(assign[attr], labels=labels).astype(str).to_numpy()
            mf = MetricFrame(metrics=selection_rate, y_true=selected, y_pred=selected, sensitive_features=sf)
            ours = sel_table.query("action == @action and attribute == @attr").set_index("group")["rate"]
            assert set(ours.index) == set(mf.by_group.index)
            np.testing.assert_allclose(ours.to_numpy(), mf.by_group.reindex(ours.index).to_numpy(), atol=1e-9, rtol=0)
            assert abs(dp.loc[(action, attr), "dp_difference"]
                       - demographic_parity_difference(selected, selected, sensitive_features=sf)) < 1e-9
            assert abs(dp.loc[(action, attr), "dp_ratio"]
                       - demographic_parity_ratio(selected, selected, sensitive_features=sf)) < 1e-9
            checked += 1
    assert checked == 4
    assert set(audit.verdicts["verdict"]) <= {"pass", "fail", "insufficient evidence"}
    assert audit.verdicts["sentence"].str.len().min() > 40


def test_telco_outcome_metrics_and_threshold_optimizer(telco_audit):
    run, audit = telco_audit
    assign = run.read_table("segments/assignments.parquet").merge(run.customers(), on="customer_id")
    summ = audit.outcome_summary.set_index(["action", "attribute"])
    ids = audit.policy.set_index("action").loc["retention_discount", "segment_ids"]
    selected = assign["segment"].isin(ids).astype(int)
    eo = equalized_odds_difference(assign["churn"], selected, sensitive_features=assign["female"])
    assert summ.loc[("retention_discount", "female"), "equalized_odds_difference"] == pytest.approx(eo, abs=1e-9)
    th = audit.threshold
    assert th is not None and set(th["attribute"]) == {"female", "senior_citizen"}
    constrained = th[th["rule"].str.contains("ThresholdOptimizer")]
    assert (constrained["equalized_odds_difference"] < 0.15).all()


# -- synthetic: the planted proxy is caught, and the audit passes without it -------------------------------
@pytest.mark.parametrize("strength", [0.9, 0.0])
def test_synthetic_planted_proxy(tmp_path, strength):
    run = _prepared(tmp_path, "synthetic", [
        "dataset.params.n_customers=5000", f"dataset.params.proxy_strength={strength}", "dataset.params.seed=11",
        "fairness.policy={premium_offer: {top_value: 1}}",
    ])
    audit = fairness.fairness_run(run)
    v = audit.verdicts.set_index(["action", "attribute"])
    proxies = audit.proxies.query("attribute == 'ethnicity'")
    summary = run.read_json("summary/04_fairness.json")
    assert [r["attribute"] for r in summary["verdicts"]] == ["gender", "age", "ethnicity", "gender × age"]
    if strength > 0:
        assert v.loc[("premium_offer", "ethnicity"), "verdict"] == "fail"
        assert "below the 0.8 threshold: fail" in v.loc[("premium_offer", "ethnicity"), "sentence"]
        assert proxies.iloc[0]["feature"] == "postcode" and proxies.iloc[0]["cramers_v"] > 0.5
        assert audit.proxy_joint.set_index("attribute").loc["ethnicity", "features_auc"] > 0.8
    else:
        assert v.loc[("premium_offer", "ethnicity"), "verdict"] == "pass"
        assert proxies.set_index("feature").loc["postcode", "cramers_v"] < 0.1
        # Same config, same summary (bootstrap, CV and refits are seeded from run.seed).
        fairness.fairness_run(run)
        assert run.read_json("summary/04_fairness.json") == summary
    # The summary carries no pseudonym.
    ids = set(run.customers()["customer_id"])
    assert not any(i in str(summary) for i in list(ids)[:500])


def test_cdnow_is_not_applicable(tmp_path):
    cfg = load_config(dataset="cdnow")
    run = pipeline.prepare(cfg, tmp_path / "cdnow", fresh=True)
    audit = fairness.fairness_run(run)
    assert not audit.applicable and "sensitive" in audit.reason
    assert run.read_json("summary/04_fairness.json")["verdicts"] == []
