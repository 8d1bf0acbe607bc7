"""Published per-segment statistics: z-scores of model inputs, profiles and RFM group tables, suppressed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..features import RFM_GROUPS, is_numeric, rfm_scores
from ..features import rfm as transaction_rfm
from ..privacy import TOTAL, suppress_counts

if TYPE_CHECKING:
    from ._model import SegmentationModel


def segment_z(model: "SegmentationModel", Z: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Mean of each model input per segment, in population standard deviations (segments x inputs)."""
    mu, sd = Z.mean(axis=0), Z.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    k = int(labels.max()) + 1 if len(labels) else 0
    k = max(k, getattr(model, "k", k))
    rows = [((Z[labels == j].mean(axis=0) - mu) / sd) if (labels == j).any() else np.zeros(Z.shape[1]) for j in range(k)]
    return pd.DataFrame(np.vstack(rows), columns=model.input_names_, index=pd.Index(range(k), name="segment"))


#: Customers transformed into model space at a time by :func:`segment_moments` (the driver holds one
#: batch's model-space rows, not every customer's).
BATCH_ROWS = 250_000


def segment_moments(model: "SegmentationModel", X: pd.DataFrame, labels: np.ndarray | None = None,
                    batch_rows: int = BATCH_ROWS) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """Each customer's segment and the model-space moments behind :func:`segment_z`, batch by batch.

    The model's transform and nearest-centre rule work row by row, so transforming ``X`` in slices
    gives every customer the segment ``model.predict(X)`` gives, without holding all of ``X`` in
    model space. Per slice the sums and sums of squares of each model input are added up (over
    everyone and per segment).

    Parameters
    ----------
    model : SegmentationModel
        A fitted model.
    X : DataFrame
        Raw features (original units), one row per customer.
    labels : ndarray, optional
        Segment ids already known (e.g. scored in the engine); default: predicted here.
    batch_rows : int
        Rows transformed at a time.

    Returns
    -------
    (ndarray, DataFrame, ndarray)
        The segment ids; z, the mean of each model input per segment in population standard
        deviations (segments x inputs, as :func:`segment_z` gives them, up to rounding of the sums);
        and the segments' mean positions in model space (k x inputs; zeros for an empty segment).
    """
    from threadpoolctl import threadpool_limits

    n, d = len(X), len(model.input_names_)
    out = np.empty(n, dtype=int) if labels is None else np.asarray(labels).astype(int)
    sums, squares, per_segment, sizes = np.zeros(d), np.zeros(d), {}, {}
    with threadpool_limits(getattr(model, "n_threads", 1)):
        for start in range(0, n, batch_rows):
            Z = model.transform(X.iloc[start:start + batch_rows])
            if labels is None:
                out[start:start + len(Z)] = model._predict_z(Z)
            part = out[start:start + len(Z)]
            sums += Z.sum(axis=0)
            squares += (Z ** 2).sum(axis=0)
            for j in np.unique(part):
                per_segment[int(j)] = per_segment.get(int(j), np.zeros(d)) + Z[part == j].sum(axis=0)
                sizes[int(j)] = sizes.get(int(j), 0) + int((part == j).sum())
    k = max(int(out.max()) + 1 if n else 0, getattr(model, "k", 0))
    mu = sums / max(n, 1)
    sd = np.sqrt(np.maximum(squares / max(n, 1) - mu ** 2, 0.0))
    sd = np.where(sd > 0, sd, 1.0)
    centres = np.vstack([per_segment[j] / sizes[j] if j in sizes else np.zeros(d) for j in range(k)])
    z = np.vstack([(centres[j] - mu) / sd if j in sizes else np.zeros(d) for j in range(k)])
    return out, pd.DataFrame(z, columns=model.input_names_, index=pd.Index(range(k), name="segment")), centres


