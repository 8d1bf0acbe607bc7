"""The disclosure attack on a whole report: every published table of counts at once.

A reviewer who reads every table of a run knows more than any one table says: the column totals
of segment x gender and of action x gender are one quantity, so a total hidden in one table and
shown in the other gives the hidden cell away, and complementary cells chosen table by table can
be undone across tables. Here every published cell is one unknown identified by its dimension
values (``{"segment": "4", "gender": "non-binary"}``; a ``"Total"`` label means summed over that
dimension, so it is left out of the key), each table contributes its row and column sums, and the
linear-programming attack of :mod:`._disclosure` runs over all of them jointly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._disclosure import _count_matrix, _determined, _lp_bounds
from ._suppression import _protect

#: The label of a margin: a cell labelled ``TOTAL`` on a dimension is summed over that dimension.
TOTAL = "Total"

LONG_COLUMNS = ["table", "row_dim", "row", "col_dim", "column", "n", "suppressed", "population"]
#: The pseudo-dimension naming what a cell counts when it is not the run's customers.
POPULATION = "population"


@dataclass
class DisclosureCheck:
    """What an attacker learns from every published table together.

    Attributes
    ----------
    n_tables : int
        Tables attacked.
    n_cells : int
        Distinct quantities published (a cell shown in two tables counts once).
    n_hidden : int
        Distinct quantities hidden in every table that shows them.
    findings : DataFrame
        One row per disclosed quantity: ``cell`` (its dimension values), ``tables`` (where it
        appears), ``how`` (``"published below k"``, ``"recovered exactly"``) and ``small``
        (whether its value is between 1 and ``k - 1``). Never the value itself.
    conflicts : list of str
        Quantities published with different values in different tables (the tables then
        describe different populations and cannot be linked).
    k : int
        The threshold the check judges by.
    unlinked : list of str
        The tables attacked alone because their values disagree with the others' (a population
        not declared when they were published); empty when every table could be linked.
    """

    n_tables: int
    n_cells: int
    n_hidden: int
    findings: pd.DataFrame
    conflicts: list[str]
    k: int
    unlinked: list[str] = field(default_factory=list)

    @property
    def recoverable(self) -> int:
        return int((self.findings["how"] == "recovered exactly").sum()) if len(self.findings) else 0

    @property
    def passed(self) -> bool:
        return self.findings.empty

    @property
    def sentence(self) -> str:
        """One line for the report: how many tables, how many cells recoverable or small."""
        small = int((self.findings["how"] == "published below k").sum()) if len(self.findings) else 0
        text = (f"{self.n_tables} published table(s) attacked jointly ({self.n_cells} distinct cells, "
                f"{self.n_hidden} hidden): {self.recoverable} hidden cell(s) recoverable")
        text += f", {small} cell(s) below k={self.k} shown." if small else "."
        if self.unlinked:
            text += (f" {len(self.unlinked)} table(s) disagree with the others on a total they share and were "
                     f"attacked alone, so links through them are not checked: {', '.join(self.unlinked)}.")
        return text


def _key(dim_a: str, a: str, dim_b: str, b: str, population: str = "") -> tuple:
    """A cell's identity: its (dimension, value) pairs, margins left out, in a canonical order.

    Cells count the run's customers unless their table names another ``population`` (customers
    with a predicted value, customer-windows, the earlier of two runs): then the same dimension
    values are another quantity, and the population is part of the identity.
    """
    key = tuple(sorted((d, v) for d, v in ((dim_a, a), (dim_b, b)) if v != TOTAL))
    return ((POPULATION, population),) + key if population else key


def _keys(long: pd.DataFrame) -> list[tuple]:
    """:func:`_key` of every row of a long form (its ``population`` column is optional)."""
    population = long["population"].fillna("") if "population" in long else [""] * len(long)
    return [_key(*a) for a in zip(long["row_dim"], long["row"].astype(str), long["col_dim"],
                                  long["column"].astype(str), population)]


def _describe(key: tuple) -> str:
    scope = [v for d, v in key if d == POPULATION]
    cell = ", ".join(f"{d}={v}" for d, v in key if d != POPULATION) or "grand total"
    return f"{cell} ({scope[0]})" if scope else cell


def _equations(long: pd.DataFrame, index: dict) -> list:
    """Each table's row and column sums over the global unknowns: (cells, coefficients, 0)."""
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


