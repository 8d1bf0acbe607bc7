"""The integer attack: what a reader who knows the printed suppression rules can prove about each hidden count.

A linear-programming attacker treats a hidden cell as any number >= 0. The report tells a reader more:
zeros are never primary-suppressed, so a cell marked "< k" holds 1 to k - 1 customers; a cell marked
"hidden†" is hidden only to protect another, so it holds 0 or at least k; every count is an integer.
When primary suppression is decided on the perturbed count (the default with the cell-key method,
:mod:`._cellkey`), the rules are wider by the largest perturbation ``D`` (``slack``): "< k" is 1 to
k - 1 + D, "hidden†" 0 or at least k - D.
With those rules, a row ``[1, 1, 20, 24]`` published as ``[–, –, 20, 24]`` with total 46 gives both
hidden cells away (each is 1), which the linear attack misses. Here each hidden quantity's smallest and
largest value consistent with every equation and every printed rule is found with an integer programme
(:func:`scipy.optimize.milp`, HiGHS), component by component of the equation graph.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np

#: What a reader knows about an unknown quantity from how it is printed.
SHOWN, SMALL, COMPLEMENT, HIDDEN, DIFFERENCE = 0, 1, 2, 3, 4

#: Default protection width: a hidden count is disclosed when the attacker narrows it to an interval
#: ``high - low`` smaller than this (so 2: never to one value, never to two adjacent values).
PROTECTION_WIDTH = 2


def _components(unknown_pos: np.ndarray, rows: list[np.ndarray]) -> list[np.ndarray]:
    """Groups of unknowns (positions into ``unknown_pos``) that share an equation, transitively; ordered by
    their first unknown, each sorted (the connected components of the unknowns' shared-equation graph)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(unknown_pos)
    if not rows:
        return [np.array([i]) for i in range(n)]
    eq, var = np.nonzero(np.array(rows))
    # unknowns and equations as the two sides of one graph: an unknown reaches every other of its equations
    graph = coo_matrix((np.ones(len(eq)), (var, n + eq)), shape=(n + len(rows),) * 2)
    _, labels = connected_components(graph, directed=False)
    labels = labels[:n]
    order = np.argsort(labels, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)
    return sorted(groups, key=lambda g: g[0])


def _system(values: np.ndarray, equations: list, unknown: np.ndarray):
    """Each equation's coefficients on the unknowns and its right-hand side once known cells are moved over."""
    unk = np.flatnonzero(unknown)
    pos = np.zeros(len(unknown), dtype=int)
    pos[unk] = np.arange(len(unk))
    rows, rhs = [], []
    for idx, coef, b in equations:
        mask = unknown[idx]
        if not mask.any():
            continue
        row = np.zeros(len(unk))
        np.add.at(row, pos[idx[mask]], coef[mask])
        rows.append(row)
        rhs.append(b - float(np.dot(coef[~mask], values[idx[~mask]])))
    return unk, rows, np.array(rhs)


def _bounds(markers: np.ndarray, k: int, upper: float, slack: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper bounds and the integrality (1 integer, 3 semi-integer: 0 or in [lb, ub]) of unknowns.

    ``slack`` is the largest perturbation ``D`` when primary suppression is decided on the perturbed count
    (:mod:`._cellkey`): a "< k" cell then holds 1 to ``k - 1 + D`` and a "hidden†" cell 0 or at least
    ``k - D`` (at least 1), since a printed count of ``k`` or more may be an exact one down to ``k - D``."""
    lb = np.zeros(len(markers))
    ub = np.full(len(markers), float(upper))
    integrality = np.ones(len(markers), dtype=int)
    small = markers == SMALL
    lb[small], ub[small] = 1.0, float(max(k - 1 + slack, 1))
    comp = (markers == COMPLEMENT) & (k > 1)
    lb[comp], integrality[comp] = float(max(k - slack, 1)), 3
    return lb, ub, integrality


def integer_intervals(values: np.ndarray, equations: list, markers: np.ndarray, k: int,
                      width: int = PROTECTION_WIDTH, targets: np.ndarray | None = None,
                      time_limit: float = 20.0, only_targets: bool = False,
                      memo: "AttackMemo | None" = None, slack: int = 0) -> dict[int, tuple[float, float]]:
    """The smallest and largest value of each unknown quantity an integer attacker can prove.

    Parameters
    ----------
    values : ndarray
        Every quantity's published value; NaN where unknown (hidden, or never published).
    equations : list of (cells, coefficients, right-hand side)
        What the reader knows links the quantities (table sums, intersection-to-margin sums,
        population differences).
    markers : ndarray of int
        Per quantity: :data:`SMALL` ("< k": 1 to k - 1), :data:`COMPLEMENT` ("hidden†": 0 or >= k),
        :data:`HIDDEN` (a hidden cell whose reason is not printed) or :data:`DIFFERENCE` (a count never
        published, such as the customers in one population and not in its subpopulation): >= 0.
    k : int
        The printed threshold.
    width : int, default :data:`PROTECTION_WIDTH`
        Only whether an interval is narrower than this matters: an unknown whose feasible solutions
        already found span at least ``width`` is not solved for exactly (its interval is then the
        span seen, a sub-interval of the true one).
    targets : ndarray of bool, optional
        Solve only the components holding a target (default: every unknown).
    time_limit : float
        Seconds per integer programme; an unsolved one leaves the a-priori bound (never a finding).
    only_targets : bool, default False
        Solve for the targets alone (the other unknowns of their components stay variables).
    memo : AttackMemo, optional
        What earlier calls on the same quantities learnt (the rounds of one suppression): their
        feasible points and the bounds of components already solved. The verdicts
        (:func:`is_disclosed`) are those of a call without it; only fewer programmes are solved.
    slack : int, default 0
        ``D`` when primary suppression is decided on the perturbed count (:func:`_bounds`), else 0.

    Returns
    -------
    dict
        Position -> (low, high); a "hidden†" quantity keeps its a-priori bounds (it is never a
        disclosure by itself, :func:`is_disclosed`, so it is not solved for); (nan, nan) for every unknown of a component with no integer solution
        (its tables are then inconsistent with each other: a population not declared).
    """
    unknown = np.isnan(values)
    known = np.where(unknown, 0.0, values)
    upper = max(float(known.max(initial=0.0)) * 2 + k, 1.0)
    unk, rows, rhs = _system(known, equations, unknown)
    lb, ub, integrality = _bounds(markers[unk], k, upper, slack)
    result: dict[int, tuple[float, float]] = {}
    wanted = np.ones(len(unk), dtype=bool) if targets is None else targets[unk]
    if not rows:
        return {int(v): (lb[i], ub[i]) for i, v in enumerate(unk) if wanted[i]}
    a_all = np.array(rows)
    can_disclose = markers[unk] != COMPLEMENT
    if only_targets and targets is not None:
        can_disclose &= targets[unk]
    for comp in _components(unk, rows):
        if not (wanted[comp].any() and can_disclose[comp].any()):
            continue
        eq = np.flatnonzero(np.abs(a_all[:, comp]).sum(axis=1) > 0)
        if not len(eq):
            result.update({int(unk[i]): (lb[i], ub[i]) for i in comp})
            continue
        system = (a_all[np.ix_(eq, comp)], rhs[eq], lb[comp], ub[comp], integrality[comp], can_disclose[comp])
        if memo is None:
            bounds, _, _ = _component_bounds(*system, width, time_limit)
        else:  # a quantity judged by where it lies (not "< k") is settled by one point outside 1..k-1
            ceiling = np.select([markers[unk[comp]] == HIDDEN, markers[unk[comp]] == DIFFERENCE],
                                [k - 1.0 + slack, k - 1.0], np.inf)
            bounds = memo.component_bounds(system + (ceiling,), unk[comp], known, unknown, width, time_limit)
        result.update({int(unk[i]): b for i, b in zip(comp, bounds)})
    return result


def _settled(seen_lo, seen_hi, width, ceiling=None):
    """Which variables need no exact bound: the points found spread them over ``width`` or more, or (a
    quantity disclosed only when it lies within 1 to k - 1: ``ceiling`` k - 1, else infinite) one of
    them lies outside that range, so its interval does too (:func:`is_disclosed`)."""
    wide = seen_hi - seen_lo >= width
    if ceiling is None:
        return wide
    return wide | (np.isfinite(ceiling) & ((seen_hi > ceiling) | (seen_lo < 1)))


def _component_bounds(a, b, lb, ub, integrality, solve, width, time_limit, points=None, ceiling=None):
    """Min and max of the variables of one component marked ``solve`` (the others keep their a-priori
    bounds), skipping those whose span over the solutions already found is wide enough.

    One HiGHS model serves every solve of the component (:class:`~workbench.privacy._ranges.RangeSolver`):
    only the objective changes between them. ``points`` (rows: feasible points of this very system,
    checked by the caller) count as solutions already found; a component they settle
    (:func:`_settled`, with ``ceiling``) needs no model at all. With ``ceiling`` (the suppression rounds,
    whose callers read only the verdicts) and a known integer point, a variable whose LP-relaxation interval
    already discloses it is settled first, without the integer programme (:class:`_Relaxation`): most of
    the cells a round is about are narrow by the LP already, so two LP solves replace two MIP solves, and
    the shared objectives spread only the others.

    Returns
    -------
    (bounds, found, complete)
        (low, high) per variable; every point the solver returned (rounded); whether every solve
        reached an optimum or a proof (False when one stopped at the time limit).
    """
    from ._ranges import INFEASIBLE, OPTIMAL, RangeSolver

    n = a.shape[1]
    seen_lo, seen_hi = np.full(n, np.inf), np.full(n, -np.inf)
    if points is not None and len(points):
        seen_lo, seen_hi = points.min(axis=0), points.max(axis=0)
    exact_lo, exact_hi = lb.astype(float).copy(), ub.astype(float).copy()
    todo = np.flatnonzero(solve)
    pending = todo[~_settled(seen_lo[todo], seen_hi[todo], width, None if ceiling is None else ceiling[todo])]
    found, complete = [], True
    screened = {}
    if len(pending) and ceiling is not None and np.isfinite(seen_lo).all():  # an integer point is known
        relaxed = _Relaxation(a, b, lb, ub, integrality, width, ceiling)
        screened = {i: bounds for i in pending if (bounds := relaxed.disclosed(i)) is not None}
        pending = np.array([i for i in pending if i not in screened], dtype=int)
    solver = RangeSolver(a, b, lb, ub, integrality=integrality, time_limit=time_limit) if len(pending) else None
    if len(pending) > 2:  # a few shared objectives first: their solutions spread most unknowns at once
        alternating = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
        weight = np.isin(np.arange(n), pending).astype(float)
        for c in (weight, -weight, weight * alternating):
            status, x = solver.solve_objective(c)
            if status == INFEASIBLE:
                return [(np.nan, np.nan)] * n, found, True
            if x is not None:
                found.append(np.round(x))
                seen_lo, seen_hi = np.minimum(seen_lo, found[-1]), np.maximum(seen_hi, found[-1])
    for i in todo:
        limit = None if ceiling is None else ceiling[i]
        if i in screened:
            exact_lo[i], exact_hi[i] = screened[i]
            continue
        if _settled(seen_lo[i], seen_hi[i], width, limit):
            exact_lo[i], exact_hi[i] = seen_lo[i], seen_hi[i]
            continue
        for sign in (1.0, -1.0):
            status, _, x = solver.solve(i, sign)
            if status == INFEASIBLE:  # the equations contradict each other
                return [(np.nan, np.nan)] * n, found, True
            complete &= status == OPTIMAL
            if x is None:
                continue
            found.append(np.round(x))
            seen_lo, seen_hi = np.minimum(seen_lo, found[-1]), np.maximum(seen_hi, found[-1])
            if status == OPTIMAL:
                if sign > 0:
                    exact_lo[i] = found[-1][i]
                else:
                    exact_hi[i] = found[-1][i]
            if _settled(seen_lo[i], seen_hi[i], width, limit):  # the minimum's point settles it: no maximum
                exact_lo[i], exact_hi[i] = seen_lo[i], seen_hi[i]
                break
    return list(zip(exact_lo.tolist(), exact_hi.tolist())), found, complete


class _Relaxation:
    """The LP relaxation of one component: a verdict of disclosure without the integer programme.

    The integer interval of a variable lies inside its LP interval rounded inwards, so an LP interval that
    already discloses (:func:`is_disclosed`: narrower than ``width`` and, for a quantity with a finite
    ``ceiling``, within 1 to ``ceiling``) means the integer one does too, provided an integer solution
    exists (the caller knows one). Only used for the suppression rounds' verdicts (:class:`AttackMemo`);
    the interval kept is the rounded LP one, not the exact integer one. An LP interval that does not
    disclose says nothing: the integer programmes are solved as before.
    """

    def __init__(self, a, b, lb, ub, integrality, width, ceiling):
        from ._ranges import RangeSolver

        lower = np.where(integrality == 3, 0.0, lb)  # "hidden†": 0 or >= lb, relaxed to [0, ub]
        self.solver = RangeSolver(a, b, lower, ub)
        self.width, self.ceiling = width, ceiling

    def disclosed(self, i: int) -> tuple[float, float] | None:
        """``i``'s LP interval rounded inwards when it discloses, else None."""
        from ._ranges import OPTIMAL

        status, low, _ = self.solver.solve(i, 1.0)
        if status != OPTIMAL:
            return None
        low = float(np.ceil(low - 1e-6))
        limit = self.ceiling[i]
        if np.isfinite(limit) and low < 1:  # a quantity that may lie outside 1..k-1 is not disclosed by the LP
            return None
        status, high, _ = self.solver.solve(i, -1.0)
        if status != OPTIMAL:
            return None
        high = float(np.floor(high + 1e-6))
        if low > high or high - low >= self.width or (np.isfinite(limit) and high > limit):
            return None
        return low, high


#: Bounds of components already solved, by content (:class:`AttackMemo`); shared by every memo of the
#: process, since the tables of one run repeat most components table after table. Least recently used
#: entries go first beyond :data:`_SOLVED_SIZE`.
_SOLVED: OrderedDict = OrderedDict()
_SOLVED_SIZE = 4096


def _content_key(system: tuple, width: int, time_limit: float) -> bytes:
    """A digest of one component's programme: every array (shape and bytes), the width, the time limit."""
    digest = hashlib.blake2b(repr((width, time_limit)).encode(), digest_size=20)
    for array in system:
        array = np.ascontiguousarray(array)
        digest.update(repr((array.dtype.str, array.shape)).encode())
        digest.update(array.tobytes())
    return digest.digest()


class AttackMemo:
    """What the attacker learnt in earlier calls over the same quantities (the rounds of one suppression).

    Two things carry over, and neither changes a verdict:

    * **feasible points.** Hiding one more cell removes no solution: a solution of an earlier round,
      with the newly hidden cell at its published value, still meets every equation and printed rule.
      Every remembered point is checked against the current system before it counts (a stale one is
      ignored); an unknown the checked points already spread over ``width`` or more needs no programme,
      and a component they settle entirely builds no model.
    * **solved components**, by content (coefficients, right-hand sides, bounds, integrality, which
      unknowns are solved for, width): a component no new hidden cell touches is the same programme
      again, round after round and table after table (:data:`_SOLVED`).

    An unknown the points leave narrower than ``width`` is still solved for exactly, so a disclosed
    quantity's interval is exact and every :func:`is_disclosed` verdict is that of a from-scratch attack
    (``tests/privacy/test_incremental.py`` compares the suppressions of both).

    Parameters
    ----------
    max_points : int, default 512
        Points kept (the oldest go first).
    """

    def __init__(self, max_points: int = 512):
        self.max_points = max_points
        self._points: OrderedDict = OrderedDict()

    def component_bounds(self, system: tuple, positions: np.ndarray, known: np.ndarray, unknown: np.ndarray,
                         width: int, time_limit: float) -> list[tuple[float, float]]:
        """:func:`_component_bounds` of ``system`` (a, b, lb, ub, integrality, solve, ceiling) over the
        quantities at ``positions``, from the cache or seeded with the remembered points that satisfy it."""
        key = _content_key(system, width, time_limit)
        if key in _SOLVED:
            _SOLVED.move_to_end(key)
            return _SOLVED[key]
        points = self._feasible(positions, *system[:5])
        bounds, found, complete = _component_bounds(*system[:6], width, time_limit, points, system[6])
        for x in found:
            full = np.where(unknown, np.nan, known)
            full[positions] = x
            self._points[full.tobytes()] = full
            self._points.move_to_end(full.tobytes())
        while len(self._points) > self.max_points:
            self._points.popitem(last=False)
        if complete:  # a solve stopped by the time limit is not an answer to keep
            _SOLVED[key] = bounds
            while len(_SOLVED) > _SOLVED_SIZE:
                _SOLVED.popitem(last=False)
        return bounds

    def _feasible(self, positions, a, b, lb, ub, integrality) -> np.ndarray | None:
        """The remembered points, at ``positions``, that satisfy this programme exactly (rows)."""
        if not self._points:
            return None
        w = np.stack([point[positions] for point in self._points.values()])
        ok = ~np.isnan(w).any(axis=1)
        w = w[ok]
        inside = (w >= lb - 1e-9) & (w <= ub + 1e-9) | ((integrality == 3) & (w == 0))
        whole = (np.abs(w - np.round(w)) < 1e-9) | (integrality == 0)
        ok = inside.all(axis=1) & whole.all(axis=1) & (np.abs(w @ a.T - b) < 1e-6).all(axis=1)
        return w[ok]


def is_disclosed(low: float, high: float, marker: int, k: int, width: int = PROTECTION_WIDTH,
                 slack: int = 0) -> bool:
    """Whether an attacker's interval discloses the quantity.

    What needs protection is a count of 1 to ``k - 1`` customers. A "< k" cell is disclosed when its
    interval is narrower than ``width`` (an exact value included). A "hidden†" cell holds 0 or at least
    ``k`` customers, a count the report could have printed: recovering it discloses nothing by itself
    (what it protects is checked on its own). A cell hidden without saying why, and a difference of
    populations (never published), are disclosed when the interval is that narrow *and* lies within 1
    to ``k - 1``: it then singles out a few customers (a hidden cell, to ``k - 1 + slack`` when primary
    suppression is decided on the perturbed count, :func:`_bounds`).
    """
    if np.isnan(low) or np.isnan(high) or high - low >= width or marker == COMPLEMENT:
        return False
    if marker == SMALL:
        return True
    return low >= 1 and high <= k - 1 + (slack if marker == HIDDEN else 0)
