"""The surrogate path: fidelity gates the explanation; any (features, labels) pair can be explained."""

import numpy as np
from sklearn.mixture import GaussianMixture

from workbench import explain


def test_surrogate_fidelity_gates_explanations(customers):
    X, group = customers(800, seed=2)
    gmm = GaussianMixture(3, random_state=0).fit(np.column_stack([np.log(X["spend"]), X["visits"]]))
    labels = gmm.predict(np.column_stack([np.log(X["spend"]), X["visits"]]))
    good = explain.SurrogateExplainer(n_estimators=60, random_state=0).fit(X, labels)
    assert good.trustworthy_ and good.fidelity_["accuracy"] >= 0.9
    assert set(good.fidelity_["f1"]) == {0, 1, 2}
    phi = good.shap_values(X.iloc[:50])
    np.testing.assert_allclose(good.base_values_ + phi.sum(axis=1), good.scores(X.iloc[:50]), atol=1e-6)

    noise = np.random.default_rng(0).integers(0, 4, len(X))
    bad = explain.SurrogateExplainer(n_estimators=60, random_state=0).fit(X, noise)
    assert not bad.trustworthy_
    assert "below the threshold of 90%" in bad.fidelity_["reason"]

    one = explain.SurrogateExplainer(segment=1, n_estimators=60, random_state=0).fit(X, labels)
    res = one.explain(X.iloc[:30])
    assert res["shap"].shape == (30, 4, 1)
    log_odds = np.log(one.model_.predict_proba(one._prepare(X.iloc[:30]))[:, 0])
    log_odds -= np.log(one.model_.predict_proba(one._prepare(X.iloc[:30]))[:, 1])
    np.testing.assert_allclose(res["base_own"] + res["own"].sum(axis=1), log_odds, atol=1e-6)


def test_explain_labels_works_from_any_pair(customers):
    X, group = customers(500, seed=3)
    names = np.array(["budget", "regular", "premium"])[group]
    exp, result = explain.explain_labels(X, names, {"sample_size": 300, "surrogate": {"n_estimators": 40}})
    assert set(result["importance"]["segment"]) == {"budget", "premium", "regular"}
    top = result["importance"].sort_values("mean_abs_shap").groupby("segment").tail(1)["feature"]
    assert set(top) <= {"spend", "visits", "colour"}
