"""The exact path: SHAP values of the centroid scores of a k-means pipeline."""

import numpy as np
import pandas as pd
import shap


def test_centroid_scores_reproduce_kmeans(fitted):
    X, _, pipe, exp = fitted
    assert np.array_equal(exp.predict(X), pipe.predict(X))
    assert exp.features_ == ["spend", "visits", "noise", "colour"]


def test_exact_shap_is_additive_in_original_features(fitted):
    X, _, _, exp = fitted
    phi = exp.shap_values(X)
    assert phi.shape == (len(X), 4, 4)
    scores = exp.scores(X)
    np.testing.assert_allclose(exp.base_values_ + phi.sum(axis=1), scores, atol=1e-6)
    res = exp.explain(X)
    # the fused fast path gives exactly shap.LinearExplainer's values, summed per original feature
    np.testing.assert_allclose(res["shap"], phi, atol=1e-9)
    raw = exp.explainer_.shap_values(exp.transform(X))  # (n, d model columns, k)
    np.testing.assert_allclose(phi[:, 3, :], raw[:, 3:, :].sum(axis=1), atol=1e-9)  # colour = its one-hot columns
    rows = np.arange(len(X))
    top = res["top_index"]
    np.testing.assert_allclose(res["base_own"] + res["own"].sum(axis=1), scores[rows, top], atol=1e-6)
    margin = scores[rows, top] - scores[rows, res["runner_index"]]
    assert (margin >= 0).all()
    np.testing.assert_allclose(res["base_versus"] + res["versus"].sum(axis=1), margin, atol=1e-6)


def test_exact_shap_agrees_with_shap_exact_explainer(fitted):
    X, _, _, exp = fitted
    levels = sorted(X["colour"].unique())
    codes = X.assign(colour=X["colour"].map({c: i for i, c in enumerate(levels)}).astype(float))

    def scores(arr):
        frame = pd.DataFrame(arr, columns=X.columns)
        frame["colour"] = np.array(levels)[frame["colour"].round().astype(int)]
        for c in ["spend", "visits", "noise"]:
            frame[c] = frame[c].astype(float)
        return exp.scores(frame)

    background = codes.iloc[exp.background_rows_].to_numpy()
    reference = shap.ExactExplainer(scores, shap.maskers.Independent(background, max_samples=len(background)))
    sample = codes.iloc[:15].to_numpy()
    expected = reference(sample).values  # (15, 4 features, 4 segments)
    np.testing.assert_allclose(exp.shap_values(X.iloc[:15]), expected, atol=1e-6)