def _published_values(long: pd.DataFrame, keys: list) -> tuple[np.ndarray, list[str]]:
    """Each quantity's published value (NaN when hidden everywhere), and the conflicting ones."""
    shown = long.loc[~long["n"].isna()]
    values = np.full(len(keys), np.nan)
    conflicts = []
    by_key = shown.groupby("key")["n"].agg(["min", "max"])
    position = {k: i for i, k in enumerate(keys)}
    for key, row in by_key.iterrows():
        if row["max"] - row["min"] > 0.5:
            conflicts.append(_describe(key))
        values[position[key]] = row["min"]
    return values, conflicts


def joint_disclosure(tables: pd.DataFrame, k: int = 10) -> DisclosureCheck:
    """Attack every published table at once: which hidden cells can be recovered exactly.

    Every cell is an unknown identified by its dimension values, so the same quantity published
    in several tables is one unknown (shown in one table and hidden in another: recovered). The
    attacker knows every published value, each table's row and column sums (``"Total"`` cells)
    and that counts are non-negative; for each quantity hidden everywhere, the smallest and
    largest value consistent with all of that is found by linear programming (the hidden cells
    pinned down by the equations alone first, cheaply). A hidden quantity is recovered when the
    two meet. Published cells between 1 and ``k - 1`` are reported too: with suppression switched
    off they are the disclosure.

    Parameters
    ----------
    tables : DataFrame
        Published tables in long form (:func:`workbench.privacy.publish_counts`): ``table``,
        ``row_dim``, ``row``, ``col_dim``, ``column``, ``n`` (NaN where hidden).
    k : int, default 10
        The suppression threshold the check judges by.

    Returns
    -------
    DisclosureCheck
    """
    long = tables.copy()
    empty = pd.DataFrame(columns=["cell", "tables", "how", "small"])
    if long.empty:
        return DisclosureCheck(0, 0, 0, empty, [], k)
    long["row"], long["column"] = long["row"].astype(str), long["column"].astype(str)
    long["key"] = _keys(long)
    keys = list(dict.fromkeys(long["key"]))
    index = {key: i for i, key in enumerate(keys)}
    values, conflicts = _published_values(long, keys)
    unlinked = _unlink_disagreeing(long) if conflicts else []
    if unlinked:
        keys = list(dict.fromkeys(long["key"]))
        index = {key: i for i, key in enumerate(keys)}
        values, _ = _published_values(long, keys)
    unknown = np.isnan(values)
    recovered = _recovered(np.nan_to_num(values), _equations(long, index), unknown)
    where = long.groupby("key", sort=False)["table"].agg(lambda t: ", ".join(sorted(set(t))))
    rows = [{"cell": _describe(key), "tables": where[key], "how": "published below k", "small": True}
            for key, v in zip(keys, values) if 0 < v < k]
    rows += [{"cell": _describe(keys[i]), "tables": where[keys[i]], "how": "recovered exactly",
              "small": bool(0 < value < k)} for i, value in recovered]
    findings = pd.DataFrame(rows, columns=empty.columns)
    return DisclosureCheck(len(set(long["table"])), len(keys), int(unknown.sum()), findings, conflicts, k,
                           unlinked)


def _unlink_disagreeing(long: pd.DataFrame) -> list[str]:
    """Attack alone the tables whose published values disagree with the other tables'; their names.

    A quantity published with two values means a table counts another population than it declares
    (:func:`workbench.privacy.publish_counts` ``population``). Linking it would be wrong, but so would
    giving up the links of every other table: only the tables off the value most tables publish for
    a disagreeing quantity (on a tie, the larger) get keys of their own (``long["key"]`` is rewritten
    in place).
    """
    unlinked: list[str] = []
    while True:
        shown = long.loc[~long["n"].isna()]
        spread = shown.groupby("key", sort=False)["n"].agg(lambda v: v.max() - v.min())
        disagreeing = set(spread.index[spread > 0.5])
        if not disagreeing:
            return unlinked
        rows = shown.loc[shown["key"].isin(disagreeing)]
        off = set()
        for _, cell in rows.groupby("key", sort=False):
            # the value most tables publish; on a tie the larger: a subpopulation is never the larger
            tables_per_value = cell.groupby(cell["n"].round())["table"].nunique()
            common = max(tables_per_value.index, key=lambda v: (tables_per_value[v], v))
            off |= set(cell.loc[(cell["n"] - common).abs() > 0.5, "table"])
        mine = long["table"].isin(off)
        long.loc[mine, "key"] = pd.Series([(("__table", t),) + key for t, key in
                                           zip(long.loc[mine, "table"], long.loc[mine, "key"])],
                                          index=long.index[mine], dtype=object)
        unlinked += sorted(off)


