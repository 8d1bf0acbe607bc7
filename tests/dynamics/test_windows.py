"""Windows: calendar windows over the history, purchases per customer and window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import dynamics


def test_make_windows_full_calendar_quarters():
    ts = pd.Series(pd.to_datetime(["2024-07-01 10:00", "2025-03-03 00:00", "2026-06-30 20:00"]))
    w = dynamics.make_windows(ts)
    assert list(w["label"]) == ["2024Q3", "2024Q4", "2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2"]
    assert w["start"].iloc[0] == pd.Timestamp("2024-07-01") and w["end"].iloc[-1] == pd.Timestamp("2026-07-01")
    assert (w["start"].iloc[1:].to_numpy() == w["end"].iloc[:-1].to_numpy()).all()
    assert list(dynamics.make_windows(ts, n_windows=3)["label"]) == ["2025Q4", "2026Q1", "2026Q2"]
    assert len(dynamics.make_windows(ts, max_windows=5)) == 5
    assert list(dynamics.make_windows(ts, months=6)["label"]) == ["2024H2", "2025H1", "2025H2", "2026H1"]
    assert list(dynamics.make_windows(ts, months=12)["label"]) == ["2025"]
    # partial quarters at either end (beyond a week's grace) do not count
    partial = pd.Series(pd.to_datetime(["2024-07-20", "2026-06-10"]))
    assert list(dynamics.make_windows(partial)["label"]) == [
        "2024Q4", "2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1"]
    assert dynamics.make_windows(pd.Series(pd.to_datetime(["2025-01-05", "2025-02-01"]))).empty


def test_window_activity_matches_pandas():
    tx = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "b", "c"],
        "timestamp": pd.to_datetime(["2025-01-05", "2025-02-01", "2025-05-01", "2025-04-02", "2025-04-03", "2025-06-30"]),
        "amount": [10.0, -10.0, 5.0, 3.0, 4.0, -2.0],
    })
    w = pd.DataFrame({"label": ["Q1", "Q2"], "start": pd.to_datetime(["2025-01-01", "2025-04-01"]),
                      "end": pd.to_datetime(["2025-04-01", "2025-07-01"])})
    act = dynamics.window_activity(tx, w).set_index("customer_id").sort_index()
    assert act.loc["a", "n_Q1"] == 1 and act.loc["a", "n_Q2"] == 1  # the return is not a purchase
    assert act.loc["b", "n_Q1"] == 0 and act.loc["b", "n_Q2"] == 2
    assert not act.loc["b", "seen_Q1"] and act.loc["b", "seen_Q2"]
    assert act.loc["c", "n_Q2"] == 0 and not act.loc["c", "seen_Q2"]  # returns only: never a buyer


@pytest.mark.parametrize("on", ["duckdb", "spark"])
def test_window_features_and_activity_from_parquet_equal_the_pandas_ones(on, tmp_path, spark_settings):
    """Stage 05 reads the transactions as Parquet in the engine: the same features, activity and span."""
    from workbench import engine, features
    from workbench.data import Roles

    # spark_settings named up front: the scheduler (tests/conftest.py) then keeps this module with the Spark group
    config = {"engine": on, "spark": spark_settings} if on == "spark" else {}
    rng = np.random.default_rng(5)
    ids = [f"p{i:016x}" for i in range(300)]
    tx = pd.DataFrame({
        "customer_id": rng.choice(ids[:250], 4000),
        "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 730 * 24, 4000), unit="h"),
        "amount": np.round(rng.gamma(2, 20, 4000) * rng.choice([1, 1, 1, -1], 4000), 2),
        "category": pd.Categorical(rng.choice(["books", "music", "home", "toys"], 4000)),
        "channel": rng.choice(["web", "store"], 4000),
    })
    path = tmp_path / "transactions.parquet"
    tx.to_parquet(path, index=False)
    source = features.ParquetTransactions.of(path)
    customers = pd.DataFrame({"customer_id": ids})
    roles = Roles(id="customer_id")
    windows = dynamics.make_windows(tx["timestamp"], months=6)
    assert dynamics.make_windows(pd.Series(list(source.span()[1:])), months=6).equals(windows)
    settings = dynamics.behaviour_settings()
    with engine.using(config):
        for w in windows.itertuples():
            expected = dynamics.window_features(customers, tx.assign(category=tx["category"].astype(str)), roles,
                                                w.end, lookback_months=6, settings=settings)
            got = dynamics.window_features(customers, source, roles, w.end, lookback_months=6, settings=settings)
            pd.testing.assert_frame_equal(got, expected)
        key = ["customer_id"]
        pd.testing.assert_frame_equal(
            dynamics.window_activity(source, windows).sort_values(key).reset_index(drop=True),
            dynamics.window_activity(tx, windows).sort_values(key).reset_index(drop=True))
