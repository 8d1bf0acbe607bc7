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


def _class_sizes(codes: list[np.ndarray]) -> np.ndarray:
    """Size of each row's equivalence class on the combination of columns given by ``codes``."""
    key = np.zeros(len(codes[0]), dtype=np.int64)
    for c in codes:
        key = key * (int(c.max()) + 1 if len(c) else 1) + c
        key, _ = pd.factorize(key)  # keep the key dense: never overflows
        key = key.astype(np.int64)
    counts = np.bincount(key)
    return counts[key]


def _risk_row(sizes: np.ndarray, k: int) -> dict:
    return {
        "k_anonymity": int(sizes.min()) if len(sizes) else 0,
        "share_unique": float((sizes == 1).mean()) if len(sizes) else 0.0,
        "share_below_k": float((sizes < k).mean()) if len(sizes) else 0.0,
        "classes": int(round(float((1.0 / sizes).sum()))) if len(sizes) else 0,
    }


def _combinations(codes: dict, qis: list[str], sizes_all: np.ndarray, k: int, max_combination: int) -> pd.DataFrame:
    """One risk row per subset of up to ``max_combination`` quasi-identifiers (plus the full set)."""
    combos = []
    subsets = [s for r in range(1, min(max_combination, len(qis)) + 1) for s in itertools.combinations(qis, r)]
    if tuple(qis) not in subsets:
        subsets.append(tuple(qis))
    for subset in subsets:
        sizes = sizes_all if subset == tuple(qis) else _class_sizes([codes[c] for c in subset])
        combos.append({"combination": " + ".join(subset), "n_columns": len(subset), **_risk_row(sizes, k)})
    return pd.DataFrame(combos).sort_values(
        ["share_unique", "share_below_k", "n_columns", "combination"], ascending=[False, False, True, True]
    ).reset_index(drop=True)


def _drivers(customers: pd.DataFrame, codes: dict, qis: list[str], share_unique: float) -> pd.DataFrame:
    """Share unique alone and without each quasi-identifier: how much it drives uniqueness."""
    drivers = []
    for c in qis:
        rest = [codes[q] for q in qis if q != c]
        without = float((_class_sizes(rest) == 1).mean()) if rest else 0.0
        drivers.append({
            "quasi_identifier": c, "distinct_values": int(customers[c].nunique(dropna=False)),
            "share_unique_alone": float((_class_sizes([codes[c]]) == 1).mean()),
            "share_unique_without_it": without,
            "uniqueness_removed": share_unique - without,
        })
    return pd.DataFrame(drivers).sort_values(
        ["uniqueness_removed", "quasi_identifier"], ascending=[False, True]
    ).reset_index(drop=True)


def _class_size_bands(sizes_all: np.ndarray, k: int) -> pd.DataFrame:
    """Customers by the size of their class: unique, 2-4, 5 to k-1, k or more."""
    bands = pd.cut(sizes_all, [0, 1, 4, k - 1 if k > 5 else 5, np.inf],
                   labels=["1 (unique)", "2-4", f"5-{k - 1}" if k > 5 else "5", f">= {k}" if k > 5 else "> 5"])
    class_sizes = (
        pd.Series(bands).value_counts(sort=False).rename_axis("class size").rename("customers").reset_index()
    )
    class_sizes["share"] = class_sizes["customers"] / len(sizes_all)
    return class_sizes


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
        return {"quasi_identifiers": qis, "overall": None, "combinations": pd.DataFrame(),
                "drivers": pd.DataFrame(), "class_sizes": pd.DataFrame()}
    codes = {c: _codes(customers, c) for c in qis}
    sizes_all = _class_sizes([codes[c] for c in qis])
    overall = {"quasi_identifiers": ", ".join(qis), **_risk_row(sizes_all, k)}
    combinations = _combinations(codes, qis, sizes_all, k, max_combination)
    drivers = _drivers(customers, codes, qis, overall["share_unique"])
    class_sizes = _class_size_bands(sizes_all, k)
    return {"quasi_identifiers": qis, "overall": overall, "combinations": combinations,
            "drivers": drivers, "class_sizes": class_sizes}


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
