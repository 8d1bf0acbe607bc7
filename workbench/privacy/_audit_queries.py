"""Notebook 01's audit as engine queries over the prepared tables: counts and quantiles come back, no customer.

The checks' counts (ids, unknown and invalid transactions), the class-size histogram of every
combination of quasi-identifiers the risk tables need (one ``UNION ALL`` query), missingness, Tukey's
fences from exact quantiles (DuckDB ``quantile_cont``, Spark ``percentile``: both interpolate linearly,
as :func:`numpy.percentile` does) and the duplicate counts. The driver then builds the same tables as
the pandas functions (:func:`~workbench.privacy._risk.risk_tables`, :func:`~._checks.checks_from_facts`)
from those aggregates. The identifier scan reads a sample of ``SCAN_SAMPLE`` customers, the first by
pseudonym (a keyed hash: as good as random, and the same customers on either engine).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ._quality import OUTLIER_COLUMNS, missing_table, tukey_fences
from ._risk import identifier_scan, no_risk, risk_subsets, risk_tables

#: The table names the audit's queries read: register the prepared tables under them.
CUSTOMERS, TRANSACTIONS = "audit_customers", "audit_transactions"
#: Customers whose text values the identifier scan checks (as the pandas scan's sample per column).
SCAN_SAMPLE = 2000


def _q(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _n(value) -> int:
    return 0 if value is None or pd.isna(value) else int(value)


def class_size_histograms(eng, subsets: list[tuple[str, ...]]) -> dict[tuple[str, ...], pd.Series]:
    """Class size -> number of classes, per combination of columns of :data:`CUSTOMERS` (one query).

    Missing values are a value of their own (``GROUP BY`` groups NULLs together, as
    ``pandas.factorize(use_na_sentinel=False)`` does).
    """
    parts = [f"SELECT {i} AS subset, size, count(*) AS classes FROM "
             f"(SELECT count(*) AS size FROM {CUSTOMERS} GROUP BY {', '.join(_q(c) for c in cols)}) AS g{i} "
             "GROUP BY size" for i, cols in enumerate(subsets)]
    rows = eng.sql(" UNION ALL ".join(parts))
    hists = {}
    for i, cols in enumerate(subsets):
        part = rows[rows["subset"] == i]
        hists[cols] = pd.Series(part["classes"].to_numpy(dtype="int64"),
                                index=part["size"].to_numpy(dtype="int64")).sort_index()
    return hists


def risk_from_engine(eng, columns: list[str], quasi_identifiers: list[str], n_customers: int, k: int,
                     max_combination: int) -> dict[str, Any]:
    """:func:`~workbench.privacy.reidentification_risk` of :data:`CUSTOMERS` from class-size histograms."""
    qis = [c for c in quasi_identifiers if c in columns]
    if not qis or n_customers == 0:
        return no_risk(qis)
    return risk_tables(class_size_histograms(eng, risk_subsets(qis, max_combination)), qis, k, max_combination)


def _finite(column: str) -> str:
    return f"(CAST({column} AS DOUBLE) IS NOT NULL AND NOT isnan(CAST({column} AS DOUBLE)))"


def check_facts(eng, kinds: dict[str, str], with_transactions: bool) -> dict:
    """The counts :func:`~workbench.privacy._checks.checks_from_facts` needs, from the engine.

    ``kinds``: the customer table's columns by kind (:func:`column_kinds`); its text columns
    (kind ``"other"``) are scanned for emails and phone numbers in :func:`scan_sample`.
    """
    text_columns = [c for c, kind in kinds.items() if kind == "other" and c != "customer_id"]
    ids = "CAST(customer_id AS VARCHAR)"
    row = eng.sql(
        f"SELECT count(*) AS customers, count(*) - count(DISTINCT customer_id) AS duplicate_ids, "
        f"count(*) FILTER (WHERE customer_id IS NULL OR length({ids}) <> 17 "
        f"OR NOT regexp_matches({ids}, '^p[0-9a-f]{{16}}')) AS not_pseudonyms FROM {CUSTOMERS}").iloc[0]
    facts = {"columns": list(kinds), "customers": _n(row["customers"]), "duplicate_ids": _n(row["duplicate_ids"]),
             "not_pseudonyms": _n(row["not_pseudonyms"]), "scan": identifier_scan(scan_sample(eng, text_columns))}
    if text_columns:
        facts["scan_note"] = (f"text values of {min(SCAN_SAMPLE, facts['customers']):,} customers checked "
                              "(the first by pseudonym)")
    if with_transactions:
        row = eng.sql(
            f"SELECT count(*) AS transactions, count(*) FILTER (WHERE c.customer_id IS NULL) AS unknown, "
            f"count(*) FILTER (WHERE t.timestamp IS NULL OR NOT {_finite('t.amount')} "
            f"OR abs(CAST(t.amount AS DOUBLE)) = CAST('Infinity' AS DOUBLE)) AS invalid "
            f"FROM {TRANSACTIONS} AS t LEFT JOIN (SELECT DISTINCT customer_id FROM {CUSTOMERS}) AS c "
            "ON t.customer_id = c.customer_id").iloc[0]
        facts.update(transactions=_n(row["transactions"]), unknown_customer_transactions=_n(row["unknown"]),
                     invalid_transactions=_n(row["invalid"]))
    return facts


def scan_sample(eng, text_columns: list[str]) -> pd.DataFrame:
    """The text columns of the first :data:`SCAN_SAMPLE` customers by pseudonym, as text."""
    if not text_columns:
        return pd.DataFrame()
    cols = ", ".join(f"CAST({_q(c)} AS VARCHAR) AS {_q(c)}" for c in text_columns)
    return eng.sql(f"SELECT {cols} FROM {CUSTOMERS} ORDER BY customer_id LIMIT {SCAN_SAMPLE}")


def _outlier_rows(eng, table: str, label: str, numeric: list[str], iqr_factor: float) -> list[dict]:
    """Tukey's fences and outlier counts per numeric column of ``table`` (two passes: quantiles, then counts)."""
    if not numeric:
        return []
    stats = []
    for i, c in enumerate(numeric):
        v = f"CAST({_q(c)} AS DOUBLE)"
        stats.append(f"count({v}) FILTER (WHERE NOT isnan({v})) AS n{i}, min({v}) FILTER (WHERE NOT isnan({v})) AS lo{i}, "
                     f"max({v}) FILTER (WHERE NOT isnan({v})) AS hi{i}, "
                     f"quantile_cont({v}, 0.25) FILTER (WHERE NOT isnan({v})) AS q1_{i}, "
                     f"quantile_cont({v}, 0.75) FILTER (WHERE NOT isnan({v})) AS q3_{i}")
    first = eng.sql(f"SELECT {', '.join(stats)} FROM {table}").iloc[0]
    fenced = {}
    for i, c in enumerate(numeric):
        if _n(first[f"n{i}"]) == 0:
            continue
        fences = tukey_fences(float(first[f"q1_{i}"]), float(first[f"q3_{i}"]), iqr_factor)
        if fences is not None:
            fenced[i] = fences
    if not fenced:
        return []
    lit = lambda x: f"CAST('{float(x)!r}' AS DOUBLE)"  # noqa: E731 - exact round trip of a double
    counts = []
    for i, (lo, hi) in fenced.items():
        v = f"CAST({_q(numeric[i])} AS DOUBLE)"
        counts.append(f"count(*) FILTER (WHERE {v} > {lit(first[f'lo{i}'])} AND {v} < {lit(first[f'hi{i}'])}) AS mid{i}, "
                      f"count(*) FILTER (WHERE {v} < {lit(lo)} OR {v} > {lit(hi)}) AS out{i}")
    second = eng.sql(f"SELECT {', '.join(counts)} FROM {table}").iloc[0]
    rows = []
    for i, (lo, hi) in fenced.items():
        if _n(second[f"mid{i}"]) == 0:  # two distinct values at most: a binary column, not checked
            continue
        n, out = _n(first[f"n{i}"]), _n(second[f"out{i}"])
        rows.append({"table": label, "column": numeric[i], "lower_fence": lo, "upper_fence": hi,
                     "outliers": out, "share_outliers": out / n})
    return rows


