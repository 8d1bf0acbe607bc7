"""The assignment history: one interval per customer and segment, appended to, never rewritten.

A row says: from ``valid_from`` the customer (``pseudonym``) was in ``segment`` with ``margin`` to the
runner-up, until ``valid_to`` (missing while the interval is open, i.e. the current segment), for
``reason``: ``model refresh`` (the run's own assignment), ``new data`` (new transactions or changed
customer rows) or ``choice`` (a choice the customer recorded). Closing an open interval sets its
``valid_to``; nothing else of an earlier row ever changes.
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


def current(history: pd.DataFrame) -> pd.DataFrame:
    """The open intervals (each customer's current segment), indexed by pseudonym."""
    return history[history["valid_to"].isna()].set_index("pseudonym")


def apply_scores(history: pd.DataFrame, scored: pd.DataFrame, as_of, reason: str = "new data") -> tuple[pd.DataFrame, int]:
    """Close and open intervals for the re-scored customers whose segment changed.

    Parameters
    ----------
    history : DataFrame
        The history so far (:data:`COLUMNS`).
    scored : DataFrame
        ``pseudonym``, ``segment``, ``margin`` of the re-scored customers (each once).
    as_of : Timestamp
        When the new assignment holds from: the closed intervals end there, the new ones start there.
    reason : str
        One of :data:`REASONS`.

    Returns
    -------
    (DataFrame, int)
        The new history (earlier rows first, unchanged apart from the closed ``valid_to``; the new
        intervals appended in the order of ``scored``) and how many customers moved.
    """
    if reason not in REASONS:
        raise ValueError(f"reason must be one of {REASONS}, got {reason!r}")
    open_rows = history["valid_to"].isna()
    now = history.loc[open_rows, ["pseudonym", "segment"]].set_index("pseudonym")["segment"]
    before = now.reindex(scored["pseudonym"]).to_numpy()
    moved = scored[pd.isna(before) | (before != scored["segment"].to_numpy())]
    if not len(moved):
        return history, 0
    out = history.copy()
    closing = open_rows & out["pseudonym"].isin(set(moved["pseudonym"]))
    out.loc[closing, "valid_to"] = pd.Timestamp(as_of)
    added = _rows(moved["pseudonym"], moved["segment"], moved["margin"], as_of, reason)
    return pd.concat([out, added], ignore_index=True)[COLUMNS], len(moved)
