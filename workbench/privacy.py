"""Privacy by design: minimisation, consent and erasure, keyed pseudonyms.

These steps run in :func:`workbench.pipeline.prepare`, before any notebook sees the data:

1. :func:`inventory` lists every input column with its role, its purpose and whether it is kept.
2. :func:`minimise` drops direct identifiers and every column without a declared purpose.
3. :func:`exclude_customers` removes customers who opted out of profiling or asked to be forgotten,
   from the customer table and the transaction table alike.
4. :func:`pseudonymise` replaces customer ids by HMAC-SHA256 pseudonyms under a key from
   :func:`resolve_key`: an environment variable or a key file outside the repo; with neither, a random
   key for this run only. The key is never written anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .schema import InputError, Roles

__all__ = [
    "DEFAULTS",
    "PseudonymKey",
    "exclude_customers",
    "fingerprint",
    "inventory",
    "minimise",
    "pseudonymise",
    "read_id_list",
    "resolve_key",
]

DEFAULTS = {
    "key_env": "WORKBENCH_PSEUDONYM_KEY",
    "key_file": None,
    "forget": None,
    "suppression_k": 10,
}

_PURPOSE = {
    "id": "linking tables; replaced by a keyed pseudonym",
    "direct_identifier": "none: direct identifiers are never needed for segmentation",
    "quasi_identifier": "re-identification risk assessment",
    "sensitive": "fairness audit only (not a segmentation input unless allowed)",
    "feature": "segmentation input",
    "outcome": "value KPIs and outcome-based fairness metrics",
    "consent": "consent enforcement",
    "segment": "externally assigned segment labels under audit",
}


@dataclass(frozen=True)
class PseudonymKey:
    """A pseudonymisation key and where it came from; ``repr`` never shows the secret."""

    secret: bytes
    origin: str  # "env:NAME", "file", or "random"

    @property
    def persistent(self) -> bool:
        return self.origin != "random"

    def __repr__(self) -> str:
        return f"PseudonymKey(origin={self.origin!r})"


def resolve_key(settings: dict) -> PseudonymKey:
    """Read the pseudonym key from ``settings['key_env']`` or ``settings['key_file']``.

    With neither, a random key is made for this run: pseudonyms then differ between runs and no
    one can link them back to customers afterwards.
    """
    env_name = settings.get("key_env") or DEFAULTS["key_env"]
    if os.environ.get(env_name):
        return PseudonymKey(os.environ[env_name].encode(), f"env:{env_name}")
    key_file = settings.get("key_file")
    if key_file:
        path = Path(key_file).expanduser()
        if not path.exists():
            raise InputError(f"Config error: privacy.key_file {path} does not exist.")
        secret = path.read_bytes().strip()
        if len(secret) < 16:
            raise InputError(f"Config error: the key in {path} is shorter than 16 bytes.")
        return PseudonymKey(secret, "file")
    return PseudonymKey(secrets.token_bytes(32), "random")


def pseudonymise(ids: pd.Series, key: PseudonymKey, length: int = 16) -> pd.Series:
    """HMAC-SHA256 of each id under ``key``, hex, truncated to ``length`` characters, prefixed ``p``."""
    secret = key.secret
    values = [
        "p" + hmac.new(secret, str(v).encode(), hashlib.sha256).hexdigest()[:length] for v in ids
    ]
    return pd.Series(values, index=ids.index, name=ids.name)


def inventory(columns: list[str], roles: Roles) -> pd.DataFrame:
    """One row per input column: its role(s), purpose, and whether minimisation keeps it."""
    rows = []
    for col in columns:
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
        if "direct_identifier" in found:
            kept, why = False, "direct identifier: dropped at load"
        elif not found:
            kept, why = False, "no declared role or purpose: dropped (data minimisation)"
        elif found == ["consent"]:
            kept, why = False, "used to exclude opted-out customers, then dropped"
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
    """Keep only columns with a declared purpose; return the table, the pruned roles, the inventory."""
    table = inventory(list(customers.columns), roles)
    kept = table.loc[table["kept"], "column"].tolist()
    pruned = Roles.from_dict(roles.to_dict())
    pruned.direct_identifiers = []
    pruned.consent = {}
    return customers[kept].copy(), pruned, table


def read_id_list(path: str | Path) -> list[str]:
    """Read an erasure list: one customer id per line (a header line ``customer_id`` is allowed)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"Erasure list {path} does not exist.")
    ids = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if ids and ids[0].lower() in {"customer_id", "id"}:
        ids = ids[1:]
    return ids


def exclude_customers(
    customers: pd.DataFrame,
    transactions: pd.DataFrame | None,
    roles: Roles,
    forget: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame | None, dict]:
    """Remove customers who opted out of profiling or are on the erasure list.

    Returns the filtered tables and the counts (never the ids) for the report.
    """
    ids = customers[roles.id].astype(str)
    opt_out_col = roles.consent.get("profiling_opt_out")
    opted_out = customers[opt_out_col].astype(bool) if opt_out_col else pd.Series(False, index=customers.index)
    forget_set = set(map(str, forget or []))
    forgotten = ids.isin(forget_set)
    drop = opted_out | forgotten
    counts = {
        "customers_in_input": int(len(customers)),
        "opted_out_of_profiling": int(opted_out.sum()),
        "erasure_requests": int(len(forget_set)),
        "erased": int((forgotten & ~opted_out).sum()),
        "erasure_ids_not_found": int(len(forget_set - set(ids))),
        "customers_kept": int((~drop).sum()),
    }
    kept = customers.loc[~drop]
    if transactions is not None and roles.transactions is not None:
        tx_ids = transactions[roles.transactions.id].astype(str)
        dropped_ids = set(ids[drop])
        unknown = ~tx_ids.isin(set(ids))
        counts["transactions_in_input"] = int(len(transactions))
        counts["transactions_of_unknown_customers"] = int(unknown.sum())
        keep_tx = ~tx_ids.isin(dropped_ids) & ~unknown
        transactions = transactions.loc[keep_tx]
        counts["transactions_kept"] = int(keep_tx.sum())
    return kept, transactions, counts


def fingerprint(values) -> str:
    """SHA-256 over the sorted string values: records *which* snapshot was used, not its content."""
    digest = hashlib.sha256()
    for v in sorted(map(str, values)):
        digest.update(v.encode())
        digest.update(b"\n")
    return digest.hexdigest()
