"""Dynamics free of the calendar (issue 25): same-season comparisons, seasonal profiles, staleness by fit.

The synthetic world's holiday bargain hunters buy three quarters of their purchases between mid-November
and Christmas. Against profiles pooled over the year and compared half-year to half-year, they "moved"
every half-year and half of all assignments looked stale after six months.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import dynamics
from workbench.dynamics._staleness import fits_segment

from .conftest import migrated_world

TOLERANCE = dynamics.DEFAULTS["stale_tolerance"]
HOLIDAY = "Holiday bargain hunters"


def _windows(months: int, starts: list[str]) -> pd.DataFrame:
    start = pd.to_datetime(starts)
    return pd.DataFrame({"label": [f"w{i}" for i in range(len(starts))], "start": start,
                         "end": start + pd.DateOffset(months=months)})


def test_windows_are_compared_with_the_same_season_a_year_earlier():
    halves = _windows(6, ["2024-07-01", "2025-01-01", "2025-07-01", "2026-01-01"])
    assert dynamics.season_lag(halves) == 2
    assert dynamics.season_of(halves) == {"w0": 7, "w1": 1, "w2": 7, "w3": 1}
    quarters = _windows(3, [f"{y}-{m:02d}-01" for y in (2025, 2026) for m in (1, 4, 7, 10)])
    assert dynamics.season_lag(quarters) == 4
    # year-long windows, or too short a history to meet a season twice: the previous window
    assert dynamics.season_lag(_windows(12, ["2024-01-01", "2025-01-01"])) == 1
    assert dynamics.season_lag(_windows(6, ["2025-01-01", "2025-07-01"])) == 1


@pytest.fixture(scope="module")
def quiet():
    """4,000 synthetic customers (seed 4) with no planted migration."""
    return migrated_world(4, n_customers=4000, migration=None)


def test_without_migration_assignments_stay_within_the_stale_tolerance(quiet):
    """Done-when: on the synthetic world with no planted migration, the stale share after one window is
    below ``stale_tolerance``; so is the share the stage reports (assignments of two windows ago)."""
    _, _, dyn, _, _ = quiet
    curve = dynamics.staleness_curve(dyn.segments, dyn.labels, dyn.fits)
    print(curve)
    assert curve["lag"].iloc[0] == 1 and curve["stale_share"].iloc[0] < TOLERANCE
    assert (curve["stale_share"] < TOLERANCE).all()
    stale = dynamics.stale_assignments(dyn.segments[dyn.labels[-3]], dyn.segments[dyn.labels[-1]], dyn.names,
                                       fits=dyn.fits[dyn.labels[-1]])
    assert stale["stale_share"].iloc[-1] < TOLERANCE
    # what the fit rule is for: the nearest profile alone flips between segments that buy alike
    assert dynamics.staleness_curve(dyn.segments, dyn.labels)["stale_share"].iloc[0] > 3 * TOLERANCE


def test_holiday_shoppers_are_not_reported_as_moving_every_half_year(quiet):
    _, _, dyn, truth, _ = quiet
    assert dyn.pairs == [("2024H2", "2025H2"), ("2025H1", "2026H1")]  # December meets December
    assert (dyn.drift.loc["holiday_share"] < 0.25).all(), dyn.drift.loc["holiday_share"]  # was 8-9 half to half
    planted = dyn.states[["customer_id"]].merge(truth, on="customer_id", how="left")["segment"].to_numpy()
    holiday = planted == HOLIDAY
    for before, after in [*dyn.pairs, ("2024H2", "2025H1"), ("2025H1", "2025H2")]:  # same season and not
        a, b = dyn.segments[before].to_numpy(), dyn.segments[after].to_numpy()
        both = holiday & (a >= 0) & (b >= 0)
        stale = (a != b) & ~fits_segment(dyn.fits[after], a)
        assert both.sum() > 50 and stale[both].mean() < TOLERANCE, (before, after, stale[both].mean())
    # a holiday shopper who buys in the first half-year is compared with what holiday shoppers do then
    recorded = pd.Series(dyn.segments["2024H2"][holiday]).value_counts().idxmax()
    first_half = dyn.segments["2025H1"].to_numpy()[holiday]
    assert (first_half[first_half >= 0] == recorded).mean() > 0.5


def test_the_planted_migration_makes_assignments_stale(migrated):
    """The fit rule still sees a real change: the movers' assignments go stale, the others' do not."""
    ds, _, dyn, _, migration = migrated
    moved = dyn.states["customer_id"].isin(set(ds.truth.migration["moved_ids"])).to_numpy()
    a, b = dyn.segments["2025H1"].to_numpy(), dyn.segments["2026H1"].to_numpy()
    both = (a >= 0) & (b >= 0)
    stale = (a != b) & ~fits_segment(dyn.fits["2026H1"], a)
    print(f"stale: movers {stale[both & moved].mean():.3f}, others {stale[both & ~moved].mean():.3f}")
    assert stale[both & moved].mean() > 0.4
    assert stale[both & ~moved].mean() < TOLERANCE


def test_fit_bits_read_back_per_segment():
    inside = np.array([[True, False, True] + [False] * 7, [False] * 9 + [True]])
    packed = np.packbits(inside, axis=1, bitorder="little")
    assert fits_segment(packed, np.array([0, 9])).tolist() == [True, True]
    assert fits_segment(packed, np.array([1, 0])).tolist() == [False, False]
    assert fits_segment(packed, np.array([-1, -2])).tolist() == [False, False]  # inactive, not yet: fit nothing
