"""The global view: batched explanation of every customer."""

import numpy as np
import pandas as pd

from workbench import explain


def test_global_importance_batches_match_one_pass(fitted):
    X, _, _, exp = fitted
    one = explain.global_importance(exp, X, batch_size=len(X), top_n=2)
    many = explain.global_importance(exp, X, batch_size=97, top_n=2, sample=np.array([5, 200, 599]))
    pd.testing.assert_frame_equal(one["importance"], many["importance"])
    assert np.array_equal(one["top"]["feature"], many["top"]["feature"])
    np.testing.assert_allclose(many["sample_shap"], exp.shap_values(X.iloc[[5, 200, 599]]))
    # the planted drivers outrank pure noise in every segment
    imp = one["importance"].pivot(index="feature", columns="segment", values="mean_abs_shap")
    assert (imp.loc["spend"] > imp.loc["noise"]).all()
