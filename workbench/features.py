"""Customer features for segmentation: every feature family, computed where the data is.

User guide
----------
:func:`build_features` turns a customer table and an optional transaction table into one row per
customer (``customer_id`` plus raw features in original units). Two kinds of families exist:

* **transaction families** (behavioural and value-based), aggregated by one SQL ``GROUP BY`` that DuckDB
  runs over the DataFrame, so the same query scales to tens of millions of rows (and is portable to
  a distributed SQL engine): ``recency`` (days since the last purchase), ``frequency`` (purchases),
  ``monetary`` (net spend, returns subtracted), ``tenure`` (days since the first purchase),
  ``average_order_value``, ``inter_purchase_time`` (mean days between purchases), ``trend``
  (purchases in the last period against the one before, in [-1, 1]), ``category_shares`` and
  ``channel_shares`` (share of purchases per category / channel), ``holiday_share`` (share of
  purchases in the holiday season) and ``returns_rate`` (share of transactions that are returns);
* **customer-table families** declared in the dataset's roles: demographic, geographic,
  psychographic, technographic, engagement, behavioural, value.

Which families and columns enter is set in the ``segmentation.features`` config section
(:data:`DEFAULTS`). Sensitive attributes are never inputs unless listed in ``allow_sensitive``;
categorical columns with more than ``max_categories`` levels (e.g. postcodes) are left out.
:func:`feature_plan` lists every candidate input with its family, source, suggested transform and
whether (and why not) it is used, for the report.

:func:`rfm` gives the bare recency/frequency/monetary triple; :func:`rfm_scores` turns it into 1-5
scores (quintiles; equal values always get equal scores; 5 = most recent / most frequent / highest
spend) and the standard named RFM groups of :data:`RFM_GROUPS`, the one place the mapping is written.

With ``as_of``, only transactions strictly before ``as_of`` count and recency and tenure are measured
at ``as_of``; customers without purchases before it get frequency 0, monetary 0, trend 0 and NaN
elsewhere (the segmentation model imputes them).
"""

from __future__ import annotations

import re
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from .data import Roles

__all__ = [
    "DEFAULTS",
    "RFM_GROUPS",
    "TRANSACTION_FAMILIES",
    "build_features",
    "default_as_of",
    "feature_plan",
    "rfm",
    "rfm_group",
    "rfm_scores",
    "transaction_features",
]

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

DEFAULTS: dict[str, Any] = {
    # transaction families to compute (None: all of TRANSACTION_FAMILIES)
    "transaction_families": None,
    # customer-table families to use (None: every family declared in the roles)
    "customer_families": None,
    "include": [],  # extra customer columns to use even if their family is not selected
    "exclude": [],  # columns never to use
    "allow_sensitive": [],  # sensitive attributes explicitly allowed as inputs (default: none)
    "max_categories": 20,  # categorical columns with more levels are left out (e.g. postcode)
    "trend_days": 180,  # length of the "last period" and "previous period" of `trend`
    "holiday_season": [[11, 15], [12, 24]],  # (month, day) start and end, inclusive
    "max_levels": 12,  # at most this many category / channel share columns
}

# How each transaction feature enters the model (recorded again in the fitted model).
TRANSFORMS = {
    "recency": "log",
    "frequency": "log",
    "monetary": "log",
    "tenure": "none",
    "average_order_value": "log",
    "inter_purchase_time": "log",
    "trend": "none",
    "holiday_share": "none",
    "returns_rate": "none",
}

# -- transaction features (DuckDB) ------------------------------------------------------------------


def default_as_of(transactions: pd.DataFrame) -> pd.Timestamp:
    """The day after the last transaction's date: every transaction counts, recency >= 1."""
    return pd.Timestamp(transactions["timestamp"].max()).normalize() + pd.Timedelta(days=1)


def _name(prefix: str, value: Any) -> str:
    return prefix + re.sub(r"[^0-9a-zA-Z]+", "_", str(value)).strip("_").lower()


