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

import numpy as np
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
        if n_cols > 1:
            for i in range(n_rows):
                equations.append((var[i], np.ones(n_cols), float(values[i].sum())))
        if n_rows > 1:
            for j in range(n_cols):
                equations.append((var[:, j], np.ones(n_rows), float(values[:, j].sum())))
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
        if n_cols > 1:
            for i in range(n_rows):
                equations.append((var[i], np.ones(n_cols), float(values[i].sum())))
        if n_rows > 1:
            for j in range(n_cols):
                equations.append((var[:, j], np.ones(n_rows), float(values[:, j].sum())))
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
            and (str(c) in _LABEL_NAMES or not pd.api.types.is_numeric_dtype(out[c]) or pd.api.types.is_bool_dtype(out[c]) and False)
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
