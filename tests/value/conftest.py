"""Shared data: the CDNOW summaries shipped in lifetimes (Fader, Hardie & Lee 2005) and a small log."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DATASETS = Path(importlib.util.find_spec("lifetimes").submodule_search_locations[0]) / "datasets"


@pytest.fixture(scope="session")
def cdnow_summary() -> pd.DataFrame:
    """2,357 customers, 39-week calibration period, in weeks: ID, x, t_x, T, zbar (mean repeat spend)."""
    return pd.read_csv(DATASETS / "cdnow_customers_summary_with_transactions.csv")


@pytest.fixture()
def small_log() -> pd.DataFrame:
    """A seeded log of 200 customers over a year, with same-day repeats and returns."""
    rng = np.random.default_rng(7)
    rows = []
    for c in range(200):
        n = 1 + rng.poisson(3)
        first = rng.integers(0, 200)
        days = np.sort(first + rng.integers(0, 165, size=n))
        days[0] = first
        for d in days:
            rows.append((f"c{c:03d}", pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(d), hours=int(rng.integers(0, 23))),
                         float(np.round(rng.gamma(2.0, 20.0), 2))))
        if rng.random() < 0.2:
            rows.append((f"c{c:03d}", pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(days[-1])), -10.0))
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])
