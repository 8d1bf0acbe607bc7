"""The exact path: SHAP of the margin between the assigned centroid and the runner-up."""

import numpy as np
import pandas as pd
import pytest
import shap

from workbench import explain


def test_centroid_scores_reproduce_kmeans(fitted):
    X, _, pipe, exp = fitted
    assert np.array_equal(exp.predict(X), pipe.predict(X))
    assert exp.features_ == ["spend", "visits", "noise", "colour"]


def test_fused_values_are_linear_explainer_values_summed_per_feature(fitted):
    X, _, _, exp = fitted
    phi = exp.shap_values(X)
    assert phi.shape == (len(X), 4, 4)
    np.testing.assert_allclose(exp.base_values_ + phi.sum(axis=1), exp.scores(X), atol=1e-6)
    res = exp.explain(X)
    np.testing.assert_allclose(res["shap"], phi, atol=1e-9)
    raw = exp.explainer_.shap_values(exp.transform(X))  # (n, d model columns, k)
    np.testing.assert_allclose(phi[:, 3, :], raw[:, 3:, :].sum(axis=1), atol=1e-9)  # colour = its one-hot columns


def test_margin_is_additive_and_is_the_distance_difference(fitted):
    X, _, pipe, exp = fitted
    res = exp.explain(X)
    z = exp.transform(X)
    centers = pipe[-1].cluster_centers_
    rows = np.arange(len(X))
    d_assigned = ((z - centers[res["top_index"]]) ** 2).sum(axis=1)
    d_runner = ((z - centers[res["runner_index"]]) ** 2).sum(axis=1)
    margin = d_runner - d_assigned
    assert (margin >= 0).all() and (res["runner_index"] != res["top_index"]).all()
    np.testing.assert_allclose(res["base_margin"] + res["margin"].sum(axis=1), margin, atol=1e-6)
    # against a named segment: the margin over that segment (negative for customers the segment wins)
    named = exp.explain(X, versus=2)
    d_two = ((z - centers[2]) ** 2).sum(axis=1)
    np.testing.assert_allclose(named["base_margin"] + named["margin"].sum(axis=1), d_two - d_assigned, atol=1e-6)
    assert (named["runner_up"] == 2).all() and rows.size == len(named["margin"])
    with pytest.raises(ValueError, match="Unknown segment 9"):
        exp.explain(X, versus=9)


def test_margin_shap_agrees_with_shap_exact_explainer(fitted):
    X, _, _, exp = fitted
    levels = sorted(X["colour"].unique())
    codes = X.assign(colour=X["colour"].map({c: i for i, c in enumerate(levels)}).astype(float))
    res = exp.explain(X.iloc[:15])
    top, runner = res["top_index"], res["runner_index"]

    def decode(arr):
        frame = pd.DataFrame(arr, columns=X.columns)
        frame["colour"] = np.array(levels)[frame["colour"].round().astype(int)]
        for c in ["spend", "visits", "noise"]:
            frame[c] = frame[c].astype(float)
        return frame

    background = codes.iloc[exp.background_rows_].to_numpy()
    for i in range(15):  # the margin function of customer i's own pair of segments
        def margin(arr, a=top[i], b=runner[i]):
            s = exp.scores(decode(arr))
            return s[:, a] - s[:, b]

        reference = shap.ExactExplainer(margin, shap.maskers.Independent(background, max_samples=len(background)))
        expected = reference(codes.iloc[[i]].to_numpy())
        np.testing.assert_allclose(res["margin"][i], expected.values[0], atol=1e-6)
        np.testing.assert_allclose(res["base_margin"][i], expected.base_values[0], atol=1e-6)


def _moved(exp, shift=0.0, scale=1.0):
    """The same model with its input space's origin moved by ``shift`` and units multiplied by ``scale``."""
    centers = exp.coef / 2.0
    moved = explain.LinearScoreExplainer(
        lambda X: scale * np.asarray(exp.transform(X), dtype=float) + shift,
        2.0 * (scale * centers + shift), -((scale * centers + shift) ** 2).sum(axis=1), exp.input_feature,
        background_size=exp.background_size, random_state=exp.random_state)
    return moved


def test_every_reported_attribution_is_origin_invariant(fitted):
    X, _, _, exp = fitted
    d = exp.coef.shape[1]
    shift = np.random.default_rng(4).normal(0, 5, d)  # e.g. (5, -3, ...): no assignment changes
    other = _moved(exp, shift=shift).fit(X)
    a, b = exp.explain(X), other.explain(X)
    assert np.array_equal(a["segment"], b["segment"]) and np.array_equal(a["runner_up"], b["runner_up"])
    np.testing.assert_allclose(b["margin"], a["margin"], atol=1e-8)
    np.testing.assert_allclose(b["base_margin"], a["base_margin"], atol=1e-8)
    ia = explain.global_importance(exp, X, top_n=3)
    ib = explain.global_importance(other, X, top_n=3)
    pd.testing.assert_frame_equal(ia["importance"], ib["importance"], atol=1e-8)
    assert np.array_equal(ia["top"]["feature"], ib["top"]["feature"])
    # the score of one segment alone is not invariant: the test would notice a regression to it
    own_a = a["shap"][np.arange(len(X)), :, a["top_index"]]
    own_b = b["shap"][np.arange(len(X)), :, b["top_index"]]
    assert np.abs(own_a - own_b).max() > 1.0


def test_rescaling_units_rescales_attributions_and_keeps_their_order(fitted):
    X, _, _, exp = fitted
    other = _moved(exp, scale=3.0).fit(X)
    a, b = exp.explain(X), other.explain(X)
    assert np.array_equal(a["segment"], b["segment"])
    np.testing.assert_allclose(b["margin"], 9.0 * a["margin"], atol=1e-8)  # the margin is squared distance
    ia = explain.global_importance(exp, X, top_n=4)
    ib = explain.global_importance(other, X, top_n=4)
    np.testing.assert_allclose(ib["importance"]["mean_abs_shap"], 9.0 * ia["importance"]["mean_abs_shap"])
    assert np.array_equal(ia["top"]["feature"], ib["top"]["feature"])
