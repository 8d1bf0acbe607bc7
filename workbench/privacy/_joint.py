"""The disclosure attack on a whole report: every published table of counts at once.

A reviewer who reads every table of a run knows more than any one table says: the column totals
of segment x gender and of action x gender are one quantity, so a total hidden in one table and
shown in the other gives the hidden cell away; an intersection sums over one of its dimensions to
the table of the other (:mod:`._linked`); a subpopulation differs from its population by a count
nobody published; and the printed rules ("< k" is 1 to k - 1, "hidden†" is 0 or at least k,
counts are integers; each widened by the largest perturbation D when primary suppression is decided on
the perturbed count, :mod:`._cellkey`) narrow every hidden cell further. Here every published cell is one unknown
identified by its dimension values, the equations of :mod:`._linked` tie them together, and the
integer attack of :mod:`._attack` runs over all of them jointly.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._attack import DIFFERENCE, HIDDEN, PROTECTION_WIDTH, SMALL, integer_intervals, is_disclosed
from ._cellkey import CellKeySettings, grid_shift
from ._disclosure import _count_matrix, _with_margins
from ._linked import OUTSIDE, POPULATION, TOTAL, UNLINKED, Linked, cell_key, describe, link
from ._suppression import _IntegerRules, _protect

__all__ = ["LONG_COLUMNS", "POPULATION", "TOTAL", "DisclosureCheck", "joint_disclosure", "suppress_jointly"]

LONG_COLUMNS = ["table", "row_dim", "row", "col_dim", "column", "n", "suppressed", "population", "marker",
                "within"]


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
        appears), ``how`` (``"published below k"``, ``"recovered exactly"``, ``"narrowed below the
        protection width"``, ``"population difference below k"``) and ``small`` (whether its value
        is known to be between 1 and ``k - 1``). Never the value itself.
    conflicts : list of str
        Quantities published with different values in different tables (the tables then
        describe different populations and cannot be linked).
    k : int
        The threshold the check judges by.
    unlinked : list of str
        The tables attacked alone because their values disagree with the others' (a population
        not declared when they were published); empty when every table could be linked.
    width : int
        The protection width: a hidden quantity narrowed to ``high - low < width`` is disclosed.
    n_differences : int
        Population differences attacked (counts never published, such as the customers aged 60+
        without a predicted value).
    inconsistent : int
        Hidden quantities in a group of equations with no integer solution (tables that contradict
        each other); not attacked, and named in the sentence.
    """

    n_tables: int
    n_cells: int
    n_hidden: int
    findings: pd.DataFrame
    conflicts: list[str]
    k: int
    unlinked: list[str] = field(default_factory=list)
    width: int = PROTECTION_WIDTH
    n_differences: int = 0
    inconsistent: int = 0

    @property
    def recoverable(self) -> int:
        """Hidden quantities (and population differences) the attack discloses."""
        return int((self.findings["how"] != "published below k").sum()) if len(self.findings) else 0

    @property
    def passed(self) -> bool:
        return self.findings.empty and not self.inconsistent

    @property
    def sentence(self) -> str:
        """One line for the report: how many tables, how many cells recoverable or small."""
        small = int((self.findings["how"] == "published below k").sum()) if len(self.findings) else 0
        text = (f"{self.n_tables} published table(s) attacked jointly ({self.n_cells} distinct cells, "
                f"{self.n_hidden} hidden, {self.n_differences} population difference(s)): "
                f"{self.recoverable} hidden count(s) recoverable (exactly, or to {self.width} or fewer possible "
                "values)")
        text += f", {small} cell(s) below k={self.k} shown." if small else "."
        if self.unlinked:
            text += (f" {len(self.unlinked)} table(s) disagree with the others on a total they share and were "
                     f"attacked alone, so links through them are not checked: {', '.join(self.unlinked)}.")
        if self.inconsistent:
            text += (f" {self.inconsistent} hidden count(s) sit in tables whose equations contradict each other "
                     "and were not attacked.")
        return text


def _keys(long: pd.DataFrame) -> list[tuple]:
    """:func:`cell_key` of every row of a long form (its ``population`` column is optional)."""
    population = long["population"].fillna("") if "population" in long else [""] * len(long)
    return [cell_key(*a) for a in zip(long["row_dim"], long["row"].astype(str), long["col_dim"],
                                      long["column"].astype(str), population)]


