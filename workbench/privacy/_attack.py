"""The integer attack: what a reader who knows the printed suppression rules can prove about each hidden count.

A linear-programming attacker treats a hidden cell as any number >= 0. The report tells a reader more:
zeros are never primary-suppressed, so a cell marked "< k" holds 1 to k - 1 customers; a cell marked
"hidden†" is hidden only to protect another, so it holds 0 or at least k; every count is an integer.
With those rules, a row ``[1, 1, 20, 24]`` published as ``[–, –, 20, 24]`` with total 46 gives both
hidden cells away (each is 1), which the linear attack misses. Here each hidden quantity's smallest and
largest value consistent with every equation and every printed rule is found with an integer programme
(:func:`scipy.optimize.milp`, HiGHS), component by component of the equation graph.
"""

from __future__ import annotations

import numpy as np

#: What a reader knows about an unknown quantity from how it is printed.
SHOWN, SMALL, COMPLEMENT, HIDDEN, DIFFERENCE = 0, 1, 2, 3, 4

#: Default protection width: a hidden count is disclosed when the attacker narrows it to an interval
#: ``high - low`` smaller than this (so 2: never to one value, never to two adjacent values).
PROTECTION_WIDTH = 2


def _components(unknown_pos: np.ndarray, rows: list[np.ndarray]) -> list[np.ndarray]:
    """Groups of unknowns (positions into ``unknown_pos``) that share an equation, transitively."""
    parent = np.arange(len(unknown_pos))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for row in rows:
        nz = np.flatnonzero(row)
        for j in nz[1:]:
            a, b = find(nz[0]), find(j)
            if a != b:
                parent[b] = a
    roots = np.array([find(i) for i in range(len(unknown_pos))])
    return [np.flatnonzero(roots == r) for r in dict.fromkeys(roots.tolist())]


def _system(values: np.ndarray, equations: list, unknown: np.ndarray):
    """Each equation's coefficients on the unknowns and its right-hand side once known cells are moved over."""
    unk = np.flatnonzero(unknown)
    pos = {int(v): i for i, v in enumerate(unk)}
    rows, rhs = [], []
    for idx, coef, b in equations:
        mask = unknown[idx]
        if not mask.any():
            continue
        row = np.zeros(len(unk))
        for v, c in zip(idx[mask], coef[mask]):
            row[pos[int(v)]] += c
        rows.append(row)
        rhs.append(b - float(np.dot(coef[~mask], values[idx[~mask]])))
    return unk, rows, np.array(rhs)


def _bounds(markers: np.ndarray, k: int, upper: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper bounds and the integrality (1 integer, 3 semi-integer: 0 or in [lb, ub]) of unknowns."""
    lb = np.zeros(len(markers))
    ub = np.full(len(markers), float(upper))
    integrality = np.ones(len(markers), dtype=int)
    small = markers == SMALL
    lb[small], ub[small] = 1.0, float(max(k - 1, 1))
    comp = (markers == COMPLEMENT) & (k > 1)
    lb[comp], integrality[comp] = float(k), 3
    return lb, ub, integrality


def integer_intervals(values: np.ndarray, equations: list, markers: np.ndarray, k: int,
                      width: int = PROTECTION_WIDTH, targets: np.ndarray | None = None,
                      time_limit: float = 20.0, only_targets: bool = False) -> dict[int, tuple[float, float]]:
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
    lb, ub, integrality = _bounds(markers[unk], k, upper)
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
        bounds = _component_bounds(a_all[np.ix_(eq, comp)], rhs[eq], lb[comp], ub[comp], integrality[comp],
                                   can_disclose[comp], width, time_limit)
        result.update({int(unk[i]): b for i, b in zip(comp, bounds)})
    return result


def _component_bounds(a, b, lb, ub, integrality, solve, width, time_limit) -> list[tuple[float, float]]:
    """Min and max of the variables of one component marked ``solve`` (the others keep their a-priori
    bounds), skipping those whose span over the solutions already found is wide enough.

    One HiGHS model serves every solve of the component (:class:`~workbench.privacy._ranges.RangeSolver`):
    only the objective changes between them."""
    from ._ranges import INFEASIBLE, OPTIMAL, RangeSolver

    n = a.shape[1]
    solver = RangeSolver(a, b, lb, ub, integrality=integrality, time_limit=time_limit)
    seen_lo, seen_hi = np.full(n, np.inf), np.full(n, -np.inf)
    exact_lo, exact_hi = lb.astype(float).copy(), ub.astype(float).copy()
    todo = np.flatnonzero(solve)
    if len(todo) > 2:  # a few shared objectives first: their solutions spread most unknowns at once
        alternating = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
        weight = solve.astype(float)
        for c in (weight, -weight, weight * alternating):
            status, x = solver.solve_objective(c)
            if status == INFEASIBLE:
                return [(np.nan, np.nan)] * n
            if x is not None:
                x = np.round(x)
                seen_lo, seen_hi = np.minimum(seen_lo, x), np.maximum(seen_hi, x)
    for i in todo:
        if seen_hi[i] - seen_lo[i] >= width:
            exact_lo[i], exact_hi[i] = seen_lo[i], seen_hi[i]
            continue
        for sign in (1.0, -1.0):
            status, _, x = solver.solve(i, sign)
            if status == INFEASIBLE:  # the equations contradict each other
                return [(np.nan, np.nan)] * n
            if x is None:
                continue
            x = np.round(x)
            seen_lo, seen_hi = np.minimum(seen_lo, x), np.maximum(seen_hi, x)
            if status == OPTIMAL:
                if sign > 0:
                    exact_lo[i] = x[i]
                else:
                    exact_hi[i] = x[i]
    return list(zip(exact_lo.tolist(), exact_hi.tolist()))


def is_disclosed(low: float, high: float, marker: int, k: int, width: int = PROTECTION_WIDTH) -> bool:
    """Whether an attacker's interval discloses the quantity.

    What needs protection is a count of 1 to ``k - 1`` customers. A "< k" cell is disclosed when its
    interval is narrower than ``width`` (an exact value included). A "hidden†" cell holds 0 or at least
    ``k`` customers, a count the report could have printed: recovering it discloses nothing by itself
    (what it protects is checked on its own). A cell hidden without saying why, and a difference of
    populations (never published), are disclosed when the interval is that narrow *and* lies within 1
    to ``k - 1``: it then singles out a few customers.
    """
    if np.isnan(low) or np.isnan(high) or high - low >= width or marker == COMPLEMENT:
        return False
    if marker == SMALL:
        return True
    return low >= 1 and high <= k - 1
