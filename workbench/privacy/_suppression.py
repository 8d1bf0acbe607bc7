"""Small-cell suppression: tables of counts (with complementary cells) and per-group rows.

Complementary cells are chosen greedily: within the row or column that needs a partner, the
smallest positive count, preferring a cell whose other line also needs a partner (so one cell
protects two lines); zero counts and total cells are used only when nothing else works.

Zero counts are *not* suppressed: an empty cell describes no one, and suppressing zeros would
cost a lot of utility (segment-by-attribute tables are often sparse). Zero cells are kept out of
complementary suppression where possible, because a suppressed set that sums to zero reveals
that all its cells are zero. If an empty cell is itself disclosive in your setting (e.g. "no
customer of group A is in segment S" for a small group), suppress the margin instead.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._attack import (COMPLEMENT, DIFFERENCE, HIDDEN, PROTECTION_WIDTH, SMALL, AttackMemo, _system,
                      integer_intervals, is_disclosed)
from ._cellkey import CellKeySettings, grid_shift
from ._disclosure import _count_matrix, _determined, _table_equations, _with_margins

_LABEL_NAMES = ("segment", "segment_id", "segment_name", "cluster", "group", "label")


def suppress_counts(
    table: pd.DataFrame,
    k: int = 10,
    margins: bool = False,
    total_label: str = "Total",
    width: int = PROTECTION_WIDTH,
    incremental: bool = True,
    batch: bool = True,
    perturbation: "CellKeySettings | None" = None,
    population: str = "",
) -> pd.DataFrame:
    """Small-cell suppression of a 2-D table of counts, with complementary suppression.

    Cells with ``0 < count < k`` (with ``perturbation``: whose perturbed count is below ``k``) are
    suppressed; then complementary cells, until no hidden cell can be recovered from the totals by any
    linear combination or pinned by non-negativity (exact bounds by linear programming,
    :func:`disclosure_intervals`), and until the integer attacker who knows the printed rules ("< k"
    is 1 to ``k - 1``, "hidden†" 0 or at least ``k``) narrows no hidden cell below ``width``. How
    complements are chosen and why zeros are never hidden: the module's docstring.

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
    width : int, default 2
        The protection width: no hidden cell may be narrowed to ``high - low < width``
        (``privacy.protection_width``).
    incremental : bool, default True
        Let the integer attacks of successive rounds reuse what earlier ones found
        (:class:`._attack.AttackMemo`); False attacks every round from scratch. Either gives the same table.
    batch : bool, default True
        Choose a complement for every exposed cell after each attack (:func:`_batch`); False hides one
        cell per attack (slower, and often more cells). Both end only when the attack finds nothing.
    perturbation : CellKeySettings, optional
        Decide primary suppression on the perturbed count (ABS TableBuilder; :func:`_primary`), so an
        erasure does not by itself move a cell across ``k``; the attacker's rules widen by ``D``. Publish
        the result with :func:`workbench.privacy.publish_counts`, which prints the same perturbations.
    population : str, default ""
        The population the table counts, for the cell keys (see ``perturbation``).

    Returns
    -------
    DataFrame
        Same shape (plus totals if ``margins``), float, suppressed cells ``NaN``.
        ``attrs["complementary"]`` lists the ``(row, column)`` labels of the cells hidden only to
        protect another cell (their own count may be k or more); every other hidden cell counts 1 to
        ``k - 1`` customers. :func:`workbench.report.table` labels the two kinds differently.
    """
    values = _count_matrix(table)
    full = _with_margins(values, margins)
    row_total_col = full.shape[1] > values.shape[1]
    col_total_row = full.shape[0] > values.shape[0]
    shape = full.shape
    flat = full.ravel().astype(float)
    equations = _table_equations(values, full, margins)
    is_total = _total_cells(shape, row_total_col, col_total_row)
    index = list(table.index) + ([total_label] if col_total_row else [])
    columns = list(table.columns) + ([total_label] if row_total_col else [])
    primary = _primary(full, index, columns, (table.index.name, table.columns.name), k, perturbation, population)
    rules = _IntegerRules(small=primary, difference=np.zeros(len(flat), dtype=bool), k=k, width=width,
                          incremental=incremental, slack=0 if perturbation is None else perturbation.max_perturbation)
    suppressed = _protect(flat, equations, primary, is_total.ravel(), integer=rules, batch=batch)
    out = np.where(suppressed.reshape(shape), np.nan, full.astype(float))
    result = pd.DataFrame(out, index=pd.Index(index, name=table.index.name), columns=pd.Index(columns, name=table.columns.name))
    rows, cols = np.unravel_index(np.flatnonzero(suppressed & ~primary), shape)
    result.attrs["complementary"] = [(index[i], columns[j]) for i, j in zip(rows, cols)]
    result.attrs["decided_on_perturbed"] = perturbation is not None
    return result


def _primary(full: np.ndarray, index: list, columns: list, dims: tuple, k: int,
             perturbation: CellKeySettings | None, population: str) -> np.ndarray:
    """The positive cells below ``k``, flat: exact counts, or as printed with ``perturbation``.

    Decided on the printed count, whether a count near ``k`` is shown depends on its cell key, which an
    erasure redraws; the attacker then knows "< k" as 1 to ``k - 1 + D`` and "hidden†" as 0 or at least
    ``k - D``. Cells are keyed by the dims' names and ``population``, as ``publish_counts`` keys them.
    """
    flat = full.ravel().astype(float)
    if perturbation is None:
        return (flat > 0) & (flat < k)
    grid = pd.DataFrame(full, index=[str(i) for i in index], columns=[str(c) for c in columns])
    shift = grid_shift(grid, str(dims[0]), str(dims[1]), population, perturbation).ravel()
    return (flat > 0) & (flat + shift < k)


def _total_cells(shape: tuple[int, int], row_total_col: bool, col_total_row: bool) -> np.ndarray:
    """Which cells of the published grid are margins (the last column and/or row)."""
    is_total = np.zeros(shape, dtype=bool)
    is_total[:, -1] = row_total_col
    is_total[-1, :] |= col_total_row
    return is_total


def _cost(v: int, flat, is_total, eq_of: dict, needy=frozenset()) -> tuple:
    """Sort key of a candidate complement: real cells before totals, positive before zero, cells
    that also close another needy line first, then the smallest count (ties: position)."""
    closes = any(e in needy for e in eq_of.get(v, []))
    return (bool(is_total[v]), flat[v] == 0, not closes, flat[v], v)


def _degree_rule(sup: np.ndarray, equations, cost, free: np.ndarray, unprotected: np.ndarray) -> None:
    """Give every line with exactly one suppressed cell a partner (in place), until none is left
    (a line whose one unknown needs no protection, an ``unprotected`` quantity, needs none)."""

    def n_unknown(e):
        return int(sup[equations[e][0]].sum())

    def lone_needs_partner(e):
        idx = equations[e][0]
        return n_unknown(e) == 1 and not unprotected[idx[sup[idx]][0]]

    changed = True
    while changed:
        changed = False
        needy = frozenset(e for e in range(len(equations)) if lone_needs_partner(e))
        for e in sorted(needy):
            if n_unknown(e) != 1:
                continue
            idx = equations[e][0]
            cands = [int(v) for v in idx if not sup[v] and free[v]]
            if not cands:
                continue
            others = frozenset(x for x in needy if x != e)
            best = min(cands, key=lambda v: cost(v, others))
            sup[best] = True
            changed = True


def _exposed_cells(flat, equations, sup: np.ndarray, unprotected: np.ndarray) -> list[int]:
    """The suppressed cells the attacker can still pin down, in position order: those the equations
    determine, else those non-negativity pins (empty when every suppressed cell is safe, or the table is
    too large for the exact audit)."""
    unk = np.flatnonzero(sup)
    det = _determined(sup, equations) & ~unprotected[unk]
    if det.any():
        return [int(v) for v in unk[det]]
    if sup.sum() > 400:  # exact LP audit is for publishable (small) tables
        return []
    return _pinned(np.where(sup, 0.0, flat), equations, sup, unprotected)


def _pinned(flat, equations, sup: np.ndarray, unprotected: np.ndarray) -> list[int]:
    """The protected unknowns whose linear-programming interval is a single value.

    Every solution found is a feasible point, so an unknown whose values over the points found so far
    already differ is not pinned and needs no programme of its own (most of them, after a few solves).
    One HiGHS model serves every programme (:class:`._ranges.RangeSolver`).
    """
    from ._ranges import OPTIMAL, RangeSolver

    unk = np.flatnonzero(sup)
    _, rows, rhs = _system(flat, equations, sup)
    if not rows:
        return []
    solver = RangeSolver(np.array(rows), rhs, np.zeros(len(unk)), np.full(len(unk), np.inf))
    seen_lo, seen_hi = np.full(len(unk), np.inf), np.full(len(unk), -np.inf)
    pinned = []
    for i, v in enumerate(unk):
        if unprotected[v] or seen_hi[i] - seen_lo[i] >= 0.5:
            continue
        ends = []
        for sign in (1.0, -1.0):
            status, value, x = solver.solve(i, sign)
            if status != OPTIMAL:
                break
            seen_lo, seen_hi = np.minimum(seen_lo, x), np.maximum(seen_hi, x)
            ends.append(value)
        if len(ends) == 2 and ends[0] > ends[1] - 0.5:
            pinned.append(int(v))
    return pinned


def _candidates(target: int, sup: np.ndarray, equations, eq_of: dict, cost, free: np.ndarray) -> list[int]:
    """Cells that may be hidden next for ``target``, cheapest first: those sharing an equation with it,
    else every free cell."""
    cands = sorted(
        {int(v) for e in eq_of.get(target, []) for v in equations[e][0] if not sup[v] and free[v]},
        key=cost,
    )
    return cands or sorted((int(v) for v in np.flatnonzero(~sup & free)), key=cost)


def _complement_for(target: int, sup: np.ndarray, equations, eq_of: dict, cost, free: np.ndarray) -> int | None:
    """The cheapest cell to suppress next so that ``target`` is no longer determined (None: no
    cell left to suppress)."""
    cands = _candidates(target, sup, equations, eq_of, cost, free)
    if not cands:
        return None
    chosen = cands[0]
    for v in cands[:20]:  # prefer the cheapest single cell that un-determines the target
        trial = sup.copy()
        trial[v] = True
        d = _determined(trial, equations, only=target)
        if not d[np.searchsorted(np.flatnonzero(trial), target)]:
            chosen = v
            break
    return chosen


def _protect(flat, equations, primary, is_total, max_rounds: int = 10_000, free=None, unprotected=None,
             integer: "_IntegerRules | None" = None, batch: bool = True):
    """Add complementary suppressions until no suppressed cell is determined (see suppress_counts).

    ``free`` marks the cells that may be chosen as complements (default: all); the others are
    already published elsewhere (:func:`workbench.privacy.suppress_and_publish`). ``unprotected``
    marks unknowns that need no protection (a population difference that is not a small count).
    With ``integer``, the linear attack is followed by the integer attack of the printed rules
    (:func:`._attack.integer_intervals`), and cells are added until it too narrows nothing.

    Each round attacks once and, with ``batch``, chooses a complement for every exposed cell at once
    (:func:`_batch`), as tau-Argus's modular method protects every sensitive cell of a subtable before
    the next audit; without, one complement per round. Either way the rounds end only when the attack
    finds nothing, so the guarantee is the same; batching needs far fewer attacks.
    """
    sup = primary.copy()
    free = np.ones(len(flat), dtype=bool) if free is None else free
    unprotected = np.zeros(len(flat), dtype=bool) if unprotected is None else unprotected
    if not (sup & ~unprotected).any() or not equations:
        return sup
    eq_of: dict[int, list[int]] = {}
    for e, (idx, _, _) in enumerate(equations):
        for v in idx:
            eq_of.setdefault(int(v), []).append(e)

    def cost(v, needy=frozenset()):
        return _cost(v, flat, is_total, eq_of, needy)

    def linear(target, trial, order):
        return _complement_for(target, trial, equations, eq_of, order, free)

    exposures: dict[int, int] = {}

    def attacked(target, trial, order):
        # in a batch the cheapest candidate is hidden untried (it nearly always protects its target, and the
        # next attack checks it anyway); a target exposed a second time gets its candidates tried; one exposed
        # again after that needs several cells, which no single trial finds, so each round adds the cheapest
        exposures[target] = exposures.get(target, 0) + 1
        tries = 3 if exposures[target] == 2 or not batch else 0
        return integer.complement_for(target, _candidates(target, trial, equations, eq_of, order, free), flat,
                                      equations, trial, tries)

    for _ in range(max_rounds):
        _degree_rule(sup, equations, cost, free, unprotected)
        targets, complement = _exposed_cells(flat, equations, sup, unprotected), linear
        if not targets and integer is not None:
            targets, complement = integer.exposed(flat, equations, sup), attacked
        if not targets:
            return sup
        chosen = _batch(targets if batch else targets[:1], sup, eq_of, cost, complement)
        if not chosen:
            warnings.warn(
                "small-cell suppression cannot protect this table while its exact totals are "
                "published (a total is itself below k); every cell is suppressed. Use "
                "margins=True to suppress the small totals too.",
                stacklevel=3,
            )
            return sup
        sup[chosen] = True
    return sup


def _batch(targets: list[int], sup: np.ndarray, eq_of: dict, cost, complement) -> list[int]:
    """One complement for each exposed cell of a round, chosen in turn as if the earlier ones were hidden.

    A target on a line (equation) of a complement already chosen this round is left to the next round's
    attack: that complement may protect it too (one cell for two, the fewest hidden). For the same
    reason a candidate on another target's line is preferred (:func:`_cost`'s ``needy``).
    ``complement(target, hidden, order)`` picks one cell (None: none left), ``order`` its sort key.
    """
    trial = sup.copy()
    chosen: list[int] = []
    touched: set[int] = set()
    for target in targets:
        if touched.intersection(eq_of.get(target, [])):
            continue
        needy = frozenset(e for other in targets if other != target for e in eq_of.get(other, []))
        v = complement(target, trial, lambda c, _needy=needy: cost(c, _needy))
        if v is None:
            continue
        trial[v] = True
        chosen.append(v)
        touched.update(eq_of.get(v, []))
    return chosen


@dataclass
class _IntegerRules:
    """What the integer attacker knows of each unknown as it will be printed: cells in ``small`` are
    "< k" (1 to k - 1), other hidden cells "hidden†" (0 or >= k), ``difference`` quantities are never
    published (>= 0), ``unmarked`` cells were printed without saying which (>= 0); ``slack`` widens the
    first two rules by ``D`` when primary suppression is decided on the perturbed count. ``scope`` limits
    the attack to the components holding those cells. With ``incremental`` (the default) every attack
    of one suppression shares an :class:`._attack.AttackMemo`: the same verdicts, fewer programmes."""

    small: np.ndarray
    difference: np.ndarray
    k: int
    width: int
    scope: np.ndarray | None = None
    unmarked: np.ndarray | None = None
    incremental: bool = True
    slack: int = 0
    memo: AttackMemo | None = field(default=None, init=False)

    def __post_init__(self):
        self.memo = AttackMemo() if self.incremental else None

    def markers(self) -> np.ndarray:
        """Each quantity's marker as the attacker reads it (see :mod:`._attack`)."""
        markers = np.where(self.small, SMALL, COMPLEMENT)
        if self.unmarked is not None:
            markers[self.unmarked] = HIDDEN
        markers[self.difference] = DIFFERENCE
        return markers

    def exposed(self, flat, equations, sup) -> list[int]:
        """The unknowns the integer attacker narrows below the protection width, in position order."""
        markers = self.markers()
        values = np.where(sup, np.nan, flat)
        targets = sup if self.scope is None else sup & self.scope
        bounds = integer_intervals(values, equations, markers, self.k, self.width, targets=targets, memo=self.memo,
                                   slack=self.slack)
        return [v for v in sorted(bounds) if is_disclosed(*bounds[v], markers[v], self.k, self.width, self.slack)]

    def complement_for(self, target: int, candidates: list[int], flat, equations, sup,
                       tries: int = 3) -> int | None:
        """The cheapest of the first ``tries`` candidates after whose hiding the integer attacker no
        longer narrows ``target`` (else the cheapest; None when there is none)."""
        markers = self.markers()
        only = np.zeros(len(flat), dtype=bool)
        only[target] = True
        for v in candidates[:tries]:
            trial = sup.copy()
            trial[v] = True
            bounds = integer_intervals(np.where(trial, np.nan, flat), equations, markers, self.k, self.width,
                                       targets=only, only_targets=True, memo=self.memo, slack=self.slack)
            if target not in bounds or not is_disclosed(*bounds[target], markers[target], self.k, self.width,
                                                        self.slack):
                return v
        return candidates[0] if candidates else None


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
        hold ``None``) and the boolean column ``suppressed``. ``attrs["complementary"]`` lists the
        ``(row, column)`` labels hidden only to protect another row (see :func:`suppress_counts`).
    """
    if count_column not in df.columns:
        raise KeyError(f"count column {count_column!r} not in the table")
    out = df.copy()
    if "suppressed" in out.columns:
        out = out.drop(columns="suppressed")
    counts = pd.to_numeric(out[count_column], errors="coerce").fillna(0).to_numpy(dtype=float)
    suppressed = (counts > 0) & (counts < k)
    pick = None
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
    out.attrs["complementary"] = [] if pick is None else [(out.index[pick], c) for c in stats]
    return out
