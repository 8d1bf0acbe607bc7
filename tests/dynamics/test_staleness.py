"""Stale assignments, staleness curve and refresh advice."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench import dynamics
from workbench.dynamics import NOT_YET


def test_staleness_curve_refresh_advice_and_stale_table():
    segs = pd.DataFrame({
        "customer_id": [f"p{i}" for i in range(10)],
        "w1": [0, 0, 0, 0, 0, 1, 1, 1, 1, NOT_YET],
        "w2": [0, 0, 0, 0, 1, 1, 1, 1, 1, 1],
        "w3": [0, 0, 1, 1, 1, 1, 1, 1, 0, 1],
    })
    curve = dynamics.staleness_curve(segs, ["w1", "w2", "w3"])
    # lag 1: w1->w2 (1 of 9 changed) + w2->w3 (3 of 10) = 4/19; lag 2: w1->w3: 4 of 9
    assert curve["stale_share"].tolist() == pytest.approx([4 / 19, 4 / 9])
    advice = dynamics.refresh_recommendation(curve, window_months=3, tolerance=0.25)
    assert advice["refresh_every_months"] == 3
    advice = dynamics.refresh_recommendation(curve, window_months=3, tolerance=0.1)
    assert advice["refresh_every_months"] == 3 and "more often" in advice["sentence"]
    assert dynamics.refresh_recommendation(curve, 3, tolerance=0.5)["refresh_every_months"] is None
    stale = dynamics.stale_assignments(segs["w1"], segs["w3"], {0: "a", 1: "b"}).set_index("segment")
    assert stale.loc["a", "n"] == 5 and stale.loc["a", "stale"] == 3 and stale.loc["a", "main_destination"] == "b"
    assert stale.loc["all", "stale_share"] == pytest.approx(4 / 9)


def _regular_world(shift_last: bool = False):
    """120 customers who buy exactly the same way every month for two years (two kinds of basket).

    With ``shift_last`` the small-basket customers spend four times as much in the last half-year.
    """
    import numpy as np

    import workbench

    ds = workbench.load("synthetic", n_customers=120, seed=0)
    customers = ds.customers
    ids = customers["customer_id"].to_numpy()
    days = pd.date_range("2024-07-01", "2026-06-01", freq="MS")
    days = [d + pd.Timedelta(days=off) for d in days for off in (1, 25)]  # twice a month
    rows = []
    for i, cid in enumerate(ids):
        big = i % 2 == 0
        for m in days:
            amount = 120.0 if big else 20.0
            if shift_last and not big and m >= pd.Timestamp("2026-01-01"):
                amount = 80.0
            rows.append((cid, m, amount, "electronics" if big else "grocery", "web"))
    tx = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount", "category", "channel"])
    recorded = pd.DataFrame({"customer_id": ids, "segment": np.arange(len(ids)) % 2})
    windows = dynamics.make_windows(tx["timestamp"], months=6)
    return customers, tx, ds.roles, windows, recorded


def test_unchanged_behaviour_is_not_stale_while_the_clock_moves():
    """Tenure grows by 18 months and recency is measured to later dates, but every half-year holds the
    same purchases: no assignment goes stale, and no feature drifts."""
    customers, tx, roles, windows, recorded = _regular_world()
    dyn = dynamics.windowed_states(customers, tx, roles, windows, recorded, {0: "big", 1: "small"})
    assert len(dyn.labels) == 4
    curve = dynamics.staleness_curve(dyn.segments, dyn.labels)
    assert (curve["stale_share"] == 0).all()
    stale = dynamics.stale_assignments(dyn.segments[dyn.labels[0]], dyn.segments[dyn.labels[-1]])
    assert stale["stale"].sum() == 0
    assert (dyn.states[dyn.labels].to_numpy() == recorded["segment"].to_numpy()[:, None]).all()
    # all-history features (the old test) see tenure and recency change: they would drift
    early = dynamics.window_features(customers, tx, roles, windows["end"].iloc[0])
    late = dynamics.window_features(customers, tx, roles, windows["end"].iloc[-1])
    assert dynamics.psi(early["tenure"], late["tenure"]) > 0.25
    # disjoint windows of the same behaviour: no drift (holiday_share is seasonal, H2 holds the holidays;
    # inter_purchase_time follows the calendar, half-years differ by three days, the same for everyone)
    steady = dyn.drift.drop(index=["holiday_share", "inter_purchase_time"])
    assert (steady.to_numpy() < 1e-9).all(), steady[(steady >= 1e-9).any(axis=1) | steady.isna().any(axis=1)]


def test_psi_compares_disjoint_windows():
    """A change confined to the last half-year shows fully in the last pair's PSI (disjoint windows), and
    not at all in the earlier pairs; an all-history feature would dilute it with the earlier purchases."""
    customers, tx, roles, windows, recorded = _regular_world(shift_last=True)
    dyn = dynamics.windowed_states(customers, tx, roles, windows, recorded, {0: "big", 1: "small"})
    pairs = list(dyn.drift.columns)
    assert dyn.drift.loc["monetary", pairs[-1]] > 0.25
    assert (dyn.drift.loc["monetary", pairs[:-1]] < 1e-9).all()