def _missing_counts(eng, body: list[str], floating: set[str]) -> tuple[int, dict[str, int]]:
    """Customers, and per column the missing values (NULL, and NaN in floating-point columns)."""
    exprs = [f"count(*) FILTER (WHERE {_q(c)} IS NULL" + (f" OR isnan({_q(c)})" if c in floating else "") + f") AS m{i}"
             for i, c in enumerate(body)]
    row = eng.sql(f"SELECT {', '.join(['count(*) AS n', *exprs])} FROM {CUSTOMERS}").iloc[0]
    return _n(row["n"]), {c: _n(row[f"m{i}"]) for i, c in enumerate(body)}


def _transaction_counts(eng, tx_columns: list[str]) -> dict:
    row = eng.sql(
        f"SELECT count(*) AS n, count(*) FILTER (WHERE amount < 0) AS neg, count(*) FILTER (WHERE amount = 0) AS zero, "
        f"min(timestamp) AS first, max(timestamp) AS last, "
        f"(SELECT count(*) FROM (SELECT 1 AS one FROM {TRANSACTIONS} GROUP BY {', '.join(_q(c) for c in tx_columns)}) AS d) "
        f"AS distinct_rows, (SELECT count(*) FROM {CUSTOMERS} AS c LEFT JOIN (SELECT DISTINCT customer_id FROM {TRANSACTIONS}) "
        f"AS t ON c.customer_id = t.customer_id WHERE t.customer_id IS NULL) AS without FROM {TRANSACTIONS}").iloc[0]
    n = _n(row["n"])
    return {
        "transactions": n,
        "exact_duplicate_transactions": n - _n(row["distinct_rows"]),
        "negative_amounts_(returns)": _n(row["neg"]),
        "zero_amounts": _n(row["zero"]),
        "customers_without_transactions": _n(row["without"]),
        "first_transaction": str(pd.Timestamp(row["first"]).date()) if n else None,
        "last_transaction": str(pd.Timestamp(row["last"]).date()) if n else None,
    }


