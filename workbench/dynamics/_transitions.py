"""Moves between two windows: transition matrix, share of a segment that moved, up- and downgrades."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import privacy
from ..engine import crosstab
from ._states import INACTIVE, NOT_YET, STATE_NAMES


def _state_label(state: int, names: dict[int, str]) -> str:
    return STATE_NAMES.get(int(state)) or names.get(int(state), f"Segment {state}")


def _positions(values: np.ndarray, states: list[int]) -> np.ndarray:
    """Position of each value in ``states`` (-1 where it is not one of them): the cell codes to count."""
    lookup = pd.Series(np.arange(len(states)), index=pd.Index([int(s) for s in states]))
    return lookup.reindex(np.asarray(values).astype(np.int64)).fillna(-1).to_numpy(dtype=np.int64)


def transition_matrix(
    states: pd.DataFrame,
    before: str,
    after: str,
    names: dict[int, str] | None = None,
    order: list[int] | None = None,
    k: int | None = None,
    drop_empty: bool = True,
    suppress=None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts and row rates of moves from window ``before`` to window ``after``.

    Rows are the state in ``before``, columns the state in ``after``: segments (in ``order``, e.g.
    the value order), ``inactive``; a row ``not yet a customer`` holds newly acquired customers.
    Customers not yet acquired in either window are left out.

    Segments nobody is in, in either window, are dropped unless ``drop_empty=False``.

    With ``k``, the counts pass once through :func:`workbench.privacy.suppress_counts` with
    ``margins=True`` (small cells, small totals and their complements become NaN; a ``Total`` row and
    column are appended) and the rates are derived from that published table alone: published cell /
    published row total, NaN wherever either is hidden. A rate times its row total is then a
    published cell, never a hidden one.

    ``suppress`` (exact counts in, the published table with margins out) replaces that default: the stage
    passes :func:`workbench.privacy.suppress_and_publish`, which decides what is hidden on the perturbed
    count and returns the counts as printed.

    Returns
    -------
    counts, rates : pandas.DataFrame
    """
    names = names or {}
    a = states[before].to_numpy()
    b = states[after].to_numpy()
    keep = ~((a == NOT_YET) & (b == NOT_YET))
    a, b = a[keep], b[keep]
    seg_ids = list(order) if order else sorted(int(s) for s in np.union1d(a, b) if s >= 0)
    row_states = [*seg_ids, INACTIVE, NOT_YET]
    col_states = [*seg_ids, INACTIVE]
    ra, cb = _positions(a, row_states), _positions(b, col_states)
    ok = (ra >= 0) & (cb >= 0)  # states outside ``order`` are left out
    cells = crosstab({"before": ra[ok], "after": cb[ok]}, (len(row_states), len(col_states)))  # in the engine
    counts = pd.DataFrame(cells, index=row_states, columns=col_states)
    if counts.loc[NOT_YET].sum() == 0:
        counts = counts.drop(index=NOT_YET)
    if drop_empty:  # segments nobody is in, in either window
        empty = [s for s in seg_ids if counts.loc[s].sum() == 0 and counts[s].sum() == 0]
        counts = counts.drop(index=empty, columns=empty)
    counts.index = pd.Index([_state_label(s, names) for s in counts.index], name=f"from {before}")
    counts.columns = pd.Index([_state_label(s, names) for s in counts.columns], name=f"to {after}")
    if suppress is not None or k:
        counts = suppress(counts) if suppress is not None else privacy.suppress_counts(counts, k, margins=True)
        return counts, transition_rates(counts)
    totals = counts.sum(axis=1)
    return counts, counts.div(totals.where(totals > 0), axis=0)


