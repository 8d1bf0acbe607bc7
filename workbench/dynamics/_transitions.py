"""Moves between two windows: transition matrix, share of a segment that moved, up- and downgrades."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import privacy
from ._states import INACTIVE, NOT_YET, STATE_NAMES


def _state_label(state: int, names: dict[int, str]) -> str:
    return STATE_NAMES.get(int(state)) or names.get(int(state), f"Segment {state}")


def transition_matrix(
    states: pd.DataFrame,
    before: str,
    after: str,
    names: dict[int, str] | None = None,
    order: list[int] | None = None,
    k: int | None = None,
    drop_empty: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts and row rates of moves from window ``before`` to window ``after``.

    Rows are the state in ``before``, columns the state in ``after``: segments (in ``order``, e.g.
    the value order), ``inactive``; a row ``not yet a customer`` holds newly acquired customers.
    Customers not yet acquired in either window are left out.

    Segments nobody is in, in either window, are dropped unless ``drop_empty=False``.

    With ``k``, counts pass through :func:`workbench.privacy.suppress_counts` (small cells and their
    complements become NaN) and the rates of suppressed cells are NaN too; rates are computed from
    the true row totals.

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
    counts = pd.crosstab(a, b).reindex(index=row_states, columns=col_states, fill_value=0)
    if counts.loc[NOT_YET].sum() == 0:
        counts = counts.drop(index=NOT_YET)
    if drop_empty:  # segments nobody is in, in either window
        empty = [s for s in seg_ids if counts.loc[s].sum() == 0 and counts[s].sum() == 0]
        counts = counts.drop(index=empty, columns=empty)
    counts.index = pd.Index([_state_label(s, names) for s in counts.index], name=f"from {before}")
    counts.columns = pd.Index([_state_label(s, names) for s in counts.columns], name=f"to {after}")
    totals = counts.sum(axis=1)
    rates = counts.div(totals.where(totals > 0), axis=0)
    if k:
        counts = privacy.suppress_counts(counts, k)
        rates = rates.where(counts.notna())
    return counts, rates


def migration_share(
    states: pd.DataFrame,
    source: int,
    target: int,
    before: str,
    after: str,
    after_states: pd.DataFrame | None = None,
) -> dict:
    """Share of a segment that moved to another between two windows.

    Definition: the denominator is the customers in segment ``source`` in window ``before``
    (``states``: so they were active then). With ``after_states=None`` only those also active in
    ``after`` count, and the numerator is those in segment ``target`` in ``after`` (a row of the
    transition matrix restricted to active customers). Pass ``after_states=Dynamics.segments`` to
    judge everyone by the segment the model gives their features at the end of ``after``, whether
    or not they bought in that window: this avoids conditioning on activity, which would favour
    segments that buy more often (the share among customers active in both windows over-represents
    frequent buyers).

    Returns
    -------
    dict
        ``n_source`` (the denominator), ``n_moved`` and ``share``.
    """
    a = states[before].to_numpy()
    if after_states is None:
        b = states[after].to_numpy()
        base = (a == source) & (b >= 0)
    else:
        order = states[["customer_id"]].merge(after_states[["customer_id", after]], on="customer_id", how="left")
        b = order[after].fillna(NOT_YET).to_numpy()
        base = a == source
    moved = base & (b == target)
    n = int(base.sum())
    return {"n_source": n, "n_moved": int(moved.sum()), "share": moved.sum() / n if n else float("nan")}


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


def _transition_tables(
    states: pd.DataFrame,
    labels: list[str],
    state_names: dict[int, str],
    value_order: list[int],
    names: dict[int, str],
    k: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Transition matrices (long form) and suppressed up- and downgrades for every consecutive window pair."""
    long, grades = [], []
    for before, after in zip(labels[:-1], labels[1:]):
        counts, rates = transition_matrix(states, before, after, state_names, value_order, k=k)
        c = counts.stack(future_stack=True).rename("count")
        r = rates.stack(future_stack=True).rename("rate")
        part = pd.concat([c, r], axis=1).reset_index()
        part.columns = ["from_state", "to_state", "count", "rate"]
        part.insert(0, "after", after)
        part.insert(0, "before", before)
        long.append(part)
        g = grade_changes(states, before, after, value_order, names)
        g = privacy.suppress_rows(g, "n", k, keep=["segment"])
        g.insert(0, "after", after)
        g.insert(0, "before", before)
        grades.append(g)
    return pd.concat(long, ignore_index=True), pd.concat(grades, ignore_index=True)
