"""Consent and erasure: the erasure list, removing excluded customers, and fingerprints of both."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from ..data import InputError, Roles


def read_id_list(path: str | Path) -> list[str]:
    """Read an erasure list: one customer id per line (a header line ``customer_id`` is allowed).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    list of str
        The ids, blank lines and the header left out.
    """
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

    Parameters
    ----------
    customers : DataFrame
        The input customer table (raw ids in ``roles.id``).
    transactions : DataFrame or None
    roles : Roles
    forget : list of str, optional
        The erasure list.

    Returns
    -------
    tuple
        The filtered tables and the counts (never the ids) for the report.
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
    """SHA-256 over the sorted string values: records *which* snapshot was used, not its content.

    Parameters
    ----------
    values : iterable

    Returns
    -------
    str
        The hex digest (order of ``values`` does not matter).
    """
    digest = hashlib.sha256()
    for v in sorted(map(str, values)):
        digest.update(v.encode())
        digest.update(b"\n")
    return digest.hexdigest()
