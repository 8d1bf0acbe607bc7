"""Consent and erasure: the erasure list, removing excluded customers, consent kept by purpose,
and keyed fingerprints of both."""

from __future__ import annotations

import hashlib
import hmac
import tempfile
from pathlib import Path

import pandas as pd

from .. import engine
from ..engine._validation_queries import consent_snapshot_query
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


def register_inputs(eng, customers, transactions, roles: Roles, forget, key, truth=None) -> None:
    """Register what preparation reads on engine ``eng``, each table with its row number ``_row``.

    Tables: ``prep_customers``, ``prep_transactions`` (when given), ``prep_forget`` (the erasure list,
    column ``id``), ``hmac_key`` (the padded pseudonym key, as data, never in a query text) and, for
    synthetic data, ``prep_truth``. Then the views of
    :func:`~workbench.engine.register_flags` (flags, kept customers, their pseudonyms).

    ``customers`` and ``transactions`` are DataFrames or anything :meth:`Engine.register` reads, or
    None where the engine input path (:func:`workbench.engine.register_input`) registered them already.
    """
    if customers is not None:
        _register_table(eng, engine.PREP_CUSTOMERS, customers)
    if transactions is not None and roles.transactions is not None:
        _register_table(eng, engine.PREP_TRANSACTIONS, transactions)
    # one NULL row besides the ids (the queries skip it): Spark cannot register an empty table
    ids = [*sorted(set(map(str, forget or []))), None]
    eng.register(engine.PREP_FORGET, pd.DataFrame({"id": pd.Series(ids, dtype="string")}))
    eng.register("hmac_key", engine.hmac_key_table(key.secret))
    if truth is not None:
        eng.register_rows(engine.PREP_TRUTH, truth)


def _register_table(eng, name: str, data) -> None:
    """A per-customer input: a DataFrame through ``register_rows`` (Spark reads it from a Parquet
    scratch file, not through the JVM gateway), files through ``register``."""
    if isinstance(data, pd.DataFrame):
        eng.register_rows(name, _numbered(data))
    else:
        eng.register(name, data)


def _numbered(frame: pd.DataFrame) -> pd.DataFrame:
    # the row number keeps the input order through the engine (Spark's row order is not the input's)
    return frame.reset_index(drop=True).assign(_row=pd.RangeIndex(len(frame)))


def exclusion_counts(eng, roles: Roles, forget, blank_consent: str = "no_consent", transactions: bool = False,
                     choices: str | None = None) -> dict:
    """What consent and erasure remove, counted in the engine over every customer (never the ids).

    Needs :func:`register_inputs` first; registers the views ``prep_flags``, ``prep_kept`` and
    ``prep_pseudonyms``. The keys are those of :func:`exclude_customers`. With a choices register
    (``choices``: the view of the customers with their choices applied, see
    :func:`workbench.privacy.register_chosen_customers`), customers whose objection to profiling is in
    force are removed too and counted as ``objected_to_profiling`` (when not removed otherwise).
    """
    policy = _policy(blank_consent)
    objecting = engine.objecting_ids_query() if choices else None
    engine.register_flags(eng, roles.id, roles.consent.get("profiling_opt_out"), policy, objecting,
                          choices or engine.PREP_CUSTOMERS)
    row = eng.sql(engine.exclusion_counts_query(policy)).iloc[0]
    counts = {
        "customers_in_input": int(row["customers_in_input"]),
        "opted_out_of_profiling": int(row["opted_out_of_profiling"]),
        "erasure_requests": len(set(map(str, forget or []))),
        "erased": int(row["erased"]),
        **({"objected_to_profiling": int(row["objected_to_profiling"])} if choices else {}),
        "erasure_ids_not_found": int(row["erasure_ids_not_found"]),
        "customers_kept": int(row["customers_kept"]),
    }
    if transactions:
        tx = eng.sql(engine.transaction_counts_query(roles.transactions.id, policy)).iloc[0]
        counts |= {k: int(tx[k]) for k in ("transactions_in_input", "transactions_of_unknown_customers",
                                           "transactions_kept")}
    if int(row["profiling_flag_blank"]):
        counts["profiling_flag_blank"] = int(row["profiling_flag_blank"])
        counts["blank_profiling_flag_treated_as"] = "opted out" if policy == "no_consent" else "not opted out"
    return counts


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

    The decision is the engine's anti-join (:func:`exclusion_counts`, the queries preparation runs
    on DuckDB or Spark), here on an embedded DuckDB; the rows it keeps are returned as given.

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
    with_tx = transactions is not None and roles.transactions is not None
    with engine.DuckDBEngine(threads=1) as eng:
        register_inputs(eng, customers, transactions, roles, forget, _NO_KEY)
        counts = exclusion_counts(eng, roles, forget, policy, transactions=with_tx)
        kept = eng.sql(f"SELECT _row FROM {engine.PREP_KEPT} ORDER BY _row")["_row"].to_numpy()
        if with_tx:
            rows = eng.sql(engine.kept_transactions_rows_query(roles.transactions.id, policy))["_row"].to_numpy()
            transactions = transactions.iloc[rows]
    return customers.iloc[kept], transactions, counts


