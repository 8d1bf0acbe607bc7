"""Synthetic data only: the measured migration against the one the generator planted (``data/truth.*``).

Shown in notebook 05 and ``summary.json`` for a synthetic run with ``dataset.params.migration``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._states import Dynamics


def planted_migration_check(dyn: Dynamics, truth: pd.DataFrame, migration: dict, after: str | None = None,
                            suppress=None) -> dict:
    """Compare the measured migration with the one the synthetic generator planted.

    * **Mapping.** Each learned segment is labelled with the planted segment most of its customers
      belong to (majority vote over the segments the model gives at the end of window ``before``,
      the last window ending on or before the migration date: the windows on either side of the date,
      each scored against its own season's profiles, even where the report pairs windows a year apart,
      because the planted change has a known date; the same-season pair 2025H1→2026H1 measured 2.5-3.7 pp
      too much on seeds 1-3, since 2025H1 still holds the lapsing cohort). The learned *source* is the set
      of learned segments labelled with the planted source (a model may split a planted segment in
      two), the learned *target* likewise; when no learned segment is labelled with a planted
      segment, the learned segment holding most of its customers stands for it.
    * **Measured share** (the definition the done-when test checks): among customers in the
      learned source in ``before`` whose behaviour in ``after`` (default: the last window) can be
      seen (they bought something in it), the share in the learned target in ``after``. The planted
      quantity is a change of *behaviour*, which a customer who bought nothing does not show;
      ``measured_share_with_inactive`` is the transition-matrix row share, with ``inactive`` as a
      destination of its own (the default of :func:`migration_share`), shown beside it, and
      ``inactive_share`` the part of the source row that became inactive.
    * ``planted_share`` is the generator's ``n_moved / n_source``; ``true_share_same_customers`` is
      the planted share among exactly the customers of the measured denominator (from
      ``segment_after_migration``), separating the segmentation's misclassification from who is in
      the denominator.

    Parameters
    ----------
    dyn : Dynamics
    truth : pandas.DataFrame
        ``customer_id``, ``segment`` (planted, before the migration) and optionally
        ``segment_after_migration``.
    migration : dict
        ``source``, ``target``, ``share``, ``at`` and optionally ``n_moved``, ``n_source``.
    after : str, optional
        Window label after the migration (default the last window).
    suppress : callable, optional
        Exact counts in, the table as printed out (the stage passes
        :func:`workbench.privacy.suppress_and_publish`): the learned source's customers in ``before`` by
        their state in ``after`` (target, another segment, inactive). Every count and share the check
        reports is derived from that printed table (None where a count it needs is hidden); without
        ``suppress`` from the exact counts.
    """
    at = pd.Timestamp(migration["at"])
    ends = dyn.windows["end"]
    if not (ends <= at).any() or (ends > at).sum() == 0:
        return {"applicable": False, "because": "the windows do not straddle the migration date"}
    before = dyn.labels[int(np.flatnonzero(ends <= at).max())]
    after = after or dyn.labels[-1]
    planted = dyn.states[["customer_id"]].merge(truth, on="customer_id", how="left")
    src, dst, because = _learned_source_target(dyn.segments[before].to_numpy(), planted["segment"], migration)
    if because:
        return {"applicable": False, "because": because}
    a, b = dyn.states[before].to_numpy(), dyn.states[after].to_numpy()
    in_src = np.isin(a, src)
    base = in_src & (b >= 0)
    moved, other, inactive, total = _source_row(b[in_src], dst, before, after, suppress)
    share, share_all = _ratio(moved, moved + other), _ratio(moved, total)
    planted_share = (migration["n_moved"] / migration["n_source"] if migration.get("n_source")
                     else float(migration["share"]))
    out = {
        "applicable": True,
        "before": before,
        "after": after,
        "source": " + ".join(dyn.names.get(j, str(j)) for j in src),
        "target": " + ".join(dyn.names.get(j, str(j)) for j in dst),
        "source_ids": src,
        "target_ids": dst,
        "planted_share": float(planted_share),
        "measured_share": share,
        "n_source": None if np.isnan(total) else int(total),
        "n_source_active": None if np.isnan(moved + other) else int(moved + other),
        "measured_share_with_inactive": share_all,
        "inactive_share": _ratio(inactive, total),
        "difference_pp": float(100 * (share - planted_share)),
    }
    if "segment_after_migration" in planted:
        moved = ((planted["segment"] == migration["source"])
                 & (planted["segment_after_migration"] == migration["target"])).to_numpy()
        out["true_share_same_customers"] = float(moved[base].mean()) if base.any() else float("nan")
    return out


def _source_row(after_states: np.ndarray, dst: list[int], before: str, after: str, suppress) -> tuple:
    """(moved to the target, another segment, inactive, all) of the learned source's customers, as printed.

    Shares printed beside the transition tables come from counts that are printed too (issue 24): from exact
    counts, two runs one erasure apart would differ by exactly the erased customer's move."""
    to_dst = np.isin(after_states, dst)
    counts = pd.DataFrame([[int(to_dst.sum()), int(((after_states >= 0) & ~to_dst).sum()),
                            int((after_states < 0).sum())]], index=pd.Index(["source"], name=f"learned source in {before}"),
                          columns=pd.Index(["target", "other segment", "inactive"], name=f"state in {after}"))
    if suppress is None:
        row = counts.iloc[0].astype(float)
        return float(row["target"]), float(row["other segment"]), float(row["inactive"]), float(row.sum())
    row = suppress(counts).loc["source"]
    return tuple(float(row[c]) for c in ("target", "other segment", "inactive", "Total"))


def _ratio(part: float, whole: float) -> float:
    """``part / whole``; NaN when either is hidden (NaN) or ``whole`` is not positive."""
    return float(part / whole) if np.isfinite(part) and np.isfinite(whole) and whole > 0 else float("nan")


def _learned_source_target(scored: np.ndarray, planted: pd.Series, migration: dict):
    """The learned segments standing for the planted source and target (majority vote), or why none do.

    ``scored`` is each customer's state in the window before the migration (negative: not scored),
    ``planted`` their planted segment, in the same order.
    """
    known = (scored >= 0) & planted.notna().to_numpy()
    vote = pd.crosstab(planted[known].to_numpy(), scored[known])
    if migration["source"] not in vote.index or migration["target"] not in vote.index:
        return None, None, "no customer of the planted source or target segment was scored"
    label_of = vote.idxmax(axis=0)  # learned segment -> planted segment most of its customers are in

    def learned(name: str) -> list[int]:
        ids = [int(j) for j, p in label_of.items() if p == name]
        return ids or [int(vote.loc[name].idxmax())]

    src, dst = learned(migration["source"]), learned(migration["target"])
    if set(src) & set(dst):
        return src, dst, (f"the planted segments {migration['source']} and {migration['target']} map to the "
                          "same learned segment: the model does not tell them apart")
    return src, dst, ""
