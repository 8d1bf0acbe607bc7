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
