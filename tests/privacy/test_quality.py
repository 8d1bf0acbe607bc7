"""Data quality: missingness, outliers and duplicates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import privacy


def test_data_quality_counts_missing_outliers_and_duplicates():
    df = pd.DataFrame({
        "customer_id": [f"p{i}" for i in range(100)],
        "x": [1.0] * 10 + [np.nan] * 10 + list(np.linspace(0, 10, 79)) + [1000.0],
        "flag": [0, 1] * 50, "cat": ["a"] * 100,
    })
    tx = pd.DataFrame({"customer_id": ["p1", "p1", "p2"], "timestamp": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01"]),
                       "amount": [5.0, 5.0, -2.0]})
    q = privacy.data_quality(df, tx)
    miss = q["missing"].set_index("column")
    assert miss.loc["x", "missing"] == 10 and miss.loc["x", "share_missing"] == pytest.approx(0.1)
    out = q["outliers"].set_index("column")
    assert out.loc["x", "outliers"] == 1 and "flag" not in out.index  # binary columns are not checked
    assert q["transactions"]["exact_duplicate_transactions"] == 1
    assert q["transactions"]["negative_amounts_(returns)"] == 1
    assert q["transactions"]["customers_without_transactions"] == 98