def _recovered(flat: np.ndarray, equations: list, unknown: np.ndarray) -> list[tuple[int, float]]:
    """(position, value) of every unknown the equations and non-negativity pin down."""
    unk = np.flatnonzero(unknown)
    if not len(unk):
        return []
    if not equations:
        return []
    det = _determined(unknown, equations)
    lows, highs = _lp_bounds(flat, equations, unknown)
    return [(int(v), float(lo)) for v, d, lo, hi in zip(unk, det, lows, highs) if d or hi - lo < 0.5]


def _long_form(name: str, table: pd.DataFrame, row_dim: str, col_dim: str, population: str = "") -> pd.DataFrame:
    """A 2-D table (margins labelled ``TOTAL``) in the long form of the registry."""
    rows = [str(r) for r in table.index]
    cols = [str(c) for c in table.columns]
    values = table.to_numpy(dtype=float).ravel()
    return pd.DataFrame({
        "table": name, "row_dim": row_dim, "row": [r for r in rows for _ in cols],
        "col_dim": col_dim, "column": cols * len(rows), "n": values, "suppressed": np.isnan(values),
        "population": population,
    })


def suppress_jointly(
    counts: pd.DataFrame, row_dim: str, col_dim: str, published: pd.DataFrame, k: int = 10,
    population: str = "",
) -> pd.DataFrame:
    """Small-cell suppression of a new table (with margins) against every table already published.

    Like :func:`suppress_counts` with ``margins=True``, but the attacker is assumed to hold every
    table in ``published`` as well: quantities those tables hide are hidden here too, quantities
    they show are known (and cannot be hidden any more), and complementary cells are added in the
    new table until no hidden quantity, here or in an earlier table, can be pinned down by the
    equations of all tables together.

    Parameters
    ----------
    counts : DataFrame
        Exact counts, rows = values of ``row_dim``, columns = values of ``col_dim``, no totals.
    row_dim, col_dim : str
    published : DataFrame
        The tables published so far, long form (:func:`workbench.privacy.published_tables`).
    k : int, default 10
    population : str, default ""
        What the new table counts when not the run's customers (see :func:`_key`); ``published``
        names its tables' populations in a ``population`` column (absent: the run's customers).

    Returns
    -------
    DataFrame
        The new table with ``"Total"`` margins, suppressed cells NaN; ``attrs["complementary"]`` as
        in :func:`workbench.privacy.suppress_counts`.
    """
    values = _count_matrix(counts)
    full = pd.DataFrame(np.vstack([np.hstack([values, values.sum(axis=1, keepdims=True)]),
                                   np.r_[values.sum(axis=0), values.sum()][None, :]]),
                        index=pd.Index([*counts.index, TOTAL], name=counts.index.name),
                        columns=pd.Index([*counts.columns, TOTAL], name=counts.columns.name))
    new = _long_form("\0new", full, row_dim, col_dim, population)
    both = pd.concat([published.reindex(columns=LONG_COLUMNS), new], ignore_index=True)
    both["key"] = _keys(both)
    keys = list(dict.fromkeys(both["key"]))
    index = {key: i for i, key in enumerate(keys)}
    old = both.loc[both["table"] != "\0new"]
    shown_before = {key for key, n in zip(old["key"], old["n"]) if not np.isnan(n)}
    hidden_before = {key for key, n in zip(old["key"], old["n"]) if np.isnan(n)} - shown_before
    flat = np.zeros(len(keys))
    for key, n in zip(old["key"], old["n"]):
        flat[index[key]] = 0.0 if np.isnan(n) else n
    new_keys = [_key(row_dim, r, col_dim, c, population) for r, c in zip(new["row"], new["column"])]
    for key, n in zip(new_keys, new["n"]):
        flat[index[key]] = n
    mine = set(new_keys) - shown_before  # cells of the new table nobody has published yet
    primary = np.array([key in hidden_before or (key in mine and 0 < flat[i] < k) for i, key in enumerate(keys)])
    free = np.array([key in mine for key in keys])
    is_total = np.array([sum(d != POPULATION for d, _ in key) < 2 for key in keys])
    sup = _protect(flat, _equations(both, index), primary, is_total, free=free)
    hidden = np.array([sup[index[key]] for key in new_keys]).reshape(full.shape)
    out = full.mask(hidden)
    # a hidden cell whose own count is not 1..k-1 is hidden to protect another (here or in an earlier table)
    small = (full.to_numpy() > 0) & (full.to_numpy() < k)
    rows, cols = np.nonzero(hidden & ~small)
    out.attrs["complementary"] = [(full.index[i], full.columns[j]) for i, j in zip(rows, cols)]
    return out