class _NoKey:
    """A placeholder key for exclusion alone (no pseudonym is computed from it)."""

    secret = b"\0" * 16


_NO_KEY = _NoKey()


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
    digest = _fingerprint_hmac(key)
    for v in sorted(map(str, values)):
        digest.update(v.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _fingerprint_hmac(key):
    return hmac.new(key.secret, b"workbench fingerprint v1\n", hashlib.sha256)


def consent_fingerprint(eng, roles: Roles, key) -> str | None:
    """:func:`fingerprint` of :func:`consent_snapshot`, computed from the table registered on ``eng``.

    The engine sorts the snapshot's lines (``prep_customers``, every input customer, flags as
    validated) and writes them as Parquet parts into a temporary folder inside the engine's scratch
    folder (on a cluster the executors write what the driver reads), removed at once; the driver
    streams them batch by batch into the HMAC, so it never holds the table. Same value as
    ``fingerprint(consent_snapshot(customers, roles), key)``; None without consent flags or a
    persistent key.
    """
    import pyarrow.parquet as pq

    if not roles.consent or not key.persistent:
        return None
    digest = _fingerprint_hmac(key)
    # raw ids: removed on exit; in the scratch folder because Spark's executors write the parts
    with tempfile.TemporaryDirectory(prefix="workbench-consent-", dir=eng.scratch()) as tmp:
        folder = eng.to_parquet(consent_snapshot_query(engine.PREP_CUSTOMERS, roles.id, roles.consent),
                                Path(tmp) / "lines")
        # Spark names its parts part-00000…, in the order of the sorted result
        for part in sorted(p for p in Path(folder).glob("*.parquet") if not p.name.startswith(("_", "."))):
            for batch in pq.ParquetFile(part).iter_batches(columns=["line"]):
                for line in batch.column(0).to_pylist():
                    digest.update(line.encode())
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
            record[purpose] = _purpose_record(purpose, col, policy)
            continue
        said_yes, blank = _flag(out, col, policy)
        flag = said_yes | (blank if policy == "consent" else False)
        out[f"consent_{purpose}"] = flag.astype(bool)
        record[purpose] = _purpose_record(purpose, col, policy, int(flag.sum()), int((~flag).sum()), int(blank.sum()))
    return out, record


def consent_record(eng, roles: Roles, blank_consent: str = "no_consent") -> dict:
    """The record of :func:`consent_columns`, counted in the engine over the kept customers.

    Needs :func:`exclusion_counts` first (it registers the kept customers). The flags themselves are
    written by :func:`~workbench.engine.prepared_customers_query` with the same rule.
    """
    policy = _policy(blank_consent)
    per_action = {p: c for p, c in roles.consent.items() if p != "profiling_opt_out"}
    row = eng.sql(engine.consent_counts_query(per_action, policy)).iloc[0] if per_action else None
    record = {}
    for purpose, col in roles.consent.items():
        if purpose == "profiling_opt_out":
            record[purpose] = _purpose_record(purpose, col, policy)
        else:
            with_consent = int(row[purpose + "__with"])
            record[purpose] = _purpose_record(purpose, col, policy, with_consent, int(row["n"]) - with_consent,
                                              int(row[purpose + "__blank"]))
    return record


def _purpose_record(purpose: str, col: str, policy: str, with_consent=None, without=None, blank=None) -> dict:
    """What preparation did with one consent purpose (counts only, for the inventory)."""
    if purpose == "profiling_opt_out":
        return {
            "column": col, "kept_as": None,
            "applied": "at preparation: customers who opted out of profiling were removed"
            + (" (a blank flag counts as opted out)" if policy == "no_consent" else
               " (a blank flag counts as not opted out)"),
        }
    return {
        "column": col, "kept_as": f"consent_{purpose}",
        "applied": f"not applied at preparation: kept as consent_{purpose} for each action that "
                   f"needs it (fairness policy); a blank flag counts as "
                   f"{'no consent' if policy == 'no_consent' else 'consent'}",
        "with_consent": with_consent, "without_consent": without, "blank": blank,
    }