def _published_values(long: pd.DataFrame, keys: list) -> tuple[np.ndarray, list[str]]:
    """Each quantity's published value (NaN when hidden everywhere, or never published), and the
    conflicting ones."""
    shown = long.loc[~long["n"].isna()]
    values = np.full(len(keys), np.nan)
    conflicts = []
    by_key = shown.groupby("key")["n"].agg(["min", "max"])
    position = {k: i for i, k in enumerate(keys)}
    for key, row in by_key.iterrows():
        if row["max"] - row["min"] > 0.5:
            conflicts.append(describe(key))
        values[position[key]] = row["min"]
    return values, conflicts


def joint_disclosure(tables: pd.DataFrame, k: int = 10, width: int = PROTECTION_WIDTH,
                     slack: int = 0) -> DisclosureCheck:
    """Attack every published table at once: which hidden counts can be recovered or narrowed.

    Every cell is an unknown identified by its dimension values, so the same quantity published
    in several tables is one unknown (shown in one table and hidden in another: recovered). The
    attacker knows every published value, each table's row and column sums, every intersection's
    sum to its margins, every declared subpopulation's difference from its population, the printed
    rules (a "< k" cell holds 1 to ``k - 1 + slack``, a "hidden†" cell 0 or at least ``k - slack``) and
    that counts are integers; for each quantity hidden everywhere the smallest and largest value consistent with
    all of that is found by integer programming (:func:`._attack.integer_intervals`). A hidden
    quantity is disclosed when the two are closer than ``width``; a population difference when,
    besides, it lies within 1 to ``k - 1``. Published cells between 1 and ``k - 1`` are reported
    too (below ``k - slack``): with suppression switched off they are the disclosure.

    Parameters
    ----------
    tables : DataFrame
        Published tables in long form (:func:`workbench.privacy.publish_counts`): ``table``,
        ``row_dim``, ``row``, ``col_dim``, ``column``, ``n`` (NaN where hidden); optionally
        ``population``, ``within`` (the population it is a subset of) and ``marker`` (how a hidden
        cell is printed: ``"< k"``, ``"hidden†"``; otherwise the weaker ``"hidden"``).
    k : int, default 10
        The suppression threshold the check judges by.
    width : int, default 2
        The protection width (``privacy.protection_width``).
    slack : int, default 0
        ``D`` when primary suppression was decided on the perturbed counts (the cell-key method): the
        printed rules are then "< k" 1 to ``k - 1 + D``, "hidden†" 0 or at least ``k - D``, and a shown
        count may be an exact one down to ``k - D`` (printed at ``k`` or more: not a finding).

    Returns
    -------
    DisclosureCheck
    """
    long = tables.copy()
    empty = pd.DataFrame(columns=["cell", "tables", "how", "small"])
    if long.empty:
        return DisclosureCheck(0, 0, 0, empty, [], k, width=width)
    long["row"], long["column"] = long["row"].astype(str), long["column"].astype(str)
    long["key"] = _keys(long)
    _, conflicts = _published_values(long, list(dict.fromkeys(long["key"])))
    unlinked = _unlink_disagreeing(long) if conflicts else []
    model = link(long)
    values, _ = _published_values(long, model.keys)
    bounds = integer_intervals(values, model.equations, model.markers, k, width, slack=slack)
    where = long.groupby("key", sort=False)["table"].agg(lambda t: ", ".join(sorted(set(t))))
    tables_of = {d: where[model.keys[w]] + ", " + where[model.keys[n]] for d, w, n in model.differences}
    rows = [{"cell": describe(key), "tables": where[key], "how": "published below k", "small": True}
            for key, v in zip(model.keys, values) if 0 < v < k - slack]
    for pos, (lo, hi) in sorted(bounds.items()):
        if is_disclosed(lo, hi, model.markers[pos], k, width, slack):
            rows.append({"cell": describe(model.keys[pos]), "tables": tables_of.get(pos) or where[model.keys[pos]],
                         "how": _how(model.markers[pos], lo, hi),
                         "small": bool(model.markers[pos] == SMALL or 0 < lo <= hi < k)})
    findings = pd.DataFrame(rows, columns=empty.columns)
    n_hidden = int(np.isnan(values).sum()) - len(model.differences)
    inconsistent = sum(1 for lo, _ in bounds.values() if np.isnan(lo))
    return DisclosureCheck(len(set(long["table"])), len(model.keys) - len(model.differences), n_hidden, findings,
                           conflicts, k, unlinked, width, len(model.differences), inconsistent)


def _how(marker: int, low: float, high: float) -> str:
    if marker == DIFFERENCE:
        return "population difference below k"
    return "recovered exactly" if high - low < 0.5 else "narrowed below the protection width"


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
        long.loc[mine, "key"] = pd.Series([((UNLINKED, t),) + key for t, key in
                                           zip(long.loc[mine, "table"], long.loc[mine, "key"])],
                                          index=long.index[mine], dtype=object)
        unlinked += sorted(off)




