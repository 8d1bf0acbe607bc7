"""The attacker's bounds, fast: min and max of each hidden quantity over one set of linear equations.

Every check of a published table asks, for each hidden cell, the smallest and the largest value it can
take given everything published (two linear or integer programmes per cell). Through
``scipy.optimize.linprog`` / ``milp`` each of those builds and validates a new HiGHS model, which cost
more than the solve itself (thousands of solves per run). :class:`RangeSolver` passes the equations to
one HiGHS instance (``highspy``, the HiGHS project's own binding) and changes only the objective between
solves, so HiGHS reuses its factorisation and basis. The optimum of every programme is the same as
``linprog``'s / ``milp``'s (``tests/privacy/test_ranges.py`` checks it on random tables).
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

import numpy as np

OPTIMAL, INFEASIBLE, UNBOUNDED, UNSOLVED = "optimal", "infeasible", "unbounded", "unsolved"


@contextmanager
def _quiet_stdout():
    """Silence file descriptor 1 (HiGHS prints its banner from C++ when the first instance is made)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


class RangeSolver:
    """Minimise or maximise single variables subject to ``a @ x == b`` and ``lower <= x <= upper``.

    Parameters
    ----------
    a : ndarray of shape (n_equations, n_variables)
        Coefficients of the equations.
    b : ndarray of shape (n_equations,)
        Right-hand sides.
    lower, upper : ndarray of shape (n_variables,)
        Bounds of each variable (``np.inf`` for none).
    integrality : ndarray of shape (n_variables,), optional
        As in ``scipy.optimize.milp``: 0 continuous, 1 integer, 2 semi-continuous, 3 semi-integer (0 or
        between its bounds: a "hidden†" cell is 0 or at least k).
    time_limit : float, optional
        Seconds per solve; a solve that reaches it reports :data:`UNSOLVED` with the best point found.
    """

    def __init__(self, a, b, lower, upper, integrality=None, time_limit: float | None = None):
        import highspy
        from scipy.sparse import csc_matrix

        with _quiet_stdout():
            self._highs = highspy.Highs()
        self._highs.setOptionValue("output_flag", False)
        if time_limit:
            self._highs.setOptionValue("time_limit", float(time_limit))
        matrix = csc_matrix(np.asarray(a, dtype=float))
        n = matrix.shape[1]
        inf = highspy.kHighsInf
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n, matrix.shape[0]
        lp.col_cost_ = np.zeros(n)
        lp.col_lower_ = np.where(np.isinf(lower), -inf, np.asarray(lower, dtype=float))
        lp.col_upper_ = np.where(np.isinf(upper), inf, np.asarray(upper, dtype=float))
        rhs = np.asarray(b, dtype=float)
        lp.row_lower_, lp.row_upper_ = rhs, rhs
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
        lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
        lp.a_matrix_.value_ = matrix.data
        if integrality is not None and np.any(integrality):
            kinds = [highspy.HighsVarType.kContinuous, highspy.HighsVarType.kInteger,
                     highspy.HighsVarType.kSemiContinuous, highspy.HighsVarType.kSemiInteger]
            lp.integrality_ = [kinds[int(v)] for v in integrality]
        self._highs.passModel(lp)
        self._n = n
        self._columns = np.arange(n, dtype=np.int32)
        self._status = {highspy.HighsModelStatus.kOptimal: OPTIMAL,
                        highspy.HighsModelStatus.kInfeasible: INFEASIBLE,
                        highspy.HighsModelStatus.kUnbounded: UNBOUNDED}

    def solve_objective(self, cost: np.ndarray) -> tuple[str, np.ndarray | None]:
        """Minimise ``cost @ x``; return the status and the best point found (or None)."""
        self._highs.changeColsCost(self._n, self._columns, np.asarray(cost, dtype=float))
        self._highs.run()
        status = self._status.get(self._highs.getModelStatus(), UNSOLVED)
        solution = self._highs.getSolution()
        return status, (np.asarray(solution.col_value) if solution.value_valid else None)

    def solve(self, i: int, sense: float) -> tuple[str, float, np.ndarray | None]:
        """Minimise (``sense=1``) or maximise (``sense=-1``) variable ``i``.

        Returns
        -------
        (status, value, x)
            ``status`` is :data:`OPTIMAL`, :data:`INFEASIBLE`, :data:`UNBOUNDED` or :data:`UNSOLVED`;
            ``value`` the optimum of variable ``i`` (NaN unless optimal); ``x`` the best point found, or
            None.
        """
        cost = np.zeros(self._n)
        cost[i] = sense
        status, x = self.solve_objective(cost)
        value = float(x[i]) if status == OPTIMAL and x is not None else np.nan
        return status, value, x
