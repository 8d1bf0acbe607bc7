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


def test_two_runs_one_customer_apart_give_the_erased_customer_away_unless_withheld():
    """A re-run after ``--forget`` of one customer: exactly one bin per input drops by one, which names
    the erased customer's value of every input; the two-run check withholds the drift instead."""
    from workbench.compare._drift import WITHHELD, withhold_if_few_differ

    rng = np.random.default_rng(7)
    earlier = pd.DataFrame({"spend": rng.gamma(2.0, 50.0, 600), "visits": rng.integers(0, 30, 600).astype(float)})
    later = earlier.drop(index=123)  # the erased customer
    psi_table, shares = input_drift(earlier, later, ["spend", "visits"], k=10)
    drops = shares.loc[shares["customers before"] != shares["customers after"]]
    assert len(drops) == 2 and set(drops["customers before"] - drops["customers after"]) == {1}  # the leak
    withheld, no_shares = withhold_if_few_differ(psi_table, shares, n_only_one=1, k=10)
    assert withheld["psi"].isna().all() and (withheld["reading"] == WITHHELD).all() and no_shares.empty
    kept, same = withhold_if_few_differ(psi_table, shares, n_only_one=0, k=10)  # the same customers
    assert kept.equals(psi_table) and same.equals(shares)
    assert withhold_if_few_differ(psi_table, shares, n_only_one=10, k=10)[1].equals(shares)


def test_printed_bins_are_keyed_by_each_runs_customers():
    """Issue 24: each run's bins are decided on and printed with perturbed counts keyed by that run's customers.
    The same customers print the same bins (PSI 0, as from exact counts); a run one customer short draws every
    bin afresh, so its bins do not differ from the other run's by exactly the erased customer's bin."""
    from workbench.privacy._cellkey import CellKeySettings

    f = _features(0, n=500)
    keys = [CellKeySettings(2, 1.0, 10, b"test secret", f"population {i}".encode()) for i in range(2)]
    table, shares = input_drift(f, f, ["spend", "region"], k=10, perturbation=(keys[0], keys[0]))
    assert table["psi"].tolist() == [0.0, 0.0]
    exact = input_drift(f, f, ["spend", "region"], k=10)[1]
    assert (shares["customers before"] != exact["customers before"]).any()  # printed, not exact
    _, erased = input_drift(f, f.iloc[1:], ["spend", "region"], k=10, perturbation=(keys[0], keys[1]))
    moved = erased["customers before"] - erased["customers after"]
    assert (moved != 0).sum() > 2 and set(moved.dropna().unique()) - {0, 1}  # noise, not one bin less by one
