"""Transaction families: one SQL ``GROUP BY`` turns transactions into one row per customer.

The query runs on the engine of the innermost :func:`workbench.engine.using` block (embedded DuckDB
by default, Spark with ``engine: spark``); it is written in DuckDB's dialect and kept portable.

Definitions (one row of the transaction table is one order; a negative amount is a return):

* a **purchase** is an order with amount >= 0: a $0 order (a free promotional CD, a fully discounted
  basket) is still a purchase, so it counts for frequency, recency and tenure; a return is not;
* **recency**: days from the last purchase to ``as_of`` (>= 1 by default);
* **frequency**: the number of purchases (every order, the first included; two orders on one day are
  two purchases);
* **monetary**: net spend, the sum of all amounts, returns subtracted;
* **tenure**: days from the first purchase to ``as_of``.

lifetimes' ``summary_data_from_transaction_data`` (the BG/NBD convention) differs: its ``frequency``
counts *repeat* purchase periods (distinct days with a purchase, minus one), its ``recency`` is the
customer's age at the last purchase (first to last purchase, 0 for one-time buyers), ``T`` is our
tenure, and ``monetary_value`` is the mean value of the repeat purchases (the first left out). It does
not filter by amount, so $0 orders count there too, and returns are orders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..engine import active_config, make_engine
from ._defaults import DEFAULTS

#: Transaction feature families, in output order.
TRANSACTION_FAMILIES = (
    "recency",
    "frequency",
    "monetary",
    "tenure",
    "average_order_value",
    "inter_purchase_time",
    "trend",
    "category_shares",
    "channel_shares",
    "holiday_share",
    "returns_rate",
)

_PURCHASE = "amount >= 0"  # a $0 order is a purchase; a return (negative amount) is not
_N_PURCHASES = f"nullif(count(*) FILTER (WHERE {_PURCHASE}), 0)"


@dataclass(frozen=True)
class ParquetTransactions:
    """The transaction table as Parquet file(s) the engine reads, optionally only the rows from ``since`` on.

    Pass it wherever a transaction DataFrame goes into :func:`transaction_features` or
    :func:`workbench.features.build_features`: the engine scans the files, so no transaction is read
    into pandas; only the columns' names (from the Parquet schema) and aggregates reach the driver.
    """

    paths: tuple[str, ...]
    since: pd.Timestamp | None = None

    @classmethod
    def of(cls, path) -> "ParquetTransactions":
        return cls(tuple(str(p) for p in ([path] if isinstance(path, (str, Path)) else path)))

    def from_(self, since) -> "ParquetTransactions":
        """The same table, rows at or after ``since`` only."""
        return replace(self, since=pd.Timestamp(since))

    @property
    def columns(self) -> list[str]:
        import pyarrow.parquet as pq

        return pq.read_schema(self.paths[0]).names

    def __contains__(self, column: str) -> bool:
        return column in self.columns

    def register(self, con, name: str, columns: list[str] | None = None) -> None:
        """Make the table (its ``columns``, rows from ``since`` on) queryable on engine ``con`` as ``name``."""
        con.register(f"{name}_files", list(self.paths))
        where = f" WHERE timestamp >= {timestamp_literal(self.since)}" if self.since is not None else ""
        con.register_view(name, f"SELECT {', '.join(columns or self.columns)} FROM {name}_files{where}")

    def query(self, text: str, **tables: pd.DataFrame) -> pd.DataFrame:
        """A small result of ``text`` over the table, registered as ``tx`` (and ``tables`` by name), on the active engine."""
        with make_engine(active_config()) as con:
            self.register(con, "tx")
            for name, frame in tables.items():
                con.register_rows(name, frame)
            return con.sql(text)

    def span(self) -> tuple[int, pd.Timestamp | None, pd.Timestamp | None]:
        """Rows, first and last timestamp."""
        row = self.query("SELECT count(*) AS n, min(timestamp) AS first, max(timestamp) AS last FROM tx").iloc[0]
        n = int(row["n"])
        return n, (pd.Timestamp(row["first"]) if n else None), (pd.Timestamp(row["last"]) if n else None)

    def level_counts(self, column: str) -> pd.Series:
        """Rows per value of ``column`` (missing values left out), most frequent first (ties by value)."""
        rows = self.query(f"SELECT CAST({column} AS VARCHAR) AS v, count(*) AS n FROM tx WHERE {column} IS NOT NULL "
                          "GROUP BY 1 ORDER BY n DESC, v")
        return pd.Series(rows["n"].to_numpy(), index=rows["v"].to_numpy())


def default_as_of(transactions: pd.DataFrame | ParquetTransactions) -> pd.Timestamp:
    """The day after the last transaction's date: every transaction counts, recency >= 1."""
    last = transactions.span()[2] if isinstance(transactions, ParquetTransactions) else transactions["timestamp"].max()
    return pd.Timestamp(last).normalize() + pd.Timedelta(days=1)


def level_column(prefix: str, value: Any) -> str:
    """Column name of a category/channel share: ``prefix`` plus the level, lower-case, ``_``-joined."""
    return prefix + re.sub(r"[^0-9a-zA-Z]+", "_", str(value)).strip("_").lower()


