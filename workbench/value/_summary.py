"""Sufficient statistics of the CLV models, from the transaction log in one DuckDB ``GROUP BY``.

The log is a pandas DataFrame (the query runs on an in-process DuckDB) or a
:class:`~workbench.features.ParquetTransactions` (the query runs on the active engine,
:func:`workbench.engine.using`, over the Parquet files: no transaction reaches the driver).

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

from ..features import ParquetTransactions

__all__ = ["calibration_holdout", "clv_summary", "has_purchases", "observation_end_of", "repeat_customers"]

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


def observation_end_of(transactions: pd.DataFrame | ParquetTransactions) -> pd.Timestamp:
    """The day after the last transaction's date (the default observation end, an exclusive bound)."""
    if isinstance(transactions, ParquetTransactions):
        last = transactions.span()[2]
    else:
        last = transactions["timestamp"].max()
    return pd.Timestamp(last).normalize() + pd.Timedelta(days=1)


def has_purchases(transactions: ParquetTransactions) -> bool:
    """Whether the log holds at least one purchase (``amount > 0``): one row read by the engine, at most."""
    rows = transactions.query("SELECT count(*) AS n FROM (SELECT 1 AS one FROM tx WHERE amount > 0 LIMIT 1) AS s")
    return bool(int(rows["n"].iloc[0]))


def repeat_customers(transactions: ParquetTransactions) -> int:
    """Customers with a repeat purchase day and positive repeat spend (whom Gamma-Gamma is fitted on), counted."""
    end = _ts(observation_end_of(transactions))
    rows = transactions.query(f"SELECT count(*) AS n FROM ({_query(None, end)}) AS s "
                              "WHERE frequency > 0 AND monetary_value > 0")
    return int(rows["n"].iloc[0])


def clv_summary(transactions: pd.DataFrame | ParquetTransactions, observation_end=None) -> pd.DataFrame:
    """Frequency, recency, T and mean repeat spend per customer with a purchase before ``observation_end``.

    The BG/NBD and Gamma-Gamma models need only these four numbers per customer, so the
    per-transaction work is one aggregation that DuckDB runs where the data is (the SQL is standard
    apart from ``date_diff``; a Spark engine runs the same query).

    Parameters
    ----------
    transactions : DataFrame or ParquetTransactions
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
        observation_end = observation_end_of(transactions)
    return _run(transactions, _query(None, _ts(observation_end)))


def calibration_holdout(transactions: pd.DataFrame, calibration_end, observation_end=None) -> pd.DataFrame:
    """The summary at ``calibration_end`` plus the repeat purchase days in the holdout period.

    Customers whose first purchase is in the holdout are left out (the model says nothing about
    them). ``holdout_purchases`` counts purchase days in ``[calibration_end, observation_end)``;
    ``holdout_days`` is the holdout's length.
    """
    calibration_end = pd.Timestamp(calibration_end)
    if observation_end is None:
        observation_end = observation_end_of(transactions)
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


def _fetch(transactions: pd.DataFrame | ParquetTransactions, query: str) -> pd.DataFrame:
    """The per-customer rows of ``query`` over ``tx``, sorted by ``customer_id`` on the driver (Spark keeps no order)."""
    if isinstance(transactions, ParquetTransactions):
        from ..engine import active_config, make_engine

        with make_engine(active_config()) as con:
            transactions.register(con, "tx", ["customer_id", "timestamp", "amount"])
            out = con.fetch_rows(query)
        return out.sort_values("customer_id", kind="stable", ignore_index=True)
    con = duckdb.connect()
    try:
        con.register("tx", transactions[["customer_id", "timestamp", "amount"]])
        return con.execute(query + " ORDER BY 1").df()
    finally:
        con.close()


def _run(transactions: pd.DataFrame | ParquetTransactions, query: str, columns=_COLUMNS) -> pd.DataFrame:
    out = _fetch(transactions, query)
    if columns is not None:
        out = out[columns]
        out["frequency"] = out["frequency"].astype("int64")
        for col in ("recency", "T", "monetary_value", "historical_value"):
            out[col] = out[col].astype("float64")
    return out.reset_index(drop=True) if len(out) else out.astype({"customer_id": object})

