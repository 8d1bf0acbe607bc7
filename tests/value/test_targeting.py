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