def _long_form(name: str, table: pd.DataFrame, row_dim: str, col_dim: str, population: str = "",
               within: str | None = None) -> pd.DataFrame:
    """A 2-D table (margins labelled ``TOTAL``) in the long form of the registry.

    ``marker`` says how each hidden cell is printed: the cells ``table.attrs["complementary"]``
    lists are "hidden†", the others "< k"; a table that does not say which gets "hidden".
    """
    rows = [str(r) for r in table.index]
    cols = [str(c) for c in table.columns]
    values = table.to_numpy(dtype=float).ravel()
    known = "complementary" in table.attrs and not table.attrs.get("unmarked")
    complementary = {(str(r), str(c)) for r, c in table.attrs.get("complementary", [])}
    cells = [(r, c) for r in rows for c in cols]
    marker = ["" if not np.isnan(v) else ("hidden†" if cell in complementary else "< k") if known else "hidden"
              for cell, v in zip(cells, values)]
    return pd.DataFrame({
        "table": name, "row_dim": row_dim, "row": [r for r, _ in cells],
        "col_dim": col_dim, "column": [c for _, c in cells], "n": values, "suppressed": np.isnan(values),
        "population": population, "marker": marker, "within": within,
    })


def _place_new(published: pd.DataFrame, full: pd.DataFrame, row_dim: str, col_dim: str, population: str,
               within: str | None) -> tuple:
    """The linked model of ``published`` and the new table ``full``, the values known with the new counts
    placed, what earlier tables did with each quantity, the new cells' positions and its total cells."""
    new = _long_form("\0new", full, row_dim, col_dim, population, within)
    both, model = _linked_with(published, new)
    is_new = (both["table"] == "\0new").to_numpy()
    flat, before = _known_values(both.loc[~is_new], model)
    new_keys = list(both.loc[is_new, "key"])
    positions = np.array([model.index[key] for key in new_keys])
    flat[positions] = new["n"].to_numpy()
    is_total = np.zeros(len(flat), dtype=bool)
    is_total[[model.index[key] for key, r, c in zip(new_keys, new["row"], new["column"]) if TOTAL in (r, c)]] = True
    return model, flat, before, positions, is_total


def suppress_jointly(
    counts: pd.DataFrame, row_dim: str, col_dim: str, published: pd.DataFrame, k: int = 10,
    population: str = "", within: str | None = None, width: int = PROTECTION_WIDTH, incremental: bool = True,
    batch: bool = True, perturbation: "CellKeySettings | None" = None,
) -> pd.DataFrame:
    """Small-cell suppression of a new table (with margins) against every table already published.

    Like :func:`suppress_counts` with ``margins=True``, but the attacker is assumed to hold every
    table in ``published`` as well, with every link of :mod:`._linked` (intersections to margins,
    subpopulations to populations) and the printed rules: quantities those tables hide are hidden
    here too, quantities they show are known (and cannot be hidden any more), and complementary
    cells are added in the new table until the integer attack of :func:`joint_disclosure` narrows no
    hidden quantity, here or in an earlier table, and no small population difference, below ``width``.

    Parameters
    ----------
    counts : DataFrame
        Exact counts, rows = values of ``row_dim``, columns = values of ``col_dim``, no totals.
    row_dim, col_dim : str
    published : DataFrame
        The tables published so far, long form (:func:`workbench.privacy.published_tables`).
    k : int, default 10
    population : str, default ""
        What the new table counts when not the run's customers (see :func:`cell_key`); ``published``
        names its tables' populations in a ``population`` column (absent: the run's customers).
    within : str, optional
        The population the new one is a subset of ("" for the run's customers): the differences of
        the same cells are then protected too.
    width : int, default 2
        The protection width (``privacy.protection_width``).
    incremental, batch, perturbation
        As in :func:`workbench.privacy.suppress_counts` (``perturbation``: the new table's primary cells).

    Returns
    -------
    DataFrame
        The new table with ``"Total"`` margins, suppressed cells NaN; ``attrs["complementary"]`` as
        in :func:`workbench.privacy.suppress_counts`.
    """
    full = _table_with_margins(counts)
    model, flat, before, positions, is_total = _place_new(published, full, row_dim, col_dim, population, within)
    mine = np.zeros(len(flat), dtype=bool)
    mine[positions] = before[positions] == "unpublished"  # cells of the new table nobody has published yet
    hidden_before = before == "hidden"
    printed = flat.copy()
    if perturbation is not None:  # the new cells as they will be printed (issue 24: no threshold crossings)
        shift = grid_shift(full, row_dim, col_dim, population, perturbation).ravel()
        printed[positions] = flat[positions] + shift
    slack = 0 if perturbation is None else perturbation.max_perturbation
    small_new = mine & (flat > 0) & (printed < k)
    is_diff = model.markers == DIFFERENCE
    small_diff = _small_differences(flat, model, hidden_before, k)
    earlier_small = hidden_before & (model.markers == SMALL)
    earlier_unmarked = hidden_before & (model.markers == HIDDEN)

    def protect(marked: bool) -> tuple[np.ndarray, bool]:
        rules = _IntegerRules(small=(small_new if marked else False) | earlier_small, difference=is_diff, k=k,
                              width=width, scope=mine | is_diff,
                              unmarked=earlier_unmarked | (np.zeros_like(mine) if marked else mine),
                              incremental=incremental, slack=slack)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sup = _protect(flat, model.equations, hidden_before | small_new | is_diff, is_total, free=mine,
                           unprotected=is_diff & ~small_diff, integer=rules, batch=batch)
        return sup, not rules.exposed(flat, model.equations, sup)

    sup, safe = protect(marked=True)
    # printing which hidden cells are "< k" narrows an earlier table's hidden count: one marker for all
    unmarked = not safe
    if unmarked:
        sup, safe = protect(marked=False)
    if not safe:
        warnings.warn(f"the joint attack still narrows a hidden count after every cell of {row_dim} x {col_dim} "
                      "that could help is hidden; the whole-run check will report it", stacklevel=2)
    # "< k" here: this table's primary cells, and quantities an earlier table hid as small (or unmarked and small)
    small = small_new | earlier_small | (earlier_unmarked & (flat > 0) & (printed < k))
    out = _masked_table(full, sup[positions].reshape(full.shape), small[positions].reshape(full.shape), unmarked)
    out.attrs["decided_on_perturbed"] = perturbation is not None
    return out


