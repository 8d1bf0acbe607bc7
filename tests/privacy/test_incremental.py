"""The incremental attacker (issue 23): the same verdicts and suppressions as attacking every round from
scratch, on seeded random systems of linked tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import null_space

from workbench import privacy
from workbench.privacy._attack import COMPLEMENT, DIFFERENCE, SMALL, AttackMemo, integer_intervals, is_disclosed
from workbench.privacy._disclosure import _determined, _unknown_rows
from workbench.privacy._joint import _long_form, suppress_jointly

SCORED = "customers with a score"


def _customers(seed: int, n: int = 110) -> pd.DataFrame:
    """Random customers with skewed categories, so that many cells of their tables are small."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "segment": rng.choice(["s0", "s1", "s2"], n, p=[0.5, 0.3, 0.2]),
        "gender": rng.choice(["f", "m", "x"], n, p=[0.48, 0.47, 0.05]),
        "age": rng.choice(["18-39", "40-59", "60+"], n, p=[0.5, 0.4, 0.1]),
        "scored": rng.random(n) < 0.9,
    })


def _publish_all(people: pd.DataFrame, incremental: bool) -> list[pd.DataFrame]:
    """Four linked tables suppressed one after another, each against those before it: segment x gender,
    segment x age, segment x (gender x age) (linked to both by its margins) and segment x gender of a
    subpopulation (linked by the population difference)."""
    people = people.assign(**{"gender × age": people["gender"] + " × " + people["age"]})
    specs = [("sg", "gender", people, ""), ("sa", "age", people, ""), ("sga", "gender × age", people, ""),
             ("scored", "gender", people.loc[people["scored"]], SCORED)]
    published, out = pd.DataFrame(), []
    for name, col, frame, population in specs:
        counts = pd.crosstab(frame["segment"], frame[col])
        within = "" if population else None
        table = suppress_jointly(counts, "segment", col, published, k=5, population=population, within=within,
                                 incremental=incremental)
        out.append(table)
        published = pd.concat([published, _long_form(name, table, "segment", col, population, within)],
                              ignore_index=True)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_joint_suppression_is_the_same_with_and_without_the_memo(seed):
    people = _customers(seed)
    fresh, reused = _publish_all(people, incremental=False), _publish_all(people, incremental=True)
    assert sum(int(t.isna().to_numpy().sum()) for t in fresh) > 0  # something was hidden: the test bites
    for a, b in zip(fresh, reused):
        pd.testing.assert_frame_equal(a, b)
        assert a.attrs == b.attrs


@pytest.mark.parametrize("seed", [4, 5])
def test_single_table_suppression_is_the_same_with_and_without_the_memo(seed):
    rng = np.random.default_rng(seed)
    counts = pd.DataFrame(rng.choice([0, 1, 2, 3, 12, 20, 35], size=(5, 4), p=[0.1, 0.15, 0.15, 0.1, 0.2, 0.2, 0.1]))
    fresh = privacy.suppress_counts(counts, 10, margins=True, incremental=False)
    reused = privacy.suppress_counts(counts, 10, margins=True, incremental=True)
    pd.testing.assert_frame_equal(fresh, reused)
    assert fresh.attrs == reused.attrs and fresh.isna().to_numpy().sum() > 0


def _grid_system(rng, rows: int = 4, cols: int = 5):
    """A table with margins as quantities and equations, the interior small counts."""
    inner = rng.choice([0, 1, 2, 3, 4, 11, 15, 30], size=(rows, cols))
    full = np.zeros((rows + 1, cols + 1))
    full[:rows, :cols] = inner
    full[:rows, cols], full[rows, :cols], full[rows, cols] = inner.sum(1), inner.sum(0), inner.sum()
    var = np.arange(full.size).reshape(full.shape)
    equations = [(var[i], np.r_[np.ones(cols), -1.0], 0.0) for i in range(rows + 1)]
    equations += [(var[:, j], np.r_[np.ones(rows), -1.0], 0.0) for j in range(cols + 1)]
    return full.ravel(), equations


