"""Re-identification risk: k-anonymity and uniqueness on quasi-identifiers, and an identifier scan."""

from __future__ import annotations

import itertools
import re
from typing import Any

import numpy as np
import pandas as pd

# Both tests run in linear time on any value. The old unanchored ``[^@\s]+@[^@\s]+\.[a-z]{2,}``
# retried every start position of a long value without '@', each scan running to the end
# (quadratic: a 1 MB cell hung the run). Now each '@' (found by str.find) is examined once, over a
# bounded window, and the phone pattern is one anchored character class on a bounded value.
_EMAIL_DOMAIN = re.compile(r"[^@\s]{1,255}\.[a-z]{2,63}", re.I)
_PHONE = re.compile(r"\+?[\d\s().-]{8,}")
_MAX_SCANNED = 320  # longer than any email address or phone number (RFC 5321: 254 characters)


def _looks_like_email(value: str) -> bool:
    """Some '@' has a non-blank character before it and a dotted domain right after it.

    The same test as the pattern ``[^@\s]+@[^@\s]+\.[a-z]{2,}`` anywhere in the value, done
    in linear time: every '@' is visited once and only a bounded window after it is matched.
    """
    at = value.find("@")
    while at != -1:
        before = value[at - 1] if at > 0 else " "
        if not before.isspace() and before != "@" and _EMAIL_DOMAIN.match(value, at + 1, at + 1 + _MAX_SCANNED):
            return True
        at = value.find("@", at + 1)
    return False


def _looks_like_phone(value: str) -> bool:
    """Only digits, blanks, ``()+.-``, at least 8 of them, and not longer than any phone number."""
    return len(value) <= _MAX_SCANNED and _PHONE.fullmatch(value) is not None


def _codes(df: pd.DataFrame, col: str) -> np.ndarray:
    codes, _ = pd.factorize(df[col], use_na_sentinel=False)
    return codes.astype(np.int64)


def _class_size_histogram(codes: list[np.ndarray]) -> pd.Series:
    """Class size -> number of classes of that size, on the combination of columns given by ``codes``."""
    key = np.zeros(len(codes[0]), dtype=np.int64)
    for c in codes:
        key = key * (int(c.max()) + 1 if len(c) else 1) + c
        key, _ = pd.factorize(key)  # keep the key dense: never overflows
        key = key.astype(np.int64)
    return pd.Series(np.bincount(key)).value_counts().sort_index()


def risk_subsets(qis: list[str], max_combination: int) -> list[tuple[str, ...]]:
    """The combinations of quasi-identifiers whose class sizes the risk tables need.

    Every subset of up to ``max_combination`` columns, the full set, and the full set without each
    column (the drivers), in a fixed order; each once.
    """
    subsets = [s for r in range(1, min(max_combination, len(qis)) + 1) for s in itertools.combinations(qis, r)]
    subsets += [tuple(qis)] + [tuple(q for q in qis if q != c) for c in qis] + [(c,) for c in qis]
    return [s for s in dict.fromkeys(subsets) if s]


def _risk_row(hist: pd.Series, k: int) -> dict:
    """k-anonymity, share unique, share below ``k`` and classes from a class-size histogram."""
    sizes, classes = hist.index.to_numpy(dtype=np.int64), hist.to_numpy(dtype=np.int64)
    customers = sizes * classes
    n = int(customers.sum())
    return {
        "k_anonymity": int(sizes.min()) if n else 0,
        "share_unique": float(classes[sizes == 1].sum() / n) if n else 0.0,
        "share_below_k": float(customers[sizes < k].sum() / n) if n else 0.0,
        "classes": int(classes.sum()) if n else 0,
    }


def _combinations(hists: dict, qis: list[str], k: int, max_combination: int) -> pd.DataFrame:
    """One risk row per subset of up to ``max_combination`` quasi-identifiers (plus the full set)."""
    subsets = [s for r in range(1, min(max_combination, len(qis)) + 1) for s in itertools.combinations(qis, r)]
    if tuple(qis) not in subsets:
        subsets.append(tuple(qis))
    combos = [{"combination": " + ".join(s), "n_columns": len(s), **_risk_row(hists[s], k)} for s in subsets]
    return pd.DataFrame(combos).sort_values(
        ["share_unique", "share_below_k", "n_columns", "combination"], ascending=[False, False, True, True]
    ).reset_index(drop=True)


def _drivers(hists: dict, qis: list[str], share_unique: float) -> pd.DataFrame:
    """Share unique alone and without each quasi-identifier: how much it drives uniqueness."""
    drivers = []
    for c in qis:
        rest = tuple(q for q in qis if q != c)
        without = _risk_row(hists[rest], 1)["share_unique"] if rest else 0.0
        alone = _risk_row(hists[(c,)], 1)
        drivers.append({
            "quasi_identifier": c, "distinct_values": alone["classes"],
            "share_unique_alone": alone["share_unique"],
            "share_unique_without_it": without,
            "uniqueness_removed": share_unique - without,
        })
    return pd.DataFrame(drivers).sort_values(
        ["uniqueness_removed", "quasi_identifier"], ascending=[False, True]
    ).reset_index(drop=True)


