"""Score intervals: coverage by simulation, never degenerate at zero events."""

from __future__ import annotations

import numpy as np

from workbench import fairness


def _coverage(lo, hi, truth):
    return float(np.mean((lo <= truth) & (truth <= hi)))


def test_coverage_by_simulation_at_n30_rate_01():
    rng = np.random.default_rng(12)
    n, p, reps = 30, 0.1, 20000
    s1, s0 = rng.binomial(n, p, reps), rng.binomial(n, p, reps)
    assert _coverage(*fairness.wilson_interval(s1, n), p) >= 0.93
    assert _coverage(*fairness.ratio_interval(s1, n, s0, n), 1.0) >= 0.93
    assert _coverage(*fairness.difference_interval(s1, n, s0, n), 0.0) >= 0.93
    # Unequal rates: a ratio of 0.5 (0.1 vs 0.2) is still covered.
    s0 = rng.binomial(n, 0.2, reps)
    assert _coverage(*fairness.ratio_interval(s1, n, s0, n), 0.5) >= 0.93


def test_zero_events_give_a_non_degenerate_interval():
    lo, hi = fairness.wilson_interval(0, 200)
    assert lo == 0 and 0.01 < hi < 0.03
    lo, hi = fairness.ratio_interval(0, 200, 600, 2000)
    assert lo == 0 and 0 < hi < 0.1
    lo, hi = fairness.difference_interval(0, 200, 600, 2000)
    assert lo < -0.3 < hi < -0.2
    assert fairness.ratio_interval(5, 100, 0, 100)[1] == np.inf


def test_ratio_interval_matches_the_score_test_at_its_bounds():
    # At each bound the Koopman score statistic equals the normal quantile (checked independently).
    from workbench.fairness._intervals import _ratio_score

    lo, hi = fairness.ratio_interval(30, 100, 50, 120)
    assert abs(_ratio_score(lo, 30, 100, 50, 120) - 1.959964) < 1e-6
    assert abs(_ratio_score(hi, 30, 100, 50, 120) + 1.959964) < 1e-6
    assert lo < (30 / 100) / (50 / 120) < hi
