"""Verdicts: pass / fail / insufficient evidence per (action, attribute), and the sentence saying why."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._groups import UNKNOWN
from ._policy import _action_text


def verdicts(
    comparisons: pd.DataFrame,
    *,
    thresholds: dict,
    min_group_size: int,
    alpha: float,
    correction: str = "holm",
    labelled: set[str] | None = None,
) -> pd.DataFrame:
    """Pass / fail / insufficient evidence per (action, attribute), with one sentence each.

    ``comparisons`` is the long table of :func:`rate_by_group` rows with ``action`` and
    ``attribute`` columns and audit-wide ``p_adjusted``. The rule is the package docstring's
    *Verdict rule*: :func:`_group_status` judges each group, :func:`_decide` the (action, attribute).
    """
    lo_t, hi_t = (float(x) for x in thresholds.get("ratio", [0.8, 1.25]))
    d_t = float(thresholds.get("difference", 0.1))
    labelled = labelled or set()
    words = {
        "conf": int(round(100 * (1 - alpha))),
        "corr_name": {"holm": "Holm", "bh": "Benjamini–Hochberg"}.get(correction, str(correction)),
    }
    rows = []
    for (action, attribute), part in comparisons.groupby(["action", "attribute"], sort=False):
        ref = part.loc[part["is_reference"]].iloc[0]
        status = _group_status(part, ref, lo_t, hi_t, d_t, min_group_size, alpha)
        others = part.loc[~part["is_reference"] & part["group"].map(lambda g: status.get(g) != "ignored")]
        verdict, worst = _decide(status, others, ref, min_group_size)
        sentence = _sentence(action, attribute, attribute in labelled, ref, worst, status,
                             lo_t, hi_t, d_t, min_group_size, words)
        rows.append({
            "action": action, "attribute": attribute, "verdict": verdict, "sentence": sentence,
            "groups": {g: s_ for g, s_ in status.items()},
        })
    return pd.DataFrame(rows)


def _group_status(part: pd.DataFrame, ref: pd.Series, lo_t: float, hi_t: float, d_t: float,
                  min_group_size: int, alpha: float) -> dict[str, str]:
    """Each non-reference group: ``pass``, ``fail``, ``not significant``, ``small`` or ``ignored``.

    A breach (ratio outside the band, or a gap beyond the difference threshold) fails only when
    significant after correction; a small ``unknown`` group is reported but does not count.
    """
    status = {}
    for _, r in part.loc[~part["is_reference"]].iterrows():
        small = r["n"] < min_group_size or ref["n"] < min_group_size
        if r["group"] == UNKNOWN and r["n"] < min_group_size:
            status[r["group"]] = "ignored"
            continue
        ratio = r["ratio"]
        breach_ratio = bool(np.isfinite(ratio) and not lo_t <= ratio <= hi_t) or (
            not np.isfinite(ratio) and r["rate"] > 0
        )
        breach_diff = bool(abs(r["difference"]) > d_t)
        if small:
            status[r["group"]] = "small"
        elif breach_ratio or breach_diff:
            status[r["group"]] = "fail" if r["p_adjusted"] < alpha else "not significant"
        else:
            status[r["group"]] = "pass"
    return status


def _decide(status: dict[str, str], others: pd.DataFrame, ref: pd.Series,
            min_group_size: int) -> tuple[str, pd.Series | None]:
    """The verdict, and the group its sentence is about (None when no comparison could be made).

    Any failing group fails the whole; a small or non-significant group makes it insufficient
    evidence; it passes only when every group passes. The group shown is the one furthest from
    the reference (by |log ratio|) among those that decided the verdict.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.abs(np.log(others["ratio"].astype(float).clip(lower=1e-12))).fillna(0.0)
    if ref["n"] < min_group_size or others.empty:
        return "insufficient evidence", None
    failing = [g for g, st in status.items() if st == "fail"]
    if failing:
        cand = others.loc[others["group"].isin(failing)]
        return "fail", cand.loc[dist.loc[cand.index].idxmax()]
    if any(st in ("small", "not significant") for st in status.values()):
        cand = others.loc[others["group"].map(lambda g: status.get(g) in ("small", "not significant"))]
        worst = cand.iloc[0]
        ns = cand.loc[cand["group"].map(lambda g: status[g] == "not significant")]
        if len(ns):
            worst = ns.loc[dist.loc[ns.index].idxmax()]
        return "insufficient evidence", worst
    return "pass", others.loc[dist.idxmax()]


# -- the sentences -----------------------------------------------------------------------------------
def _sentence(action: str, attribute: str, is_lab: bool, ref: pd.Series, worst: pd.Series | None,
              status: dict[str, str], lo_t: float, hi_t: float, d_t: float, min_group_size: int,
              words: dict) -> str:
    """The plain-language reason for one verdict, about ``worst``."""
    act = _action_text(action)
    if ref["n"] < min_group_size:
        return (
            f"The largest group for {attribute} has fewer than {min_group_size} customers: "
            f"insufficient evidence about {act}."
        )
    if worst is None:
        return f"Only one group of {attribute} is present: no comparison is possible for {act}."
    st = status[worst["group"]]
    if st == "small":
        smalls = [g for g, s_ in status.items() if s_ == "small"]
        who = ", ".join(f"'{g}'" for g in smalls)
        return (
            f"Groups of {attribute} with fewer than {min_group_size} customers ({who}) "
            f"cannot be assessed for {act}: insufficient evidence."
        )
    g_name = _group_phrase(attribute, worst["group"], is_lab)
    g_name = g_name[0].upper() + g_name[1:]
    ref_name = _group_phrase(attribute, ref["group"], is_lab, first=False)
    ci = f"{words['conf']}% CI {_f(worst['ratio_low'])}–{_f(worst['ratio_high'])}"
    shown = _f(worst["ratio"])
    if shown in (f"{lo_t:.2f}", f"{hi_t:.2f}"):  # 1.2502 must not read as "1.25 ... above 1.25"
        shown = f"{worst['ratio']:.3f}"
    base = (
        f"{g_name} were selected for {act} at {shown} times the rate of "
        f"{ref_name} ({ci}; {_pct(worst['rate'])} vs {_pct(ref['rate'])})"
    )
    where = _where(worst, lo_t, hi_t, d_t)
    if st == "fail":
        return f"{base}; {where}: fail."
    if st == "not significant":
        return (
            f"{base}; {where} but not statistically significant after {words['corr_name']} "
            f"correction (p = {worst['p_adjusted']:.2g}): insufficient evidence."
        )
    return f"{base}, the largest gap by {attribute}; {where}: pass."


def _where(worst: pd.Series, lo_t: float, hi_t: float, d_t: float) -> str:
    """Where the shown group's ratio or gap lies relative to the thresholds."""
    ratio = worst["ratio"]
    if np.isfinite(ratio) and ratio < lo_t:
        return f"below the {lo_t:g} threshold"
    if np.isfinite(ratio) and ratio > hi_t:
        return f"above the {hi_t:g} threshold"
    if abs(worst["difference"]) > d_t:
        return f"a gap of {abs(worst['difference']):.2f}, beyond the {d_t:g} threshold"
    return f"within {lo_t:g}–{hi_t:g}"


def _group_phrase(attribute: str, group: str, labelled: bool, first: bool = True) -> str:
    if " × " in attribute:
        return f"customers in group '{group}'" + (f" ({attribute})" if first else "")
    if labelled:
        return group
    return f"customers with {attribute} = {group}"


def _f(x) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.2f}"


def _pct(x) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:.1f}%"
