"""The optional campaign table (``dataset.campaigns``): its roles, and reading it on the pandas path.

One row per customer and campaign: who was assigned to which arm (``treatment`` or ``control``, the
randomised holdout) and when, with the response and revenue when the table carries them. Roles map
these names to the file's columns (``dataset.roles.campaigns: {id: …, campaign: …, arm: …,
assigned_at: …, response: …, revenue: …}``); without a roles section the columns carry the role names.
The checks of the values (arms, dates, customers) run in the engine, the same on both input paths
(:mod:`workbench.engine._campaign_queries`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ._reading import read_table
from ._schema import InputError

__all__ = ["CAMPAIGN_ROLES", "REQUIRED_CAMPAIGN_ROLES", "campaign_roles", "read_campaigns"]

#: The roles of the campaign table, in the order of the prepared table's columns.
CAMPAIGN_ROLES = ("id", "campaign", "arm", "assigned_at", "response", "revenue")
#: Roles every campaign table needs; ``response`` and ``revenue`` come from the transactions without.
REQUIRED_CAMPAIGN_ROLES = ("id", "campaign", "arm", "assigned_at")


def campaign_roles(spec: dict[str, Any]) -> dict[str, str]:
    """``{role: column}`` of the campaign table from the dataset section (role names by default).

    An optional role is present only when the roles section names it (a file without a ``response``
    column then gets its response from the transactions).
    """
    given = ((spec.get("roles") or {}).get("campaigns")) or {}
    unknown = sorted(set(given) - set(CAMPAIGN_ROLES))
    if unknown:
        raise InputError(
            f"Config error: dataset.roles.campaigns has unknown role(s) {unknown}; the roles are "
            f"{list(CAMPAIGN_ROLES)}."
        )
    roles = {role: str(given.get(role, role)) for role in REQUIRED_CAMPAIGN_ROLES}
    roles.update({role: str(given[role]) for role in ("response", "revenue") if given.get(role)})
    return roles


def read_campaigns(spec: dict[str, Any], base_dir: Path | str, optional_present: bool = True) -> pd.DataFrame:
    """Read the campaign table (CSV or Parquet) and name its columns by role.

    Columns are matched to the roles ignoring case and surrounding spaces, as for the other tables.
    A ``response`` or ``revenue`` column the file holds under its role name is used even when the
    roles section does not name it (``optional_present``). Every column is returned as text: the
    engine parses and checks the values, so both input paths say the same about a bad value.

    Raises
    ------
    InputError
        A required column is missing: the message names it and the fix.
    """
    roles = campaign_roles(spec)
    path = Path(base_dir) / str(spec["campaigns"])
    wanted = list(dict.fromkeys([*roles.values(), *(("response", "revenue") if optional_present else ())]))
    table = read_table(path, "campaigns", encoding=spec.get("encoding"), delimiter=spec.get("delimiter"),
                       columns=wanted, text_columns=[roles["id"]])
    missing = [f"{column!r} (role {role})" for role, column in roles.items() if column not in table.columns]
    if missing:
        raise InputError(
            f"Input error in table 'campaigns' ({path}): column(s) {', '.join(missing)} missing; the file has "
            f"{list(table.columns)}. Name the columns under dataset.roles.campaigns, e.g. "
            "{id: customer_id, campaign: campaign, arm: arm, assigned_at: assigned_at}."
        )
    for role in ("response", "revenue"):
        if role not in roles and optional_present and role in table.columns:
            roles[role] = role
    out = pd.DataFrame({role: table[column] for role, column in roles.items()})
    return as_text(out)


def as_text(table: pd.DataFrame) -> pd.DataFrame:
    """Every column as text (missing stays missing); timestamps as ISO text the engines parse."""
    out = {}
    for column in table.columns:
        values = table[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            text = values.dt.strftime("%Y-%m-%d %H:%M:%S")
        else:
            text = values.astype(object).where(values.notna(), None)
            text = text.map(lambda v: None if v is None else str(v))
        out[column] = pd.Series(text.to_numpy(dtype=object), dtype=object)
    return pd.DataFrame(out)
