"""What a customer is told about themselves: the data held, by category, and how each item is used.

Algorithms only (rows in, plain dicts out; no run directory). Every value here comes from the one
customer's own rows: the caller filters by pseudonym before calling, so no other customer's data can
reach a statement.
"""

from __future__ import annotations

import math

import pandas as pd

# Why an item is held, in words a customer can read.
USE_SEGMENTATION = "used to choose your segment"
USE_AUDIT = "used only to check that segments treat groups fairly (never to choose your segment)"
USE_HELD = "held, not used to choose your segment"


def data_held(customer: pd.Series, roles: dict, inputs: set[str]) -> list[dict]:
    """The customer's data, grouped by category, with the value held and what it is used for.

    Parameters
    ----------
    customer : Series
        The customer's prepared row (``customer_id`` is left out: it is a pseudonym, not data they gave).
    roles : dict
        ``data/roles.json`` of the run (feature families, sensitive attributes).
    inputs : set of str
        Columns used as segmentation inputs (``segments/features.parquet`` columns).

    Returns
    -------
    list of dict
        ``{"category": str, "items": [{"field", "value", "use"}]}``, categories in the roles' order.
    """
    family = {}
    for fam, cols in (roles.get("features") or {}).items():
        for col in cols:
            family.setdefault(col, fam)
    sensitive = set(roles.get("sensitive") or [])
    groups: dict[str, list[dict]] = {}
    for col, value in customer.items():
        if col == roles.get("id", "customer_id"):
            continue
        category = "sensitive (special care)" if col in sensitive and col not in family else family.get(col, "other")
        use = USE_SEGMENTATION if col in inputs else USE_AUDIT if col in sensitive else USE_HELD
        groups.setdefault(category, []).append({"field": readable(col), "value": shown(value), "use": use})
    return [{"category": c, "items": items} for c, items in groups.items()]


def purchase_summary(transactions: pd.DataFrame | None) -> dict | None:
    """Count, first and last date and total amount of the customer's own transactions (None without any)."""
    if transactions is None or transactions.empty:
        return None
    ts = pd.to_datetime(transactions["timestamp"])
    return {
        "transactions": int(len(transactions)),
        "first": ts.min().date().isoformat(),
        "last": ts.max().date().isoformat(),
        "total_amount": round(float(transactions["amount"].sum()), 2),
    }


def segmentation_values(features: pd.Series) -> list[dict]:
    """The values the segmentation used for this customer (derived features included), readable."""
    return [{"field": readable(c), "value": shown(v)} for c, v in features.items() if c != "customer_id"]


def readable(name: str) -> str:
    """``email_opens_90d`` -> ``email opens (90 days)``."""
    text = str(name).replace("_90d", " (90 days)").replace("_", " ")
    return text


def shown(value) -> str:
    """A value as text: whole numbers without decimals, others with up to 2; missing as "not recorded"."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "not recorded"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) or hasattr(value, "dtype"):
        try:
            f = float(value)
        except (TypeError, ValueError):
            return str(value)
        return f"{int(f):,}" if f.is_integer() else f"{f:,.2f}"
    return str(value)
