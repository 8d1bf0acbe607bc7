"""The assignment history: one interval per customer and segment, appended to, never rewritten.

A row says: from ``valid_from`` the customer (``pseudonym``) was in ``segment`` with ``margin`` to the
runner-up, until ``valid_to`` (missing while the interval is open, i.e. the current segment), for
``reason``: ``model refresh`` (the run's own assignment), ``new data`` (new transactions or changed
customer rows) or ``choice`` (a choice the customer recorded). A customer whose objection to
profiling is in force has an open interval with no segment (``segment`` and ``margin`` missing,
reason ``choice``): their last segment was closed when the objection arrived, and nothing is scored
for them until they withdraw it.

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


def _rows(pseudonyms, segments, margins, valid_from, reason) -> pd.DataFrame:
    """History rows; ``segment`` is nullable (missing: no segment, by the customer's choice)."""
    return pd.DataFrame({
        "pseudonym": np.asarray(pseudonyms, dtype=object),
        "segment": pd.array(np.asarray(segments, dtype="float64"), dtype="Int64"),
        "margin": np.asarray(margins, dtype="float64"),
        "valid_from": pd.Series(pd.Timestamp(valid_from), index=range(len(segments))).astype("datetime64[us]"),
        "valid_to": pd.Series(pd.NaT, index=range(len(segments))).astype("datetime64[us]"),
        "reason": np.asarray(reason, dtype=object) if not isinstance(reason, str) else reason,
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
    """The parts, oldest first, as one table of intervals (a closed copy ends the interval it copies).

    Within one (pseudonym, ``valid_from``, segment) the rows alternate: an interval, the copy that
    closed it, the same interval opened again (batches of choices alone keep the same ``as_of``, so a
    customer can return to a segment, or to none, at the time they left it), its closing copy, ...
    """
    frame = pd.concat(parts, ignore_index=True)[COLUMNS] if parts else _rows([], [], [], pd.NaT, [])
    frame = frame.astype({"segment": "Int64"}).reset_index(drop=True)
    grouped = frame.groupby(_KEY, dropna=False, sort=False)
    nth = grouped.cumcount().to_numpy()
    pair = grouped.ngroup().to_numpy().astype(np.int64) * (len(frame) + 1) + nth // 2
    closing = nth % 2 == 1
    out = frame[~closing].reset_index(drop=True)
    if closing.any():
        ends = pd.Series(frame["valid_to"].to_numpy()[closing], index=pair[closing]).reindex(pair[~closing])
        out["valid_to"] = ends.to_numpy().astype(out["valid_to"].dtype)
    return out


def current(history: pd.DataFrame) -> pd.DataFrame:
    """The open intervals (each customer's current segment), indexed by pseudonym."""
    return history[history["valid_to"].isna()].set_index("pseudonym")


def apply_scores(history: pd.DataFrame, scored: pd.DataFrame, as_of, reason="new data",
                 unassigned=()) -> tuple[pd.DataFrame, int]:
    """The part to add for re-scored customers: for each who moved, the closed copy and the new interval.

    Parameters
    ----------
    history : DataFrame
        At least the open intervals of the re-scored customers (:data:`COLUMNS`, consolidated).
    scored : DataFrame
        ``pseudonym``, ``segment``, ``margin`` of the re-scored customers (each once).
    as_of : Timestamp
        When the new assignment holds from: the closed intervals end there, the new ones start there.
    reason : str or array-like
        One of :data:`REASONS`, or one per row of ``scored``.
    unassigned : collection, optional
        Customers whose objection to profiling is now in force: an open interval with a segment is
        closed and one without a segment opened (reason ``choice``); not in ``scored``.

    Returns
    -------
    (DataFrame, int)
        The new part (closed copies first, then the new intervals: the movers in the order of
        ``scored``, then the newly unassigned; empty when nobody changed) and how many customers
        changed interval.
    """
    reasons = pd.Series(reason, index=scored.index) if isinstance(reason, str) else pd.Series(
        np.asarray(reason, dtype=object), index=scored.index)
    if not reasons.isin(REASONS).all():
        raise ValueError(f"reason must be one of {REASONS}, got {sorted(set(reasons) - set(REASONS))!r}")
    open_rows = history[history["valid_to"].isna()].drop_duplicates("pseudonym", keep="last")
    now = open_rows.set_index("pseudonym")["segment"]
    before = now.reindex(scored["pseudonym"]).astype("float64").to_numpy()
    moves = np.isnan(before) | (before != scored["segment"].to_numpy())
    moved = scored[moves]
    gone = now.reindex(pd.Index(list(unassigned))).dropna()  # only customers who still hold a segment
    if not len(moved) and not len(gone):
        return _rows([], [], [], as_of, []), 0
    closed = open_rows[open_rows["pseudonym"].isin(set(moved["pseudonym"]) | set(gone.index))].copy()
    closed["valid_to"] = pd.Timestamp(as_of)
    closed["valid_to"] = closed["valid_to"].astype("datetime64[us]")
    added = _rows(moved["pseudonym"], moved["segment"], moved["margin"], as_of, reasons[moves].to_numpy())
    dropped = _rows(gone.index, np.full(len(gone), np.nan), np.full(len(gone), np.nan), as_of, "choice")
    return pd.concat([closed[COLUMNS], added, dropped], ignore_index=True), len(moved) + len(gone)


def ages_query(history: str, confirmed: str | None, as_of: pd.Timestamp) -> str:
    """One row: how long ago each customer's current assignment was last confirmed by data, summarised.

    ``history`` is a table of the parts (:data:`COLUMNS`); an interval is open when the rows of its
    (pseudonym, valid_from, segment) opening it outnumber those closing it. ``confirmed`` holds ``pseudonym``, ``confirmed_at``: the
    batches that re-scored a customer without moving them. Days are counted to ``as_of``.
    """
    conf = (f"SELECT pseudonym, max(confirmed_at) AS at FROM {confirmed} GROUP BY pseudonym" if confirmed
            else "SELECT CAST(NULL AS VARCHAR) AS pseudonym, CAST(NULL AS TIMESTAMP) AS at WHERE FALSE")
    days = f"date_diff('day', CAST(a.since AS TIMESTAMP), TIMESTAMP '{pd.Timestamp(as_of).isoformat(sep=' ')}')"
    return (
        # an interval opened again at the same valid_from has more opening rows than closing copies
        f"WITH open AS (SELECT pseudonym, segment, valid_from FROM {history} GROUP BY pseudonym, valid_from, segment "
        "HAVING count(*) FILTER (WHERE valid_to IS NULL) > count(*) FILTER (WHERE valid_to IS NOT NULL)), "
        f"conf AS ({conf}), "
        "a AS (SELECT o.segment, CASE WHEN f.at > o.valid_from THEN f.at ELSE o.valid_from END AS since "
        "FROM open AS o LEFT JOIN conf AS f ON o.pseudonym = f.pseudonym) "
        "SELECT count(*) FILTER (WHERE a.segment IS NOT NULL) AS assigned, "
        "count(*) FILTER (WHERE a.segment IS NULL) AS without_segment, "
        f"median({days}) FILTER (WHERE a.segment IS NOT NULL) AS median_days, "
        f"avg(CASE WHEN {days} > 90 THEN 1.0 ELSE 0.0 END) FILTER (WHERE a.segment IS NOT NULL) AS share_over_90, "
        f"avg(CASE WHEN {days} > 365 THEN 1.0 ELSE 0.0 END) FILTER (WHERE a.segment IS NOT NULL) AS share_over_365 "
        "FROM a"
    )
