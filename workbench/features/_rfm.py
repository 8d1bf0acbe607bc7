"""RFM: recency, frequency and monetary per customer, their 1-5 scores and the named RFM groups."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._transactions import transaction_features


def rfm(transactions: pd.DataFrame, as_of: pd.Timestamp | str | None = None) -> pd.DataFrame:
    """Recency (days since last purchase), frequency (purchases) and monetary (net spend) per customer."""
    return transaction_features(transactions, as_of, families=["recency", "frequency", "monetary"])


#: The standard named RFM groups, the only place the mapping is written. Each row: name, the
#: recency scores and frequency scores it covers (5 = most recent / most frequent), and what it
#: means. Every (R, F) pair belongs to exactly one group.
RFM_GROUPS = pd.DataFrame(
    [
        ("Champions", (5,), (4, 5), "bought very recently and buy most often"),
        ("Loyal", (3, 4), (4, 5), "buy often, bought fairly recently"),
        ("Potential loyalists", (4, 5), (2, 3), "recent customers with a few purchases"),
        ("New", (5,), (1,), "bought very recently, for the first time or rarely"),
        ("Promising", (4,), (1,), "bought recently, rarely"),
        ("Need attention", (3,), (3,), "average recency and frequency"),
        ("About to sleep", (3,), (1, 2), "average recency, rarely bought"),
        ("Cannot lose", (1, 2), (5,), "used to buy most often, not for a long time"),
        ("At risk", (1, 2), (3, 4), "bought often, not for a long time"),
        ("Hibernating", (1, 2), (1, 2), "bought rarely and long ago (but not the oldest single buyers)"),
        ("Lost", (1,), (1,), "bought rarely, longest ago"),
    ],
    columns=["group", "r_scores", "f_scores", "meaning"],
)


def rfm_group(r_score: int, f_score: int) -> str:
    """Name of the RFM group of a recency and a frequency score (see :data:`RFM_GROUPS`)."""
    if (r_score, f_score) == (1, 1):
        return "Lost"
    for row in RFM_GROUPS.itertuples():
        if r_score in row.r_scores and f_score in row.f_scores:
            return row.group
    raise ValueError(f"No RFM group for R={r_score}, F={f_score}")


def _score(values: pd.Series, higher_is_better: bool = True) -> pd.Series:
    """1-5 quintile score; equal values share the lowest rank, so ties always get the same score."""
    v = values if higher_is_better else -values
    rank = v.rank(method="min")  # 1..n, ties share the smallest rank
    n = v.notna().sum()
    return (1 + np.floor(5 * (rank - 1) / max(n, 1))).astype("Int64")


def rfm_scores(rfm_table: pd.DataFrame) -> pd.DataFrame:
    """Add ``r_score``, ``f_score``, ``m_score`` (1-5), ``rfm_cell`` ("545") and ``rfm_group``.

    Scores are quintiles of the customers with at least one purchase: score ``s`` covers ranks
    ``(s-1)/5 <= (rank-1)/n < s/5`` with ties given the smallest rank, so equal values always get
    equal scores. ``r_score`` 5 means most recent (smallest recency); ``f_score`` and ``m_score`` 5
    mean most purchases and highest net spend. Customers without purchases get the group
    ``"No purchases"`` and missing scores.
    """
    out = rfm_table.copy()
    buyers = out["frequency"].fillna(0) > 0
    for col, name, better in (("recency", "r_score", False), ("frequency", "f_score", True), ("monetary", "m_score", True)):
        out[name] = pd.Series(pd.NA, index=out.index, dtype="Int64")
        out.loc[buyers, name] = _score(out.loc[buyers, col].astype(float), better)
    cell = out["r_score"].astype(str) + out["f_score"].astype(str) + out["m_score"].astype(str)
    out["rfm_cell"] = cell.where(buyers, None)
    lookup = {(r, f): rfm_group(r, f) for r in range(1, 6) for f in range(1, 6)}
    out["rfm_group"] = [
        lookup[(int(r), int(f))] if b else "No purchases"
        for r, f, b in zip(out["r_score"].fillna(0), out["f_score"].fillna(0), buyers)
    ]
    return out
