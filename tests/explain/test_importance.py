"""The global view: mean |margin SHAP| over each segment's members, batched."""

import numpy as np
import pandas as pd

from workbench import explain


def test_global_importance_batches_match_one_pass(fitted):
    X, _, _, exp = fitted
    one = explain.global_importance(exp, X, batch_size=len(X), top_n=2)
    many = explain.global_importance(exp, X, batch_size=97, top_n=2, sample=np.array([5, 200, 599]))
    pd.testing.assert_frame_equal(one["importance"], many["importance"])
    assert np.array_equal(one["top"]["feature"], many["top"]["feature"])
    np.testing.assert_allclose(many["sample_margin"], exp.explain(X.iloc[[5, 200, 599]])["margin"])
    # four segments on three planted groups: k-means splits one group along the noise, so noise is what
    # separates those two segments from each other (their runner-ups), and only those two
    imp = one["importance"].pivot(index="feature", columns="segment", values="mean_abs_shap")
    top = imp.idxmax()
    assert (top == "noise").sum() == 2 and set(top[top != "noise"]) <= {"spend", "visits", "colour"}


def test_importance_is_the_mean_over_members_of_the_margin(fitted):
    X, _, _, exp = fitted
    res = exp.explain(X)
    imp = explain.global_importance(exp, X, batch_size=211)["importance"].set_index(["segment", "feature"])
    for j, seg in enumerate(exp.segments):
        members = res["top_index"] == j
        for i, feat in enumerate(exp.features_):
            row = imp.loc[(int(seg), feat)]
            assert row["n_members"] == members.sum()
            assert np.isclose(row["mean_abs_shap"], np.abs(res["margin"][members, i]).mean())
            assert np.isclose(row["mean_shap_members"], res["margin"][members, i].mean())


def test_margin_bands_are_aggregates_of_enough_members(fitted):
    X, _, _, exp = fitted
    result = explain.global_importance(exp, X, sample=np.arange(len(X)))
    sizes = pd.Series(result["segment"]).value_counts()
    big, small = sizes.index[0], sizes.index[-1]
    bands = explain.margin_bands(result, big, top=3)
    assert len(bands) == 3 and (bands["n"] == sizes[big]).all()
    assert (bands["q10"] <= bands["q25"]).all() and (bands["q75"] <= bands["q90"]).all()
    assert explain.margin_bands(result, small, min_members=sizes[small] + 1) is None
    assert explain.plot_margin_bands(result, big) is not None
