import numpy as np
import pandas as pd

from workbench.compare import input_drift
from workbench.dynamics import psi


def _features(seed, shift=0.0, n=2000):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"customer_id": [f"p{i}" for i in range(n)], "spend": rng.gamma(2, 50, n) * (1 + shift),
                         "region": rng.choice(["N", "S", "E"], n, p=[0.5, 0.3, 0.2])})


def test_identical_inputs_have_psi_zero():
    f = _features(0)
    table, shares = input_drift(f, f, ["spend", "region"], k=10)
    assert table["psi"].tolist() == [0.0, 0.0]
    assert np.allclose(shares["share before"], shares["share after"])


def test_psi_agrees_with_dynamics_psi_when_nothing_is_hidden_and_detects_a_shift():
    a, b = _features(0), _features(1, shift=0.5)
    table, shares = input_drift(a, b, ["spend"], k=10)
    assert table.loc[0, "hidden_bins"] == 0
    assert abs(table.loc[0, "psi"] - psi(a["spend"], b["spend"])) < 1e-4
    assert table.loc[0, "psi"] > 0.1
    # shares of each run add up to one over the published bins
    assert abs(shares["share before"].sum() - 1) < 1e-9 and abs(shares["share after"].sum() - 1) < 1e-9


def test_a_rare_category_is_hidden_and_pooled():
    a = _features(0)
    b = a.copy()
    b.loc[:3, "region"] = "W"  # four customers in a new region: a small cell
    table, shares = input_drift(a, b, ["region"], k=10)
    w = shares.loc[shares["bin"] == "W"]
    assert w["customers after"].isna().all() and w["share after"].isna().all()
    assert table.loc[0, "hidden_bins"] >= 1
