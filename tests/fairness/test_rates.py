"""Rates by group: agreement with Fairlearn's MetricFrame, the count bootstrap, p-value corrections."""

from __future__ import annotations

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, selection_rate

from workbench import fairness


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
