"""The attacker's bounds through one HiGHS model agree with scipy's linprog and milp, solve by solve."""

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from workbench.privacy._ranges import INFEASIBLE, OPTIMAL, UNBOUNDED, RangeSolver


def _hidden_table_system(seed: int, rows: int = 6, cols: int = 9, share: float = 0.4):
    """Row and column totals of a random count table, as equations over its hidden cells."""
    rng = np.random.default_rng(seed)
    table = rng.integers(0, 25, size=(rows, cols)).astype(float)
    hidden = rng.random((rows, cols)) < share
    position = {cell: i for i, cell in enumerate(np.flatnonzero(hidden))}
    a, b = [], []
    for cells in [[(r, c) for c in range(cols)] for r in range(rows)] + [[(r, c) for r in range(rows)] for c in range(cols)]:
        row, rhs = np.zeros(len(position)), 0.0
        for r, c in cells:
            if hidden[r, c]:
                row[position[r * cols + c]] = 1.0
            rhs += table[r, c] * hidden[r, c]
        a.append(row)
        b.append(rhs)
    return np.array(a), np.array(b)


@pytest.mark.parametrize("seed", range(5))
def test_linear_bounds_equal_linprog(seed):
    a, b = _hidden_table_system(seed)
    n = a.shape[1]
    solver = RangeSolver(a, b, np.zeros(n), np.full(n, np.inf))
    for i in range(n):
        c = np.zeros(n)
        c[i] = 1.0
        for sense in (1.0, -1.0):
            ref = linprog(sense * c, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
            status, value, _ = solver.solve(i, sense)
            assert status == OPTIMAL and ref.status == 0
            assert value == pytest.approx(sense * ref.fun, abs=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_integer_bounds_with_printed_rules_equal_milp(seed):
    """Printed rules: "< k" cells are integers in 1..k-1, "hidden†" cells semi-integer (0, or k and more)."""
    a, b = _hidden_table_system(seed, rows=4, cols=6)
    n = a.shape[1]
    below_k = np.arange(n) % 3 == 1
    integral = np.where(np.arange(n) % 3 == 2, 3, 1)
    lower = np.where(below_k, 1.0, np.where(integral == 3, 10.0, 0.0))
    upper = np.where(below_k, 9.0, 60.0)
    solver = RangeSolver(a, b, lower, upper, integrality=integral)
    for i in range(n):
        c = np.zeros(n)
        c[i] = 1.0
        for sense in (1.0, -1.0):
            ref = milp(sense * c, constraints=LinearConstraint(a, b, b), integrality=integral,
                       bounds=Bounds(lower, upper))
            status, value, x = solver.solve(i, sense)
            assert status == ("optimal" if ref.status == 0 else INFEASIBLE)
            if ref.status == 0:
                assert value == pytest.approx(ref.x[i], abs=1e-9)
                assert np.allclose(a @ x, b)


def test_infeasible_and_unbounded_are_reported():
    a = np.array([[1.0, 1.0]])
    assert RangeSolver(a, [-1.0], np.zeros(2), np.full(2, np.inf)).solve(0, 1.0)[0] == INFEASIBLE
    assert RangeSolver(np.array([[1.0, -1.0]]), [0.0], np.zeros(2), np.full(2, np.inf)).solve(0, -1.0)[0] == UNBOUNDED
