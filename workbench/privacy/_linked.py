"""Every published quantity of a run and every equation a reader knows between them.

A cell is identified by its (dimension, value) pairs: ``{"segment": "4", "gender": "non-binary"}``;
a ``"Total"`` label means summed over that dimension, so it is left out. An intersection dimension
(``"gender × age_band"`` with the value ``"male × 60+"``) is its parts, so a cell of segment x
(gender × age band) is the same kind of quantity as a cell of segment x gender, one dimension finer.
A reader then knows three kinds of equation:

* each table's rows and columns sum to its totals;
* **intersection to margin**: cells that differ only in one dimension, covering every value that
  dimension takes, sum to the cell without it (``male × 60+ + male × 18–29 + … = male``, per segment);
* **population difference**: a table declared ``within`` another population (customers with a
  predicted value, within the run's customers) counts a subset, so the same dimension values there and
  in the wider population differ by a count of customers (>= 0) nobody published: 369 customers aged
  60+ and 368 with a predicted value leave one customer aged 60+ without one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._attack import COMPLEMENT, DIFFERENCE, HIDDEN, SHOWN, SMALL

#: The label of a margin: a cell labelled ``TOTAL`` on a dimension is summed over that dimension.
TOTAL = "Total"
#: The pseudo-dimension naming what a cell counts when it is not the run's customers.
POPULATION = "population"
#: The pseudo-dimension of a population difference (the customers of ``within`` not in ``population``).
OUTSIDE = "outside of"
#: How a hidden cell is printed (the long form's ``marker`` column): "< k" holds 1 to k - 1 customers,
#: "hidden†" 0 or at least k (each widened by D when suppression is decided on the perturbed count:
#: :func:`._attack._bounds`); "hidden" when the table did not say which.
MARKERS = {"": SHOWN, "< k": SMALL, "hidden†": COMPLEMENT, "hidden": HIDDEN}
INTERSECTION = " × "
#: The pseudo-dimension that keeps a table whose values disagree with the others' apart from them.
UNLINKED = "__table"


def _atoms(dim: str, value: str) -> list[tuple[str, str]]:
    """An intersection dimension's parts (``"gender × age"``, ``"f × 60+"``), else the pair itself."""
    dims, values = dim.split(INTERSECTION), value.split(INTERSECTION)
    if len(dims) > 1 and len(dims) == len(values):
        return list(zip(dims, values))
    return [(dim, value)]


def cell_key(dim_a: str, a: str, dim_b: str, b: str, population: str = "") -> tuple:
    """A cell's identity: its atomic (dimension, value) pairs, margins left out, in a canonical order.

    Cells count the run's customers unless their table names another ``population``: then the same
    dimension values are another quantity, and the population is part of the identity.
    """
    plain = [(d, v) for d, v in ((dim_a, a), (dim_b, b)) if v != TOTAL]
    pairs = [p for d, v in plain for p in _atoms(d, v)]
    if len({d for d, _ in pairs}) < len(pairs):  # a dimension twice: keep the intersection whole
        pairs = plain
    key = tuple(sorted(pairs))
    return ((POPULATION, population),) + key if population else key


def _split(key: tuple) -> tuple[tuple, tuple]:
    """(scope, atoms): the leading population (and unlinked-table) pairs, then the dimension values."""
    n = 0
    while n < len(key) and key[n][0] in (POPULATION, UNLINKED):
        n += 1
    return key[:n], key[n:]


def _population(scope: tuple) -> str | None:
    """The population a scope names ("" for the run's customers); None for an unlinked table."""
    if any(d == UNLINKED for d, _ in scope):
        return None
    return scope[0][1] if scope else ""


def _with_population(atoms: tuple, population: str) -> tuple:
    return ((POPULATION, population),) + atoms if population else atoms


def describe(key: tuple) -> str:
    """A cell in words, never its value: ``gender=f, segment=2 (customers with a predicted value)``."""
    scope = [v for d, v in key if d == POPULATION]
    outside = [v for d, v in key if d == OUTSIDE]
    cell = ", ".join(f"{d}={v}" for d, v in key if d not in (POPULATION, OUTSIDE)) or "grand total"
    if outside:
        return f"{cell} (in {scope[0] if scope else 'all customers'}, not in {outside[0]})"
    return f"{cell} ({scope[0]})" if scope else cell


