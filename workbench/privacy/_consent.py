"""Consent and erasure: the erasure list, removing excluded customers, consent kept by purpose,
and keyed fingerprints of both."""

from __future__ import annotations

import hashlib
import hmac
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


#: What a blank consent flag means (``dataset.blank_consent``): consent is never assumed by default.
BLANK_CONSENT_POLICIES = ("no_consent", "consent")


def _flag(customers: pd.DataFrame, col: str, blank_consent: str) -> tuple[pd.Series, pd.Series]:
    """A consent column as (True where the customer consents, True where the flag was blank).

    ``col`` holds True/False/missing (validation reads yes/no flags and leaves blanks missing).
    """
    raw = customers[col]
    blank = raw.isna()
    said_yes = raw.fillna(False).astype(bool)
    return said_yes, blank


def _policy(blank_consent: str) -> str:
    if blank_consent not in BLANK_CONSENT_POLICIES:
        raise InputError(
            f"Config error: dataset.blank_consent is {blank_consent!r}; use one of "
            f"{', '.join(BLANK_CONSENT_POLICIES)} (default no_consent: a blank flag is no consent)."
        )
    return blank_consent


def exclude_customers(
    customers: pd.DataFrame,
    transactions: pd.DataFrame | None,
    roles: Roles,
    forget: list[str] | None = None,
    blank_consent: str = "no_consent",
) -> tuple[pd.DataFrame, pd.DataFrame | None, dict]:
    """Remove customers who opted out of profiling or are on the erasure list.

    A blank profiling opt-out flag follows ``blank_consent``: ``"no_consent"`` (the default)
    treats the customer as not consenting to profiling, so they are removed too and counted as
    ``profiling_flag_blank``; ``"consent"`` treats a blank as "did not opt out".

    Parameters
    ----------
    customers : DataFrame
        The input customer table (raw ids in ``roles.id``).
    transactions : DataFrame or None
    roles : Roles
    forget : list of str, optional
        The erasure list.
    blank_consent : {"no_consent", "consent"}, default "no_consent"

    Returns
    -------
    tuple
        The filtered tables and the counts (never the ids) for the report.
    """
    policy = _policy(blank_consent)
    ids = customers[roles.id].astype(str)
    opt_out_col = roles.consent.get("profiling_opt_out")
    if opt_out_col:
        opted_out, blank = _flag(customers, opt_out_col, policy)
    else:
        opted_out = blank = pd.Series(False, index=customers.index)
    no_consent = opted_out | (blank if policy == "no_consent" else False)
    forget_set = set(map(str, forget or []))
    forgotten = ids.isin(forget_set)
    drop = no_consent | forgotten
    counts = {
        "customers_in_input": int(len(customers)),
        "opted_out_of_profiling": int(opted_out.sum()),
        "erasure_requests": int(len(forget_set)),
        "erased": int((forgotten & ~no_consent).sum()),
        "erasure_ids_not_found": int(len(forget_set - set(ids))),
        "customers_kept": int((~drop).sum()),
    }
    if blank.any():
        counts["profiling_flag_blank"] = int(blank.sum())
        counts["blank_profiling_flag_treated_as"] = "opted out" if policy == "no_consent" else "not opted out"
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


def consent_snapshot(customers: pd.DataFrame, roles: Roles) -> list[str]:
    """Every consent flag of the input as ``purpose<TAB>id<TAB>value`` lines (for :func:`fingerprint`).

    Never written anywhere: only its keyed fingerprint is.
    """
    lines = []
    ids = customers[roles.id].astype(str)
    for purpose, col in sorted(roles.consent.items()):
        values = customers[col].astype(object).where(customers[col].notna(), "blank").astype(str)
        lines += [f"{purpose}\t{i}\t{v}" for i, v in zip(ids, values)]
    return lines


def fingerprint(values, key) -> str | None:
    """HMAC-SHA256 under the pseudonym key over the sorted string values, or None without a key.

    Records *which* consent snapshot or erasure list a run used, so that whoever holds the key can
    check it against a given list, while nobody without the key can recover the list: a plain hash
    of a short id list is reversed by hashing every candidate id (a one-id erasure list among 7,043
    ids falls in a fraction of a second). With a random per-run key (``key.persistent`` false) no
    fingerprint is recorded at all: it could never be checked, and nothing is gained by storing it.

    Parameters
    ----------
    values : iterable
    key : PseudonymKey
        The run's pseudonym key (:func:`resolve_key`).

    Returns
    -------
    str or None
        The hex digest (order of ``values`` does not matter), or None when the key is random.
    """
    if not key.persistent:
        return None
    digest = hmac.new(key.secret, b"workbench fingerprint v1\n", hashlib.sha256)
    for v in sorted(map(str, values)):
        digest.update(v.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def consent_columns(customers: pd.DataFrame, roles: Roles, blank_consent: str = "no_consent") -> tuple[pd.DataFrame, dict]:
    """Keep every consent purpose other than profiling as a boolean ``consent_<purpose>`` column.

    Profiling opt-out is applied at preparation (:func:`exclude_customers`): those customers are
    never analysed. Every other declared purpose (e.g. ``marketing_opt_in``) governs what may be
    *done* to a customer, so the fairness stage applies it per action; here it is kept as the
    boolean column ``consent_<purpose>`` (True only where the customer consents) and the input
    column itself is dropped by :func:`minimise`. A blank flag follows ``blank_consent``: by
    default it is no consent (consent is never assumed), and the number of blanks is recorded.

    Parameters
    ----------
    customers : DataFrame
        The customer table after exclusion (flags True/False, blanks missing).
    roles : Roles
    blank_consent : {"no_consent", "consent"}, default "no_consent"

    Returns
    -------
    tuple
        The table with the ``consent_<purpose>`` columns added, and per purpose what was done:
        ``{purpose: {"column", "applied", ...counts}}`` (counts only, for the inventory).
    """
    policy = _policy(blank_consent)
    out = customers.copy()
    record = {}
    for purpose, col in roles.consent.items():
        if purpose == "profiling_opt_out":
            record[purpose] = {
                "column": col, "kept_as": None,
                "applied": "at preparation: customers who opted out of profiling were removed"
                + (" (a blank flag counts as opted out)" if policy == "no_consent" else
                   " (a blank flag counts as not opted out)"),
            }
            continue
        said_yes, blank = _flag(out, col, policy)
        flag = said_yes | (blank if policy == "consent" else False)
        out[f"consent_{purpose}"] = flag.astype(bool)
        record[purpose] = {
            "column": col, "kept_as": f"consent_{purpose}",
            "applied": f"not applied at preparation: kept as consent_{purpose} for each action that "
                       f"needs it (fairness policy); a blank flag counts as "
                       f"{'no consent' if policy == 'no_consent' else 'consent'}",
            "with_consent": int(flag.sum()), "without_consent": int((~flag).sum()),
            "blank": int(blank.sum()),
        }
    return out, record