def _class_size_bands(hist: pd.Series, k: int) -> pd.DataFrame:
    """Customers by the size of their class: unique, 2-4, 5 to k-1, k or more."""
    sizes = hist.index.to_numpy(dtype=np.int64)
    bands = pd.cut(sizes, [0, 1, 4, k - 1 if k > 5 else 5, np.inf],
                   labels=["1 (unique)", "2-4", f"5-{k - 1}" if k > 5 else "5", f">= {k}" if k > 5 else "> 5"])
    customers = pd.Series(sizes * hist.to_numpy(dtype=np.int64)).groupby(bands, observed=False).sum()
    class_sizes = customers.rename_axis("class size").rename("customers").reset_index()
    class_sizes["share"] = class_sizes["customers"] / int(customers.sum())
    return class_sizes


def risk_tables(hists: dict, qis: list[str], k: int, max_combination: int) -> dict[str, Any]:
    """The risk of :func:`reidentification_risk` from class-size histograms (``risk_subsets(qis, ...)`` each).

    Each histogram is a Series: class size -> number of classes of that size, from pandas here or
    from a group-by in the engine (:func:`workbench.privacy._audit_queries.class_size_histograms`).
    """
    full = hists[tuple(qis)]
    overall = {"quasi_identifiers": ", ".join(qis), **_risk_row(full, k)}
    return {"quasi_identifiers": qis, "overall": overall,
            "combinations": _combinations(hists, qis, k, max_combination),
            "drivers": _drivers(hists, qis, overall["share_unique"]),
            "class_sizes": _class_size_bands(full, k)}


def reidentification_risk(
    customers: pd.DataFrame, quasi_identifiers: list[str], k: int = 10, max_combination: int = 3
) -> dict[str, Any]:
    """How identifiable are customers from their quasi-identifiers?

    A customer whose combination of quasi-identifier values (e.g. age, gender, postcode) is shared
    by no one else is *unique*, and can be singled out by anyone who knows those facts about them.

    Parameters
    ----------
    customers : DataFrame
        The prepared customer table (missing values count as a value of their own).
    quasi_identifiers : list of str
        The declared quasi-identifiers present in ``customers``.
    k : int
        The anonymity level to compare against (the suppression threshold).
    max_combination : int
        Subsets of up to this many quasi-identifiers are assessed (plus the full set).

    Returns
    -------
    dict
        ``overall`` (k-anonymity level, share unique, share in classes smaller than ``k``,
        number of classes, on all quasi-identifiers together), ``combinations`` (one row per
        subset, most identifying first), ``drivers`` (share unique when each quasi-identifier is
        left out: the drop shows how much it drives uniqueness), ``class_sizes`` (customers by the
        size of their class).
    """
    qis = [c for c in quasi_identifiers if c in customers.columns]
    if not qis or customers.empty:
        return no_risk(qis)
    codes = {c: _codes(customers, c) for c in qis}
    hists = {s: _class_size_histogram([codes[c] for c in s]) for s in risk_subsets(qis, max_combination)}
    return risk_tables(hists, qis, k, max_combination)


def no_risk(qis: list[str]) -> dict[str, Any]:
    """The risk result where there is nothing to assess (no quasi-identifier, or no customer)."""
    return {"quasi_identifiers": qis, "overall": None, "combinations": pd.DataFrame(),
            "drivers": pd.DataFrame(), "class_sizes": pd.DataFrame()}


def identifier_scan(customers: pd.DataFrame, sample: int = 2000) -> pd.DataFrame:
    """Kept text columns whose values look like emails or phone numbers (a safety net).

    A column declared as a feature but holding direct identifiers would pass minimisation; this
    scan flags it.

    Parameters
    ----------
    customers : DataFrame
        The prepared customer table.
    sample : int, default 2000
        At most this many evenly spaced non-missing values are checked per column.

    Returns
    -------
    DataFrame
        One row per flagged column (``column``, ``looks_like``, ``share_of_values``): the share of
        matching sampled values, never the values.
    """
    rows = []
    for col in customers.columns:
        if col == "customer_id" or pd.api.types.is_numeric_dtype(customers[col]) or pd.api.types.is_bool_dtype(customers[col]):
            continue
        values = customers[col].dropna().astype(str)
        if len(values) > sample:
            values = values.iloc[np.linspace(0, len(values) - 1, sample).astype(int)]
        if values.empty:
            continue
        email = float(values.map(_looks_like_email).mean())
        phone = float(values.map(_looks_like_phone).mean())
        if max(email, phone) >= 0.2:
            rows.append({"column": col, "looks_like": "email" if email >= phone else "phone",
                         "share_of_values": round(max(email, phone), 3)})
    return pd.DataFrame(rows, columns=["column", "looks_like", "share_of_values"])