def quality_from_engine(eng, kinds: dict[str, str], tx_columns: list[str] | None, iqr_factor: float) -> dict[str, Any]:
    """:func:`~workbench.privacy.data_quality` of :data:`CUSTOMERS` (and :data:`TRANSACTIONS`) by queries.

    ``kinds``: the customer table's columns -> ``"integer"``, ``"floating"``, ``"bool"`` or ``"other"``
    (from its Parquet schema); ``tx_columns``: the transaction table's columns, None without one.
    """
    body = [c for c in kinds if c != "customer_id"]
    n, missing = _missing_counts(eng, body, {c for c in body if kinds[c] == "floating"})
    numeric = [c for c in body if kinds[c] in ("integer", "floating")]
    rows = _outlier_rows(eng, CUSTOMERS, "customers", numeric, iqr_factor)
    if tx_columns is not None:
        rows += _outlier_rows(eng, TRANSACTIONS, "transactions", ["amount"], iqr_factor)
    dup = eng.sql(
        f"SELECT count(*) - count(DISTINCT customer_id) AS ids, " + (
            f"(SELECT coalesce(sum(size), 0) FROM (SELECT count(*) AS size FROM {CUSTOMERS} "
            f"GROUP BY {', '.join(_q(c) for c in body)}) AS g WHERE size > 1)" if body else "0")
        + f" AS identical FROM {CUSTOMERS}").iloc[0]
    result: dict[str, Any] = {
        "missing": missing_table(missing, n),
        "outliers": pd.DataFrame(rows, columns=OUTLIER_COLUMNS),
        "duplicates": {"duplicate_customer_ids": _n(dup["ids"]),
                       "customers_identical_to_another_on_all_kept_columns": _n(dup["identical"])},
    }
    if tx_columns is not None:
        result["transactions"] = _transaction_counts(eng, tx_columns)
    return result


def column_kinds(schema) -> dict[str, str]:
    """A pyarrow schema's columns -> ``"integer"``, ``"floating"``, ``"bool"`` or ``"other"``."""
    import pyarrow as pa

    def kind(t) -> str:
        if pa.types.is_integer(t):
            return "integer"
        if pa.types.is_floating(t):
            return "floating"
        return "bool" if pa.types.is_boolean(t) else "other"

    return {f.name: kind(f.type) for f in schema}
