"""Drift: PSI per feature; how a segment's members moved (cohort shift)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import dynamics


def test_psi_reference_values():
    rng = np.random.default_rng(0)
    x = rng.normal(size=20_000)
    assert dynamics.psi(x, x) == pytest.approx(0.0, abs=1e-12)
    assert dynamics.psi(x, rng.normal(size=20_000)) < 0.01
    assert dynamics.psi(x, rng.normal(1.0, 1.0, 20_000)) > 0.25
    # categorical by hand: shares (0.5, 0.5) -> (0.8, 0.2)
    e = pd.Series(["a"] * 50 + ["b"] * 50)
    a = pd.Series(["a"] * 80 + ["b"] * 20)
    expected = (0.8 - 0.5) * np.log(0.8 / 0.5) + (0.2 - 0.5) * np.log(0.2 / 0.5)
    assert dynamics.psi(e, a) == pytest.approx(expected)
    # missing values are a bin of their own
    assert dynamics.psi(pd.Series([1.0, 2.0] * 50), pd.Series([1.0, np.nan] * 50)) > 0.25


def test_cohort_drift_flags_the_features_that_changed(migrated):
    _, _, dyn, truth, migration = migrated
    shift = dynamics.cohort_shift(dyn, "2025H2", "2026H1")
    src = dyn.names[dynamics.planted_migration_check(dyn, truth, migration)["source_ids"][-1]]
    row = shift.loc[src]
    assert row["monetary"] > 0.2  # the movers spend more in 2026H1 than the rest changed
    quiet = dynamics.cohort_shift(dyn, "2024H2", "2025H2").loc[src]
    assert quiet["monetary"] < row["monetary"] / 2
    # population drift: every input gets a PSI for every compared pair, the same season a year apart
    assert dyn.pairs == [("2024H2", "2025H2"), ("2025H1", "2026H1")]
    assert list(dyn.drift.columns) == ["2024H2→2025H2", "2025H1→2026H1"]
    assert dyn.drift.shape == (len(dyn.input_names), len(dyn.pairs))
    assert (dyn.drift.to_numpy() >= 0).all()