def test_a_memo_shared_by_unrelated_hidden_sets_changes_no_verdict():
    """Random hidden sets, growing and shrinking, one memo for all: remembered points of one set are
    often infeasible for the next and must be ignored; every verdict and every disclosed interval is that
    of the attack without the memo."""
    rng = np.random.default_rng(7)
    flat, equations = _grid_system(rng)
    memo, compared, disclosed = AttackMemo(), 0, 0
    for _ in range(25):
        hidden = rng.random(len(flat)) < rng.uniform(0.15, 0.6)
        markers = np.where((flat > 0) & (flat < 10), SMALL, COMPLEMENT)
        markers[rng.random(len(flat)) < 0.2] = DIFFERENCE
        values = np.where(hidden, np.nan, flat)
        plain = integer_intervals(values, equations, markers, k=10, width=2)
        remembered = integer_intervals(values, equations, markers, k=10, width=2, memo=memo)
        assert plain.keys() == remembered.keys()
        for v, (lo, hi) in plain.items():
            verdict = is_disclosed(lo, hi, markers[v], 10, 2)
            assert verdict == is_disclosed(*remembered[v], markers[v], 10, 2)
            if verdict:
                assert remembered[v] == (lo, hi)
            disclosed += verdict
            compared += 1
    assert compared > 100 and disclosed > 0


def test_the_determined_cells_are_those_of_the_whole_null_space():
    """Decomposing each group of linked unknowns alone gives the whole system's answer."""
    rng = np.random.default_rng(11)
    for _ in range(20):
        flat, equations = _grid_system(rng, rows=int(rng.integers(2, 6)), cols=int(rng.integers(2, 6)))
        hidden = rng.random(len(flat)) < 0.4
        rows = _unknown_rows(equations, hidden)
        expected = np.zeros(int(hidden.sum()), dtype=bool)
        if rows:
            basis = null_space(np.array([r for _, r in rows]))
            expected = np.ones(len(expected), dtype=bool) if basis.size == 0 else np.linalg.norm(basis, axis=1) < 1e-8
        assert (_determined(hidden, equations) == expected).all()
        for i, v in enumerate(np.flatnonzero(hidden)):
            assert _determined(hidden, equations, only=int(v))[i] == expected[i]



def _mip_solves(monkeypatch) -> list:
    """Record every integer programme solved (a spy on the real HiGHS solver, which still runs)."""
    from workbench.privacy import _ranges

    calls, init, solve = [], _ranges.RangeSolver.__init__, _ranges.RangeSolver.solve_objective

    def recording_init(self, a, b, lower, upper, integrality=None, time_limit=None):
        init(self, a, b, lower, upper, integrality, time_limit)
        self.spied_integer = integrality is not None and bool(np.any(integrality))

    def counting(self, cost):
        calls.extend([1] if self.spied_integer else [])
        return solve(self, cost)

    monkeypatch.setattr(_ranges.RangeSolver, "__init__", recording_init)
    monkeypatch.setattr(_ranges.RangeSolver, "solve_objective", counting)
    return calls


@pytest.mark.parametrize("total, linked, point, settled_by_lp", [
    (3.0, SMALL, [1.0, 2.0], True),  # x + y = 3, both "< k": the LP alone narrows x to [1, 2]
    (12.0, COMPLEMENT, [1.0, 11.0], False),  # y "hidden†" (0 or >= 10), relaxed to [0, ..]: only the MIP finds x in 1..2
])
def test_the_lp_screen_gives_the_integer_verdict(monkeypatch, total, linked, point, settled_by_lp):
    """With a known integer point, a disclosure the LP relaxation already shows needs no integer programme;
    one only the printed rules give away is still found by it. Same verdict as the exact attack."""
    from workbench.privacy._attack import _bounds, _component_bounds

    a, b = np.array([[1.0, 1.0]]), np.array([total])
    lb, ub, integrality = _bounds(np.array([SMALL, linked]), 10, 100.0)
    solve = np.array([True, linked != COMPLEMENT])
    exact, _, _ = _component_bounds(a, b, lb, ub, integrality, solve, 2, 20.0)
    solves = _mip_solves(monkeypatch)
    screened, _, _ = _component_bounds(a, b, lb, ub, integrality, solve, 2, 20.0, points=np.array([point]),
                                       ceiling=np.array([np.inf, np.inf]))
    assert exact[0] == (1.0, 2.0) and is_disclosed(*exact[0], SMALL, 10)
    assert is_disclosed(*screened[0], SMALL, 10)
    assert (not solves) == settled_by_lp