def _levels(con, values: pd.Series, column: str, max_levels: int) -> list[str]:
    if isinstance(values.dtype, pd.CategoricalDtype):  # counts straight from the codes
        counts = values.value_counts(dropna=True)
        counts = counts[counts > 0].sort_index(key=lambda i: i.astype(str)).sort_values(ascending=False, kind="stable")
        return sorted(str(v) for v in counts.index[:max_levels])
    rows = con.execute(
        f"SELECT CAST({column} AS VARCHAR) AS v, count(*) AS n FROM tx WHERE {column} IS NOT NULL "
        f"GROUP BY 1 ORDER BY n DESC, v LIMIT {int(max_levels)}"
    ).fetchall()
    return sorted(r[0] for r in rows)


def _quote(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def transaction_features(
    transactions: pd.DataFrame,
    as_of: pd.Timestamp | str | None = None,
    families: list[str] | tuple[str, ...] | None = None,
    settings: dict | None = None,
    customer_ids: pd.Series | None = None,
) -> pd.DataFrame:
    """Aggregate a transaction table to one row per customer with one SQL query in DuckDB.

    Parameters
    ----------
    transactions : DataFrame
        ``customer_id``, ``timestamp``, ``amount`` (negative = return) and optionally ``category``
        and ``channel``.
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
    con = duckdb.connect()
    try:
        con.register("src", transactions[cols] if list(transactions.columns) != cols else transactions)
        lit = lambda t: f"TIMESTAMP '{pd.Timestamp(t).isoformat(sep=' ')}'"  # noqa: E731
        a = lit(as_of)
        mid = lit(as_of - pd.Timedelta(days=settings["trend_days"]))
        prev = lit(as_of - pd.Timedelta(days=2 * settings["trend_days"]))
        con.execute(f"CREATE TEMP VIEW tx AS SELECT * FROM src WHERE timestamp < {a}")
        # One scan, one GROUP BY: every feature is an aggregate with a FILTER clause (standard SQL,
        # apart from date_diff), so no per-row columns are materialised.
        purchase = "amount > 0"
        n_p = f"nullif(count(*) FILTER (WHERE {purchase}), 0)"
        sel = ["customer_id", f"count(*) FILTER (WHERE {purchase}) AS frequency"]
        if "recency" in families:
            sel.append(f"date_diff('day', max(timestamp) FILTER (WHERE {purchase}), {a}) AS recency")
        if "monetary" in families:
            sel.append("sum(amount) AS monetary")
        if "tenure" in families:
            sel.append(f"date_diff('day', min(timestamp) FILTER (WHERE {purchase}), {a}) AS tenure")
        if "average_order_value" in families:
            sel.append(f"sum(amount) FILTER (WHERE {purchase}) / {n_p} AS average_order_value")
        if "inter_purchase_time" in families:
            sel.append(
                f"CASE WHEN count(*) FILTER (WHERE {purchase}) > 1 THEN CAST(date_diff('day', "
                f"min(timestamp) FILTER (WHERE {purchase}), max(timestamp) FILTER (WHERE {purchase})) AS DOUBLE) "
                f"/ (count(*) FILTER (WHERE {purchase}) - 1) END AS inter_purchase_time"
            )
        if "trend" in families:
            # purchases in the last period minus purchases in the one before, over both counts
            last = f"count(*) FILTER (WHERE {purchase} AND timestamp >= {mid})"
            before = f"count(*) FILTER (WHERE {purchase} AND timestamp >= {prev} AND timestamp < {mid})"
            both = f"count(*) FILTER (WHERE {purchase} AND timestamp >= {prev})"
            sel.append(f"coalesce(CAST({last} - {before} AS DOUBLE) / nullif({both}, 0), 0.0) AS trend")
        for fam, column in (("category_shares", "category"), ("channel_shares", "channel")):
            if fam in families and column in transactions:
                for level in _levels(con, transactions[column], column, settings["max_levels"]):
                    name = _name(column + "_", level)
                    sel.append(
                        f"count(*) FILTER (WHERE {purchase} AND {column} = {_quote(level)}) / {n_p} AS {name}"
                    )
        if "holiday_share" in families:
            (m0, d0), (m1, d1) = settings["holiday_season"]
            md = "(EXTRACT(MONTH FROM timestamp) * 100 + EXTRACT(DAY FROM timestamp))"
            lo, hi = m0 * 100 + d0, m1 * 100 + d1
            cond = f"{md} BETWEEN {lo} AND {hi}" if lo <= hi else f"({md} >= {lo} OR {md} <= {hi})"
            sel.append(f"count(*) FILTER (WHERE {purchase} AND {cond}) / {n_p} AS holiday_share")
        if "returns_rate" in families:
            sel.append("avg(CAST(amount < 0 AS INTEGER)) AS returns_rate")
        query = f"SELECT {', '.join(sel)} FROM tx GROUP BY customer_id"
        if customer_ids is not None:
            # Join in the database, in the caller's row order: cheaper than a pandas merge on strings.
            con.register("ids", pd.DataFrame({"customer_id": customer_ids.to_numpy(), "row_": np.arange(len(customer_ids))}))
            query = (
                f"SELECT ids.customer_id, agg.* EXCLUDE (customer_id) FROM ids LEFT JOIN ({query}) agg "
                "USING (customer_id) ORDER BY ids.row_"
            )
        out = con.execute(query).df()
    finally:
        con.close()
    if "frequency" not in families:
        out = out.drop(columns="frequency")
    for col in ("recency", "tenure"):
        if col in out:
            out[col] = out[col].astype("float64")  # NaN for customers with returns only
    if "frequency" in out:
        out["frequency"] = out["frequency"].fillna(0).astype("int64")  # no purchases: 0
    return out


def rfm(transactions: pd.DataFrame, as_of: pd.Timestamp | str | None = None) -> pd.DataFrame:
    """Recency (days since last purchase), frequency (purchases) and monetary (net spend) per customer."""
    return transaction_features(transactions, as_of, families=["recency", "frequency", "monetary"])


# -- RFM scores and named groups ---------------------------------------------------------------------

#: The standard named RFM groups, the only place the mapping is written. Each row: name, the
#: recency scores and frequency scores it covers (5 = most recent / most frequent), and what it
#: means. Every (R, F) pair belongs to exactly one group.
RFM_GROUPS = pd.DataFrame(
    [
        ("Champions", (5,), (4, 5), "bought very recently and buy most often"),
        ("Loyal", (3, 4), (4, 5), "buy often, bought fairly recently"),
        ("Potential loyalists", (4, 5), (2, 3), "recent customers with a few purchases"),
        ("New", (5,), (1,), "bought very recently, for the first time or rarely"),
        ("Promising", (4,), (1,), "bought recently, rarely"),
        ("Need attention", (3,), (3,), "average recency and frequency"),
        ("About to sleep", (3,), (1, 2), "average recency, rarely bought"),
        ("Cannot lose", (1, 2), (5,), "used to buy most often, not for a long time"),
        ("At risk", (1, 2), (3, 4), "bought often, not for a long time"),
        ("Hibernating", (1, 2), (1, 2), "bought rarely and long ago (but not the oldest single buyers)"),
        ("Lost", (1,), (1,), "bought rarely, longest ago"),
    ],
    columns=["group", "r_scores", "f_scores", "meaning"],
)


def rfm_group(r_score: int, f_score: int) -> str:
    """Name of the RFM group of a recency and a frequency score (see :data:`RFM_GROUPS`)."""
    if (r_score, f_score) == (1, 1):
        return "Lost"
    for row in RFM_GROUPS.itertuples():
        if r_score in row.r_scores and f_score in row.f_scores:
            return row.group
    raise ValueError(f"No RFM group for R={r_score}, F={f_score}")


def _score(values: pd.Series, higher_is_better: bool = True) -> pd.Series:
    """1-5 quintile score; equal values share the lowest rank, so ties always get the same score."""
    v = values if higher_is_better else -values
    rank = v.rank(method="min")  # 1..n, ties share the smallest rank
    n = v.notna().sum()
    return (1 + np.floor(5 * (rank - 1) / max(n, 1))).astype("Int64")


def rfm_scores(rfm_table: pd.DataFrame) -> pd.DataFrame:
    """Add ``r_score``, ``f_score``, ``m_score`` (1-5), ``rfm_cell`` ("545") and ``rfm_group``.

    Scores are quintiles of the customers with at least one purchase: score ``s`` covers ranks
    ``(s-1)/5 <= (rank-1)/n < s/5`` with ties given the smallest rank, so equal values always get
    equal scores. ``r_score`` 5 means most recent (smallest recency); ``f_score`` and ``m_score`` 5
    mean most purchases and highest net spend. Customers without purchases get the group
    ``"No purchases"`` and missing scores.
    """
    out = rfm_table.copy()
    buyers = out["frequency"].fillna(0) > 0
    for col, name, better in (("recency", "r_score", False), ("frequency", "f_score", True), ("monetary", "m_score", True)):
        out[name] = pd.Series(pd.NA, index=out.index, dtype="Int64")
        out.loc[buyers, name] = _score(out.loc[buyers, col].astype(float), better)
    cell = out["r_score"].astype(str) + out["f_score"].astype(str) + out["m_score"].astype(str)
    out["rfm_cell"] = cell.where(buyers, None)
    lookup = {(r, f): rfm_group(r, f) for r in range(1, 6) for f in range(1, 6)}
    out["rfm_group"] = [
        lookup[(int(r), int(f))] if b else "No purchases"
        for r, f, b in zip(out["r_score"].fillna(0), out["f_score"].fillna(0), buyers)
    ]
    return out


# -- customer-table features and the full feature table ---------------------------------------------


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def _suggest_transform(name: str, s: pd.Series, family: str | None) -> str:
    if name in TRANSFORMS:
        return TRANSFORMS[name]
    if name.startswith(("category_", "channel_")):
        return "none"
    if not _is_numeric(s):
        return "onehot"
    x = s.dropna().astype(float)
    if len(x) == 0 or x.nunique() <= 2:
        return "none"
    if x.min() >= 0 and (family in ("value", "engagement") or (x.nunique() > 10 and x.skew() > 1.5)):
        return "log"
    return "none"


def feature_plan(
    customers: pd.DataFrame,
    transactions: pd.DataFrame | None,
    roles: Roles,
    settings: dict | None = None,
) -> pd.DataFrame:
    """Every candidate input with family, source, kind, transform, and whether and why it is used.

    Returns
    -------
    DataFrame
        Columns ``feature``, ``family``, ``source`` ("transactions" or "customers"), ``kind``
        ("numeric" or "categorical"), ``transform`` ("log", "none", "onehot"), ``used`` (bool) and
        ``reason`` (why it is left out, or "input").
    """
    settings = {**DEFAULTS, **(settings or {})}
    rows = []
    exclude = set(settings["exclude"] or [])
    if transactions is not None and len(transactions):
        fams = settings["transaction_families"] or list(TRANSACTION_FAMILIES)
        for fam in TRANSACTION_FAMILIES:
            if fam in ("category_shares", "channel_shares"):
                col = fam.split("_")[0]
                if col not in transactions:
                    rows.append(dict(feature=fam, family=fam, source="transactions", kind="numeric",
                                     transform="none", used=False, reason=f"no {col} column in the transactions"))
                    continue
                counts = transactions[col].value_counts(dropna=True)  # fast on categoricals
                counts = counts[counts > 0]
                levels = [str(v) for v in counts.index[: settings["max_levels"]]]
                for level in sorted(levels):
                    name = _name(col + "_", level)
                    rows.append(dict(feature=name, family=fam, source="transactions", kind="numeric",
                                     transform="none", used=fam in fams and name not in exclude,
                                     reason="input" if fam in fams and name not in exclude else "not selected"))
                continue
            ok = fam in fams and fam not in exclude
            rows.append(dict(feature=fam, family=fam, source="transactions", kind="numeric",
                             transform=TRANSFORMS.get(fam, "none"), used=ok, reason="input" if ok else "not selected"))
    tx_names = {r["feature"] for r in rows}
    chosen_fams = settings["customer_families"]
    allow = set(settings["allow_sensitive"] or [])
    include = set(settings["include"] or [])
    for col in roles.feature_columns:
        if col not in customers.columns:
            continue
        family = roles.family_of(col)
        s = customers[col]
        kind = "numeric" if _is_numeric(s) else "categorical"
        used, reason = True, "input"
        if col in tx_names:
            used, reason = False, "name clashes with a transaction feature"
        elif col in exclude:
            used, reason = False, "excluded by config"
        elif col in roles.sensitive and col not in allow:
            used, reason = False, "sensitive attribute: audit only (not allowed as an input)"
        elif chosen_fams is not None and family not in chosen_fams and col not in include:
            used, reason = False, f"family '{family}' not selected"
        elif kind == "categorical" and s.nunique() > settings["max_categories"]:
            used, reason = False, f"{s.nunique()} categories > max_categories={settings['max_categories']}"
        elif s.nunique(dropna=True) <= 1:
            used, reason = False, "constant"
        rows.append(dict(feature=col, family=family, source="customers", kind=kind,
                         transform=_suggest_transform(col, s, family), used=used, reason=reason))
    for col in roles.sensitive:
        if col in customers.columns and col not in roles.feature_columns:
            ok = col in allow
            s = customers[col]
            rows.append(dict(feature=col, family="sensitive", source="customers",
                             kind="numeric" if _is_numeric(s) else "categorical",
                             transform=_suggest_transform(col, s, None), used=ok,
                             reason="input (sensitive, allowed by config)" if ok
                             else "sensitive attribute: audit only (not allowed as an input)"))
    return pd.DataFrame(rows, columns=["feature", "family", "source", "kind", "transform", "used", "reason"])


def build_features(
    customers: pd.DataFrame,
    transactions: pd.DataFrame | None,
    roles: Roles,
    settings: dict | None = None,
    as_of: pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """One row per customer: ``customer_id`` plus every used feature, in original units.

    Parameters
    ----------
    customers : DataFrame
        Prepared customer table (column ``customer_id``).
    transactions : DataFrame or None
        Prepared transaction table, or ``None`` (customer-table features only).
    roles : Roles
        Column roles (features by family, sensitive attributes).
    settings : dict, optional
        The ``segmentation.features`` config section (see :data:`DEFAULTS`).
    as_of : Timestamp, optional
        Only transactions strictly before ``as_of`` count; recency and tenure are measured at it.

    Returns
    -------
    DataFrame
        Rows in the order of ``customers``. Customers without purchases before ``as_of`` have
        frequency 0, monetary 0, trend 0 and NaN recency/tenure/averages/shares.
    """
    settings = {**DEFAULTS, **(settings or {})}
    plan = feature_plan(customers, transactions, roles, settings)
    used = plan[plan["used"]]
    table = customers[["customer_id"]].copy()
    for col in used.loc[used["source"] == "customers", "feature"]:
        table[col] = customers[col].to_numpy() if _is_numeric(customers[col]) else customers[col].astype(object).where(customers[col].notna(), None).to_numpy()
    tx_used = used[used["source"] == "transactions"]
    if len(tx_used) and transactions is not None:
        fams = list(dict.fromkeys(tx_used["family"]))
        agg = transaction_features(
            transactions, as_of=as_of, families=fams, settings=settings, customer_ids=customers["customer_id"]
        )
        for col in tx_used["feature"]:
            if col in agg.columns:
                table[col] = agg[col].to_numpy()
        for col in ("frequency",):
            if col in table:
                table[col] = table[col].fillna(0).astype("int64")
        for col in ("monetary", "trend"):
            if col in table:
                table[col] = table[col].fillna(0.0)
        for col in tx_used["feature"]:
            if col not in table:  # a level absent before as_of
                table[col] = np.nan
    return table.reset_index(drop=True)