def _levels(con, values: pd.Series | None, column: str, max_levels: int) -> list[str]:
    if values is not None and isinstance(values.dtype, pd.CategoricalDtype):  # counts straight from the codes
        counts = values.value_counts(dropna=True)
        counts = counts[counts > 0].sort_index(key=lambda i: i.astype(str)).sort_values(ascending=False, kind="stable")
        return sorted(str(v) for v in counts.index[:max_levels])
    rows = con.sql(
        f"SELECT CAST({column} AS VARCHAR) AS v, count(*) AS n FROM tx WHERE {column} IS NOT NULL "
        f"GROUP BY 1 ORDER BY n DESC, v LIMIT {int(max_levels)}"
    )
    return sorted(rows["v"])


def _quote(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def timestamp_literal(t) -> str:
    """``TIMESTAMP '…'``: how the feature query writes ``as_of`` and its periods."""
    return f"TIMESTAMP '{pd.Timestamp(t).isoformat(sep=' ')}'"


def _days(start: str, end: str) -> str:
    """Calendar days from ``start`` to ``end``: both cast to DATE, so both engines count day boundaries."""
    return f"date_diff('day', CAST({start} AS DATE), CAST({end} AS DATE))"


def _trend_clause(as_of: pd.Timestamp, trend_days: int) -> str:
    """Purchases in the last period minus purchases in the one before, over both counts."""
    mid = timestamp_literal(as_of - pd.Timedelta(days=trend_days))
    prev = timestamp_literal(as_of - pd.Timedelta(days=2 * trend_days))
    last = f"count(*) FILTER (WHERE {_PURCHASE} AND timestamp >= {mid})"
    before = f"count(*) FILTER (WHERE {_PURCHASE} AND timestamp >= {prev} AND timestamp < {mid})"
    both = f"count(*) FILTER (WHERE {_PURCHASE} AND timestamp >= {prev})"
    return f"coalesce(CAST({last} - {before} AS DOUBLE) / nullif({both}, 0), 0.0) AS trend"


def _holiday_clause(season) -> str:
    (m0, d0), (m1, d1) = season
    md = "(EXTRACT(MONTH FROM timestamp) * 100 + EXTRACT(DAY FROM timestamp))"
    lo, hi = m0 * 100 + d0, m1 * 100 + d1
    cond = f"{md} BETWEEN {lo} AND {hi}" if lo <= hi else f"({md} >= {lo} OR {md} <= {hi})"
    return f"count(*) FILTER (WHERE {_PURCHASE} AND {cond}) / {_N_PURCHASES} AS holiday_share"


def _share_levels(con, transactions, families: list[str], max_levels: int) -> dict[str, list[str]]:
    """The levels that get a share column: column name -> its most frequent ``max_levels`` values."""
    parquet = isinstance(transactions, ParquetTransactions)
    return {
        column: _levels(con, None if parquet else transactions[column], column, max_levels)
        for fam, column in (("category_shares", "category"), ("channel_shares", "channel"))
        if fam in families and column in transactions
    }


def _share_clauses(levels: dict[str, list[str]]) -> list[str]:
    sel = []
    for column, values in levels.items():
        for level in values:
            name = level_column(column + "_", level)
            sel.append(f"count(*) FILTER (WHERE {_PURCHASE} AND {column} = {_quote(level)}) / {_N_PURCHASES} AS {name}")
    return sel


def feature_select(families: list[str], settings: dict, as_of: pd.Timestamp,
                   levels: dict[str, list[str]] | None = None) -> list[str]:
    """The SELECT list of the feature query: every feature an aggregate with a FILTER clause.

    The query reads ``customer_id``, ``timestamp``, ``amount`` (and ``category``/``channel`` where
    ``levels`` names them) from rows already restricted to ``timestamp < as_of`` and groups them by
    ``customer_id``; the text is DuckDB's dialect, kept portable (see :mod:`workbench.engine`).

    Parameters
    ----------
    families : list of str
        Subset of :data:`TRANSACTION_FAMILIES`; ``frequency`` is always computed (second item).
    settings : dict
        ``trend_days`` and ``holiday_season`` (see :data:`DEFAULTS`).
    as_of : Timestamp
        Recency, tenure and the trend periods are measured at it (a literal in the text).
    levels : dict, optional
        ``category``/``channel`` -> the levels that get a share column (as :func:`level_column` names it).

    Returns
    -------
    list of str
        ``customer_id`` first, then ``<expression> AS <feature>`` items.
    """
    a = timestamp_literal(as_of)
    purchase = _PURCHASE
    sel = ["customer_id", f"count(*) FILTER (WHERE {purchase}) AS frequency"]
    if "recency" in families:
        sel.append(f"{_days(f'max(timestamp) FILTER (WHERE {purchase})', a)} AS recency")
    if "monetary" in families:
        sel.append("sum(amount) AS monetary")
    if "tenure" in families:
        sel.append(f"{_days(f'min(timestamp) FILTER (WHERE {purchase})', a)} AS tenure")
    if "average_order_value" in families:
        sel.append(f"sum(amount) FILTER (WHERE {purchase}) / {_N_PURCHASES} AS average_order_value")
    if "inter_purchase_time" in families:
        sel.append(
            f"CASE WHEN count(*) FILTER (WHERE {purchase}) > 1 THEN CAST("
            f"{_days(f'min(timestamp) FILTER (WHERE {purchase})', f'max(timestamp) FILTER (WHERE {purchase})')} AS DOUBLE) "
            f"/ (count(*) FILTER (WHERE {purchase}) - 1) END AS inter_purchase_time"
        )
    if "trend" in families:
        sel.append(_trend_clause(as_of, settings["trend_days"]))
    sel += _share_clauses(levels or {})
    if "holiday_share" in families:
        sel.append(_holiday_clause(settings["holiday_season"]))
    if "returns_rate" in families:
        sel.append("avg(CAST(amount < 0 AS INTEGER)) AS returns_rate")
    return sel


def _alias(item: str) -> str:
    """The output name of one SELECT item (``... AS name``)."""
    return item.rsplit(" AS ", 1)[1]


def _finish(out: pd.DataFrame, families: list[str]) -> pd.DataFrame:
    """Column types: recency/tenure float (NaN for customers with returns only), frequency int (0)."""
    if "frequency" not in families:
        out = out.drop(columns="frequency")
    for col in ("recency", "tenure"):
        if col in out:
            out[col] = out[col].astype("float64")
    if "frequency" in out:
        out["frequency"] = out["frequency"].fillna(0).astype("int64")
    return out


def transaction_features(
    transactions: pd.DataFrame,
    as_of: pd.Timestamp | str | None = None,
    families: list[str] | tuple[str, ...] | None = None,
    settings: dict | None = None,
    customer_ids: pd.Series | None = None,
) -> pd.DataFrame:
    """Aggregate a transaction table to one row per customer with one SQL query (DuckDB or Spark).

    Parameters
    ----------
    transactions : DataFrame or ParquetTransactions
        ``customer_id``, ``timestamp``, ``amount`` (negative = return) and optionally ``category``
        and ``channel``; as :class:`ParquetTransactions` the engine reads the files.
    as_of : Timestamp, optional
        Only transactions strictly before ``as_of`` count; recency and tenure are days to ``as_of``.
        Default: :func:`default_as_of`.
    families : list of str, optional
        Subset of :data:`TRANSACTION_FAMILIES` (default all that the table supports).
    settings : dict, optional
        ``trend_days``, ``holiday_season``, ``max_levels`` (see :data:`DEFAULTS`).
    customer_ids : Series, optional
        When given, the result has exactly these customers in this order (left join; customers
        without transactions get NULL aggregates).

    Returns
    -------
    DataFrame
        ``customer_id`` plus one column per feature: one row per customer with at least one
        transaction before ``as_of`` in no particular order, or one row per ``customer_ids``.
    """
    settings = {**DEFAULTS, **(settings or {})}
    families = list(families or TRANSACTION_FAMILIES)
    unknown = set(families) - set(TRANSACTION_FAMILIES)
    if unknown:
        raise ValueError(f"Unknown transaction feature families {sorted(unknown)}; known: {TRANSACTION_FAMILIES}")
    as_of = pd.Timestamp(as_of) if as_of is not None else default_as_of(transactions)
    cols = ["customer_id", "timestamp", "amount"] + [c for c in ("category", "channel") if c in transactions]
    with make_engine(active_config()) as con:
        if isinstance(transactions, ParquetTransactions):  # the engine scans the files: nothing in pandas
            transactions.register(con, "src", cols)
        else:
            con.register_rows("src", transactions[cols] if list(transactions.columns) != cols else transactions)
        # One scan, one GROUP BY: every feature is an aggregate with a FILTER clause (standard SQL,
        # apart from date_diff), so no per-row columns are materialised.
        con.register_view("tx", f"SELECT * FROM src WHERE timestamp < {timestamp_literal(as_of)}")
        levels = _share_levels(con, transactions, families, settings["max_levels"])
        sel = feature_select(families, settings, as_of, levels)
        query = f"SELECT {', '.join(sel)} FROM tx GROUP BY customer_id"
        if customer_ids is not None:
            # Join in the engine, in the caller's row order: cheaper than a pandas merge on strings.
            con.register_rows("ids", pd.DataFrame({"customer_id": customer_ids.to_numpy(),
                                                   "row_": np.arange(len(customer_ids))}))
            names = ", ".join(f"agg.{_alias(item)}" for item in sel[1:])
            query = (
                f"SELECT ids.row_, ids.customer_id, {names} FROM ids LEFT JOIN ({query}) AS agg "
                "ON ids.customer_id = agg.customer_id ORDER BY ids.row_"
            )
        out = con.fetch_rows(query)  # Spark: written as Parquet and read back, not collected by the JVM
    if customer_ids is not None:  # Spark does not keep the ORDER BY through Parquet parts
        if not out["row_"].is_monotonic_increasing:  # DuckDB does: no second copy of every customer's row
            out = out.sort_values("row_", kind="stable")
        out = out.drop(columns="row_").reset_index(drop=True)
    return _finish(out, families)