def projection_sample(model: "SegmentationModel", X: pd.DataFrame, labels: np.ndarray, sample: int = 20_000,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded sample of at most ``sample`` customers (rows in table order) in model space, with their segments.

    The rows :func:`~workbench.segment.plot_projection` draws its density from: the figure needs no
    more customers than it draws.
    """
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(X), min(len(X), sample), replace=False))
    return model.transform(X.iloc[rows]), np.asarray(labels)[rows]


def segment_count_table(
    labels: np.ndarray, segments: list, outcome: pd.Series | np.ndarray | None = None, suppression_k: int = 10,
    suppress=None,
) -> pd.DataFrame:
    """The one published table of customers per segment (x outcome, when there is one), suppressed.

    Every count-derived number about segments (size, share, outcome rate, and what other notebooks
    derive from them) comes from this table, so a hidden cell is hidden everywhere. With an outcome
    the table is segment x outcome (``0``, ``1``) with margins, suppressed by
    :func:`workbench.privacy.suppress_counts` (``margins=True``): an outcome rate published as
    ``events / n`` could otherwise give away a hidden cell (rate x n). Without an outcome it is the
    column of segment sizes with its total.

    Parameters
    ----------
    suppress : callable, optional
        ``exact counts -> published table`` (the stage passes :func:`workbench.privacy.suppress_and_publish`,
        which decides what is hidden on the perturbed count, prints perturbed counts and agrees with earlier
        tables; ``sizes_only=True`` without an outcome). Default, for tables no run publishes:
        :func:`workbench.privacy.suppress_counts` with margins, on exact counts.

    Returns
    -------
    DataFrame
        Rows: segment ids and ``"Total"``; columns ``0``, ``1`` (with an outcome) and ``"Total"``;
        suppressed cells ``NaN``. The ``"Total"`` column holds the segment sizes.
    """
    labels = np.asarray(labels)
    index = pd.Index(list(segments), name="segment")
    if outcome is None:
        counts = pd.DataFrame({"customers": [int((labels == j).sum()) for j in segments]}, index=index)
        published = (suppress(counts) if suppress else suppress_counts(counts, suppression_k, margins=True))[[TOTAL]]
        published.columns = pd.Index([TOTAL], name="outcome")
        return published
    y = np.asarray(outcome, dtype=float)
    counts = pd.DataFrame(
        {v: [int(((labels == j) & (y == v)).sum()) for j in segments] for v in (0, 1)},
        index=index,
    )
    counts.columns.name = "outcome"
    if suppress is None:
        return suppress_counts(counts, suppression_k, margins=True)
    return suppress(counts)


def _population_row(numeric: pd.DataFrame, counts: pd.DataFrame, with_value: bool, with_outcome: bool) -> dict:
    """The profile's ``population`` row: every customer, from the published table's total."""
    total_n = counts.loc[TOTAL, TOTAL]
    pop = {"segment": -1, "segment_name": "population", "n": int(total_n), "share": 1.0}
    if with_value:
        pop["revenue_share"] = 1.0
    if with_outcome:
        pop["churn_rate"] = float(counts.loc[TOTAL, 1] / total_n) if not np.isnan(counts.loc[TOTAL, 1]) else np.nan
    pop.update({c: float(numeric[c].median()) for c in numeric.columns})
    pop["suppressed"] = False
    return pop


def profile_segments(
    features: pd.DataFrame,
    labels: np.ndarray,
    names: dict[int, str] | None = None,
    outcome: pd.Series | None = None,
    value: str | None = "monetary",
    suppression_k: int = 10,
    counts: pd.DataFrame | None = None,
    value_sums: dict | None = None,
) -> pd.DataFrame:
    """Per segment: size, share, value KPIs and the median of each numeric input, suppressed.

    Sizes, shares and the outcome rate are read from the published count table
    (:func:`segment_count_table`): a segment whose size is hidden there has every statistic masked,
    and the outcome rate is masked wherever its event count is hidden.

    Parameters
    ----------
    features : DataFrame
        Raw features (original units), one row per customer.
    labels : ndarray
        Segment id per row.
    names : dict of int to str, optional
        Segment names (default ``"Segment <id>"``); ids named here get a row even when empty.
    outcome : Series, optional
        A 0/1 outcome (e.g. churn): its rate per segment is reported as ``churn_rate``.
    value : str, optional
        Column whose segment total gives ``revenue_share``.
    suppression_k : int
        Counts from 1 to ``suppression_k - 1`` are suppressed (with complementary cells).
    counts : DataFrame, optional
        The published count table, if the caller already made it (it must be the one published).
    value_sums : dict, optional
        The printed total of ``value`` (clipped at 0) per segment id and for ``TOTAL`` (the stage perturbs
        them: :func:`workbench.privacy.publish_magnitudes`); ``revenue_share`` is then their ratio, not the
        exact one, which moves by exactly the erased customer's spend between two runs. Default: exact sums.

    Returns
    -------
    DataFrame
        One row per segment id plus a ``population`` row; ``attrs["complementary"]`` lists the
        ``(row, column)`` cells of segments hidden only to protect a smaller one.
    """
    X = features.drop(columns=["customer_id"], errors="ignore")
    labels = np.asarray(labels)
    numeric = [c for c in X.columns if is_numeric(X[c])]
    seg_ids = sorted(set(range(int(labels.max()) + 1)) | set(names or {})) if len(labels) else []
    if counts is None:
        counts = segment_count_table(labels, seg_ids, outcome, suppression_k)
    total_n = counts.loc[TOTAL, TOTAL]
    total_value = X[value].clip(lower=0).sum() if value and value in X else None
    if total_value and value_sums is None:
        value_sums = {TOTAL: total_value, **{j: X.loc[labels == j, value].clip(lower=0).sum() for j in seg_ids}}
    rows = []
    for j in seg_ids:
        m = labels == j
        n = counts.loc[j, TOTAL]
        hidden = bool(np.isnan(n))
        row = {"segment": j, "segment_name": (names or {}).get(j, f"Segment {j}"),
               "n": np.nan if hidden else int(n), "share": np.nan if hidden else float(n / total_n)}
        if total_value:
            row["revenue_share"] = np.nan if hidden else float(value_sums[j] / value_sums[TOTAL])
        if outcome is not None:
            events = counts.loc[j, 1]
            row["churn_rate"] = float(events / n) if not (hidden or np.isnan(events)) and n > 0 else np.nan
        for c in numeric:
            row[c] = np.nan if hidden or not m.any() else float(X.loc[m, c].median())
        row["suppressed"] = hidden
        rows.append(row)
    out = pd.DataFrame(rows + [_population_row(X[numeric], counts, bool(total_value), outcome is not None)])
    # segments hidden only to protect a smaller one: see report.table. As the table marks them (decided on
    # the perturbed count where the run perturbs): marking by the exact size would tell a reader which side
    # of k a hidden segment's exact size lies on
    protecting = {r for r, c in counts.attrs.get("complementary", []) if c == TOTAL}
    guard = [i for i, (j, r) in enumerate(zip(seg_ids, rows)) if r["suppressed"] and j in protecting]
    out.attrs["complementary"] = [(i, c) for i in guard for c in out.columns
                                  if c not in ("segment", "segment_name", "suppressed") and pd.isna(out.at[i, c])]
    return out


def describe_inputs(plan: pd.DataFrame, model: "SegmentationModel") -> pd.DataFrame:
    """The feature plan with the transform actually recorded in the fitted model (or model space)."""
    out = plan.copy()
    out["transform"] = [model.transforms_.get(f, t) if u else t for f, t, u in zip(out["feature"], out["transform"], out["used"])]
    return out


def customer_rfm(customers: pd.DataFrame, transactions: pd.DataFrame) -> pd.DataFrame:
    """RFM scores and group of every customer (no purchases: frequency 0, monetary 0)."""
    r = customers[["customer_id"]].merge(transaction_rfm(transactions), on="customer_id", how="left")
    r["frequency"] = r["frequency"].fillna(0).astype(int)
    r["monetary"] = r["monetary"].fillna(0.0)
    return rfm_scores(r)


def rfm_group_counts(rfm: pd.DataFrame, suppression_k: int = 10, suppress=None) -> pd.DataFrame:
    """The published table of customers per named RFM group (one column, with its total), suppressed.

    ``suppress``: exact counts in, the published table out (the stage passes
    :func:`workbench.privacy.suppress_and_publish` with ``sizes_only=True``); default
    :func:`workbench.privacy.suppress_counts` with margins, on exact counts.
    """
    order = [g for g in list(RFM_GROUPS["group"]) + ["No purchases"] if g in set(rfm["rfm_group"].astype(str))]
    sizes = rfm["rfm_group"].astype(str).value_counts()
    counts = pd.DataFrame({"customers": [int(sizes.get(g, 0)) for g in order]}, index=pd.Index(order, name="rfm_group"))
    published = (suppress(counts) if suppress else suppress_counts(counts, suppression_k, margins=True))[[TOTAL]]
    published.columns = pd.Index([TOTAL], name="customers")
    return published


def rfm_group_table(rfm: pd.DataFrame, suppression_k: int = 10, counts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Customers per named RFM group with median recency, frequency and spend, suppressed.

    Sizes and shares come from the published count table (:func:`rfm_group_counts`); a group whose
    size is hidden there has its medians masked too.
    """
    if counts is None:
        counts = rfm_group_counts(rfm, suppression_k)
    meaning = dict(zip(RFM_GROUPS["group"], RFM_GROUPS["meaning"]))
    meaning["No purchases"] = "no purchase in the history"
    g = rfm.groupby(rfm["rfm_group"].astype(str), observed=True)
    groups = [r for r in counts.index if r != TOTAL]
    n = counts.loc[groups, TOTAL]
    hidden = n.isna()
    table = pd.DataFrame({
        "group": groups,
        "meaning": [meaning.get(r) for r in groups],
        "n": n.to_numpy(),
        "share": (n / counts.loc[TOTAL, TOTAL]).to_numpy(),
        "median_recency": g["recency"].median().reindex(groups).where(~hidden).to_numpy(),
        "median_frequency": g["frequency"].median().reindex(groups).where(~hidden).to_numpy(),
        "median_monetary": g["monetary"].median().reindex(groups).where(~hidden).to_numpy(),
        "suppressed": hidden.to_numpy(),
    })
    return table


def value_order(features: pd.DataFrame, labels: np.ndarray, value: str | None, k: int) -> list[int]:
    """Segment ids from low to high mean ``value`` (empty segments first; ids in order without a value)."""
    if not value:
        return list(range(k))
    order_key = pd.Series([features.loc[labels == j, value].mean() if (labels == j).any() else -np.inf
                           for j in range(k)])
    return [int(j) for j in np.lexsort((np.arange(k), order_key.to_numpy()))]
