"""Data quality of the prepared tables: missingness, outliers (Tukey's fences) and duplicates."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

OUTLIER_COLUMNS = ["table", "column", "lower_fence", "upper_fence", "outliers", "share_outliers"]


def missing_table(missing: dict[str, int], n: int) -> pd.DataFrame:
    """Per column (``missing``: column -> count of missing values): count and share, most missing first."""
    table = pd.DataFrame({"column": list(missing), "missing": [int(v) for v in missing.values()]})
    table["share_missing"] = table["missing"] / max(n, 1)
    return table.sort_values(["share_missing", "column"], ascending=[False, True]).reset_index(drop=True)


def tukey_fences(q1: float, q3: float, iqr_factor: float) -> tuple[float, float] | None:
    """``Q1 - f*IQR`` and ``Q3 + f*IQR``; None when the IQR is zero (no fence to speak of)."""
    iqr = q3 - q1
    if iqr == 0:
        return None
    return q1 - iqr_factor * iqr, q3 + iqr_factor * iqr


def _outlier_rows(frame: pd.DataFrame, table: str, iqr_factor: float) -> list[dict]:
    """Fences and outlier counts of each numeric, non-binary column with a non-zero IQR."""
    rows = []
    for col in frame.columns:
        s = frame[col]
        if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            continue
        s = s.dropna().astype(float)
        if s.nunique() <= 2 or s.empty:
            continue
        fences = tukey_fences(*np.percentile(s, [25, 75]), iqr_factor)
        if fences is None:
            continue
        lo, hi = fences
        out = int(((s < lo) | (s > hi)).sum())
        rows.append({"table": table, "column": col, "lower_fence": lo, "upper_fence": hi,
                     "outliers": out, "share_outliers": out / len(s)})
    return rows


def _transaction_counts(customers: pd.DataFrame, transactions: pd.DataFrame) -> dict:
    amount = transactions["amount"].astype(float)
    return {
        "transactions": int(len(transactions)),
        "exact_duplicate_transactions": int(transactions.duplicated().sum()),
        "negative_amounts_(returns)": int((amount < 0).sum()),
        "zero_amounts": int((amount == 0).sum()),
        "customers_without_transactions": int((~customers["customer_id"].isin(set(transactions["customer_id"]))).sum()),
        "first_transaction": str(transactions["timestamp"].min().date()) if len(transactions) else None,
        "last_transaction": str(transactions["timestamp"].max().date()) if len(transactions) else None,
    }


def data_quality(
    customers: pd.DataFrame, transactions: pd.DataFrame | None = None, iqr_factor: float = 3.0
) -> dict[str, Any]:
    """Missingness, outliers and duplicates in the prepared tables (aggregates only).

    Outliers use Tukey's fences with factor ``iqr_factor`` (values beyond ``Q1 - f*IQR`` or
    ``Q3 + f*IQR``) on numeric columns that are not binary; only counts and the fences are shown,
    never the outlying values themselves (an extreme value can identify someone).

    Parameters
    ----------
    customers : DataFrame
        The prepared customer table (``customer_id`` and the kept columns).
    transactions : DataFrame, optional
        ``customer_id``, ``timestamp``, ``amount``, ...
    iqr_factor : float, default 3.0

    Returns
    -------
    dict
        ``missing`` (per column: count and share), ``outliers`` (per column: fences, count, share),
        ``duplicates`` (dict of counts) and, with transactions, ``transactions`` (dict of counts).
    """
    body = customers.drop(columns=["customer_id"], errors="ignore")
    missing = missing_table({c: int(body[c].isna().sum()) for c in body.columns}, len(customers))
    rows = _outlier_rows(body, "customers", iqr_factor)
    if transactions is not None:
        rows += _outlier_rows(transactions[["amount"]], "transactions", iqr_factor)
    outliers = pd.DataFrame(rows, columns=OUTLIER_COLUMNS)
    duplicates = {
        "duplicate_customer_ids": int(customers["customer_id"].duplicated().sum()) if "customer_id" in customers else 0,
        "customers_identical_to_another_on_all_kept_columns": int(body.duplicated(keep=False).sum()) if len(body.columns) else 0,
    }
    result: dict[str, Any] = {"missing": missing, "outliers": outliers, "duplicates": duplicates}
    if transactions is not None:
        result["transactions"] = _transaction_counts(customers, transactions)
    return result
