"""Segments of two runs side by side: sizes as each run published them, and which segment is which.

Matching: a segment keeps its counterpart when both runs gave it the same name; the others are
paired one to one (Hungarian assignment) so that as many customers as possible keep their segment's
counterpart (for the same customers a quarter later, or before / after mitigation), or, when the
runs share no customer, by nearest centroids (mean of each shared numeric input, standardised within
each run). The centroid distance is shown for every pair, so a reviewer sees how far a renamed or
refitted segment moved. With different k some segments have no counterpart. The pairing is chosen
from exact counts but publishes none: which cell is large is not a count, and every count shown
comes from the suppressed migration table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment


def segment_sizes(sizes_a: pd.DataFrame, sizes_b: pd.DataFrame, matches: pd.DataFrame) -> pd.DataFrame:
    """One row per segment of either run: its counterpart and its size before and after, as published.

    Parameters
    ----------
    sizes_a, sizes_b : DataFrame
        ``segment_name``, ``n`` (customers, NaN where the run's own report hides it) of each run.
    matches : DataFrame
        From :func:`match_segments`.

    Returns
    -------
    DataFrame
        ``earlier segment``, ``later segment`` ("—" for no counterpart), ``matched by``,
        ``customers before``, ``customers after`` (NaN where hidden in that run's report).
    """
    n_a = dict(zip(sizes_a["segment_name"].astype(str), sizes_a["n"].astype(float)))
    n_b = dict(zip(sizes_b["segment_name"].astype(str), sizes_b["n"].astype(float)))
    rows = []
    for m in matches.itertuples(index=False):
        rows.append({
            "earlier segment": m.earlier or "—",
            "later segment": m.later or "—",
            "matched by": m.matched_by,
            "customers before": n_a.get(m.earlier, np.nan) if m.earlier else 0.0,
            "customers after": n_b.get(m.later, np.nan) if m.later else 0.0,
        })
    return pd.DataFrame(rows)


def match_segments(features_a: pd.DataFrame, assign_a: pd.DataFrame,
                   features_b: pd.DataFrame, assign_b: pd.DataFrame) -> pd.DataFrame:
    """Pair the segments of two runs: same name first, then nearest centroids, one to one.

    Parameters
    ----------
    features_a, features_b : DataFrame
        ``customer_id`` + segmentation inputs in original units (``segments/features.parquet``).
    assign_a, assign_b : DataFrame
        ``customer_id``, ``segment``, ``segment_name`` (``segments/assignments.parquet``).

    Returns
    -------
    DataFrame
        ``earlier``, ``later`` (None: no counterpart), ``matched_by`` ("same name", "shared customers",
        "centroid", or "no counterpart") and ``distance`` (root mean squared difference of the standardised
        centroids; NaN without a counterpart or without a shared numeric input).
    """
    cent_a, cent_b = _centroids(features_a, assign_a, features_b, assign_b)
    names_a, names_b = list(cent_a.index), list(cent_b.index)
    dist = _distances(cent_a, cent_b)
    pairs = [(a, a, "same name") for a in names_a if a in names_b]
    left_a = [a for a in names_a if a not in names_b]
    left_b = [b for b in names_b if b not in names_a]
    if left_a and left_b:
        shared = _shared_customers(assign_a, assign_b).reindex(index=left_a, columns=left_b, fill_value=0)
        if shared.to_numpy().sum() > 0:  # the same customers: pair the segments that keep most of them
            rows, cols = linear_sum_assignment(-shared.to_numpy())
            how = "shared customers"
        else:  # no customer in common (another population): nearest centroids
            sub = dist.loc[left_a, left_b].to_numpy()
            rows, cols = linear_sum_assignment(np.where(np.isnan(sub), 1e9, sub))
            how = "centroid"
        pairs += [(left_a[r], left_b[c], how) for r, c in zip(rows, cols)]
    paired_a, paired_b = {p[0] for p in pairs}, {p[1] for p in pairs}
    pairs += [(a, None, "no counterpart") for a in left_a if a not in paired_a]
    pairs += [(None, b, "no counterpart") for b in left_b if b not in paired_b]
    order = {n: i for i, n in enumerate(names_a)}
    pairs.sort(key=lambda p: (order.get(p[0], len(order)), names_b.index(p[1]) if p[1] else 0))
    return pd.DataFrame({
        "earlier": pd.Series([p[0] for p in pairs], dtype=object),  # None (not NaN): no counterpart
        "later": pd.Series([p[1] for p in pairs], dtype=object),
        "matched_by": [p[2] for p in pairs],
        "distance": [float(dist.loc[a, b]) if a is not None and b is not None else np.nan for a, b, _ in pairs],
    })


def _centroids(features_a, assign_a, features_b, assign_b) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-segment means of the numeric inputs both runs share, each run standardised on its own.

    Standardising within each run takes out a shift of the whole population between the runs
    (time passing moves recency and tenure for everyone; that drift is reported on its own), so
    segments are matched by where they stand relative to their run's customers.
    """
    shared = [c for c in features_a.columns if c != "customer_id" and c in features_b.columns
              and pd.api.types.is_numeric_dtype(features_a[c]) and pd.api.types.is_numeric_dtype(features_b[c])
              and not pd.api.types.is_bool_dtype(features_a[c])]

    def per_segment(features, assign):
        values = features[shared].astype(float)
        z = (values - values.mean()) / values.std(ddof=0).replace(0, 1.0)
        z["segment_name"] = features[["customer_id"]].merge(
            assign[["customer_id", "segment_name"]], on="customer_id", how="left")["segment_name"].astype(str).to_numpy()
        order = assign[["segment", "segment_name"]].drop_duplicates().sort_values("segment", kind="stable")
        names = list(dict.fromkeys(order["segment_name"].astype(str)))
        return z.groupby("segment_name", sort=False).mean().reindex(names)

    return per_segment(features_a, assign_a), per_segment(features_b, assign_b)


def _shared_customers(assign_a: pd.DataFrame, assign_b: pd.DataFrame) -> pd.DataFrame:
    """Customers in both runs by (earlier, later) segment name; used only to choose the pairing."""
    both = assign_a[["customer_id", "segment_name"]].merge(
        assign_b[["customer_id", "segment_name"]], on="customer_id", suffixes=("_a", "_b"))
    return pd.crosstab(both["segment_name_a"].astype(str), both["segment_name_b"].astype(str))


def _distances(cent_a: pd.DataFrame, cent_b: pd.DataFrame) -> pd.DataFrame:
    """Root mean squared difference over the shared inputs (missing inputs left out)."""
    a, b = cent_a.to_numpy()[:, None, :], cent_b.to_numpy()[None, :, :]
    with np.errstate(invalid="ignore"):
        d = np.sqrt(np.nanmean((a - b) ** 2, axis=2)) if cent_a.shape[1] else np.full((len(cent_a), len(cent_b)), np.nan)
    return pd.DataFrame(d, index=cent_a.index, columns=cent_b.index)
