"""Published per-segment statistics: z-scores of model inputs, profiles and RFM group tables, suppressed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..features import RFM_GROUPS, is_numeric, rfm_scores
from ..features import rfm as transaction_rfm
from ..privacy import suppress_rows

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


def profile_segments(
    features: pd.DataFrame,
    labels: np.ndarray,
    names: dict[int, str] | None = None,
    outcome: pd.Series | None = None,
    value: str | None = "monetary",
    suppression_k: int = 10,
) -> pd.DataFrame:
    """Per segment: size, share, value KPIs and the median of each numeric input, suppressed.

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
        Segments with fewer customers than this have every statistic masked (and a complementary
        segment when needed), via :func:`workbench.privacy.suppress_rows`.

    Returns
    -------
    DataFrame
        One row per segment id plus a ``population`` row (never suppressed: it is the published total).
    """
    X = features.drop(columns=["customer_id"], errors="ignore")
    labels = np.asarray(labels)
    numeric = [c for c in X.columns if is_numeric(X[c])]
    seg_ids = sorted(set(range(int(labels.max()) + 1)) | set(names or {})) if len(labels) else []
    rows = []
    total_value = X[value].clip(lower=0).sum() if value and value in X else None
    for j in seg_ids:
        m = labels == j
        row = {"segment": j, "segment_name": (names or {}).get(j, f"Segment {j}"), "n": int(m.sum()),
               "share": float(m.mean())}
        if total_value:
            row["revenue_share"] = float(X.loc[m, value].clip(lower=0).sum() / total_value)
        if outcome is not None:
            row["churn_rate"] = float(np.asarray(outcome, dtype=float)[m].mean()) if m.any() else np.nan
        for c in numeric:
            row[c] = float(X.loc[m, c].median()) if m.any() else np.nan
        rows.append(row)
    table = suppress_rows(pd.DataFrame(rows), "n", suppression_k, keep=["segment", "segment_name"])
    pop = {"segment": -1, "segment_name": "population", "n": len(X), "share": 1.0}
    if total_value:
        pop["revenue_share"] = 1.0
    if outcome is not None:
        pop["churn_rate"] = float(np.nanmean(np.asarray(outcome, dtype=float)))
    for c in numeric:
        pop[c] = float(X[c].median())
    pop["suppressed"] = False
    return pd.concat([table, pd.DataFrame([pop])], ignore_index=True)


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


def rfm_group_table(rfm: pd.DataFrame, suppression_k: int = 10) -> pd.DataFrame:
    """Customers per named RFM group with median recency, frequency and spend, suppressed."""
    order = list(RFM_GROUPS["group"]) + ["No purchases"]
    meaning = dict(zip(RFM_GROUPS["group"], RFM_GROUPS["meaning"]))
    meaning["No purchases"] = "no purchase in the history"
    g = rfm.groupby("rfm_group", observed=True)
    table = pd.DataFrame({
        "n": g.size(),
        "median_recency": g["recency"].median(),
        "median_frequency": g["frequency"].median(),
        "median_monetary": g["monetary"].median(),
    }).reindex(order)
    table["n"] = table["n"].fillna(0).astype(int)
    table.insert(1, "share", table["n"] / max(len(rfm), 1))
    table = table.rename_axis("group").reset_index()
    table.insert(1, "meaning", table["group"].map(meaning))
    table = table[table["n"] > 0].reset_index(drop=True)
    return suppress_rows(table, "n", suppression_k, keep=["group", "meaning"])


def value_order(features: pd.DataFrame, labels: np.ndarray, value: str | None, k: int) -> list[int]:
    """Segment ids from low to high mean ``value`` (empty segments first; ids in order without a value)."""
    if not value:
        return list(range(k))
    order_key = pd.Series([features.loc[labels == j, value].mean() if (labels == j).any() else -np.inf
                           for j in range(k)])
    return [int(j) for j in np.lexsort((np.arange(k), order_key.to_numpy()))]
