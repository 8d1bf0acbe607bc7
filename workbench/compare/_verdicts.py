"""Verdicts of two runs side by side: which changed, and the numbers behind each, as published.

Nothing is recomputed: a verdict, its group and comparison group come from the run's
``summary.json`` verdict rows, and the ratio, its interval and the two selection rates from the
run's published (already masked) ``fairness/selection.parquet``. A number that run hides stays
hidden here (NaN, shown as "< k").
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: How a verdict reads in tables and sentences.
WORDS = {"pass": "PASS", "fail": "FAIL", "insufficient evidence": "INSUFFICIENT", None: "not checked"}
#: Columns taken from the run's published selection table for the row that decided the verdict.
NUMBERS = ["ratio", "ratio_low", "ratio_high", "rate", "reference_rate"]


def verdict_changes(rows_a: list[dict], rows_b: list[dict],
                    selection_a: pd.DataFrame | None, selection_b: pd.DataFrame | None) -> pd.DataFrame:
    """Every verdict of either run, before and after, with the published numbers that decided it.

    Parameters
    ----------
    rows_a, rows_b : list of dict
        Verdict rows of each run (``summary.json``: every stage's ``verdicts``, with ``_stage``):
        ``action``, ``attribute``, ``verdict``, ``sentence`` (and ``worst_group`` where recorded).
    selection_a, selection_b : DataFrame or None
        Each run's published selection table (``action, attribute, group, rate, ratio, ratio_low,
        ratio_high, …``; NaN where masked).

    Returns
    -------
    DataFrame
        One row per (stage, action, attribute): ``verdict_before``/``_after`` (None: not checked in
        that run), ``changed``, ``group_before``/``_after``, ``reference_before``/``_after``, and
        ``<number>_before``/``_after`` for each of :data:`NUMBERS`; ``sentence`` says what changed
        (empty when nothing did), ``sentence_before``/``_after`` are the runs' own.
    """
    a = {_key(r): r for r in rows_a}
    b = {_key(r): r for r in rows_b}
    keys = list(a) + [k for k in b if k not in a]
    out = []
    for key in keys:
        ra, rb = a.get(key), b.get(key)
        row = {"stage": key[0], "action": key[1], "attribute": key[2]}
        for side, r, sel in (("before", ra, selection_a), ("after", rb, selection_b)):
            row[f"verdict_{side}"] = None if r is None else r.get("verdict")
            row[f"sentence_{side}"] = "" if r is None else str(r.get("sentence", ""))
            row.update({f"{n}_{side}": v for n, v in _numbers(r, sel).items()})
        row["changed"] = row["verdict_before"] != row["verdict_after"]
        row["sentence"] = change_sentence(row) if row["changed"] else ""
        out.append(row)
    return pd.DataFrame(out)


def change_sentence(row: dict) -> str:
    """One sentence for a changed verdict: the ratio before and after with intervals, and the verdicts.

    Example: "Selection ratio for premium offer by gender (largest published gap: male vs female) fell from 0.91 [0.85, 0.97]
    to 0.74 [0.66, 0.83]: PASS -> FAIL." A number the run hides is written "hidden (small cells)";
    a verdict only one run has says so.
    """
    check = f"{str(row['action']).replace('_', ' ')} by {row['attribute']}"
    before, after = WORDS.get(row["verdict_before"], str(row["verdict_before"]).upper()), \
        WORDS.get(row["verdict_after"], str(row["verdict_after"]).upper())
    if row["verdict_before"] is None or row["verdict_after"] is None:
        which = "later" if row["verdict_before"] is None else "earlier"
        return f"{check[0].upper()}{check[1:]} was checked only in the {which} run: {before} -> {after}."
    if str(row["action"]).startswith("benefit of "):  # its numbers are in notebook 08, not in a selection table
        return f"{check[0].upper()}{check[1:]}: {before} -> {after}."
    ra, rb = row.get("ratio_before"), row.get("ratio_after")
    trend = "changed"
    if _shown(ra) and _shown(rb):
        trend = "rose" if rb > ra else "fell" if rb < ra else "stayed"
    groups = _groups(row)
    return (f"Selection ratio for {check}{groups} {trend} from {_ratio_text(row, 'before')} to "
            f"{_ratio_text(row, 'after')}: {before} -> {after}.")


def _key(r: dict) -> tuple[str, str, str]:
    # a benefit verdict of notebook 08 names its campaign, not an action
    action = r.get("action") if "action" in r or "campaign" not in r else f"benefit of {r['campaign']}"
    return (str(r.get("_stage", "")), str(action or ""), str(r.get("attribute", "")))


def _numbers(r: dict | None, sel: pd.DataFrame | None) -> dict:
    """The published numbers of the group with the largest gap (NaN: hidden or not available).

    The group is the verdict row's ``worst_group`` when the run recorded it; otherwise the compared
    group whose published ratio is farthest from 1 (log scale) among groups large enough to be
    judged, against the run's reference group (``is_reference``). Masked groups are never chosen:
    their numbers are not published.
    """
    out = dict.fromkeys(NUMBERS, np.nan) | {"group": None, "reference": None}
    if r is None or sel is None or sel.empty:
        return out
    part = sel.loc[(sel["action"].astype(str) == str(r.get("action")))
                   & (sel["attribute"].astype(str) == str(r.get("attribute")))]
    if part.empty:
        return out
    if "is_reference" in part:
        is_ref = part["is_reference"].astype(bool)
    else:
        is_ref = part["group"].astype(str).eq(str(r.get("reference")))
    ref = part.loc[is_ref]
    group = r.get("worst_group")
    if group is None:
        cand = part.loc[~is_ref & part["ratio"].notna() & (part["ratio"] > 0)]
        if "sufficient" in cand and cand["sufficient"].astype(bool).any():
            cand = cand.loc[cand["sufficient"].astype(bool)]
        if len(cand):
            group = cand.loc[np.abs(np.log(cand["ratio"].astype(float))).idxmax(), "group"]
    out["reference"] = str(ref.iloc[0]["group"]) if len(ref) else r.get("reference")
    hit = part.loc[part["group"].astype(str) == str(group)] if group is not None else part.iloc[:0]
    if len(hit):
        out["group"] = str(group)
        for n in ("ratio", "ratio_low", "ratio_high", "rate"):
            if n in hit.columns:
                out[n] = float(hit.iloc[0][n])
    if len(ref) and "rate" in ref.columns:
        out["reference_rate"] = float(ref.iloc[0]["rate"])
    return out


def _shown(v) -> bool:
    """A value is shown unless None or NaN (hidden by suppression, or pandas' missing text)."""
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def _ratio_text(row: dict, side: str) -> str:
    r, lo, hi = (row.get(f"{n}_{side}") for n in ("ratio", "ratio_low", "ratio_high"))
    if not _shown(r):
        return "hidden (small cells)" if _shown(row.get(f"group_{side}")) else "no ratio"
    interval = f" [{lo:.2f}, {hi:.2f}]" if _shown(lo) and _shown(hi) else ""
    return f"{r:.2f}{interval}"


def _groups(row: dict) -> str:
    ga, gb, refa, refb = (row.get(c) if _shown(row.get(c)) else None
                          for c in ("group_before", "group_after", "reference_before", "reference_after"))
    if ga is None and gb is None:
        return ""
    if (ga, refa) == (gb, refb) or gb is None:
        return f" (largest published gap: {ga} vs {refa})"
    if ga is None:
        return f" (largest published gap: {gb} vs {refb})"
    return f" (largest published gap: {ga} vs {refa} before, {gb} vs {refb} after)"
