"""Profiles: typical values per segment, small segments suppressed."""

import numpy as np
import pytest

from workbench import explain


def test_profiles_suppress_small_segments(customers):
    X, group = customers(300, seed=4)
    labels = group.copy()
    labels[:4] = 7  # a tiny segment of 4 customers
    prof = explain.profiles(X, labels, k=10)
    tiny = prof[prof["segment"] == "7"].iloc[0]
    assert bool(tiny["suppressed"]) and np.isnan(tiny["spend"])
    assert prof.iloc[-1]["segment"] == "all"
    assert prof.iloc[-1]["spend"] == pytest.approx(X["spend"].median())
