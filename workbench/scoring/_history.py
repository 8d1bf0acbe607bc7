"""The assignment history: one interval per customer and segment, appended to, never rewritten.

A row says: from ``valid_from`` the customer (``pseudonym``) was in ``segment`` with ``margin`` to the
runner-up, until ``valid_to`` (missing while the interval is open, i.e. the current segment), for
``reason``: ``model refresh`` (the run's own assignment), ``new data`` (new transactions or changed
customer rows) or ``choice`` (a choice the customer recorded).

The history is stored as parts that are only ever added, never rewritten: the first holds every
customer's first interval; each later part holds, for every customer who moved, a closed copy of
their open interval (same ``pseudonym``, ``valid_from`` and ``segment``, ``valid_to`` set) and the new
open interval. :func:`consolidate` reads the parts as one table: one row per interval, the closed
copy's ``valid_to`` on the interval's first row. A batch therefore costs what its movers cost, not
what the whole history does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ["pseudonym", "segment", "margin", "valid_from", "valid_to", "reason"]
REASONS = ("model refresh", "new data", "choice")


def _rows(pseudonyms, segments, margins, valid_from, reason: str) -> pd.DataFrame:
    return pd.DataFrame({
        "pseudonym": np.asarray(pseudonyms, dtype=object),
        "segment": np.asarray(segments, dtype="int64"),
        "margin": np.asarray(margins, dtype="float64"),
        "valid_from": pd.Series(pd.Timestamp(valid_from), index=range(len(segments))).astype("datetime64[us]"),
        "valid_to": pd.Series(pd.NaT, index=range(len(segments))).astype("datetime64[us]"),
        "reason": reason,
    })


def start_history(assignments: pd.DataFrame, margins, valid_from) -> pd.DataFrame:
    """The first intervals: every customer's segment as the run assigned it, open from the run's ``as_of``.

    Parameters
    ----------
    assignments : DataFrame
        ``customer_id`` (pseudonyms) and ``segment``, as ``segments/assignments.parquet``.
    margins : array-like
        Each customer's margin to the runner-up, in the order of ``assignments``.
    valid_from : Timestamp
        The run's ``as_of``.
    """
    return _rows(assignments["customer_id"], assignments["segment"], margins, valid_from, "model refresh")


_KEY = ["pseudonym", "valid_from", "segment"]


def consolidate(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The parts, oldest first, as one table of intervals (a closed copy ends the interval it copies)."""
    frame = pd.concat(parts, ignore_index=True)[COLUMNS] if parts else pd.DataFrame(columns=COLUMNS)
    copy = frame.duplicated(_KEY, keep="first")
    out = frame[~copy].reset_index(drop=True)
    if copy.any():
        ends = frame[copy].drop_duplicates(_KEY, keep="last").set_index(_KEY)["valid_to"]
        where = pd.MultiIndex.from_frame(out[_KEY])
        hit = where.isin(ends.index)
        out.loc[hit, "valid_to"] = ends.reindex(where[hit]).to_numpy()
    return out


def current(history: pd.DataFrame) -> pd.DataFrame:
    """The open intervals (each customer's current segment), indexed by pseudonym."""
    return history[history["valid_to"].isna()].set_index("pseudonym")


def apply_scores(history: pd.DataFrame, scored: pd.DataFrame, as_of, reason: str = "new data") -> tuple[pd.DataFrame, int]:
    """The part to add for re-scored customers: for each who moved, the closed copy and the new interval.

    Parameters
    ----------
    history : DataFrame
        At least the open intervals of the re-scored customers (:data:`COLUMNS`, consolidated).
    scored : DataFrame
        ``pseudonym``, ``segment``, ``margin`` of the re-scored customers (each once).
    as_of : Timestamp
        When the new assignment holds from: the closed intervals end there, the new ones start there.
    reason : str
        One of :data:`REASONS`.

    Returns
    -------
    (DataFrame, int)
        The new part (closed copies first, then the new intervals in the order of ``scored``; empty
        when nobody moved) and how many customers moved.
    """
    if reason not in REASONS:
        raise ValueError(f"reason must be one of {REASONS}, got {reason!r}")
    open_rows = history[history["valid_to"].isna()].drop_duplicates("pseudonym", keep="last")
    now = open_rows.set_index("pseudonym")["segment"]
    before = now.reindex(scored["pseudonym"]).to_numpy()
    moved = scored[pd.isna(before) | (before != scored["segment"].to_numpy())]
    if not len(moved):
        return pd.DataFrame(columns=COLUMNS), 0
    closed = open_rows[open_rows["pseudonym"].isin(set(moved["pseudonym"]))].copy()
    closed["valid_to"] = pd.Timestamp(as_of)
    closed["valid_to"] = closed["valid_to"].astype("datetime64[us]")
    added = _rows(moved["pseudonym"], moved["segment"], moved["margin"], as_of, reason)
    return pd.concat([closed[COLUMNS], added], ignore_index=True), len(moved)
