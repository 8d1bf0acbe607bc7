"""Segment names: short descriptive phrases from the inputs that most distinguish each segment."""

from __future__ import annotations

import pandas as pd

#: Phrases for the names of segments: feature -> (phrase when high, phrase when low). ``None``: the
#: direction is not used for names. Features not listed get "high <feature>" / "low <feature>".
PHRASES: dict[str, tuple[str | None, str | None]] = {
    "recency": ("lapsed", "recent buyers"),
    "frequency": ("frequent buyers", "infrequent buyers"),
    "monetary": ("high spenders", "low spenders"),
    "tenure": ("long-standing", "new"),
    "average_order_value": ("big baskets", "small baskets"),
    "inter_purchase_time": ("long gaps between purchases", "short gaps between purchases"),
    "trend": ("growing", "declining"),
    "holiday_share": ("holiday shoppers", "off-season shoppers"),
    "returns_rate": ("frequent returners", "rare returners"),
    "email_opens_90d": ("email-engaged", "email-inactive"),
    "site_visits_90d": ("frequent site visitors", "rare site visitors"),
    "app_user": ("app users", "non-app users"),
    "price_sensitivity": ("price-sensitive", "price-insensitive"),
    "brand_affinity": ("brand-loyal", "brand-indifferent"),
    "monthly_charges": ("high monthly charges", "low monthly charges"),
    "total_charges": ("high total charges", "low total charges"),
}


#: Inputs that names prefer (their |z| is multiplied by this when ranking): the behavioural and value
#: features marketers name segments by.
NAME_PRIORITY = {"recency": 1.5, "frequency": 1.5, "monetary": 1.5, "tenure": 1.5, "holiday_share": 1.3,
                 "average_order_value": 1.2}


def phrase_for(feature: str, high: bool) -> str | None:
    """The phrase a name uses for a model input that is high (or low) in a segment."""
    if feature in PHRASES:
        return PHRASES[feature][0 if high else 1]
    words = feature.replace("_", " ")
    if "=" in feature:
        col, level = feature.split("=", 1)
        return f"{col.replace('_', ' ')}: {level}" if high else None
    for prefix, what in (("category_", "buyers"), ("channel_", "shoppers")):
        if feature.startswith(prefix):
            return f"{feature[len(prefix):].replace('_', ' ')} {what}" if high else None
    return f"high {words}" if high else f"low {words}"


def _terms(row: pd.Series, min_z: float) -> list[str]:
    """One segment's phrases, most distinguishing input first."""
    weight = pd.Series([NAME_PRIORITY.get(str(c), 0.7 if str(c).startswith(("category_", "channel_")) else 1.0)
                        for c in row.index], index=row.index)
    order = (row.abs() * weight).sort_values(ascending=False, kind="stable")
    terms = []
    for feature, value in order.items():
        if abs(row[feature]) < min_z:
            continue
        phrase = phrase_for(str(feature), bool(row[feature] > 0))
        if "=" in str(feature) and any(": " in t for t in terms):
            continue  # at most one category level per name: they tend to repeat one fact
        if phrase and phrase not in terms:
            terms.append(phrase)
    return terms


def name_segments(z: pd.DataFrame, max_terms: int = 3, min_z: float = 0.5) -> dict[int, str]:
    """Short descriptive names from each segment's most distinguishing inputs.

    The inputs with the largest ``|z|`` (at least ``min_z``; weighted by :data:`NAME_PRIORITY`, and
    by 0.7 for category and channel shares) give
    up to ``max_terms`` phrases of :data:`PHRASES`, e.g. "Frequent buyers, high spenders, app users".
    Duplicate names get another term or, failing that, the segment id.
    """
    names: dict[int, str] = {}
    candidates: dict[int, list[str]] = {}
    for seg, row in z.iterrows():
        candidates[int(seg)] = _terms(row, min_z) or ["average customers"]
    for seg, terms in candidates.items():
        names[seg] = _compose(terms[:max_terms])
    counts = pd.Series(names).value_counts()
    for seg, terms in candidates.items():
        if counts[names[seg]] > 1:
            longer = _compose(terms[: max_terms + 1]) if len(terms) > max_terms else None
            names[seg] = longer if longer and longer not in names.values() else f"{names[seg]} ({seg})"
    return names


def _compose(terms: list[str]) -> str:
    text = ", ".join(terms)
    return text[:1].upper() + text[1:]
