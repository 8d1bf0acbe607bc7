"""The dynamics counts (transitions, customers per window and state, movement by group) and the
per-window activity come from the engine: identical on DuckDB and Spark local[2], and equal to a
plain pandas computation of the same customers."""

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench import dynamics, engine
from workbench.dynamics._states import INACTIVE, NOT_YET

SPARK = {"engine": "spark"}
LABELS = ["2024Q1", "2024Q2", "2024Q3"]


def _both(fn):
    duck = fn()
    with engine.using(SPARK):
        spark = fn()
    return duck, spark


@pytest.fixture(scope="module")
def states():
    rng = np.random.default_rng(4)
    n = 500
    data = {"customer_id": [f"c{i}" for i in range(n)]}
    for lab in LABELS:  # segments 0, 1, 3 (no 2), inactive, not yet
        data[lab] = rng.choice([0, 1, 3, INACTIVE, NOT_YET], n, p=[0.3, 0.3, 0.2, 0.15, 0.05])
    return pd.DataFrame(data)


def test_window_activity_on_both_engines_equals_pandas(spark_engine):
    d = workbench.load("synthetic", n_customers=300, seed=2)
    tx = d.transactions
    windows = dynamics.make_windows(tx["timestamp"], months=3, n_windows=3)
    duck, spark = _both(lambda: dynamics.window_activity(tx, windows).sort_values("customer_id", ignore_index=True))
    pd.testing.assert_frame_equal(duck, spark, check_dtype=False)
    for w in windows.itertuples():
        buys = tx[tx["amount"] >= 0]
        inside = buys[(buys["timestamp"] >= w.start) & (buys["timestamp"] < w.end)].groupby("customer_id").size()
        seen = buys[buys["timestamp"] < w.end].groupby("customer_id").size() > 0
        got = duck.set_index("customer_id")
        assert (got[f"n_{w.label}"] == inside.reindex(got.index, fill_value=0)).all()
        assert (got[f"seen_{w.label}"] == seen.reindex(got.index, fill_value=False)).all()
    assert duck[f"n_{windows['label'].iloc[0]}"].sum() > 0


@pytest.mark.parametrize("k", [None, 10])
def test_transition_matrix_on_both_engines_equals_crosstab(spark_engine, states, k):
    names = {0: "low", 1: "mid", 3: "high"}
    duck, spark = _both(lambda: dynamics.transition_matrix(states, "2024Q1", "2024Q2", names, [0, 1, 3], k=k))
    for d, s in zip(duck, spark):
        pd.testing.assert_frame_equal(d, s)
    keep = ~((states["2024Q1"] == NOT_YET) & (states["2024Q2"] == NOT_YET))
    ref = pd.crosstab(states.loc[keep, "2024Q1"], states.loc[keep, "2024Q2"])
    counts = duck[0]
    moved = (keep & (states["2024Q2"] != NOT_YET)).sum()  # nobody moves back to "not yet a customer"
    if k is None:
        assert counts.loc["mid", "high"] == ref.loc[1, 3]
        assert counts.loc["not yet a customer", "inactive"] == ref.loc[NOT_YET, INACTIVE]
        assert counts.to_numpy().sum() == moved and counts.dtypes.eq(np.int64).all()
    else:
        assert counts.loc["Total", "Total"] == moved


def test_window_counts_on_both_engines_equal_pandas(spark_engine, states):
    names = {0: "low", 1: "mid", 3: "high"}
    duck, spark = _both(lambda: dynamics.window_counts(states, LABELS, [0, 1, 3], names, k=5))
    pd.testing.assert_frame_equal(duck, spark)
    assert duck.loc["2024Q3", "mid"] == (states["2024Q3"] == 1).sum()
    assert duck.loc["2024Q2", "not yet a customer"] == (states["2024Q2"] == NOT_YET).sum()
    assert duck.loc["Total", "Total"] == 3 * len(states)


def test_movement_table_on_both_engines_equals_crosstab(spark_engine, states):
    rng = np.random.default_rng(0)
    customers = pd.DataFrame({"customer_id": states["customer_id"],
                              "gender": rng.choice(["f", "m", None], len(states), p=[0.5, 0.45, 0.05])})
    duck, spark = _both(lambda: dynamics.movement_table(states, customers, "2024Q1", "2024Q2", [0, 1, 3], "gender", k=1))
    pd.testing.assert_frame_equal(duck, spark)
    base = states["2024Q1"] >= 0
    inactive = base & (states["2024Q2"] < 0)
    g = customers["gender"].fillna("unknown")
    assert duck.loc["unknown", "inactive"] == (inactive & (g == "unknown")).sum()
    assert duck.loc["Total", "Total"] == base.sum()
    assert list(duck.index[:-1]) == ["f", "m", "unknown"]
