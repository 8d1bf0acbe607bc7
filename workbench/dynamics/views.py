"""Tables and sentences for notebook 05: periods compared, label staleness, the planted-migration note."""

from __future__ import annotations

import pandas as pd

from ._states import INACTIVE, NOT_YET, STATE_NAMES, Dynamics


def applicable(dyn: Dynamics | None, info: dict, section: str) -> bool:
    """For a notebook section: True if the stage ran; else show why the section does not apply."""
    if dyn is not None:
        return True
    from ..report import not_applicable

    not_applicable(section, info.get("because", "the dynamics stage did not run"))
    return False


def window_summary(dyn: Dynamics, counts: pd.DataFrame) -> pd.DataFrame:
    """Per window: dates, customers active, inactive and not yet acquired, and segment shares.

    Everything derives from one published table, ``counts``: customers per window and state with margins
    as printed (:func:`workbench.dynamics.printed_counts`' ``windows``: :func:`workbench.dynamics.window_counts`
    suppressed once, then perturbed by the cell-key method). ``active`` is the sum of the printed segment
    cells (or ``Total`` minus inactive and not-yet when a segment cell is hidden), a share is a printed
    segment cell over it, NaN wherever a cell it needs is hidden.
    """
    published = counts.drop(index="Total")
    seg_cols = [dyn.names.get(s, f"Segment {s}") for s in reversed(dyn.value_order)]
    inactive, not_yet = STATE_NAMES[INACTIVE], STATE_NAMES[NOT_YET]
    active = published[seg_cols].sum(axis=1, min_count=len(seg_cols))
    active = active.fillna(published["Total"] - published[inactive] - published[not_yet])
    out = pd.DataFrame({"from": [w.start.date().isoformat() for w in dyn.windows.itertuples()],
                        "to (as of)": [w.end.date().isoformat() for w in dyn.windows.itertuples()]},
                       index=pd.Index(dyn.labels, name="window"))
    out["active"] = active.astype("Int64")
    out["inactive"] = published[inactive].astype("Int64")
    out["not yet a customer"] = published[not_yet].astype("Int64")
    for col in seg_cols:
        out[col] = published[col] / active.where(active > 0)
    return out


def label_staleness_markdown(info: dict) -> str:
    """For notebook 05: how the staleness of given labels was judged and the overall result (Markdown)."""
    ages = info.get("ages") or {}
    text = (f"Labels dated: {ages.get('n_dated', 0):,} customers; median age **{ages.get('median_days', float('nan')):.0f} "
            f"days** (counted to {ages.get('reference', 'now')}, {ages.get('as_of')}); "
            f"{(ages.get('share_older_180') or 0):.0%} older than 180 days, {(ages.get('share_older_365') or 0):.0%} "
            "older than a year.")
    if info.get("judged_by") and info.get("stale_share") is None:
        text += (f" Current behaviour was judged by {info['judged_by']}; the share of labelled customers it puts in "
                 "another given segment is suppressed (its count is small).")
    if info.get("stale_share") is not None:
        text += (f" Current behaviour was judged by {info['judged_by']}. **{info['stale_share']:.1%}** of labelled "
                 f"customers would now be in another given segment; {info['noise_floor']:.1%} disagree already at "
                 "labelling time (the noise floor of that share).")
    return text


def planted_migration_note(check: dict, *_ignored) -> str:
    """One or two sentences reading a :func:`planted_migration_check` result for the report."""
    if not check.get("applicable"):
        return f"Not applicable: {check.get('because', '')}."
    diff = abs(check["difference_pp"])
    verdict = (f"recovers the planted share within {diff:.1f} percentage points (tolerance 3)" if diff <= 3
               else f"misses the planted share by {diff:.1f} percentage points (tolerance 3)")
    return (f"Scored on each window's behaviour alone, the transition matrix {verdict}. Of the source segment's "
            f"customers in {check['before']}, {check['inactive_share']:.1%} bought nothing in {check['after']} "
            f"(their own state, inactive); counting them in the denominator the share that moved is "
            f"{check['measured_share_with_inactive']:.1%}.")
