"""The surrogate path: fidelity gates the explanation; the log-odds of assigned vs runner-up is explained."""

import numpy as np
from sklearn.mixture import GaussianMixture

from workbench import explain


def _gmm_labels(X):
    inputs = np.column_stack([np.log(X["spend"]), X["visits"]])
    return GaussianMixture(3, random_state=0).fit(inputs).predict(inputs)


def test_surrogate_fidelity_gates_explanations(customers):
    X, group = customers(800, seed=2)
    labels = _gmm_labels(X)
    good = explain.SurrogateExplainer(n_estimators=60, random_state=0).fit(X, labels)
    assert good.trustworthy_ and good.fidelity_["accuracy"] >= 0.9
    assert set(good.fidelity_["f1"]) == {0, 1, 2}
    phi = good.shap_values(X.iloc[:50])
    np.testing.assert_allclose(good.base_values_ + phi.sum(axis=1), good.scores(X.iloc[:50]), atol=1e-6)

    noise = np.random.default_rng(0).integers(0, 4, len(X))
    bad = explain.SurrogateExplainer(n_estimators=60, random_state=0).fit(X, noise)
    assert not bad.trustworthy_
    assert "below the threshold of 90%" in bad.fidelity_["reason"]


def test_margin_is_the_log_odds_of_the_assigned_segment_against_the_runner_up(customers):
    X, _ = customers(800, seed=2)
    labels = _gmm_labels(X)
    sur = explain.SurrogateExplainer(n_estimators=60, random_state=0).fit(X, labels)
    res = sur.explain(X.iloc[:60], labels=labels[:60])
    proba = sur.model_.predict_proba(sur._prepare(X.iloc[:60]))
    rows = np.arange(60)
    log_odds = np.log(proba[rows, res["top_index"]]) - np.log(proba[rows, res["runner_index"]])
    np.testing.assert_allclose(res["base_margin"] + res["margin"].sum(axis=1), log_odds, atol=1e-6)
    assert (res["segment"] == labels[:60]).all() and (res["runner_index"] != res["top_index"]).all()


def test_two_segments_are_explained_both_ways(customers):
    """Issue 15: a binary LightGBM has one raw score column; both segments are explained, exactly."""
    X, group = customers(600, seed=5)
    labels = np.where(group == 2, "targeted", "not targeted")
    sur = explain.SurrogateExplainer(n_estimators=40, random_state=0).fit(X, labels)
    assert list(sur.classes_) == ["not targeted", "targeted"] and sur.trustworthy_
    res = sur.explain(X, labels=labels)
    assert set(res["segment"]) == {"targeted", "not targeted"}
    assert (res["runner_up"] != res["segment"]).all()
    p_targeted = sur.model_.predict_proba(sur._prepare(X))[:, 1]
    log_odds = np.log(p_targeted) - np.log1p(-p_targeted)
    signed = np.where(labels == "targeted", log_odds, -log_odds)
    np.testing.assert_allclose(res["base_margin"] + res["margin"].sum(axis=1), signed, atol=1e-6)
    imp = explain.global_importance(sur, X, labels=labels)["importance"]
    assert set(imp["segment"]) == {"targeted", "not targeted"} and (imp["n_members"] > 0).all()

    one = explain.SurrogateExplainer(segment="targeted", n_estimators=40, random_state=0).fit(X, labels)
    res1 = one.explain(X, labels=labels)
    p_one = one.model_.predict_proba(one._prepare(X))[:, 0]  # one-vs-rest: class 0 is the segment
    signed1 = np.where(labels == "targeted", 1.0, -1.0) * (np.log(p_one) - np.log1p(-p_one))
    np.testing.assert_allclose(res1["base_margin"] + res1["margin"].sum(axis=1), signed1, atol=1e-6)


def test_surrogate_attributions_do_not_depend_on_origin_or_units(customers):
    X, _ = customers(600, seed=3)
    labels = _gmm_labels(X)
    # units changed by powers of two (exact in floating point) and an origin moved on an all-positive
    # feature; LightGBM keeps a separate bin for zero, so a shift across zero is a different model.
    # The surrogate is refitted: a tree model has no fixed origin to move.
    moved = X.assign(spend=X["spend"] * 4.0 + 64.0, visits=X["visits"] * 0.5, noise=X["noise"] * 2.0)
    a = explain.SurrogateExplainer(n_estimators=40, random_state=0).fit(X, labels).explain(X, labels=labels)
    b = explain.SurrogateExplainer(n_estimators=40, random_state=0).fit(moved, labels).explain(moved, labels=labels)
    np.testing.assert_allclose(a["margin"], b["margin"], atol=1e-6)


def test_explain_labels_works_from_any_pair(customers):
    X, group = customers(500, seed=3)
    names = np.array(["budget", "regular", "premium"])[group]
    exp, result = explain.explain_labels(X, names, {"sample_size": 300, "surrogate": {"n_estimators": 40}})
    assert set(result["importance"]["segment"]) == {"budget", "premium", "regular"}
    top = result["importance"].sort_values("mean_abs_shap").groupby("segment").tail(1)["feature"]
    assert set(top) <= {"spend", "visits", "colour"}
