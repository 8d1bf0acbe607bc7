"""Customer features for segmentation, computed from the customer and transaction tables.

Transaction aggregation runs in DuckDB (SQL over the DataFrame), so it scales to millions of rows.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from .schema import Roles

__all__ = ["build_features", "rfm"]


def rfm(transactions: pd.DataFrame, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Recency (days since last purchase), frequency (purchases) and monetary (net spend) per customer."""
    as_of = pd.Timestamp(as_of) if as_of is not None else transactions["timestamp"].max() + pd.Timedelta(days=1)
    con = duckdb.connect()
    con.register("tx", transactions)
    return con.execute(
        """
        SELECT customer_id,
               date_diff('day', max(timestamp), CAST(? AS TIMESTAMP)) AS recency,
               count(*) FILTER (WHERE amount > 0) AS frequency,
               sum(amount) AS monetary
        FROM tx WHERE timestamp < CAST(? AS TIMESTAMP)
        GROUP BY customer_id
        """,
        [as_of, as_of],
    ).df()


def build_features(customers: pd.DataFrame, transactions: pd.DataFrame | None, roles: Roles) -> pd.DataFrame:
    """One row per customer: numeric customer-table features plus RFM where transactions exist."""
    cols = [c for c in roles.feature_columns if c not in roles.sensitive]
    table = customers[["customer_id", *cols]].copy()
    table = pd.get_dummies(table, columns=[c for c in cols if not pd.api.types.is_numeric_dtype(table[c])], dtype=float)
    if transactions is not None:
        table = table.merge(rfm(transactions), on="customer_id", how="left")
    return table.fillna(table.median(numeric_only=True))
