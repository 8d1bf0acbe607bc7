"""Sufficient statistics of the CLV models, from the transaction log in one DuckDB ``GROUP BY``.

Definitions are those of ``lifetimes.utils.summary_data_from_transaction_data`` with ``freq="D"``:
purchases (``amount > 0``) are first summed per customer and calendar day; ``frequency`` is the number
of purchase days after the first (repeat purchases), ``recency`` the days from the first to the last
purchase day, ``T`` the days from the first purchase day to the last day observed (the day before the
observation end, which is an exclusive bound), and
``monetary_value`` the mean spend of the repeat purchase days (0 without repeats). Units: days.
"""

from __future__ import annotations

import duckdb
import pandas as pd

__all__ = ["calibration_holdout", "clv_summary"]

_COLUMNS = ["customer_id", "frequency", "recency", "T", "monetary_value", "historical_value"]


def _ts(t) -> str:
    return f"TIMESTAMP '{pd.Timestamp(t).isoformat(sep=' ')}'"


def _query(start: str | None, end: str) -> str:
    """Portable SQL over view ``tx``: per-day purchases, then one row per customer.

    Spend is summed as a DECIMAL (amounts to 1e-9): a parallel sum of doubles adds in whatever
    order the threads meet the rows, and the Gamma-Gamma fit turned that last bit into a different
    ``p`` in the tenth digit between two runs of one config. Exact sums keep ``summary.json`` the same.
    """
    since = f"AND timestamp >= {start}" if start else ""
    return f"""
    WITH days AS (
        SELECT customer_id, CAST(timestamp AS DATE) AS day, sum(CAST(amount AS DECIMAL(38, 9))) AS spend
        FROM tx WHERE amount > 0 AND timestamp < {end} {since}
        GROUP BY customer_id, CAST(timestamp AS DATE)
    ), firsts AS (
        SELECT customer_id, min(day) AS first_day FROM days GROUP BY customer_id
    )
    SELECT d.customer_id,
           count(*) - 1 AS frequency,
           CAST(date_diff('day', min(d.day), max(d.day)) AS DOUBLE) AS recency,
           CAST(date_diff('day', min(d.day), CAST({end} AS DATE)) - 1 AS DOUBLE) AS "T",
           coalesce(CAST(sum(d.spend) FILTER (WHERE d.day > f.first_day) AS DOUBLE)
                    / nullif(count(*) FILTER (WHERE d.day > f.first_day), 0), 0.0) AS monetary_value,
           CAST(sum(d.spend) AS DOUBLE) AS historical_value
    FROM days d JOIN firsts f USING (customer_id)
    GROUP BY d.customer_id
    """


def clv_summary(transactions: pd.DataFrame, observation_end=None) -> pd.DataFrame:
    """Frequency, recency, T and mean repeat spend per customer with a purchase before ``observation_end``.

    The BG/NBD and Gamma-Gamma models need only these four numbers per customer, so the
    per-transaction work is one aggregation that DuckDB runs where the data is (the SQL is standard
    apart from ``date_diff``; a Spark engine runs the same query).

    Parameters
    ----------
    transactions : DataFrame
        ``customer_id``, ``timestamp``, ``amount`` (returns, ``amount <= 0``, are not purchases).
    observation_end : Timestamp, optional
        Only transactions strictly before it count; ``T`` is measured to it. Default: the day after
        the last transaction.

    Returns
    -------
    DataFrame
        ``customer_id, frequency, recency, T, monetary_value, historical_value`` (total purchase
        spend), in days, one row per customer with at least one purchase, sorted by ``customer_id``
        only to make the row order deterministic.
    """
    for col in ("customer_id", "timestamp", "amount"):
        if col not in transactions:
            raise ValueError(f"transactions lack column {col!r}: the CLV summary needs customer_id, timestamp, amount")
    if observation_end is None:
        observation_end = pd.Timestamp(transactions["timestamp"].max()).normalize() + pd.Timedelta(days=1)
    return _run(transactions, _query(None, _ts(observation_end)))


def calibration_holdout(transactions: pd.DataFrame, calibration_end, observation_end=None) -> pd.DataFrame:
    """The summary at ``calibration_end`` plus the repeat purchase days in the holdout period.

    Customers whose first purchase is in the holdout are left out (the model says nothing about
    them). ``holdout_purchases`` counts purchase days in ``[calibration_end, observation_end)``;
    ``holdout_days`` is the holdout's length.
    """
    calibration_end = pd.Timestamp(calibration_end)
    if observation_end is None:
        observation_end = pd.Timestamp(transactions["timestamp"].max()).normalize() + pd.Timedelta(days=1)
    observation_end = pd.Timestamp(observation_end)
    if not calibration_end < observation_end:
        raise ValueError(f"calibration_end {calibration_end} must be before observation_end {observation_end}")
    cal = clv_summary(transactions, calibration_end)
    hold = _run(transactions, f"""
        SELECT customer_id, count(DISTINCT CAST(timestamp AS DATE)) AS holdout_purchases FROM tx
        WHERE amount > 0 AND timestamp >= {_ts(calibration_end)} AND timestamp < {_ts(observation_end)}
        GROUP BY customer_id""", columns=None)
    out = cal.merge(hold, on="customer_id", how="left")
    out["holdout_purchases"] = out["holdout_purchases"].fillna(0).astype("int64")
    out["holdout_days"] = float((observation_end.normalize() - calibration_end.normalize()).days)
    return out


def _run(transactions: pd.DataFrame, query: str, columns=_COLUMNS) -> pd.DataFrame:
    con = duckdb.connect()
    try:
        con.register("tx", transactions[["customer_id", "timestamp", "amount"]])
        out = con.execute(query + " ORDER BY 1").df()
    finally:
        con.close()
    if columns is not None:
        out = out[columns]
        out["frequency"] = out["frequency"].astype("int64")
        for col in ("recency", "T", "monetary_value", "historical_value"):
            out[col] = out[col].astype("float64")
    return out.reset_index(drop=True) if len(out) else out.astype({"customer_id": object})

