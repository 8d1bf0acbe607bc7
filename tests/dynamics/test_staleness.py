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


def _small_stale_world():
    """Segment a: 40 recorded, 3 stale now; segment b: 30 recorded, 12 stale; 5 not scorable."""
    import numpy as np

    recorded = np.array([0] * 40 + [1] * 30 + [0] * 5)
    current = np.array([1] * 3 + [0] * 37 + [0] * 12 + [1] * 18 + [-1] * 5)
    return recorded, current


def test_stale_counts_below_k_are_suppressed_like_every_other_count():
    import numpy as np

    from workbench import privacy

    recorded, current = _small_stale_world()
    exact = dynamics.stale_counts(recorded, current)
    assert exact.loc[0].tolist() == [3, 37] and exact.loc[1].tolist() == [12, 18]
    stale = dynamics.stale_assignments(recorded, current, {0: "a", 1: "b"}, k=10).set_index("segment")
    # a's 3 stale customers are hidden, and with them a's share and whatever else would give them away
    assert np.isnan(stale.loc["a", "stale"]) and np.isnan(stale.loc["a", "stale_share"])
    assert stale.loc["a", "main_destination"] == ""
    published = privacy.suppress_counts(exact, 10, margins=True)
    for seg, name in ((0, "a"), (1, "b"), ("Total", "all")):
        for col, value in (("n", "Total"), ("stale", "stale")):
            shown = stale.loc[name, col]
            assert (np.isnan(shown) and np.isnan(published.loc[seg, value])) or shown == published.loc[seg, value]
    # nothing shown lets a reader work out a hidden stale count
    assert not privacy.disclosure_intervals(exact, published, margins=True)["disclosed"].any()


def test_a_staleness_curve_hides_a_share_resting_on_a_small_count():
    segs = pd.DataFrame({"w1": [0] * 50 + [1] * 50, "w2": [0] * 50 + [1] * 47 + [0] * 3, "w3": [0] * 100})
    exact = dynamics.staleness_curve(segs, ["w1", "w2", "w3"])
    masked = dynamics.staleness_curve(segs, ["w1", "w2", "w3"], k=10)
    assert exact["stale_share"].notna().all()
    # lag 1: 3 + 47 changed of 200 (shown); lag 2: 50 of 100 (shown); with only 3 changing it would be hidden
    assert masked["stale_share"].notna().all()
    few = pd.DataFrame({"w1": [0] * 100, "w2": [0] * 97 + [1] * 3})
    assert dynamics.staleness_curve(few, ["w1", "w2"], k=10)["stale_share"].isna().all()
    advice = dynamics.refresh_recommendation(dynamics.staleness_curve(few, ["w1", "w2"]), 6, 0.1,
                                             published=dynamics.staleness_curve(few, ["w1", "w2"], k=10))
    assert "3%" not in advice["sentence"] and "suppressed" in advice["sentence"]


def test_given_labels_stale_counts_below_k_are_suppressed_too():
    import numpy as np

    from workbench.dynamics._labels import label_age_table, label_staleness_table

    recorded, current = _small_stale_world()
    recorded, current = recorded[:70], current[:70]  # every labelled customer is judged
    age = np.arange(70, dtype=float) * 10
    table = label_staleness_table(recorded, current, age, {0: "a", 1: "b"}, k=10, min_size=30).set_index("segment")
    assert np.isnan(table.loc["a", "stale"]) and np.isnan(table.loc["a", "stale_share"])
    assert table.loc["a", "main_destination"] == "" and table.loc["b", "evidence"] == "sufficient"
    shown = table[["n", "stale"]].to_numpy().ravel()
    assert not ((shown > 0) & (shown < 10)).any()  # no count of 1 to 9 anywhere
    by_age = label_age_table(age, current != recorded, k=10)
    ok = by_age["stale_share"].notna() & by_age["n"].notna()
    stale_in_band = (by_age.loc[ok, "stale_share"] * by_age.loc[ok, "n"]).round()
    assert not ((stale_in_band > 0) & (stale_in_band < 10)).any()
    assert not (((by_age.loc[ok, "n"] - stale_in_band) > 0) & ((by_age.loc[ok, "n"] - stale_in_band) < 10)).any()