def _table_with_margins(counts: pd.DataFrame) -> pd.DataFrame:
    """The exact table with its ``"Total"`` row and column (:func:`._disclosure._with_margins`, labelled)."""
    return pd.DataFrame(_with_margins(_count_matrix(counts), True),
                        index=pd.Index([*counts.index, TOTAL], name=counts.index.name),
                        columns=pd.Index([*counts.columns, TOTAL], name=counts.columns.name))


def _linked_with(published: pd.DataFrame, new: pd.DataFrame) -> tuple[pd.DataFrame, Linked]:
    """The earlier tables and the new one in one long form (with quantity keys), and their linked system."""
    both = pd.concat([published.reindex(columns=LONG_COLUMNS), new], ignore_index=True)
    both["row"], both["column"] = both["row"].astype(str), both["column"].astype(str)
    both["key"] = _keys(both)
    return both, link(both)


def _masked_table(full: pd.DataFrame, hidden: np.ndarray, small: np.ndarray, unmarked: bool) -> pd.DataFrame:
    """The published table: hidden cells NaN; ``attrs`` name the complementary cells and whether one marker
    stands for every hidden cell."""
    out = full.mask(hidden)
    # a hidden cell not primary-suppressed here (``small``) is hidden to protect another (here or in an
    # earlier table)
    rows, cols = np.nonzero(hidden & ~small)
    out.attrs["complementary"] = [(full.index[i], full.columns[j]) for i, j in zip(rows, cols)]
    out.attrs["unmarked"] = unmarked
    return out


def _known_values(old: pd.DataFrame, model: Linked) -> tuple[np.ndarray, np.ndarray]:
    """Each quantity's value in the earlier tables (0 where hidden) and whether it was ``"shown"``,
    ``"hidden"`` (everywhere it appeared) or ``"unpublished"``."""
    flat = np.zeros(len(model.keys))
    state = np.full(len(model.keys), "unpublished", dtype=object)
    for key, n in zip(old["key"], old["n"]):
        i = model.index[key]
        if not np.isnan(n):
            flat[i], state[i] = n, "shown"
        elif state[i] != "shown":
            state[i] = "hidden"
    return flat, state


def _small_differences(flat: np.ndarray, model: Linked, hidden_before: np.ndarray, k: int) -> np.ndarray:
    """The population differences whose value is known here and between 1 and ``k - 1``: the linear
    step protects them like a small cell (the integer step checks every difference)."""
    small = np.zeros(len(flat), dtype=bool)
    for d, wider, narrower in model.differences:
        if not (hidden_before[wider] or hidden_before[narrower]):
            flat[d] = flat[wider] - flat[narrower]
            small[d] = 0 < flat[d] < k
    return small
