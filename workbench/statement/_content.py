"""What a customer is told about themselves: the data held, by category, and how each item is used.

Algorithms only (rows in, plain dicts out; no run directory). Every value here comes from the one
customer's own rows: the caller filters by pseudonym before calling, so no other customer's data can
reach a statement.
"""

from __future__ import annotations

import math
import re

import numpy as np
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


#: Feature names in the words a customer uses.
CUSTOMER_WORDS = {
    "recency": "days since your last purchase",
    "frequency": "number of your purchases",
    "monetary": "total you spent with us",
    "average_order_value": "your average spend per purchase",
    "tenure": "days since your first purchase",
    "holiday_share": "share of your purchases in the holiday season",
    "returns_rate": "share of your purchases you returned",
    "inter_purchase_time": "typical days between your purchases",
    "trend": "whether you buy more or less often than before",
    "clv": "the value we expect your future purchases to have",
    "p_alive": "the chance that you are still an active customer",
    "expected_purchases": "the purchases we expect from you",
    "growth_potential": "whether we think you could buy more",
}


def readable(name: str) -> str:
    """A feature's name in a customer's words: ``recency`` -> "days since your last purchase",
    ``category_grocery`` -> "share of your purchases in grocery", ``email_opens_90d`` -> "email opens (90 days)"."""
    name = str(name)
    if name in CUSTOMER_WORDS:
        return CUSTOMER_WORDS[name]
    share = re.fullmatch(r"(category|channel)_(.+)", name)
    if share:
        kind = "in" if share.group(1) == "category" else "made by"
        return f"share of your purchases {kind} {share.group(2).replace('_', ' ')}"
    if name.startswith("consent_"):
        return "you agreed to " + name[len("consent_"):].replace("_opt_in", "").replace("_", " ")
    return name.replace("_90d", " (90 days)").replace("_", " ")


def shown(value) -> str:
    """A value as text: whole numbers without decimals, others with up to 2; missing as "not recorded"."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "not recorded"
    if isinstance(value, (bool, np.bool_)):  # a consent flag reads yes/no, never 1/0
        return "yes" if value else "no"
    if isinstance(value, (int, float)) or hasattr(value, "dtype"):
        try:
            f = float(value)
        except (TypeError, ValueError):
            return str(value)
        return f"{int(f):,}" if f.is_integer() else f"{f:,.2f}"
    return str(value)


#: What the controller must tell the customer (GDPR Art. 15(1)), as ``report.*`` config keys.
CONTROLLER_KEYS = ("controller", "purpose", "legal_basis", "recipients", "retention", "supervisory_authority")
#: Words naming a special category of personal data (GDPR Art. 9) in a column's name.
SPECIAL_CATEGORY = re.compile(r"ethnic|race|racial|religio|belief|health|politic|sexual|union|biometric|genetic")


def missing_controller_texts(report: dict, held: list[str]) -> list[str]:
    """The ``report.*`` keys an Art. 15 answer needs and the config lacks.

    ``report.special_category_basis`` (the Art. 9 basis) is needed when a held column names a special
    category (:data:`SPECIAL_CATEGORY`), e.g. ethnicity.
    """
    needed = list(CONTROLLER_KEYS)
    if any(SPECIAL_CATEGORY.search(str(c).lower()) for c in held):
        needed.append("special_category_basis")
    return [f"report.{k}" for k in needed if not (report or {}).get(k)]


_ACTION_WORDS = {"premium_offer": "premium offers", "retention_discount": "retention discounts"}


def action_words(action: str) -> str:
    """A policy action or consent purpose in words: ``retention_discount`` -> "retention discounts"."""
    if action == "marketing_opt_in":
        return "marketing messages"
    return _ACTION_WORDS.get(action, action.replace("_", " "))


def consequences(policy: dict[str, list[str]], segment_name: str) -> list[str]:
    """The actions the customer's segment leads to under the run's targeting policy (action words)."""
    return [action_words(a) for a, segments in (policy or {}).items() if segment_name in segments]


def choice_sentences(register: pd.DataFrame, segment_name: str, declared_overrides: bool,
                     selected: dict[str, bool] | None = None) -> list[str]:
    """What the customer told us and what was done with it, one sentence per record in force.

    ``register`` holds this customer's rows of ``data/choices.parquet`` only (the caller filters first).
    """
    out = []
    for r in register.sort_values(["recorded_at", "kind"]).itertuples():
        day = pd.Timestamp(r.recorded_at).date().isoformat()
        if r.kind == "object_action":
            out.append(f"Objection to {action_words(str(r.target))} recorded on {day}: since then you are not "
                       f"selected for {action_words(str(r.target))}.")
        elif r.kind == "contest":
            out.append(f"Your contest of {day} is awaiting review by a person: until then your segment is not "
                       "used for any automated offer.")
        elif r.kind == "declare_segment":
            use = ("we use your statement, not the model's, to decide offers" if declared_overrides
                   else "offers are still decided by the model's segment")
            out.append(f"On {day} you told us you belong to “{r.segment}”; our model placed you in "
                       f"“{segment_name}”; {use}.")
        elif r.kind == "rectify":
            out.append(f"Your correction of {readable(str(r.target))} recorded on {day} replaced the value we held "
                       "before your segment was chosen.")
    return out


def profiling_outputs(explanation: dict, value: pd.Series | None) -> list[dict]:
    """Every profiling output held about the customer: segment, margin, predicted value, growth flag."""
    out = [{"field": "your segment", "value": str(explanation.get("segment_name"))}]
    if explanation.get("margin") is not None:
        out.append({"field": "how clearly you belong to it (margin over the next closest segment)",
                    "value": shown(round(float(explanation["margin"]), 2))})
    if explanation.get("runner_up"):
        out.append({"field": "the next closest segment", "value": str(explanation["runner_up"]["segment_name"])})
    for col in ("clv", "p_alive", "expected_purchases", "growth_potential"):
        if value is not None and col in value.index:
            out.append({"field": readable(col), "value": shown(value[col])})
    return out
