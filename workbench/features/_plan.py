"""The feature plan (every candidate input, used or why not) and the feature table it selects."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data import Roles
from ._defaults import DEFAULTS
from ._transactions import TRANSACTION_FAMILIES, ParquetTransactions, level_column, transaction_features
from ._transforms import TRANSFORMS, is_numeric, suggest_transform

_COLUMNS = ["feature", "family", "source", "kind", "transform", "used", "reason"]
_SENSITIVE = "sensitive attribute: audit only (not allowed as an input)"


def _transaction_rows(transactions: pd.DataFrame, settings: dict, exclude: set) -> list[dict]:
    rows = []
    fams = settings["transaction_families"] or list(TRANSACTION_FAMILIES)
    for fam in TRANSACTION_FAMILIES:
        if fam in ("category_shares", "channel_shares"):
            col = fam.split("_")[0]
            if col not in transactions:
                rows.append(dict(feature=fam, family=fam, source="transactions", kind="numeric",
                                 transform="none", used=False, reason=f"no {col} column in the transactions"))
                continue
            counts = (transactions.level_counts(col) if isinstance(transactions, ParquetTransactions)
                      else transactions[col].value_counts(dropna=True))  # fast on categoricals
            counts = counts[counts > 0]
            levels = [str(v) for v in counts.index[: settings["max_levels"]]]
            for level in sorted(levels):
                name = level_column(col + "_", level)
                rows.append(dict(feature=name, family=fam, source="transactions", kind="numeric",
                                 transform="none", used=fam in fams and name not in exclude,
                                 reason="input" if fam in fams and name not in exclude else "not selected"))
            continue
        ok = fam in fams and fam not in exclude
        rows.append(dict(feature=fam, family=fam, source="transactions", kind="numeric",
                         transform=TRANSFORMS.get(fam, "none"), used=ok, reason="input" if ok else "not selected"))
    return rows


def _customer_rows(customers: pd.DataFrame, roles: Roles, settings: dict, exclude: set, tx_names: set) -> list[dict]:
    rows = []
    chosen_fams = settings["customer_families"]
    allow = set(settings["allow_sensitive"] or [])
    include = set(settings["include"] or [])
    for col in roles.feature_columns:
        if col not in customers.columns:
            continue
        family = roles.family_of(col)
        s = customers[col]
        kind = "numeric" if is_numeric(s) else "categorical"
        used, reason = True, "input"
        if col in tx_names:
            used, reason = False, "name clashes with a transaction feature"
        elif col in exclude:
            used, reason = False, "excluded by config"
        elif col in roles.sensitive and col not in allow:
            used, reason = False, _SENSITIVE
        elif chosen_fams is not None and family not in chosen_fams and col not in include:
            used, reason = False, f"family '{family}' not selected"
        elif kind == "categorical" and s.nunique() > settings["max_categories"]:
            used, reason = False, f"{s.nunique()} categories > max_categories={settings['max_categories']}"
        elif s.nunique(dropna=True) <= 1:
            used, reason = False, "constant"
        rows.append(dict(feature=col, family=family, source="customers", kind=kind,
                         transform=suggest_transform(col, s, family), used=used, reason=reason))
    for col in roles.sensitive:
        if col in customers.columns and col not in roles.feature_columns:
            ok = col in allow
            s = customers[col]
            rows.append(dict(feature=col, family="sensitive", source="customers",
                             kind="numeric" if is_numeric(s) else "categorical",
                             transform=suggest_transform(col, s, None), used=ok,
                             reason="input (sensitive, allowed by config)" if ok else _SENSITIVE))
    return rows


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
    if transactions is not None and _has_rows(transactions):
        rows = _transaction_rows(transactions, settings, exclude)
    tx_names = {r["feature"] for r in rows}
    rows += _customer_rows(customers, roles, settings, exclude, tx_names)
    return pd.DataFrame(rows, columns=_COLUMNS)


def _has_rows(transactions) -> bool:
    return transactions.span()[0] > 0 if isinstance(transactions, ParquetTransactions) else len(transactions) > 0


def _add_transaction_features(table, customers, transactions, tx_used, settings, as_of) -> None:
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
        s = customers[col]
        table[col] = s.to_numpy() if is_numeric(s) else s.astype(object).where(s.notna(), None).to_numpy()
    tx_used = used[used["source"] == "transactions"]
    if len(tx_used) and transactions is not None:
        _add_transaction_features(table, customers, transactions, tx_used, settings, as_of)
    return table.reset_index(drop=True)
