"""Composition: representation ratios and generalised balance."""

from __future__ import annotations

import numpy as np
import pytest

from workbench import fairness


def test_composition_balance():
    segs = np.repeat([0, 1], 200)
    groups = np.r_[np.repeat(["a", "b"], 100), np.repeat(["a", "b"], [180, 20])]
    long, bal = fairness.composition(segs, groups, n_boot=100)
    rr = long.set_index(["segment", "group"])["representation_ratio"]
    assert rr[(0, "a")] == pytest.approx(0.5 / 0.7) and rr[(1, "b")] == pytest.approx(0.1 / 0.3)
    assert bal.set_index("segment")["balance"].tolist() == pytest.approx([min(0.5 / 0.7, 0.3 / 0.5), 0.1 / 0.3])