def migration_share(
    states: pd.DataFrame,
    source: int,
    target: int,
    before: str,
    after: str,
    active_only: bool = False,
) -> dict:
    """Share of a segment that moved to another between two windows.

    Definition: the denominator is the customers in segment ``source`` in window ``before`` (so
    they were active then), whatever their state in ``after``: a customer who bought nothing in
    ``after`` is in the ``inactive`` state and counts in the denominator, not as having stayed (the
    transition matrix's ``source`` row). With ``active_only=True`` only those also active in
    ``after`` count, i.e. the share among customers whose behaviour in ``after`` can be seen
    (conditioning on activity favours segments that buy more often; shown beside, not instead).

    Returns
    -------
    dict
        ``n_source`` (the denominator), ``n_moved``, ``n_inactive`` (of the denominator, inactive in
        ``after``) and ``share``.
    """
    a = states[before].to_numpy()
    b = states[after].to_numpy()
    base = (a == source) & ((b >= 0) if active_only else True)
    moved = base & (b == target)
    n = int(base.sum())
    return {"n_source": n, "n_moved": int(moved.sum()), "n_inactive": int((base & (b == INACTIVE)).sum()),
            "share": moved.sum() / n if n else float("nan")}


def grade_changes(
    states: pd.DataFrame,
    before: str,
    after: str,
    value_order: list[int],
    names: dict[int, str] | None = None,
) -> pd.DataFrame:
    """Up- and downgrades along the segments' value order, per segment of origin.

    A customer active in ``before`` is *upgraded* when in ``after`` they are in a segment ranked
    higher in ``value_order`` (ids low -> high value), *downgraded* when ranked lower, *same* when in
    the same segment and *inactive* when they bought nothing in ``after``.

    Returns
    -------
    pandas.DataFrame
        One row per segment of origin (low -> high value) plus ``all``: ``n`` and the four rates.
    """
    names = names or {}
    rank = {int(s): r for r, s in enumerate(value_order)}
    a = states[before].to_numpy()
    b = states[after].to_numpy()
    rows = []
    for label, mask in [*((names.get(s, f"Segment {s}"), a == s) for s in value_order), ("all", a >= 0)]:
        ra = np.array([rank.get(int(s), -1) for s in a[mask]])
        bb = b[mask]
        rb = np.array([rank.get(int(s), -1) for s in bb])
        n = int(mask.sum())
        active_after = bb >= 0
        rows.append(
            {
                "segment": label,
                "n": n,
                "upgraded": float(np.mean(active_after & (rb > ra))) if n else np.nan,
                "same": float(np.mean(active_after & (rb == ra))) if n else np.nan,
                "downgraded": float(np.mean(active_after & (rb < ra))) if n else np.nan,
                "inactive": float(np.mean(~active_after)) if n else np.nan,
            }
        )
    return pd.DataFrame(rows)


def grade_labels(a: np.ndarray, b: np.ndarray, value_order: list[int]) -> np.ndarray:
    """Per customer: "up", "same", "down", "inactive" (after) or "" (not in a segment before)."""
    lookup = np.full(max([*value_order, 0]) + 3, -1)
    for r, s in enumerate(value_order):
        lookup[int(s)] = r
    ra = np.where(a >= 0, lookup[np.clip(a, 0, None)], -1)
    rb = np.where(b >= 0, lookup[np.clip(b, 0, None)], -1)
    out = np.full(len(a), "", dtype=object)
    base = a >= 0
    out[base & (b < 0)] = "inactive"
    act = base & (b >= 0)
    out[act & (rb > ra)] = "up"
    out[act & (rb == ra)] = "same"
    out[act & (rb < ra)] = "down"
    return out


def grades_from_published(counts: pd.DataFrame, value_order: list[int], names: dict[int, str]) -> pd.DataFrame:
    """Up- and downgrade rates per segment of origin, derived from a published transition table.

    ``counts`` is :func:`transition_matrix`'s suppressed table (with ``Total``). Each rate is a sum of
    published cells over the published row total; it is NaN when any cell it sums is hidden, so no
    rate (times ``n``) uncovers a suppressed cell. ``all`` sums the segment rows the same way.

    Returns
    -------
    pandas.DataFrame
        ``segment``, ``n`` and the rates ``upgraded``, ``same``, ``downgraded``, ``inactive``.
    """
    seg_names = [names.get(s, f"Segment {s}") for s in value_order]
    present = [n for n in seg_names if n in counts.index and n in counts.columns]
    rank = {n: r for r, n in enumerate(seg_names)}
    inactive = STATE_NAMES[INACTIVE]
    table = {}
    for origin in present:
        row = counts.loc[origin]
        up = [t for t in present if rank[t] > rank[origin]]
        down = [t for t in present if rank[t] < rank[origin]]
        table[origin] = {"n": row["Total"], "upgraded": row[up].sum(min_count=len(up)) if up else 0.0,
                         "same": row[origin], "downgraded": row[down].sum(min_count=len(down)) if down else 0.0,
                         "inactive": row[inactive] if inactive in row else 0.0}
    events = pd.DataFrame.from_dict(table, orient="index", columns=["n", "upgraded", "same", "downgraded", "inactive"])
    events.loc["all"] = events.sum(axis=0, min_count=len(events)) if len(events) else np.nan
    rates = events[["upgraded", "same", "downgraded", "inactive"]].div(events["n"].where(events["n"] > 0), axis=0)
    out = pd.concat([events[["n"]], rates], axis=1).rename_axis("segment").reset_index()
    return out


