"""Data minimisation: the column inventory (role, purpose, kept or not) and the minimised table."""

from __future__ import annotations

import pandas as pd

from ..data import Roles

_PURPOSE = {
    "id": "linking tables; replaced by a keyed pseudonym",
    "direct_identifier": "none: direct identifiers are never needed for segmentation",
    "quasi_identifier": "re-identification risk assessment",
    "sensitive": "fairness audit only (not a segmentation input unless allowed)",
    "feature": "segmentation input",
    "outcome": "value KPIs and outcome-based fairness metrics",
    "consent": "consent enforcement",
    "segment": "externally assigned segment labels under audit",
    "assigned_at": "when the external segment label was assigned (staleness)",
}


def _roles_of(col: str, roles: Roles) -> list[str]:
    """Every role ``col`` plays, in the order of :data:`_PURPOSE`."""
    found = []
    if col == roles.id:
        found.append("id")
    if col in roles.direct_identifiers:
        found.append("direct_identifier")
    if col in roles.quasi_identifiers:
        found.append("quasi_identifier")
    if col in roles.sensitive:
        found.append("sensitive")
    if col in roles.feature_columns:
        found.append("feature")
    if col == roles.outcome:
        found.append("outcome")
    if col in roles.consent.values():
        found.append("consent")
    if col == roles.segment:
        found.append("segment")
    if col == roles.assigned_at:
        found.append("assigned_at")
    return found


def _consent_outcome(col: str, roles: Roles) -> tuple[bool, str]:
    """Profiling opt-out is applied at preparation; every other purpose is kept for per-action use."""
    purpose = next(p for p, c in roles.consent.items() if c == col)
    if purpose == "profiling_opt_out":
        return False, "used to exclude opted-out customers, then dropped"
    return True, f"consent for a purpose applied per action: kept as boolean consent_{purpose}"


def inventory(columns: list[str], roles: Roles) -> pd.DataFrame:
    """One row per input column: its role(s), purpose, and whether minimisation keeps it.

    Parameters
    ----------
    columns : list of str
        The input customer table's columns.
    roles : Roles

    Returns
    -------
    DataFrame
        ``column``, ``role``, ``family``, ``kept``, ``purpose_or_reason``.
    """
    rows = []
    for col in columns:
        found = _roles_of(col, roles)
        if "direct_identifier" in found:
            kept, why = False, "direct identifier: dropped at load"
        elif not found:
            kept, why = False, "no declared role or purpose: dropped (data minimisation)"
        elif found == ["consent"]:
            kept, why = _consent_outcome(col, roles)
        else:
            kept, why = True, "; ".join(_PURPOSE[r] for r in found)
        rows.append(
            {
                "column": col,
                "role": ", ".join(found) or "none",
                "family": roles.family_of(col) or "",
                "kept": kept,
                "purpose_or_reason": why,
            }
        )
    return pd.DataFrame(rows)


def minimise(customers: pd.DataFrame, roles: Roles) -> tuple[pd.DataFrame, Roles, pd.DataFrame]:
    """Keep only columns with a declared purpose; return the table, the pruned roles, the inventory.

    Parameters
    ----------
    customers : DataFrame
        The input customer table.
    roles : Roles

    Returns
    -------
    tuple
        The minimised table, the roles without direct identifiers (``consent`` then names the
        ``consent_<purpose>`` columns kept for per-action use, added by :func:`consent_columns`),
        and the :func:`inventory`.
    """
    per_action = {c: f"consent_{p}" for p, c in roles.consent.items() if p != "profiling_opt_out"}
    table = inventory([c for c in customers.columns if c not in per_action.values() or c in per_action], roles)
    kept = [c for c in table.loc[table["kept"], "column"] if c not in per_action]
    kept += [c for c in per_action.values() if c in customers.columns]
    pruned = Roles.from_dict(roles.to_dict())
    pruned.direct_identifiers = []
    pruned.consent = {p: f"consent_{p}" for p in roles.consent if p != "profiling_opt_out" and f"consent_{p}" in customers.columns}
    return customers[kept].copy(), pruned, table
