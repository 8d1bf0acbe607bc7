"""Segment KPIs over time: the engine's counts against a pandas computation, suppression, the summary."""

import json

import numpy as np
import pandas as pd

from workbench import campaign, engine
from workbench.campaign._kpis import kpi_counts_query, kpi_rates, long_states


def _toy():
    windows = pd.DataFrame({"label": ["A", "B", "C"], "start": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01"]),
                            "end": pd.to_datetime(["2026-02-01", "2026-03-01", "2026-04-01"])})
    states = pd.DataFrame({"customer_id": ["x", "y", "z", "v"], "A": [0, 0, 1, -1], "B": [0, -1, 1, 1], "C": [0, 0, 1, 1]})
    tx = pd.DataFrame({
        "customer_id": ["x", "x", "y", "z", "z", "z", "v"],
        "timestamp": pd.to_datetime(["2026-01-10", "2026-02-10", "2026-01-05", "2026-01-02", "2026-02-03", "2026-03-03",
                                     "2026-02-20"]),
        "amount": [10.0, 30.0, 5.0, 20.0, 10.0, 5.0, 8.0],
        "category": ["a", "a", "a", "a", "b", "a", "a"],
    })
    return windows, states, tx


def test_counts_per_window_and_segment_as_of_its_start_match_a_hand_count():
    windows, states, tx = _toy()
    long = long_states(states, windows)
    assert set(map(tuple, long[["customer_id", "label", "segment"]].to_numpy())) == {
        ("x", "B", 0), ("y", "B", 0), ("z", "B", 1), ("x", "C", 0), ("z", "C", 1), ("v", "C", 1)}
    with engine.DuckDBEngine(threads=1) as eng:
        eng.register("t", tx)
        eng.register("s", long)
        got = eng.sql(kpi_counts_query("t", "s", windows, 1.2, categories=True)).set_index(["label", "segment"])
    # window B, segment 0: x retained (30 >= 1.2 * 10: upsold), y not retained
    assert tuple(got.loc[("B", 0), ["customers", "retained", "upsold"]]) == (2, 1, 1)
    assert got.loc[("B", 0), "revenue"] == 30.0
    # window B, segment 1: z bought category b for the first time (upsold although spend fell)
    assert tuple(got.loc[("B", 1), ["customers", "retained", "upsold"]]) == (1, 1, 1)
    # window C, segment 1: z spent 5 after 10 (no upsell), v did not buy
    assert tuple(got.loc[("C", 1), ["customers", "retained", "upsold"]]) == (2, 1, 0)
    rates = kpi_rates(got.reset_index())
    assert np.all(rates["retained_low"] <= rates["retained_rate"]) and np.all(rates["retained_rate"] <= rates["retained_high"])


def test_segment_kpis_of_a_run_are_published_and_summarised(campaign_run):
    run, _ = campaign_run
    kpis, because = campaign.segment_kpis(run)
    assert because == "" and len(kpis)
    names = {p.stem for p in (run.path / "artifacts" / "disclosure").glob("*.parquet")}
    assert {"kpi_retention", "kpi_upsell"} <= names
    summary = json.loads((run.path / "summary" / "08_campaign.json").read_text())
    assert summary["kpis"] and "effects" in summary  # one fragment: effects and KPIs side by side
    hidden = kpis["retained_rate"].isna()
    assert (kpis.loc[~hidden, "retained_rate"].between(0, 1)).all()
    assert campaign.plot_kpis(kpis).axes