def window_counts(states: pd.DataFrame, labels: list[str], value_order: list[int], names: dict[int, str],
                  k: int, suppress=None) -> pd.DataFrame:
    """Customers per window and state (segments high value first, inactive, not yet), suppressed once.

    The one published table behind the per-window activity and segment shares
    (:func:`workbench.dynamics.window_summary`) and the flow chart's bars: ``suppress`` (exact counts in,
    the published table out; the stage passes :func:`workbench.privacy.suppress_and_publish`), default
    :func:`workbench.privacy.suppress_counts` with ``margins=True`` on exact counts.
    """
    order = [*reversed(list(value_order)), INACTIVE, NOT_YET]
    data = states[labels].to_numpy()
    pos = _positions(data.ravel(), order)
    window = np.tile(np.arange(len(labels)), len(data))  # row-major: each customer's windows in turn
    ok = pos >= 0
    cells = crosstab({"window": window[ok], "state": pos[ok]}, (len(labels), len(order)))  # in the engine
    counts = pd.DataFrame(cells, columns=[_state_label(s, names) for s in order],
                          index=pd.Index(labels, name="window"))
    counts.columns.name = "state"
    return suppress(counts) if suppress is not None else privacy.suppress_counts(counts, k, margins=True)


def transition_rates(counts: pd.DataFrame) -> pd.DataFrame:
    """Row rates of a published transition table (with ``Total``): published cell over published row total.

    NaN wherever either is hidden. Pass the table as printed (:func:`workbench.privacy.printed_table`), so
    that a rate moves by the perturbation of its counts, never by one customer's exact contribution.
    """
    totals = counts["Total"]
    return counts.drop(columns="Total").div(totals.where(totals > 0), axis=0)


def _transition_tables(
    states: pd.DataFrame,
    pairs: list[tuple[str, str]],
    state_names: dict[int, str],
    value_order: list[int],
    k: int,
    suppress=None,
) -> dict:
    """The suppressed transition table of each compared pair (``Dynamics.pairs``: the same season a year
    apart where the history allows), by pair: :func:`transition_matrix` with ``k``. ``suppress(before,
    after)`` gives the pair's suppressing callable (the stage: :func:`workbench.privacy.suppress_and_publish`,
    so the tables come back as printed)."""
    return {(before, after): transition_matrix(states, before, after, state_names, value_order, k=k,
                                               suppress=None if suppress is None else suppress(before, after))[0]
            for before, after in pairs}


def transitions_from_printed(printed: dict, value_order: list[int], names: dict[int, str]
                             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Transition counts and rates (long form) and the up- and downgrades, derived from the printed tables.

    ``printed`` maps each compared pair to its transition table as printed (perturbed by the cell-key method
    after suppression): every count, rate and grade a report shows then comes from those numbers alone
    (:func:`transition_rates`, :func:`grades_from_published`).
    """
    long, grades = [], []
    for (before, after), counts in printed.items():
        c = counts.stack(future_stack=True).rename("count")
        r = transition_rates(counts).stack(future_stack=True).rename("rate")
        part = pd.concat([c, r], axis=1).reset_index()
        part.columns = ["from_state", "to_state", "count", "rate"]
        part.insert(0, "after", after)
        part.insert(0, "before", before)
        long.append(part)
        g = grades_from_published(counts, value_order, names)
        g.insert(0, "after", after)
        g.insert(0, "before", before)
        grades.append(g)
    return pd.concat(long, ignore_index=True), pd.concat(grades, ignore_index=True)