def table_equations(long: pd.DataFrame, index: dict) -> list:
    """Each table's row and column sums over the quantities: (cells, coefficients, 0)."""
    equations = []
    for _, t in long.groupby("table", sort=True):
        grid = {(r, c): index[k] for r, c, k in zip(t["row"], t["column"], t["key"])}
        rows, cols = list(dict.fromkeys(t["row"])), list(dict.fromkeys(t["column"]))
        for lines, others, at in ((rows, cols, lambda a, b: (a, b)), (cols, rows, lambda a, b: (b, a))):
            if TOTAL not in others:
                continue
            parts = [o for o in others if o != TOTAL]
            if not parts:  # a table of totals only (one "Total" row): nothing is summed
                continue
            for line in lines:
                cells = [grid.get(at(line, o)) for o in parts]
                total = grid.get(at(line, TOTAL))
                if total is None or any(c is None for c in cells):
                    continue
                equations.append((np.array(cells + [total]), np.r_[np.ones(len(cells)), -1.0], 0.0))
    return equations


def margin_equations(keys: list[tuple], index: dict) -> list:
    """Intersection to margin: within a population, the cells that differ only in dimension ``d`` and
    cover every value ``d`` takes anywhere in that population sum to the cell without ``d``."""
    domain: dict[tuple, set] = {}
    groups: dict[tuple, dict] = {}
    for key in keys:
        scope, atoms = _split(key)
        if any(d == OUTSIDE for d, _ in atoms):
            continue
        for j, (d, v) in enumerate(atoms):
            domain.setdefault((scope, d), set()).add(v)
            parent = atoms[:j] + atoms[j + 1:]
            groups.setdefault((scope, parent, d), {})[v] = index[key]
    equations = []
    for (scope, parent, d), children in groups.items():
        whole = index.get(scope + parent)
        if whole is None or set(children) != domain[(scope, d)] or len(children) < 2:
            continue
        cells = [children[v] for v in sorted(children)]
        equations.append((np.array(cells + [whole]), np.r_[np.ones(len(cells)), -1.0], 0.0))
    return equations


def difference_keys(keys: list[tuple], within: dict[str, str]) -> list[tuple[tuple, tuple, tuple]]:
    """(difference, wider, narrower) for every cell of a population declared ``within`` another whose
    dimension values the wider population publishes too."""
    present = set(keys)
    out = []
    for key in keys:
        scope, atoms = _split(key)
        pop = _population(scope)
        if not pop or pop not in within:
            continue
        wider = _with_population(atoms, within[pop])
        if wider in present:
            out.append((_with_population(((OUTSIDE, pop),) + atoms, within[pop]), wider, key))
    return out


@dataclass
class Linked:
    """The quantities of a set of published tables and what a reader knows about them.

    Attributes
    ----------
    keys : list of tuple
        Every quantity: each distinct published cell, then each population difference.
    index : dict
        Key -> position.
    markers : ndarray of int
        Per quantity, how it is printed where hidden (:data:`workbench.privacy._attack.SMALL` …);
        ``DIFFERENCE`` for a population difference.
    equations : list
        (cells, coefficients, right-hand side) of every table sum, margin link and difference.
    differences : list of (int, int, int)
        Positions of (difference, wider cell, narrower cell).
    """

    keys: list
    index: dict
    markers: np.ndarray
    equations: list
    differences: list


def link(long: pd.DataFrame) -> Linked:
    """The quantities and equations of a long form (``long["key"]`` set by :func:`cell_key`)."""
    keys = list(dict.fromkeys(long["key"]))
    within = {}
    if "within" in long:
        for pop, w in zip(long["population"].fillna(""), long["within"]):
            if pop and isinstance(w, str) and pop not in within:
                within[pop] = w
    diffs = difference_keys(keys, within)
    keys += [d for d, _, _ in diffs if d not in set(keys)]
    index = {key: i for i, key in enumerate(keys)}
    markers = np.full(len(keys), SHOWN)
    marker_col = long["marker"].fillna("hidden") if "marker" in long else pd.Series("hidden", index=long.index)
    for key, hidden, marker in zip(long["key"], long["n"].isna(), marker_col):
        if hidden:
            code = MARKERS.get(marker or "hidden", HIDDEN)
            prev = markers[index[key]]
            markers[index[key]] = code if prev in (SHOWN, HIDDEN) else prev
    equations = table_equations(long, index) + margin_equations(keys, index)
    differences = []
    for d, wider, narrower in diffs:
        markers[index[d]] = DIFFERENCE
        differences.append((index[d], index[wider], index[narrower]))
        equations.append((np.array([index[wider], index[narrower], index[d]]), np.array([1.0, -1.0, -1.0]), 0.0))
    return Linked(keys, index, markers, _unique(equations), differences)


def _unique(equations: list) -> list:
    """Equations without repeats (a table's own sum is often also a margin link)."""
    seen, out = set(), []
    for idx, coef, rhs in equations:
        sig = (tuple(sorted(zip(idx.tolist(), coef.tolist()))), rhs)
        if sig not in seen:
            seen.add(sig)
            out.append((idx, coef, rhs))
    return out
