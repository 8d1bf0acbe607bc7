"""Targeting policy: which segments each action reaches, by id, name, pattern or value rank."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..data import InputError


def resolve_policy(
    policy: dict, names: dict[int, str], value_order: list[int] | None = None
) -> dict[str, list[int]]:
    """Segments receiving each action.

    Parameters
    ----------
    policy : dict
        ``{action: spec}``; a spec is ``{"segments": [ids]}``, ``{"names": [names]}``,
        ``{"match": regex}`` (every segment whose name contains a match, :func:`re.search`),
        ``{"top_value": n}``, ``{"bottom_value": n}`` or a plain list of ids.
    names : dict
        Segment id -> name.
    value_order : list of int, optional
        Segment ids from lowest to highest value; defaults to id order.
    """
    ids = sorted(int(i) for i in names)
    order = [int(i) for i in (value_order or ids) if int(i) in ids]
    by_name = {str(v): int(k) for k, v in names.items()}
    out = {}
    for action, spec in (policy or {}).items():
        if isinstance(spec, (list, tuple)):
            spec = {"segments": list(spec)}
        spec = dict(spec or {})
        if "segments" in spec:
            chosen = [int(i) for i in spec["segments"]]
            bad = [i for i in chosen if i not in ids]
            if bad:
                raise ValueError(f"Policy '{action}': segment ids {bad} do not exist (ids: {ids}).")
        elif "names" in spec:
            bad = [nm for nm in spec["names"] if str(nm) not in by_name]
            if bad:
                raise ValueError(f"Policy '{action}': segment names {bad} do not exist ({sorted(by_name)}).")
            chosen = [by_name[str(nm)] for nm in spec["names"]]
        elif "match" in spec:
            try:
                pattern = re.compile(str(spec["match"]))
            except re.error as exc:
                raise ValueError(f"Policy '{action}': match {spec['match']!r} is not a regular expression: {exc}.")
            chosen = [i for i in ids if pattern.search(str(names[i]))]
            if not chosen:
                raise ValueError(f"Policy '{action}': no segment name matches {spec['match']!r} ({sorted(by_name)}).")
        elif "top_value" in spec:
            chosen = order[::-1][: int(spec["top_value"])]
        elif "bottom_value" in spec:
            chosen = order[: int(spec["bottom_value"])]
        else:
            raise ValueError(
                f"Policy '{action}': give segments: [ids], names: [names], match: regex, top_value: n or "
                "bottom_value: n."
            )
        out[str(action)] = sorted(set(chosen))
    return out


def _action_text(action: str) -> str:
    return "the " + action.replace("_", " ")


def _spec_text(spec, order_source: str) -> str:
    if isinstance(spec, (list, tuple)):
        return "segment ids"
    if "top_value" in spec:
        return f"top {spec['top_value']} by value ({order_source})"
    if "bottom_value" in spec:
        return f"bottom {spec['bottom_value']} by value ({order_source})"
    if "match" in spec:
        return f"segment names matching {spec['match']!r}"
    return "segment names" if "names" in spec else "segment ids"


def _customer_value(features: pd.DataFrame, customers: pd.DataFrame, roles, column: str | None) -> tuple[np.ndarray | None, str | None]:
    if column:
        src = features if column in features.columns else customers
        return pd.to_numeric(src[column], errors="coerce").to_numpy(dtype=float), column
    if "monetary" in features.columns:
        return features["monetary"].to_numpy(dtype=float), "monetary"
    for c in (roles.features or {}).get("value", []):
        if c in customers.columns:
            return pd.to_numeric(customers[c], errors="coerce").to_numpy(dtype=float), c
    return None, None


def _value_order(labels: np.ndarray, value: np.ndarray | None) -> list[int]:
    ids = np.unique(labels)
    if value is None:
        return [int(i) for i in ids]
    means = pd.Series(value).groupby(labels).mean()
    return [int(i) for i in means.sort_values(kind="stable").index]


def action_options(policy: dict) -> dict[str, dict]:
    """Per action: ``favourable`` (bool, default True) and ``consent`` (purpose or None).

    An adverse action (a price rise, exclusion from a service) says ``favourable: false``: its most
    favoured group is the one that receives it least. ``consent: marketing_opt_in`` restricts the
    action to customers who gave that consent.
    """
    out = {}
    for action, spec in (policy or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        fav = spec.get("favourable", True)
        if not isinstance(fav, bool):
            raise ValueError(f"Policy '{action}': favourable must be true or false, got {fav!r}.")
        consent = spec.get("consent")
        out[str(action)] = {"favourable": fav, "consent": None if consent in (None, "") else str(consent)}
    return out


def consent_column(columns, purpose: str, roles_consent: dict | None = None) -> str:
    """The prepared customer table's column holding consent for ``purpose``.

    ``consent_<purpose>`` (what data preparation keeps per purpose), else the column the dataset's
    consent roles name for it. A purpose with neither is a config error that names the fix.
    """
    cols = set(columns)
    for candidate in (f"consent_{purpose}", (roles_consent or {}).get(purpose)):
        if candidate and candidate in cols:
            return candidate
    raise InputError(
        f"The fairness policy needs consent '{purpose}', but the prepared customer table has no column "
        f"'consent_{purpose}' (nor the column the consent roles name for it). Declare it under "
        f"dataset roles consent: {{{purpose}: <column>}} or remove 'consent: {purpose}' from the policy."
    )
