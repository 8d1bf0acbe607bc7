"""Segment KPIs over time (works without a campaign table): retention, upsell and revenue per customer.

For each pair of consecutive windows (the dynamics windows) and each segment *as of the later window's
start* (the customer's state in the earlier window, as notebook 05 scored it): how many of its customers

* were **retained**: bought anything in the later window;
* were **upsold**: spent at least ``upsell_ratio`` times their spend of the earlier window, or made a first
  purchase in a category they had never bought (when the log has categories);

and their **revenue per customer** in the later window. The per-customer work is one query on the
run's engine (:func:`kpi_counts_query`); only counts and sums per (window, segment) reach the driver.
Rates get Wilson intervals, revenue per customer a normal interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..engine._queries import _ident, _num
from ..fairness._intervals import _z, wilson_interval

__all__ = ["kpi_counts_query", "kpi_rates", "long_states", "mean_interval"]


def _ts(t) -> str:
    return f"TIMESTAMP '{pd.Timestamp(t).isoformat(sep=' ')}'"


def long_states(states: pd.DataFrame, windows: pd.DataFrame) -> pd.DataFrame:
    """``customer_id, label, segment``: the segment as of each window's start (the previous window's state),
    customers in a segment only (not inactive, not yet a customer)."""
    labels = list(windows["label"])
    parts = []
    for prev, cur in zip(labels[:-1], labels[1:]):
        seg = states[prev].to_numpy()
        keep = seg >= 0
        parts.append(pd.DataFrame({"customer_id": states.loc[keep, "customer_id"].to_numpy(), "label": cur,
                                   "segment": seg[keep].astype(int)}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["customer_id", "label", "segment"])


def kpi_counts_query(transactions: str, states: str, windows: pd.DataFrame, ratio: float, categories: bool) -> str:
    """Per (window label, segment): ``customers``, ``retained``, ``upsold``, ``revenue``, ``revenue2`` and
    ``revenue_top`` (the largest absolute revenue of one customer: the scale of the magnitude perturbation,
    :func:`workbench.privacy.publish_magnitudes`, never published).

    ``transactions`` (``customer_id, timestamp, amount[, category]``) and ``states`` (:func:`long_states`)
    are registered table names; ``windows`` has ``label, start, end`` (oldest first).
    """
    labels = list(windows["label"])
    rows = [f"SELECT '{cur}' AS label, '{prev}' AS prev, {_ts(w.start)} AS w_start, {_ts(w.end)} AS w_end, "
            f"{_ts(p.start)} AS p_start"
            for (prev, cur), w, p in zip(zip(labels[:-1], labels[1:]), windows.iloc[1:].itertuples(),
                                         windows.iloc[:-1].itertuples())]
    win = " UNION ALL ".join(rows)
    tx = _ident(transactions)
    spend = (f"SELECT t.customer_id, w.label, "
             "sum(CASE WHEN t.timestamp >= w.w_start THEN t.amount ELSE CAST(0 AS DOUBLE) END) AS spend, "
             "sum(CASE WHEN t.timestamp < w.w_start THEN t.amount ELSE CAST(0 AS DOUBLE) END) AS prev_spend, "
             "count(*) FILTER (WHERE t.timestamp >= w.w_start) AS n "
             f"FROM {tx} AS t JOIN ({win}) AS w ON t.timestamp >= w.p_start AND t.timestamp < w.w_end "
             "GROUP BY t.customer_id, w.label")
    if categories:
        firsts = f"SELECT customer_id, category, min(timestamp) AS first FROM {tx} WHERE category IS NOT NULL GROUP BY customer_id, category"
        new = (f"SELECT f.customer_id, w.label, count(*) AS n_new FROM ({firsts}) AS f JOIN ({win}) AS w "
               "ON f.first >= w.w_start AND f.first < w.w_end GROUP BY f.customer_id, w.label")
    else:
        new = f"SELECT customer_id, CAST(NULL AS VARCHAR) AS label, 0 AS n_new FROM {tx} WHERE 1 = 0"
    up = (f"(coalesce(x.spend, {_num(0)}) >= {_num(ratio)} * x.prev_spend AND x.prev_spend > {_num(0)} "
          "AND coalesce(x.n, 0) > 0) OR coalesce(c.n_new, 0) > 0")
    revenue = f"coalesce(x.spend, {_num(0)})"
    return (
        "SELECT s.label AS label, s.segment AS segment, count(*) AS customers, "
        "count(*) FILTER (WHERE coalesce(x.n, 0) > 0) AS retained, "
        f"count(*) FILTER (WHERE {up}) AS upsold, sum({revenue}) AS revenue, sum({revenue} * {revenue}) AS revenue2, "
        f"max(abs({revenue})) AS revenue_top "
        f"FROM {_ident(states)} AS s LEFT JOIN ({spend}) AS x ON s.customer_id = x.customer_id AND s.label = x.label "
        f"LEFT JOIN ({new}) AS c ON s.customer_id = c.customer_id AND s.label = c.label "
        "GROUP BY s.label, s.segment ORDER BY s.label, s.segment"
    )


def kpi_rates(counts: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Retention and upsell rates with Wilson intervals, revenue per customer with a normal interval."""
    out = counts.copy()
    n = out["customers"].to_numpy(dtype=float)
    for kpi in ("retained", "upsold"):
        s = out[kpi].to_numpy(dtype=float)
        lo, hi = wilson_interval(s, n, alpha)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"{kpi}_rate"] = s / n
        out[f"{kpi}_low"], out[f"{kpi}_high"] = lo, hi
    mean, low, high = mean_interval(out["revenue"], out["revenue2"], n, alpha)
    out["revenue_per_customer"], out["revenue_low"], out["revenue_high"] = mean, low, high
    return out


def mean_interval(total, squares, n, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A mean and its normal interval from a total, a sum of squares and a count (printed ones: the
    published figures are then functions of published figures only)."""
    total, squares, n = (np.asarray(v, dtype=float) for v in (total, squares, n))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / n
        var = (squares - n * mean ** 2) / (n - 1)
        se = np.sqrt(np.clip(var, 0, None) / n)
    return mean, mean - _z(alpha) * se, mean + _z(alpha) * se
