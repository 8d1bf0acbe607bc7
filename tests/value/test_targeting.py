import numpy as np
import pandas as pd

from workbench.fairness import rate_by_group
from workbench.value import OVERLAP_COLUMNS, overlap_counts, targeting_rates


def _world(n=4000, seed=0, unknown=0.0):
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", None], size=n, p=[0.6, 0.4 - unknown, unknown])
    hist = rng.random(n) < np.where(group == "a", 0.15, 0.05)
    pred = (hist & (rng.random(n) < 0.6)) | (rng.random(n) < 0.05)  # prediction agrees in part
    return hist, pred, group


def test_overlap_partitions_each_group_and_matches_rates():
    hist, pred, group = _world()
    overlap = overlap_counts(hist, pred, group, k=10)
    assert list(overlap.columns) == OVERLAP_COLUMNS + ["Total"]
    body = overlap.drop(index="Total")
    shown = body.dropna()
    assert (shown[OVERLAP_COLUMNS].sum(axis=1) == shown["Total"]).all()
    rates = targeting_rates(hist, pred, group, overlap)
    labels = pd.Series(group, dtype=object).fillna("unknown").to_numpy()
    ref = rate_by_group(hist, labels).set_index("group")
    got = rates[rates["policy"] == "historical value"].set_index("group")
    assert got.loc["a", "rate"] == ref.loc["a", "rate"]
    assert got.loc["a", "selected"] == shown.loc["a", "both"] + shown.loc["a", "historical only"]


def test_a_group_with_a_suppressed_cell_shows_no_rate():
    hist, pred, group = _world(unknown=0.002)
    overlap = overlap_counts(hist, pred, group, k=20)
    assert overlap.loc["unknown"].isna().any()  # 10 customers: below k
    rates = targeting_rates(hist, pred, group, overlap)
    body = overlap.drop(index="Total")
    for _, row in rates.iterrows():
        # a rate is shown only where its numerator (both + the policy's one-only cell) and the
        # group's size are published cells of the suppressed table
        own = "historical only" if row["policy"] == "historical value" else "predicted only"
        published = body.loc[row["group"], ["both", own, "Total"]].notna().all()
        assert row["suppressed"] == (not published) and np.isnan(row["rate"]) == (not published)
        if published:
            assert row["selected"] == body.loc[row["group"], "both"] + body.loc[row["group"], own]
    assert rates.loc[rates["group"] == "unknown", "rate"].isna().all()


def test_targeting_tests_the_band_not_equal_rates():
    """Issue 25, same rule as the fairness verdicts: a gap inside the band is no finding (p = 1), one far
    outside it is; a wider band configured in ``fairness.thresholds`` turns the finding off."""
    rng = np.random.default_rng(5)
    group = np.repeat(["a", "b"], 20000)
    hist = rng.random(40000) < np.where(group == "a", 0.10, 0.09)  # ratio 0.9: inside 0.8-1.25
    pred = rng.random(40000) < np.where(group == "a", 0.10, 0.05)  # ratio 0.5: outside
    overlap = overlap_counts(hist, pred, group, k=10)
    rates = targeting_rates(hist, pred, group, overlap).set_index(["policy", "group"])
    assert rates.loc[("historical value", "b"), "p_adjusted"] == 1
    assert rates.loc[("predicted value", "b"), "p_adjusted"] < 1e-6
    wide = targeting_rates(hist, pred, group, overlap, thresholds={"ratio": [0.4, 2.5], "difference": None})
    assert wide.set_index(["policy", "group"]).loc[("predicted value", "b"), "p_adjusted"] == 1
