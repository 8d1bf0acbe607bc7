"""Proxy scan: the segmentation's own inputs beside all customer columns; SHAP of the targeted segments."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench import fairness


def test_inputs_auc_beside_all_columns_and_targeted_shap():
    rng = np.random.default_rng(1)
    n = 2000
    eth = rng.choice(["majority", "minority"], n, p=[0.7, 0.3])
    postcode = np.where(rng.uniform(size=n) < 0.9, np.where(eth == "minority", "P1", "P2"), rng.choice(["P1", "P2"], n))
    cand = pd.DataFrame({"recency": rng.exponential(50, n), "monetary": rng.lognormal(4, 1, n), "postcode": postcode})
    segs = rng.integers(0, 3, n)
    importance = pd.DataFrame({"segment": [0, 0, 0, 2, 2, 2, 1, 1, 1],
                               "feature": ["recency", "monetary", "postcode"] * 3,
                               "mean_abs_shap": [0.1, 0.2, 0.0, 0.7, 0.05, 0.0, 9.0, 9.0, 9.0]})
    joint, per = fairness.proxy_scan(cand, pd.DataFrame({"ethnicity": eth}), segs, inputs=["recency", "monetary"],
                                     importance=importance, targeted={2: "Top", 0: "Low"}, cv=3, seed=0)
    j = joint.iloc[0]
    assert j["inputs_auc"] < 0.6 < 0.8 < j["features_auc"]  # postcode is not an input, but predicts ethnicity
    p = per.set_index("feature")
    assert p.loc["recency", "shap_Top"] == 0.7 and p.loc["recency", "shap_Low"] == 0.1
    assert p.loc["recency", "shap_weight"] == 0.7  # segment 1 (9.0, not targeted) is never averaged in
    assert p.index[0] == "postcode" and not p.loc["postcode", "segmentation_input"]
