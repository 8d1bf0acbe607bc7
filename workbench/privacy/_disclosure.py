"""The disclosure attack on a published table of counts: its linear equations and what they pin down.

An attacker knows the published cells, the totals and that counts are non-negative; the helpers here
turn a table into those equations, solve for the bounds of each hidden cell (linear programming) and
find which hidden cells the equations alone determine. :mod:`._suppression` uses them to choose
complementary cells; :func:`disclosure_intervals` runs the attack for a reviewer or a test.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np
import pandas as pd


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


def _with_margins(values: np.ndarray, margins: bool) -> np.ndarray:
    """The published grid: with ``margins``, a total column and row appended.

    Always both, even along an axis with a single line (whose total equals it): every consumer can
    then read ``"Total"`` without special cases, and the equation "line = its total" makes the
    suppression hide the total with its only cell.
    """
    full = values
    if margins:
        full = np.hstack([full, full.sum(axis=1, keepdims=True)])
        full = np.vstack([full, full.sum(axis=0, keepdims=True)])
    return full


def _table_equations(values: np.ndarray, full: np.ndarray, margins: bool) -> list:
    """What the attacker knows as (cells, coefficients, right-hand side) over the cells of ``full``.

    With margins, each line of the grid sums to its (published, possibly hidden) total cell; without,
    each row and column of the interior sums to its exact total.
    """
    shape = full.shape
    var = np.arange(full.size).reshape(shape)
    if not margins:
        return _total_equations(var, values)
    equations = []
    if shape[1] > values.shape[1]:  # interior of each row (and the column-total row) minus its total = 0
        for i in range(shape[0]):
            equations.append((var[i], np.r_[np.ones(shape[1] - 1), -1.0], 0.0))
    if shape[0] > values.shape[0]:
        for j in range(shape[1]):
            equations.append((var[:, j], np.r_[np.ones(shape[0] - 1), -1.0], 0.0))
    return equations


def _total_equations(var: np.ndarray, values: np.ndarray) -> list:
    """Row and column sums of a table published without margins, as (cells, coefficients, total)."""
    n_rows, n_cols = values.shape
    equations = []
    if n_cols > 1:
        equations += [(var[i], np.ones(n_cols), float(values[i].sum())) for i in range(n_rows)]
    if n_rows > 1:
        equations += [(var[:, j], np.ones(n_rows), float(values[:, j].sum())) for j in range(n_cols)]
    return equations


def _unknown_rows(equations, unknown: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Each equation's coefficients on the unknown cells, as (equation, row) pairs, skipping those
    with no unknown cell."""
    unk = np.flatnonzero(unknown)
    pos = np.zeros(len(unknown), dtype=int)
    pos[unk] = np.arange(len(unk))
    rows = []
    for e, (idx, coef, _) in enumerate(equations):
        mask = unknown[idx]
        if not mask.any():
            continue
        row = np.zeros(len(unk))
        row[pos[idx[mask]]] = coef[mask]
        rows.append((e, row))
    return rows


def _lp_bounds(flat, equations, unknown):
    """Min and max of each unknown variable subject to the equations and non-negativity."""
    from ._ranges import OPTIMAL, RangeSolver

    unk = np.flatnonzero(unknown)
    rows = _unknown_rows(equations, unknown)
    a_rows, b = [], []
    for e, row in rows:
        idx, coef, rhs = equations[e]
        mask = unknown[idx]
        a_rows.append(row)
        b.append(rhs - float(np.dot(coef[~mask], flat[idx[~mask]])))
    lows, highs = [], []
    if not a_rows:
        return [0.0] * len(unk), [np.inf] * len(unk)
    solver = RangeSolver(np.array(a_rows), np.array(b), np.zeros(len(unk)), np.full(len(unk), np.inf))
    for i in range(len(unk)):
        lo_status, lo, _ = solver.solve(i, 1.0)
        hi_status, hi, _ = solver.solve(i, -1.0)
        lows.append(lo if lo_status == OPTIMAL else 0.0)
        highs.append(hi if hi_status == OPTIMAL else np.inf)
    return lows, highs


def _determined(flat_unknown: np.ndarray, equations, only: int | None = None) -> np.ndarray:
    """Which unknowns are fixed by the linear equations alone (ignoring non-negativity).

    An unknown is fixed when the null space of the equations has no component along it. The
    equations split into independent groups of unknowns (:func:`._attack._components`), and the null
    space of the whole system is the product of theirs, so each group is decomposed alone: a few
    small singular value decompositions instead of one of the whole run (seconds per call on a run's
    linked tables), each remembered by content (:data:`_FIXED`). With ``only`` (a cell position),
    just its group is decomposed and the others read as not fixed.
    """
    from ._attack import _components

    unk = np.flatnonzero(flat_unknown)
    fixed = np.zeros(len(unk), dtype=bool)
    if len(unk) == 0:
        return fixed
    rows = _unknown_rows(equations, flat_unknown)
    if not rows:
        return fixed
    a = np.array([row for _, row in rows])
    for comp in _components(unk, [row for _, row in rows]):
        if only is not None and only not in unk[comp]:
            continue
        eq = np.flatnonzero(np.abs(a[:, comp]).sum(axis=1) > 0)
        if not len(eq):  # an unknown in no equation is free
            continue
        fixed[comp] = _fixed(a[np.ix_(eq, comp)])
    return fixed


#: :func:`_fixed` of the systems seen, by content: most groups of a run's linked tables are unchanged
#: from one suppression round to the next. Least recently used entries go first beyond 4096.
_FIXED: OrderedDict = OrderedDict()


def _fixed(a: np.ndarray) -> np.ndarray:
    """Which variables of ``a @ x = b`` every solution shares (no null-space direction moves them)."""
    from scipy.linalg import null_space
    from threadpoolctl import threadpool_limits

    a = np.ascontiguousarray(a, dtype=float)
    key = hashlib.blake2b(repr(a.shape).encode() + a.tobytes(), digest_size=20).digest()
    if key not in _FIXED:
        # one BLAS thread: a few hundred columns gain nothing from two, and on a busy machine the second
        # thread's waits made each decomposition 10-20 times slower (bench/README.md, issue 23)
        with threadpool_limits(limits=1, user_api="blas"):
            try:
                basis = null_space(a)
            except np.linalg.LinAlgError:  # LAPACK's divide-and-conquer SVD fails on a few matrices
                basis = null_space(a, lapack_driver="gesvd")
        _FIXED[key] = np.ones(a.shape[1], dtype=bool) if basis.size == 0 else np.linalg.norm(basis, axis=1) < 1e-8
        if len(_FIXED) > 4096:
            _FIXED.popitem(last=False)
    _FIXED.move_to_end(key)
    return _FIXED[key].copy()


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
    margins : bool, default False

    Returns
    -------
    DataFrame
        One row per suppressed cell: ``row``, ``column``, ``true``, ``low``, ``high``, ``disclosed``.
    """
    values = _count_matrix(exact)
    pub = published.to_numpy(dtype=float)
    full = _with_margins(values, margins)
    shape = full.shape
    if pub.shape != shape:
        raise ValueError(f"published table has shape {pub.shape}, expected {shape}")
    equations = _table_equations(values, full, margins)
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
