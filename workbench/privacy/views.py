"""Privacy results as tables for notebooks 01 and 06 (no run directory, no computation of risk)."""

from __future__ import annotations

import pandas as pd

__all__ = ["minimisation_summary", "provenance_table"]


def _reason(row) -> str:
    if row["kept"]:
        if str(row["purpose_or_reason"]).startswith("consent for a purpose"):
            return "kept: consent flag for per-action use"
        return "kept: declared purpose"
    text = str(row["purpose_or_reason"])
    if text.startswith("direct identifier"):
        return "dropped: direct identifier"
    if text.startswith("used to exclude"):
        return "dropped: consent flag, applied then dropped"
    return "dropped: no declared purpose"


def minimisation_summary(inventory_table: pd.DataFrame) -> pd.DataFrame:
    """Counts of input columns kept and dropped, by reason (from :func:`inventory`).

    Parameters
    ----------
    inventory_table : DataFrame
        The output of :func:`workbench.privacy.inventory`.

    Returns
    -------
    DataFrame
        ``outcome``, ``columns`` (how many), ``which`` (their names), sorted by outcome.
    """
    reasons = inventory_table.apply(_reason, axis=1) if len(inventory_table) else pd.Series([], dtype=str)
    out = reasons.value_counts().rename_axis("outcome").rename("columns").reset_index()
    cols = inventory_table.groupby(reasons)["column"].apply(lambda c: ", ".join(map(str, c))) if len(inventory_table) else {}
    out["which"] = out["outcome"].map(cols)
    return out.sort_values("outcome").reset_index(drop=True)


def provenance_table(provenance: dict, inventory_table: pd.DataFrame) -> pd.DataFrame:
    """Which consent snapshot and erasure list a run used: their keyed fingerprints, or why none.

    Parameters
    ----------
    provenance : dict
        The manifest's ``dataset`` part (``consent_snapshot_hmac_sha256``,
        ``erasure_list_hmac_sha256``, ``pseudonym_key_origin``).
    inventory_table : DataFrame
        The input-column inventory (says whether a consent flag was declared).

    Returns
    -------
    DataFrame
        ``record``, ``hash``.
    """
    random_key = provenance.get("pseudonym_key_origin", "random") == "random"
    no_key = "not recorded: the pseudonym key is random for this run, so no one could check a keyed hash"

    def shown(value, present: bool, absent: str) -> str:
        if not present:
            return absent
        return value or (no_key if random_key else "not recorded")

    has_consent = bool(len(inventory_table)) and bool(inventory_table["role"].str.contains("consent").any())
    return pd.DataFrame({
        "record": ["consent snapshot (HMAC-SHA256 under the pseudonym key)",
                   "erasure list (HMAC-SHA256 under the pseudonym key)"],
        "hash": [
            shown(provenance.get("consent_snapshot_hmac_sha256"), has_consent, "no consent flag declared"),
            shown(provenance.get("erasure_list_hmac_sha256"), bool(provenance.get("erasure_list_given")),
                  "no erasure list given"),
        ],
    })
