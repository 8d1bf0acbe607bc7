"""The verdict rule: small groups never pass."""

from __future__ import annotations

import numpy as np

from workbench import fairness


def test_verdict_rule_small_groups_never_pass():
    rng = np.random.default_rng(3)
    groups = np.r_[np.repeat("big", 2000), np.repeat("small", 20)]
    selected = rng.uniform(size=len(groups)) < 0.3
    t = fairness.rate_by_group(selected, groups, n_boot=100).assign(action="a", attribute="g")
    v = fairness.verdicts(t, thresholds={"ratio": [0.8, 1.25], "difference": 0.1}, min_group_size=30, alpha=0.05)
    assert v["verdict"].tolist() == ["insufficient evidence"]
    assert "fewer than 30" in v["sentence"].iloc[0]


def test_verdict_rule_fail_needs_a_breach_and_pass_needs_every_group():
    rng = np.random.default_rng(0)
    groups = np.repeat(["a", "b"], 2000)
    thresholds = {"ratio": [0.8, 1.25], "difference": 0.1}
    unequal = rng.uniform(size=4000) < np.where(groups == "a", 0.3, 0.15)
    t = fairness.rate_by_group(unequal, groups, n_boot=100).assign(action="premium_offer", attribute="g")
    v = fairness.verdicts(t, thresholds=thresholds, min_group_size=30, alpha=0.05)
    assert v["verdict"].tolist() == ["fail"] and v["groups"].iloc[0] == {"b": "fail"}
    assert v["sentence"].iloc[0].startswith("Customers with g = b were selected for the premium offer at 0.")
    assert v["sentence"].iloc[0].endswith("below the 0.8 threshold: fail.")
    equal = rng.uniform(size=4000) < 0.3
    t = fairness.rate_by_group(equal, groups, n_boot=100).assign(action="premium_offer", attribute="g")
    v = fairness.verdicts(t, thresholds=thresholds, min_group_size=30, alpha=0.05, labelled={"g"})
    assert v["verdict"].tolist() == ["pass"] and v["sentence"].iloc[0].startswith("B were selected")
    assert v["sentence"].iloc[0].endswith("the largest gap by g; within 0.8–1.25: pass.")
