"""The differentially private release: budget, accuracy, clipping, utility and the budget trade-off."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import privacy
from workbench.data import InputError


@pytest.fixture(scope="module")
def dp_frame():
    rng = np.random.default_rng(4)
    n = 6000
    seg = rng.integers(0, 3, n)
    return pd.DataFrame({
        "segment": seg,
        "spend": np.where(seg == 0, 50.0, 200.0) + rng.normal(0, 10, n),
        "visits": rng.poisson(3 + 2 * seg).astype(float),
    })


def test_dp_release_spends_exactly_the_budget_and_is_accurate(dp_frame):
    bounds = {"spend": (0.0, 400.0), "visits": (0.0, 30.0), "not_in_data": (0.0, 1.0)}
    release = privacy.dp_release(dp_frame, "segment", bounds, epsilon=10.0, delta=1e-7, keys=[0, 1, 2, 3])
    ledger = pd.DataFrame(release.ledger)
    assert len(ledger) == 3 and ledger["epsilon"].sum() == pytest.approx(10.0)
    assert ledger["share_of_budget"].sum() == pytest.approx(1.0) and ledger["delta"].sum() == 0.0
    assert release.skipped == ["not_in_data"] and list(release.bounds) == ["spend", "visits"]
    # noise scales follow from the budget split and the bounds alone: 1/eps for counts, max|bound|/eps for sums
    assert ledger["noise_scale"].iloc[0] == pytest.approx(3 / 10.0, rel=1e-6)
    assert ledger["noise_scale"].iloc[1] == pytest.approx(400 * 3 / 10.0, rel=1e-6)
    table = release.table.set_index("segment")
    exact = dp_frame.groupby("segment").agg(n=("spend", "size"), spend=("spend", "mean"))
    assert table.loc[3, "count"] <= 5  # a public key with no customers: only noise
    for s in range(3):
        assert abs(table.loc[s, "count"] - exact.loc[s, "n"]) <= ledger["accuracy_95"].iloc[0] * 3
        assert abs(table.loc[s, "mean_spend"] - exact.loc[s, "spend"]) < 5
    utility = privacy.dp_utility(release, dp_frame, "segment", k=10)
    assert set(utility["statistic"]) == {"count", "mean_spend", "mean_visits"}
    empty = utility[utility["segment"] == 3].set_index("statistic")["exact"]
    assert empty["count"] == 0 and empty.drop("count").isna().all()  # empty segment: no mean to compare


def test_dp_bounds_come_from_the_caller_and_clip(dp_frame):
    """A customer far outside the bounds cannot move the release by more than the bound."""
    extreme = dp_frame.copy()
    extreme.loc[0, "spend"] = 1e9
    release = privacy.dp_release(extreme, "segment", {"spend": (0.0, 400.0)}, epsilon=5.0, keys=[0, 1, 2])
    assert release.table["mean_spend"].between(0, 400).all()
    assert pd.DataFrame(release.ledger)["bounds"].iloc[1] == [0.0, 400.0]
    with pytest.raises(InputError):
        privacy.dp_release(dp_frame, "segment", {"spend": (5.0, 1.0)}, epsilon=1.0)
    with pytest.raises(InputError):
        privacy.dp_release(dp_frame, "segment", {}, epsilon=0.0)


def test_dp_budget_tradeoff_scales_inversely_with_epsilon():
    table = privacy.dp_budget_tradeoff({"spend": (0, 400)}, {0: 1000, 1: 2000}, epsilons=(0.1, 1.0, 10.0))
    assert table["count"].iloc[0] == pytest.approx(10 * table["count"].iloc[1])
    assert table["count"].iloc[1] == pytest.approx(2 * np.log(20))  # Laplace(2/eps) at 95%
