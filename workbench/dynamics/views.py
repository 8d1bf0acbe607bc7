"""Tables and sentences for notebook 05: periods compared, label staleness, the planted-migration note."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import privacy
from ._states import INACTIVE, NOT_YET, Dynamics


def applicable(dyn: Dynamics | None, info: dict, section: str) -> bool:
    """For a notebook section: True if the stage ran; else show why the section does not apply."""
    if dyn is not None:
        return True
    from ..report import not_applicable

    not_applicable(section, info.get("because", "the dynamics stage did not run"))
    return False


def window_summary(dyn: Dynamics, k: int = 10) -> pd.DataFrame:
    """Per window: dates, customers active, inactive and not yet acquired, and segment shares.

    Segment shares are among active customers; counts pass through small-cell suppression.
    """
    rows = []
    for w in dyn.windows.itertuples():
        col = dyn.states[w.label].to_numpy()
        active = col >= 0
        row = {"window": w.label, "from": w.start.date().isoformat(), "to (as of)": w.end.date().isoformat(),
               "active": int(active.sum()), "inactive": int((col == INACTIVE).sum()),
               "not yet a customer": int((col == NOT_YET).sum())}
        for s in reversed(dyn.value_order):
            row[dyn.names.get(s, f"Segment {s}")] = (col == s).sum() / active.sum() if active.any() else np.nan
        rows.append(row)
    out = pd.DataFrame(rows).set_index("window")
    cols = ["active", "inactive", "not yet a customer"]
    suppressed = privacy.suppress_counts(out[cols], k)
    for c in cols:
        out[c] = suppressed[c].astype("Int64")
    return out


def label_staleness_markdown(info: dict) -> str:
    """For notebook 05: how the staleness of given labels was judged and the overall result (Markdown)."""
    ages = info.get("ages") or {}
    text = (f"Labels dated: {ages.get('n_dated', 0):,} customers; median age **{ages.get('median_days', float('nan')):.0f} "
            f"days** (counted to {ages.get('reference', 'now')}, {ages.get('as_of')}); "
            f"{(ages.get('share_older_180') or 0):.0%} older than 180 days, {(ages.get('share_older_365') or 0):.0%} "
            "older than a year.")
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
    if diff <= 2:
        return (f"The transition matrix recovers the planted share within {diff:.1f} percentage points "
                "(tolerance 2).")
    static = check.get("static_inputs") or []
    text = f"The measured share misses the planted one by {diff:.1f} percentage points."
    if static:
        text += (
            f" The segmentation uses {len(static)} customer-table attributes ({', '.join(static[:5])}"
            f"{', …' if len(static) > 5 else ''}), which are one snapshot without history: customers who changed "
            "their buying keep the attributes of their old segment, so the model keeps them there. This is the "
            "'fractured identity' the audit looks for; a behavioural segmentation "
            "(`segmentation.features.customer_families: []`) follows the movers (the unit tests recover the "
            "planted share within 2 points that way)."
        )
    return text
