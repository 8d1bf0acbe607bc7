"""Privacy by design: minimisation, consent and erasure, keyed pseudonyms, small-cell suppression,
re-identification risk, data quality and a differentially private release of segment profiles.

User guide
----------
The first four steps run in :func:`workbench.pipeline.prepare`, before any notebook sees the data:

1. :func:`inventory` lists every input column with its role, its purpose and whether it is kept.
2. :func:`minimise` keeps only columns with a declared purpose; direct identifiers (names, emails,
   phones, ...) and columns without a role are dropped, consent flags are dropped once applied.
3. :func:`exclude_customers` removes customers who opted out of profiling or asked to be forgotten
   (``workbench run --forget FILE``), from the customer table and the transaction table alike, and
   returns counts only; :func:`fingerprint` records *which* consent snapshot and erasure list were
   used (a hash) in the manifest.
4. :func:`pseudonymise` replaces customer ids by HMAC-SHA256 pseudonyms under a key from
   :func:`resolve_key`: the environment variable ``WORKBENCH_PSEUDONYM_KEY`` (``privacy.key_env``)
   or a key file outside the repo (``privacy.key_file``); the same key gives the same pseudonyms in
   every run, so :func:`pseudonym_for` can look a customer up. With neither, a random key is made
   for this run only: pseudonyms then cannot be linked across runs, or back to anyone, by anybody.
   The key is never written anywhere.

Every published table goes through small-cell suppression: :func:`suppress_counts` for a 2-D table
of counts (cells from 1 to ``k - 1`` hidden, plus complementary cells so that no hidden cell can be
recovered from row or column totals; :func:`disclosure_intervals` runs that attack) and
:func:`suppress_rows` for per-group statistics (groups smaller than ``k`` masked, plus the next
smallest group when only one is masked and the total is known). ``k`` is ``privacy.suppression_k``
(default 10), recorded in ``data/prepare.json``.

Notebook 01 audits the prepared data (:func:`privacy_audit_run`): :func:`validation_checks`,
:func:`reidentification_risk` on the declared quasi-identifiers (k-anonymity, share unique, which
combinations drive uniqueness) and :func:`data_quality` (missingness, outliers, duplicates).

Notebook 06 publishes segment profiles with differential privacy (:func:`dp_release`, OpenDP):
a count per segment and the mean of each feature listed under ``privacy.dp.bounds`` (bounds from
the config, never from the data), under one budget ``privacy.dp.epsilon``/``delta``; every query and
its share of the budget go to the ``dp_ledger`` in ``manifest.json``, and :func:`dp_utility`
compares the release with the exact profiles.

Configuration (``privacy:`` section, defaults in :data:`DEFAULTS`)::

    privacy:
      key_env: WORKBENCH_PSEUDONYM_KEY   # env var holding the pseudonym key
      key_file: null                     # or a key file outside the repo
      forget: null                       # erasure list, one customer id per line
      suppression_k: 10
      risk: {max_combination: 3}
      dp:
        enabled: true
        epsilon: 1.0
        delta: 1.0e-7
        bounds: {recency: [0, 730], frequency: [0, 100]}
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import math
import os
import re
import secrets
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .rundir import register_stage
from .data import InputError, Roles

if TYPE_CHECKING:  # pragma: no cover
    from .rundir import Run

__all__ = [
    "DEFAULTS",
    "DPRelease",
    "PseudonymKey",
    "data_quality",
    "disclosure_intervals",
    "dp_budget_tradeoff",
    "dp_release",
    "dp_utility",
    "exclude_customers",
    "fingerprint",
    "identifier_scan",
    "inventory",
    "load_private_release",
    "minimisation_summary",
    "minimise",
    "privacy_audit_run",
    "private_release_run",
    "pseudonym_for",
    "pseudonymise",
    "read_id_list",
    "reidentification_risk",
    "resolve_key",
    "suppress_counts",
    "suppress_rows",
    "validation_checks",
]

DEFAULTS = {
    "key_env": "WORKBENCH_PSEUDONYM_KEY",
    "key_file": None,
    "forget": None,
    "suppression_k": 10,
    "risk": {"max_combination": 3},
    "quality": {"iqr_factor": 3.0},
    "dp": {
        "enabled": False,
        "epsilon": 1.0,
        "delta": 1e-7,
        "bounds": {},
        "count_weight": 1.0,
        "alpha": 0.05,
        "max_customers": 1_000_000_000,
        "impute": {},
    },
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
    "assigned_at": "when the external segment label was assigned (staleness)",
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
        if col == roles.assigned_at:
            found.append("assigned_at")
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


# -- small-cell suppression -------------------------------------------------------------------------
_LABEL_NAMES = ("segment", "segment_id", "segment_name", "cluster", "group", "label")


def suppress_counts(
    table: pd.DataFrame,
    k: int = 10,
    margins: bool = False,
    total_label: str = "Total",
) -> pd.DataFrame:
    """Small-cell suppression of a 2-D table of counts, with complementary suppression.

    Cells with ``0 < count < k`` are suppressed (primary suppression). Then further cells are
    suppressed (complementary suppression) until no suppressed cell can be recovered from the row
    and column totals, whether by subtraction (a row or column with a single suppressed cell) or by
    any linear combination of totals (e.g. two blocks of suppressed cells joined by one cell), and
    until the non-negativity of counts does not pin a suppressed cell down either (a set of
    suppressed cells that sums to zero). The check is exact: for every suppressed cell the smallest
    and largest value consistent with everything published are computed by linear programming
    (:func:`disclosure_intervals`), and suppression continues while any interval is a single value.

    Complementary cells are chosen greedily: within the row or column that needs a partner, the
    smallest positive count, preferring a cell whose other line also needs a partner (so one cell
    protects two lines); zero counts and total cells are used only when nothing else works.

    Zero counts are *not* suppressed: an empty cell describes no one, and suppressing zeros would
    cost a lot of utility (segment-by-attribute tables are often sparse). Zero cells are kept out of
    complementary suppression where possible, because a suppressed set that sums to zero reveals
    that all its cells are zero. If an empty cell is itself disclosive in your setting (e.g. "no
    customer of group A is in segment S" for a small group), suppress the margin instead.

    Parameters
    ----------
    table : DataFrame
        Counts (non-negative integers), rows x columns, *without* totals.
    k : int, default 10
        Threshold: counts from 1 to ``k - 1`` are suppressed.
    margins : bool, default False
        If False, the interior is protected assuming exact row and column totals may be published
        beside it (the conservative assumption; a table with a single row or column has no
        separate totals along that axis). If True, a ``total_label`` row and column are appended
        and suppressed like any other cell (a total below ``k`` is suppressed too, with its own
        complements); the result then *is* the publishable table with its totals.
    total_label : str, default "Total"

    Returns
    -------
    DataFrame
        Same shape (plus totals if ``margins``), float, suppressed cells ``NaN``.
    """
    values = _count_matrix(table)
    n_rows, n_cols = values.shape
    full = values
    row_total_col = margins and n_cols > 1
    col_total_row = margins and n_rows > 1
    if margins:
        if row_total_col:
            full = np.hstack([full, full.sum(axis=1, keepdims=True)])
        if col_total_row:
            full = np.vstack([full, full.sum(axis=0, keepdims=True)])
    shape = full.shape
    flat = full.ravel().astype(float)
    var = np.arange(flat.size).reshape(shape)
    equations: list[tuple[np.ndarray, np.ndarray, float]] = []
    if margins:
        if row_total_col:  # interior of each row (and the column-total row) minus its total = 0
            for i in range(shape[0]):
                idx = var[i]
                equations.append((idx, np.r_[np.ones(shape[1] - 1), -1.0], 0.0))
        if col_total_row:
            for j in range(shape[1]):
                idx = var[:, j]
                equations.append((idx, np.r_[np.ones(shape[0] - 1), -1.0], 0.0))
    else:
        equations.extend(_total_equations(var, values))
    is_total = np.zeros(shape, dtype=bool)
    if row_total_col:
        is_total[:, -1] = True
    if col_total_row:
        is_total[-1, :] = True
    suppressed = _protect(flat, equations, (flat > 0) & (flat < k), is_total.ravel())
    out = np.where(suppressed.reshape(shape), np.nan, full.astype(float))
    index = list(table.index) + ([total_label] if col_total_row else [])
    columns = list(table.columns) + ([total_label] if row_total_col else [])
    result = pd.DataFrame(out, index=pd.Index(index, name=table.index.name), columns=pd.Index(columns, name=table.columns.name))
    return result


def disclosure_intervals(
    exact: pd.DataFrame, published: pd.DataFrame, margins: bool = False
) -> pd.DataFrame:
    """The subtraction attack, done properly: bounds an attacker can derive for suppressed cells.

    For each suppressed (``NaN``) cell of ``published``, the smallest and largest value consistent
    with the published cells, the totals (exact row and column totals of ``exact`` when
    ``margins=False``; the published total cells when ``margins=True``) and non-negativity, by linear
    programming. A cell is disclosed when ``low == high``.

    Parameters
    ----------
    exact : DataFrame
        The true counts, without totals (the attacker does not see it; used for the totals only).
    published : DataFrame
        The output of :func:`suppress_counts` for ``exact`` with the same ``margins``.

    Returns
    -------
    DataFrame
        One row per suppressed cell: ``row``, ``column``, ``true``, ``low``, ``high``, ``disclosed``.
    """
    values = _count_matrix(exact)
    n_rows, n_cols = values.shape
    pub = published.to_numpy(dtype=float)
    if margins:
        full = values
        if n_cols > 1:
            full = np.hstack([full, full.sum(axis=1, keepdims=True)])
        if n_rows > 1:
            full = np.vstack([full, full.sum(axis=0, keepdims=True)])
    else:
        full = values
    shape = full.shape
    if pub.shape != shape:
        raise ValueError(f"published table has shape {pub.shape}, expected {shape}")
    var = np.arange(full.size).reshape(shape)
    equations = []
    if margins:
        if n_cols > 1:
            for i in range(shape[0]):
                equations.append((var[i], np.r_[np.ones(shape[1] - 1), -1.0], 0.0))
        if n_rows > 1:
            for j in range(shape[1]):
                equations.append((var[:, j], np.r_[np.ones(shape[0] - 1), -1.0], 0.0))
    else:
        equations.extend(_total_equations(var, values))
    flat_pub = pub.ravel()
    unknown = np.isnan(flat_pub)
    lows, highs = _lp_bounds(np.nan_to_num(flat_pub), equations, unknown)
    rows = []
    labels_r = list(published.index)
    labels_c = list(published.columns)
    for pos, lo, hi in zip(np.flatnonzero(unknown), lows, highs):
        i, j = divmod(int(pos), shape[1])
        rows.append({
            "row": labels_r[i], "column": labels_c[j], "true": float(full.ravel()[pos]),
            "low": lo, "high": hi, "disclosed": bool(hi - lo < 0.5),
        })
    return pd.DataFrame(rows, columns=["row", "column", "true", "low", "high", "disclosed"])



def _total_equations(var: np.ndarray, values: np.ndarray) -> list:
    """Row and column sums of a table published without margins, as (cells, coefficients, total)."""
    n_rows, n_cols = values.shape
    equations = []
    if n_cols > 1:
        equations += [(var[i], np.ones(n_cols), float(values[i].sum())) for i in range(n_rows)]
    if n_rows > 1:
        equations += [(var[:, j], np.ones(n_rows), float(values[:, j].sum())) for j in range(n_cols)]
    return equations

def _count_matrix(table: pd.DataFrame) -> np.ndarray:
    if not isinstance(table, pd.DataFrame):
        raise TypeError("suppress_counts expects a DataFrame of counts (rows x columns)")
    try:
        values = table.to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise ValueError("suppress_counts expects numeric counts only; move labels into the index") from None
    if np.isnan(values).any() or (values < 0).any():
        raise ValueError("counts must be non-negative and not missing")
    return values


def _lp_bounds(flat, equations, unknown):
    """Min and max of each unknown variable subject to the equations and non-negativity."""
    from scipy.optimize import linprog

    unk = np.flatnonzero(unknown)
    pos = {int(v): i for i, v in enumerate(unk)}
    a_rows, b = [], []
    for idx, coef, rhs in equations:
        mask = unknown[idx]
        if not mask.any():
            continue
        row = np.zeros(len(unk))
        for v, c in zip(idx[mask], coef[mask]):
            row[pos[int(v)]] = c
        a_rows.append(row)
        b.append(rhs - float(np.dot(coef[~mask], flat[idx[~mask]])))
    lows, highs = [], []
    if not a_rows:
        return [0.0] * len(unk), [np.inf] * len(unk)
    A, b = np.array(a_rows), np.array(b)
    for i in range(len(unk)):
        c = np.zeros(len(unk))
        c[i] = 1.0
        lo = linprog(c, A_eq=A, b_eq=b, bounds=(0, None), method="highs")
        hi = linprog(-c, A_eq=A, b_eq=b, bounds=(0, None), method="highs")
        lows.append(float(lo.fun) if lo.status == 0 else 0.0)
        highs.append(float(-hi.fun) if hi.status == 0 else np.inf)
    return lows, highs


def _determined(flat_unknown: np.ndarray, equations) -> np.ndarray:
    """Which unknowns are fixed by the linear equations alone (ignoring non-negativity)."""
    from scipy.linalg import null_space

    unk = np.flatnonzero(flat_unknown)
    if len(unk) == 0:
        return np.zeros(0, dtype=bool)
    pos = {int(v): i for i, v in enumerate(unk)}
    rows = []
    for idx, coef, _ in equations:
        mask = flat_unknown[idx]
        if mask.any():
            row = np.zeros(len(unk))
            for v, c in zip(idx[mask], coef[mask]):
                row[pos[int(v)]] = c
            rows.append(row)
    if not rows:
        return np.zeros(len(unk), dtype=bool)
    basis = null_space(np.array(rows))
    if basis.size == 0:
        return np.ones(len(unk), dtype=bool)
    return np.linalg.norm(basis, axis=1) < 1e-8


def _protect(flat, equations, primary, is_total, max_rounds: int = 10_000):
    """Add complementary suppressions until no suppressed cell is determined (see suppress_counts)."""
    sup = primary.copy()
    if not sup.any() or not equations:
        return sup
    eq_of: dict[int, list[int]] = {}
    for e, (idx, _, _) in enumerate(equations):
        for v in idx:
            eq_of.setdefault(int(v), []).append(e)

    def n_unknown(e):
        return int(sup[equations[e][0]].sum())

    def cost(v, needy=frozenset()):
        closes = any(e in needy for e in eq_of.get(v, []))
        return (bool(is_total[v]), flat[v] == 0, not closes, flat[v], v)

    def degree_rule():
        changed = True
        while changed:
            changed = False
            needy = frozenset(e for e in range(len(equations)) if n_unknown(e) == 1)
            for e in sorted(needy):
                if n_unknown(e) != 1:
                    continue
                idx = equations[e][0]
                cands = [int(v) for v in idx if not sup[v]]
                if not cands:
                    continue
                others = frozenset(x for x in needy if x != e)
                best = min(cands, key=lambda v: cost(v, others))
                sup[best] = True
                changed = True

    for _ in range(max_rounds):
        degree_rule()
        det = _determined(sup, equations)
        unk = np.flatnonzero(sup)
        if det.any():
            target = int(unk[np.flatnonzero(det)[0]])
        else:
            if sup.sum() > 400:  # exact LP audit is for publishable (small) tables
                return sup
            lows, highs = _lp_bounds(np.where(sup, 0.0, flat), equations, sup)
            pinned = [int(v) for v, lo, hi in zip(unk, lows, highs) if hi - lo < 0.5]
            if not pinned:
                return sup
            target = pinned[0]
        cands = sorted(
            {int(v) for e in eq_of.get(target, []) for v in equations[e][0] if not sup[v]},
            key=cost,
        )
        if not cands:
            cands = sorted((int(v) for v in np.flatnonzero(~sup)), key=cost)
        if not cands:
            warnings.warn(
                "small-cell suppression cannot protect this table while its exact totals are "
                "published (a total is itself below k); every cell is suppressed. Use "
                "margins=True to suppress the small totals too.",
                stacklevel=3,
            )
            return sup
        chosen = cands[0]
        for v in cands[:20]:  # prefer the cheapest single cell that un-determines the target
            trial = sup.copy()
            trial[v] = True
            d = _determined(trial, equations)
            if not d[np.searchsorted(np.flatnonzero(trial), target)]:
                chosen = v
                break
        sup[chosen] = True
    return sup


def suppress_rows(
    df: pd.DataFrame,
    count_column: str,
    k: int = 10,
    keep: list[str] | None = None,
    total_known: bool = True,
) -> pd.DataFrame:
    """Small-cell suppression of per-group rows (segment profiles, per-group rates, ...).

    Rows whose ``count_column`` is between 1 and ``k - 1`` have every statistic masked (their count
    too); a boolean column ``suppressed`` marks them. When exactly one row is suppressed and the
    total count is known (``total_known``, the usual case: the report states the number of
    customers), the remaining count could be recovered by subtraction, and the other statistics
    (shares, means, sums) from the overall figures; so the next smallest row is suppressed as well
    (complementary suppression). Groups with a count of zero describe no one and are not suppressed,
    but are used as the complement when no other row is available.

    Parameters
    ----------
    df : DataFrame
        One row per group.
    count_column : str
        The column holding the group sizes.
    k : int, default 10
    keep : list of str, optional
        Label columns left visible in suppressed rows. Default: every non-numeric column (e.g.
        ``segment_name``) plus columns named ``segment``, ``segment_id``, ``cluster``, ``group`` or
        ``label``. Every other column is treated as a statistic and masked; list a non-numeric
        statistic (e.g. a modal category) explicitly by leaving it out of ``keep``.
    total_known : bool, default True

    Returns
    -------
    DataFrame
        A copy with masked statistics (numeric columns become float with ``NaN``; other columns
        hold ``None``) and the boolean column ``suppressed``.
    """
    if count_column not in df.columns:
        raise KeyError(f"count column {count_column!r} not in the table")
    out = df.copy()
    if "suppressed" in out.columns:
        out = out.drop(columns="suppressed")
    counts = pd.to_numeric(out[count_column], errors="coerce").fillna(0).to_numpy(dtype=float)
    suppressed = (counts > 0) & (counts < k)
    if total_known and suppressed.sum() == 1:
        order = np.lexsort((np.arange(len(counts)), counts))  # stable: smallest count first
        positive = [i for i in order if not suppressed[i] and counts[i] > 0]
        zeros = [i for i in order if not suppressed[i] and counts[i] == 0]
        pick = (positive or zeros or [None])[0]
        if pick is not None:
            suppressed[pick] = True
    if keep is None:
        keep = [
            c for c in out.columns
            if c != count_column
            and (str(c) in _LABEL_NAMES or not pd.api.types.is_numeric_dtype(out[c]))
        ]
    stats = [c for c in out.columns if c not in keep]
    if suppressed.any():
        for c in stats:
            col = out[c]
            if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
                col = col.astype(float)
                col[suppressed] = np.nan
            else:
                col = col.astype(object)
                col[suppressed] = None
            out[c] = col
    out["suppressed"] = suppressed
    return out


def pseudonym_for(raw_ids, settings: dict | None = None) -> list[str]:
    """The pseudonyms of raw customer ids under the configured (persistent) key.

    This is how a customer is looked up in a run (e.g. by ``workbench explain``): the raw id is
    pseudonymised again with the same key, never stored next to its pseudonym.

    Raises
    ------
    InputError
        When no key is configured: a run without a key used a random key that no longer exists.
    """
    key = resolve_key(settings or DEFAULTS)
    if not key.persistent:
        raise InputError(
            "No pseudonym key is configured (environment variable "
            f"{(settings or DEFAULTS).get('key_env') or DEFAULTS['key_env']} or privacy.key_file): "
            "runs without a key used a random key that was never stored, so their pseudonyms "
            "cannot be linked to customers."
        )
    ids = pd.Series([str(v) for v in (raw_ids if not isinstance(raw_ids, str) else [raw_ids])])
    return pseudonymise(ids, key).tolist()


def minimisation_summary(inventory_table: pd.DataFrame) -> pd.DataFrame:
    """Counts of input columns kept and dropped, by reason (from :func:`inventory`)."""
    def reason(row) -> str:
        if row["kept"]:
            return "kept: declared purpose"
        text = str(row["purpose_or_reason"])
        if text.startswith("direct identifier"):
            return "dropped: direct identifier"
        if text.startswith("used to exclude"):
            return "dropped: consent flag, applied then dropped"
        return "dropped: no declared purpose"

    reasons = inventory_table.apply(reason, axis=1) if len(inventory_table) else pd.Series([], dtype=str)
    out = reasons.value_counts().rename_axis("outcome").rename("columns").reset_index()
    cols = inventory_table.groupby(reasons)["column"].apply(lambda c: ", ".join(map(str, c))) if len(inventory_table) else {}
    out["which"] = out["outcome"].map(cols)
    return out.sort_values("outcome").reset_index(drop=True)


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", re.I)
_PHONE = re.compile(r"^\+?[\d\s().-]{8,}$")


def identifier_scan(customers: pd.DataFrame, sample: int = 2000) -> pd.DataFrame:
    """Kept text columns whose values look like emails or phone numbers (a safety net).

    A column declared as a feature but holding direct identifiers would pass minimisation; this
    scan flags it. Returns one row per flagged column with the share of matching sampled values
    (never the values).
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
        email = float(values.str.contains(_EMAIL).mean())
        phone = float(values.str.match(_PHONE).mean())
        if max(email, phone) >= 0.2:
            rows.append({"column": col, "looks_like": "email" if email >= phone else "phone",
                         "share_of_values": round(max(email, phone), 3)})
    return pd.DataFrame(rows, columns=["column", "looks_like", "share_of_values"])


def validation_checks(run: "Run") -> pd.DataFrame:
    """The checks the input passed, and checks of the prepared data against the privacy rules.

    Input validation (roles, ids, consent flags, timestamps, amounts) happens at load: a failing
    check stops the run with a message naming the column and rows, so a prepared run has passed all
    of them. The prepared-data checks below are re-run here on what the notebooks actually see.
    """
    prep = run.read_json("data/prepare.json")
    customers = run.customers()
    tx = run.transactions()
    inv = pd.DataFrame(prep["inventory"])
    rows = [
        ("input: every role's column present, ids present and unique, consent flags readable",
         True, "checked at load (pandera); a failure stops the run"),
    ]
    if tx is not None:
        rows.append(("input: transactions have a customer id, a valid timestamp and a numeric amount",
                     True, "checked at load (pandera)"))
    ids = customers["customer_id"].astype(str)
    rows.append(("customer ids are keyed pseudonyms (p + 16 hex digits)",
                 bool(ids.str.fullmatch(r"p[0-9a-f]{16}").all()), f"{len(ids):,} customers"))
    rows.append(("pseudonyms are unique (no collisions)", bool(ids.is_unique), ""))
    dropped_direct = inv.loc[inv["role"].str.contains("direct_identifier"), "column"].tolist() if len(inv) else []
    present = [c for c in dropped_direct if c in customers.columns]
    rows.append(("direct identifiers dropped", not present,
                 f"{len(dropped_direct)} declared: {', '.join(dropped_direct) or 'none'}"))
    kept = inv.loc[inv["kept"], "column"].tolist() if len(inv) else []
    unexpected = [c for c in customers.columns if c != "customer_id" and c not in kept]
    rows.append(("only columns with a declared purpose kept", not unexpected,
                 f"{len(customers.columns) - 1} kept" + (f"; unexpected: {unexpected}" if unexpected else "")))
    scan = identifier_scan(customers)
    rows.append(("no kept column looks like emails or phone numbers", scan.empty,
                 ", ".join(scan["column"]) if len(scan) else ""))
    counts = prep["counts"]
    rows.append(("opted-out and erased customers removed",
                 counts["customers_kept"] == len(customers),
                 f"{counts['opted_out_of_profiling']:,} opted out, {counts['erased']:,} erased"))
    if tx is not None:
        known = tx["customer_id"].isin(set(ids))
        rows.append(("every transaction belongs to a kept customer", bool(known.all()),
                     f"{len(tx):,} transactions"))
        rows.append(("transaction timestamps and amounts are valid",
                     bool(tx["timestamp"].notna().all() and np.isfinite(tx["amount"].to_numpy(dtype=float)).all()), ""))
    return pd.DataFrame(rows, columns=["check", "passed", "detail"])


# -- re-identification risk -------------------------------------------------------------------------
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
    combos = []
    subsets = [s for r in range(1, min(max_combination, len(qis)) + 1) for s in itertools.combinations(qis, r)]
    if tuple(qis) not in subsets:
        subsets.append(tuple(qis))
    for subset in subsets:
        sizes = sizes_all if subset == tuple(qis) else _class_sizes([codes[c] for c in subset])
        combos.append({"combination": " + ".join(subset), "n_columns": len(subset), **_risk_row(sizes, k)})
    combinations = pd.DataFrame(combos).sort_values(
        ["share_unique", "share_below_k", "n_columns", "combination"], ascending=[False, False, True, True]
    ).reset_index(drop=True)
    drivers = []
    for c in qis:
        rest = [codes[q] for q in qis if q != c]
        without = float((_class_sizes(rest) == 1).mean()) if rest else 0.0
        drivers.append({
            "quasi_identifier": c, "distinct_values": int(customers[c].nunique(dropna=False)),
            "share_unique_alone": float((_class_sizes([codes[c]]) == 1).mean()),
            "share_unique_without_it": without,
            "uniqueness_removed": overall["share_unique"] - without,
        })
    drivers = pd.DataFrame(drivers).sort_values(
        ["uniqueness_removed", "quasi_identifier"], ascending=[False, True]
    ).reset_index(drop=True)
    bands = pd.cut(sizes_all, [0, 1, 4, k - 1 if k > 5 else 5, np.inf],
                   labels=["1 (unique)", "2-4", f"5-{k - 1}" if k > 5 else "5", f">= {k}" if k > 5 else "> 5"])
    class_sizes = (
        pd.Series(bands).value_counts(sort=False).rename_axis("class size").rename("customers").reset_index()
    )
    class_sizes["share"] = class_sizes["customers"] / len(sizes_all)
    return {"quasi_identifiers": qis, "overall": overall, "combinations": combinations,
            "drivers": drivers, "class_sizes": class_sizes}


# -- data quality -------------------------------------------------------------------------------------
def data_quality(
    customers: pd.DataFrame, transactions: pd.DataFrame | None = None, iqr_factor: float = 3.0
) -> dict[str, Any]:
    """Missingness, outliers and duplicates in the prepared tables (aggregates only).

    Outliers use Tukey's fences with factor ``iqr_factor`` (values beyond ``Q1 - f*IQR`` or
    ``Q3 + f*IQR``) on numeric columns that are not binary; only counts and the fences are shown,
    never the outlying values themselves (an extreme value can identify someone).

    Returns
    -------
    dict
        ``missing`` (per column: count and share), ``outliers`` (per column: fences, count, share),
        ``duplicates`` (dict of counts) and, with transactions, ``transactions`` (dict of counts).
    """
    body = customers.drop(columns=["customer_id"], errors="ignore")
    n = len(customers)
    missing = pd.DataFrame({
        "column": body.columns,
        "missing": [int(body[c].isna().sum()) for c in body.columns],
    })
    missing["share_missing"] = missing["missing"] / max(n, 1)
    missing = missing.sort_values(["share_missing", "column"], ascending=[False, True]).reset_index(drop=True)

    def outlier_rows(frame: pd.DataFrame, table: str) -> list[dict]:
        rows = []
        for col in frame.columns:
            s = frame[col]
            if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
                continue
            s = s.dropna().astype(float)
            if s.nunique() <= 2 or s.empty:
                continue
            q1, q3 = np.percentile(s, [25, 75])
            iqr = q3 - q1
            if iqr == 0:
                continue
            lo, hi = q1 - iqr_factor * iqr, q3 + iqr_factor * iqr
            out = int(((s < lo) | (s > hi)).sum())
            rows.append({"table": table, "column": col, "lower_fence": lo, "upper_fence": hi,
                         "outliers": out, "share_outliers": out / len(s)})
        return rows

    rows = outlier_rows(body, "customers")
    if transactions is not None:
        rows += outlier_rows(transactions[["amount"]], "transactions")
    outliers = pd.DataFrame(rows, columns=["table", "column", "lower_fence", "upper_fence", "outliers", "share_outliers"])
    duplicates = {
        "duplicate_customer_ids": int(customers["customer_id"].duplicated().sum()) if "customer_id" in customers else 0,
        "customers_identical_to_another_on_all_kept_columns": int(body.duplicated(keep=False).sum()) if len(body.columns) else 0,
    }
    result: dict[str, Any] = {"missing": missing, "outliers": outliers, "duplicates": duplicates}
    if transactions is not None:
        amount = transactions["amount"].astype(float)
        result["transactions"] = {
            "transactions": int(len(transactions)),
            "exact_duplicate_transactions": int(transactions.duplicated().sum()),
            "negative_amounts_(returns)": int((amount < 0).sum()),
            "zero_amounts": int((amount == 0).sum()),
            "customers_without_transactions": int((~customers["customer_id"].isin(set(transactions["customer_id"]))).sum()),
            "first_transaction": str(transactions["timestamp"].min().date()) if len(transactions) else None,
            "last_transaction": str(transactions["timestamp"].max().date()) if len(transactions) else None,
        }
    return result


# -- differential privacy -----------------------------------------------------------------------------
@dataclass
class DPRelease:
    """A differentially private release of per-segment counts and bounded means.

    Attributes
    ----------
    table : DataFrame
        One row per segment: ``segment``, ``count`` (noisy, rounded, at least 0) and ``mean_<f>``
        per feature (noisy sum / noisy count, clamped to the feature's bounds).
    ledger : list of dict
        One entry per query: what it computed, mechanism, epsilon and delta spent, share of the
        budget, noise scale and the 95% accuracy (noise magnitude not exceeded with 95% probability).
    epsilon, delta : float
        The budget declared; ``spent`` is what the queries used (Laplace noise spends no delta).
    accuracy : DataFrame
        ``segment``, ``statistic``, ``expected_error_95`` (from the noise scales and the released
        counts only, so it can be published with the release).
    """

    table: pd.DataFrame
    ledger: list[dict]
    epsilon: float
    delta: float
    spent: dict
    accuracy: pd.DataFrame
    bounds: dict = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def _int_factor(lo: float, hi: float) -> int:
    """Fixed-point factor so that the bound range spans at least 10^4 integer steps."""
    span = max(hi - lo, 1e-12)
    return int(10 ** max(0, math.ceil(math.log10(1e4 / span))))


def _laplace_accuracy(scale: float, alpha: float) -> float:
    return float(scale * math.log(1.0 / alpha))


def dp_release(
    frame: pd.DataFrame,
    by: str,
    bounds: dict[str, tuple[float, float]],
    epsilon: float,
    delta: float = 0.0,
    keys: list | None = None,
    count_weight: float = 1.0,
    alpha: float = 0.05,
    max_customers: int = 1_000_000_000,
    impute: dict[str, float] | None = None,
) -> DPRelease:
    """Release per-segment counts and bounded feature means with differential privacy (OpenDP).

    One customer is one row of ``frame`` (the privacy unit: adding or removing a customer). The
    budget ``epsilon`` is split over ``1 + len(features)`` queries by weight (``count_weight`` for
    the counts query, 1 for each feature's sum), composed by OpenDP's compositor so the total can
    never exceed the declared budget:

    * counts per segment: OpenDP ``dp.len()`` (integer Laplace noise);
    * per feature, the sum per segment of the value clipped to its bounds: ``dp.sum(bounds)`` on a
      fixed-point integer encoding (integer Laplace noise; avoids the floating-point slack OpenDP adds
      to float sums);
    * means are post-processing (noisy sum / noisy count), which costs no budget.

    Bounds come from the caller (the config), never from the data: values outside are clipped,
    missing values are replaced by the middle of the bounds (a data-independent choice). The segment
    ids are treated as public (``keys``: the segmentation's ids), so no budget or delta is spent on
    discovering them; the declared ``delta`` is therefore not consumed by Laplace noise.

    Parameters
    ----------
    frame : DataFrame
        One row per customer: column ``by`` and the feature columns.
    by : str
        The segment column.
    bounds : dict
        ``{feature: (lower, upper)}``; features missing from ``frame`` are skipped (listed in
        ``skipped``).
    epsilon, delta : float
        The privacy budget of the whole release.
    keys : list, optional
        The public segment ids (default: those in ``frame``, declared public).
    count_weight : float
        Weight of the counts query relative to each feature's query.
    alpha : float
        Accuracy level: the ledger's accuracy is the noise bound that holds with ``1 - alpha``.
    max_customers : int
        A public upper bound on the number of customers per segment (OpenDP needs one for sums).
    impute : dict, optional
        ``{feature: value}`` for missing values (e.g. ``frequency: 0`` for customers without
        purchases); default the middle of the bounds. Never computed from the data.
    """
    import opendp.prelude as dp
    import polars as pl

    dp.enable_features("contrib")
    if epsilon <= 0:
        raise InputError(f"Config error: privacy.dp.epsilon must be positive, got {epsilon}.")
    features = [f for f in bounds if f in frame.columns]
    skipped = [f for f in bounds if f not in frame.columns]
    keys = sorted(frame[by].dropna().unique().tolist()) if keys is None else list(keys)
    data: dict[str, Any] = {by: pd.Series(frame[by]).astype("int64").to_numpy()}
    factors: dict[str, int] = {}
    for f in features:
        lo, hi = (float(b) for b in bounds[f])
        if not lo < hi:
            raise InputError(f"Config error: privacy.dp.bounds.{f} must be [lower, upper] with lower < upper.")
        factor = _int_factor(lo, hi)
        factors[f] = factor
        fill = float((impute or {}).get(f, (lo + hi) / 2))
        values = pd.to_numeric(frame[f], errors="coerce").astype(float).fillna(fill).clip(lo, hi)
        data[f] = np.round(values.to_numpy() * factor).astype(np.int64)
    lf = pl.DataFrame(data).lazy()
    weights = [float(count_weight)] + [1.0] * len(features)
    loss = dp.loss_of(epsilon=float(epsilon), delta=float(delta)) if delta else dp.loss_of(epsilon=float(epsilon))
    context = dp.Context.compositor(
        data=lf,
        privacy_unit=dp.unit_of(contributions=1),
        privacy_loss=loss,
        split_by_weights=weights,
        margins=[dp.polars.Margin(by=[by], invariant="keys", max_length=int(max_customers), max_groups=max(len(keys), 1))],
    )
    total_w = sum(weights)
    ledger: list[dict] = []

    def spend(query, statistic: str, feature: str | None, weight: float, factor: int = 1, bnd=None):
        measurement = query.resolve()  # the noise scale is found once, then the query runs
        summary = dp.summarize_polars_measurement(measurement, alpha)
        released = context(measurement).collect().to_pandas()
        scale = float(summary["scale"][0]) / factor
        accuracy = float(summary["accuracy"][0]) / factor
        ledger.append({
            "query": len(ledger) + 1,
            "statistic": statistic,
            "feature": feature,
            "bounds": list(bnd) if bnd is not None else None,
            "mechanism": str(summary["distribution"][0]),
            "epsilon": float(epsilon) * weight / total_w,
            "delta": 0.0,
            "share_of_budget": weight / total_w,
            "noise_scale": scale,
            f"accuracy_{int(round((1 - alpha) * 100))}": accuracy,
        })
        return released, accuracy

    counts, count_acc = spend(
        context.query().group_by(by).agg(dp.len(signed=True)), "count per segment", None, weights[0]
    )
    table = pd.DataFrame({by: keys})
    counts = counts.rename(columns={"len": "count"})
    table = table.merge(counts[[by, "count"]], on=by, how="left")
    table["count"] = table["count"].fillna(0).astype(float).clip(lower=0).round().astype(int)
    acc_rows = [{by: s, "statistic": "count", "expected_error_95": count_acc} for s in keys]
    for f in features:
        lo, hi = (float(b) for b in bounds[f])
        factor = factors[f]
        q = context.query().group_by(by).agg(
            pl.col(f).dp.sum((int(round(lo * factor)), int(round(hi * factor))))
        )
        sums, sum_acc = spend(q, f"sum of {f} per segment (for its mean)", f, 1.0, factor, (lo, hi))
        sums = sums.rename(columns={f: "_sum"})
        merged = table[[by, "count"]].merge(sums[[by, "_sum"]], on=by, how="left")
        noisy_sum = merged["_sum"].astype(float) / factor
        denom = merged["count"].clip(lower=1).astype(float)
        table[f"mean_{f}"] = (noisy_sum / denom).clip(lo, hi).to_numpy()
        mag = max(abs(lo), abs(hi))
        for s, n_dp in zip(table[by], table["count"]):
            err = (sum_acc + mag * count_acc) / max(n_dp, 1)
            acc_rows.append({by: s, "statistic": f"mean_{f}", "expected_error_95": min(err, hi - lo)})
    spent_eps = float(sum(e["epsilon"] for e in ledger))
    return DPRelease(
        table=table,
        ledger=ledger,
        epsilon=float(epsilon),
        delta=float(delta),
        spent={"epsilon": spent_eps, "delta": 0.0},
        accuracy=pd.DataFrame(acc_rows),
        bounds={f: [float(b) for b in bounds[f]] for f in features},
        skipped=skipped,
    )


def dp_utility(release: DPRelease, frame: pd.DataFrame, by: str, k: int = 10) -> pd.DataFrame:
    """DP vs exact, per segment and statistic: the error actually made and the expected error.

    The exact values are the raw per-segment counts and means (missing values left out, no
    clipping), so the error includes the bias of clipping and imputation, not only the noise.
    Exact values of segments smaller than ``k`` (and their complement) are masked, like every
    published statistic (:func:`suppress_rows`).
    """
    feats = [c[len("mean_"):] for c in release.table.columns if c.startswith("mean_")]
    exact = frame.groupby(by).agg(**{"count": (by, "size")}, **{f"mean_{f}": (f, "mean") for f in feats}).reset_index()
    exact = release.table[[by]].merge(exact, on=by, how="left").fillna({"count": 0})
    masked = suppress_rows(exact, "count", k, keep=[by])
    long = []
    for stat in ["count", *[f"mean_{f}" for f in feats]]:
        for i, seg in enumerate(release.table[by]):
            long.append({
                by: seg, "statistic": stat,
                "exact": masked[stat].iloc[i],
                "dp": float(release.table[stat].iloc[i]),
            })
    out = pd.DataFrame(long)
    out["abs_error"] = (out["dp"] - out["exact"]).abs()
    out = out.merge(release.accuracy, on=[by, "statistic"], how="left")
    out["relative_error"] = out["abs_error"] / out["exact"].abs().replace(0, np.nan)
    out["within_expected"] = np.where(out["exact"].isna(), None, out["abs_error"] <= out["expected_error_95"])
    return out


def dp_budget_tradeoff(
    bounds: dict[str, tuple[float, float]],
    counts: dict | pd.Series,
    epsilons=(0.1, 1.0, 10.0),
    count_weight: float = 1.0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Expected 95% error of each released statistic at other budgets (no data is touched).

    Uses the Laplace noise scales implied by the budget split (sensitivity 1 for counts,
    ``max(|lower|, |upper|)`` for sums) and the released (noisy) segment sizes; a planning aid for
    choosing epsilon, not a release.
    """
    feats = list(bounds)
    total_w = count_weight + len(feats)
    rows = []
    sizes = pd.Series(counts, dtype=float)
    for eps in epsilons:
        count_acc = _laplace_accuracy(1.0 / (eps * count_weight / total_w), alpha)
        row = {"epsilon": eps, "count": count_acc}
        for f in feats:
            lo, hi = (float(b) for b in bounds[f])
            mag = max(abs(lo), abs(hi))
            sum_acc = _laplace_accuracy(mag / (eps / total_w), alpha)
            errs = [(min((sum_acc + mag * count_acc) / max(n, 1), hi - lo)) for n in sizes]
            row[f"mean_{f} (median over segments)"] = float(np.median(errs)) if errs else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


# -- stages -------------------------------------------------------------------------------------------
def _suppression_k(run: "Run") -> int:
    return int(run.read_json("data/prepare.json").get("suppression_k", DEFAULTS["suppression_k"]))


@register_stage("privacy/audit.json")
def privacy_audit_run(run: "Run") -> dict[str, Any]:
    """Notebook 01's audit of the prepared data: validation, minimisation, risk, quality.

    Writes ``artifacts/privacy/audit.json`` (checks, overall risk, duplicates) and Parquet tables
    (``reid_combinations``, ``reid_drivers``, ``reid_class_sizes``, ``quality_missing``,
    ``quality_outliers``), and the key numbers to ``summary.json`` (``01_data_privacy``).

    Returns
    -------
    dict
        ``prepare`` (data/prepare.json), ``checks``, ``inventory``, ``minimisation``, ``risk``
        (see :func:`reidentification_risk`), ``quality`` (see :func:`data_quality`), ``k``.
    """
    settings = run.settings("privacy", DEFAULTS)
    prep = run.read_json("data/prepare.json")
    k = _suppression_k(run)
    customers = run.customers()
    tx = run.transactions()
    inv = pd.DataFrame(prep["inventory"])
    checks = validation_checks(run)
    mini = minimisation_summary(inv) if len(inv) else pd.DataFrame(columns=["outcome", "columns", "which"])
    risk = reidentification_risk(customers, run.roles.quasi_identifiers, k,
                                 int(settings["risk"].get("max_combination", 3)))
    quality = data_quality(customers, tx, float(settings["quality"].get("iqr_factor", 3.0)))
    if len(quality["outliers"]):  # small outlier counts are small cells too
        quality["outliers"] = suppress_rows(
            quality["outliers"], "outliers", k, keep=["table", "column", "lower_fence", "upper_fence"],
            total_known=False,
        )
    for name, table in [
        ("reid_combinations", risk["combinations"]), ("reid_drivers", risk["drivers"]),
        ("reid_class_sizes", risk["class_sizes"]), ("quality_missing", quality["missing"]),
        ("quality_outliers", quality["outliers"]),
    ]:
        run.write_table(f"privacy/{name}.parquet", pd.DataFrame(table))
    run.write_json("artifacts/privacy/audit.json", {
        "checks": checks, "overall_risk": risk["overall"], "duplicates": quality["duplicates"],
        "transactions": quality.get("transactions"), "suppression_k": k,
    })
    counts = prep["counts"]
    kept = int(inv["kept"].sum()) if len(inv) else 0
    n_direct = int(inv["role"].str.contains("direct_identifier").sum()) if len(inv) else 0
    headline = [
        f"{counts['customers_kept']:,} of {counts['customers_in_input']:,} customers analysed: "
        f"{counts['opted_out_of_profiling']:,} opted out of profiling, {counts['erased']:,} erased on request.",
        f"{kept} of {len(inv)} input columns kept (declared purpose); {n_direct} direct identifier(s) dropped at load.",
        "Customer ids are keyed pseudonyms" + (
            " under a configured key." if prep["pseudonyms_persistent"]
            else " under a random per-run key: they cannot be linked across runs."),
    ]
    if risk["overall"]:
        o = risk["overall"]
        headline.append(
            f"Re-identification risk: {o['share_unique']:.1%} of customers are unique on their "
            f"quasi-identifiers ({o['quasi_identifiers']}); k-anonymity level {o['k_anonymity']}."
        )
    run.summarise(
        "01_data_privacy",
        checks_passed=bool(checks["passed"].all()),
        columns_in=len(inv),
        columns_kept=kept,
        direct_identifiers_dropped=n_direct,
        pseudonyms_persistent=bool(prep["pseudonyms_persistent"]),
        suppression_k=k,
        k_anonymity=risk["overall"]["k_anonymity"] if risk["overall"] else None,
        share_unique=round(risk["overall"]["share_unique"], 4) if risk["overall"] else None,
        headline=headline,
    )
    return {"prepare": prep, "checks": checks, "inventory": inv, "minimisation": mini,
            "risk": risk, "quality": quality, "k": k}


def _release_frame(run: "Run", bounds: dict) -> tuple[pd.DataFrame, list]:
    """One row per customer: segment + every bounded feature found in the run (original units)."""
    assignments = run.read_table("segments/assignments.parquet")[["customer_id", "segment"]]
    frame = assignments.copy()
    if run.has("segments/features.parquet"):
        feats = pd.read_parquet(run.path / "artifacts" / "segments" / "features.parquet")
        cols = [c for c in bounds if c in feats.columns]
        frame = frame.merge(feats[["customer_id", *cols]], on="customer_id", how="left")
    customers = run.customers()
    cols = [c for c in bounds if c in customers.columns and c not in frame.columns]
    if cols:
        frame = frame.merge(customers[["customer_id", *cols]], on="customer_id", how="left")
    wanted_rfm = [c for c in ("recency", "frequency", "monetary") if c in bounds and c not in frame.columns]
    if wanted_rfm and run.has_transactions:
        from .features import rfm

        frame = frame.merge(rfm(run.transactions())[["customer_id", *wanted_rfm]], on="customer_id", how="left")
    keys = sorted(int(s) for s in assignments["segment"].unique())
    if run.has("segments/segments.json"):
        names = run.read_json("artifacts/segments/segments.json").get("names") or {}
        if names:
            keys = sorted(int(s) for s in names)
    return frame.drop(columns=["customer_id"]), keys


@register_stage("privacy/dp_release.parquet")
def private_release_run(run: "Run") -> DPRelease | None:
    """Notebook 06: the differentially private release of segment profiles, once per run.

    Reads ``segments/assignments.parquet`` (producing it if needed) and the bounded features;
    writes ``artifacts/privacy/dp_release.parquet`` (the release), ``dp_utility.parquet`` (DP vs
    exact, internal), ``dp_release.json``, the ``dp_ledger`` manifest entry and the deterministic
    key numbers (budget, queries, expected count error) to ``summary.json``. With
    ``privacy.dp.enabled: false`` it writes an empty release and returns ``None``.
    """
    settings = run.settings("privacy", DEFAULTS)["dp"]
    if not settings.get("enabled"):
        run.write_table("privacy/dp_release.parquet", pd.DataFrame({"segment": pd.Series([], dtype="int64")}))
        run.write_json("artifacts/privacy/dp_release.json", {"enabled": False})
        run.summarise("06_private_release", enabled=False,
                      headline=["No differentially private release: privacy.dp.enabled is false."])
        return None
    bounds = {str(f): tuple(float(b) for b in v) for f, v in (settings.get("bounds") or {}).items()}
    k = _suppression_k(run)
    frame, keys = _release_frame(run, bounds)
    release = dp_release(
        frame, "segment", bounds, float(settings["epsilon"]), float(settings.get("delta") or 0.0),
        keys=keys, count_weight=float(settings.get("count_weight", 1.0)),
        alpha=float(settings.get("alpha", 0.05)), max_customers=int(settings.get("max_customers", 10**9)),
        impute={str(f): float(v) for f, v in (settings.get("impute") or {}).items()},
    )
    names = run.read_table("segments/assignments.parquet").drop_duplicates("segment").set_index("segment")["segment_name"]
    table = release.table.copy()
    table.insert(1, "segment_name", table["segment"].map(names).astype(str))
    run.write_table("privacy/dp_release.parquet", table)
    run.write_table("privacy/dp_accuracy.parquet", release.accuracy)
    utility = dp_utility(release, frame, "segment", k)
    utility.insert(1, "segment_name", utility["segment"].map(names).astype(str))
    run.write_table("privacy/dp_utility.parquet", utility)
    meta = {
        "enabled": True, "epsilon": release.epsilon, "delta": release.delta, "spent": release.spent,
        "bounds": release.bounds, "skipped_features": release.skipped, "segments_public": True,
        "privacy_unit": "one customer (one row)", "count_weight": float(settings.get("count_weight", 1.0)),
        "alpha": float(settings.get("alpha", 0.05)),
    }
    run.write_json("artifacts/privacy/dp_release.json", meta)
    run.add_to_manifest("dp_ledger", {
        "epsilon": release.epsilon, "delta": release.delta, "spent": release.spent,
        "library": "opendp", "queries": release.ledger,
    })
    count_acc = release.ledger[0][next(key for key in release.ledger[0] if key.startswith("accuracy_"))]
    run.summarise(
        "06_private_release",
        enabled=True,
        epsilon=release.epsilon,
        delta=release.delta,
        epsilon_spent=round(release.spent["epsilon"], 10),
        queries=len(release.ledger),
        features=list(release.bounds),
        count_error_95=round(count_acc, 4),
        headline=[
            f"Segment profiles released with differential privacy (OpenDP): epsilon {release.epsilon:g}"
            f" over {len(release.ledger)} queries (counts and {len(release.bounds)} bounded mean(s));"
            f" counts are within +/-{count_acc:.0f} with 95% probability.",
        ],
    )
    return release


def load_private_release(run: "Run") -> dict[str, Any]:
    """The run's DP release (made once per run by :func:`private_release_run`) and its ledger."""
    run.require("privacy/dp_release.parquet")
    meta = run.read_json("artifacts/privacy/dp_release.json")
    if not meta.get("enabled"):
        return {"enabled": False}
    ledger = run.read_json("manifest_parts/dp_ledger.json")
    release = run.read_table("privacy/dp_release.parquet")
    return {
        **meta,
        "release": release,
        "ledger": pd.DataFrame(ledger["queries"]),
        "utility": run.read_table("privacy/dp_utility.parquet"),
        "tradeoff": dp_budget_tradeoff(
            meta["bounds"], release.set_index("segment")["count"], count_weight=meta["count_weight"],
            alpha=meta["alpha"],
        ),
    }
