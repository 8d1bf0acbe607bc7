"""Fairness of benefit: does the campaign's uplift differ by sensitive group inside the targeted segments,
and who was left out that would have gained?

The verdict per (campaign, attribute) follows notebook 04's rule (:mod:`workbench.fairness._verdicts`)
with the uplift difference as the measure:

* **Groups that count**: at least ``min_group_size`` customers in *each* arm (the holdout decides the
  precision); a smaller known group is named, not judged; a small ``unknown`` is ignored.
* **Comparison group**: the group that counts with the largest uplift (the one that benefits most).
* **Pass** = equivalence shown: every other group's uplift difference to it has its 95% interval
  (MOVER of the two Newcombe intervals) inside +- ``uplift_difference``.
* **Fail** = some group's difference lies beyond the band and its test (Wald, no difference) is
  significant after Holm over the groups that count, each against the comparison group.
* **Insufficient evidence** otherwise (or fewer than two groups that count).

**Who was left out**: per group, among customers outside the targeted segments, the share in
(segment x group) cells whose uplift interval lies wholly above 0 (they would have gained with 95%
confidence, and were not offered it). Cells with fewer than ``min_group_size`` customers in an arm are
not judged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..fairness._groups import _is_unknown
from ..fairness._rates import adjust_pvalues
from ._effects import CELLS, effects_from_counts, uplift_difference


def benefit_verdict(groups: pd.DataFrame, *, campaign: str, attribute: str, band: float, min_group_size: int,
                    alpha: float = 0.05, correction: str = "holm", masked: set | None = None,
                    where: str = "the targeted segments") -> dict:
    """The verdict of one (campaign, attribute) from its groups' exact counts (the :data:`CELLS` columns).

    ``groups`` has a ``group`` column and one row per group (counts pooled over the targeted segments).
    ``masked`` names groups whose published counts are suppressed: the sentence shows none of their
    numbers. Returns ``{campaign, attribute, verdict, sentence}`` plus the numbers behind the sentence.
    """
    eff = effects_from_counts(groups, alpha).reset_index(drop=True)
    masked = masked or set()
    large = (eff["n_treatment"] >= min_group_size) & (eff["n_control"] >= min_group_size)
    unknown = eff["group"].astype(str).map(_is_unknown)
    eff["role"] = np.where(large, "compared", np.where(unknown, "ignored", "small"))
    compared = eff.loc[eff["role"] == "compared"]
    small = [str(g) for g in eff.loc[eff["role"] == "small", "group"]]
    out = {"campaign": campaign, "attribute": attribute, "reference": None, "worst_group": None,
           "difference": None, "difference_low": None, "difference_high": None, "p_adjusted": None}
    if len(compared) < 2:
        sentence = (f"Fewer than two groups of {attribute} have {min_group_size} or more customers in each arm "
                    f"within {where}: no uplift comparison can be judged: insufficient evidence.")
        return {**out, "verdict": "insufficient evidence", "sentence": sentence + _small_tail(small, min_group_size)}
    ref = compared.loc[compared["uplift"].idxmax()]
    rows = compared.loc[compared.index != ref.name]
    tests = [uplift_difference(r, ref, alpha) for _, r in rows.iterrows()]
    p_adj = adjust_pvalues(np.array([t[3] for t in tests]), correction)
    status = {}
    for (_, r), (d, lo, hi, _p), pa in zip(rows.iterrows(), tests, p_adj):
        if abs(d) > band:
            status[r["group"]] = ("fail" if pa < alpha else "not significant", d, lo, hi, pa)
        else:
            status[r["group"]] = ("pass" if -band <= lo and hi <= band else "too wide", d, lo, hi, pa)
    verdict, worst = _decide(status)
    st, d, lo, hi, pa = status[worst]
    out.update(reference=str(ref["group"]), worst_group=str(worst), difference=d, difference_low=lo,
               difference_high=hi, p_adjusted=float(pa))
    hidden = str(worst) in masked or str(ref["group"]) in masked
    sentence = _sentence(campaign, attribute, verdict, ref, rows.set_index("group").loc[worst], status[worst],
                         band, len(rows), hidden, where, correction, alpha)
    return {**out, "verdict": verdict, "sentence": sentence + _small_tail(small, min_group_size)}


def _decide(status: dict) -> tuple[str, object]:
    """Fail before insufficient before pass; the group the sentence is about: the largest gap of the kind."""
    for verdict, states in (("fail", {"fail"}), ("insufficient evidence", {"not significant", "too wide"}),
                            ("pass", {"pass"})):
        cand = {g: v for g, v in status.items() if v[0] in states}
        if cand:
            if verdict == "pass":  # the interval that comes closest to the band's edge
                return verdict, max(cand, key=lambda g: max(abs(cand[g][2]), abs(cand[g][3])))
            return verdict, max(cand, key=lambda g: abs(cand[g][1]))
    raise ValueError("no group compared")


def _sentence(campaign, attribute, verdict, ref, worst, state, band, m, hidden, where, correction, alpha) -> str:
    st, d, lo, hi, pa = state
    offer = "the " + campaign.replace("_", " ")
    conf = int(round(100 * (1 - alpha)))
    corr = {"holm": "Holm", "bh": "Benjamini–Hochberg"}.get(correction, str(correction))
    who = f"customers with {attribute} = {worst.name}"
    ref_name = f"those with {attribute} = {ref['group']}, the group that gains most"
    if hidden:
        base = f"Within {where}, the uplift of {offer} for {who} and its gap to {ref_name} are suppressed (small cells)"
    else:
        base = (f"Within {where}, {offer} lifted the response of {who} by {_pp(worst['uplift'])} against "
                f"{_pp(ref['uplift'])} for {ref_name}: a difference of {d:+.3f} ({conf}% CI {lo:+.3f} to {hi:+.3f})")
    if st == "fail":
        sig = (f"significant after {corr} over the {m} comparisons that decide this verdict" if m > 1
               else "significant, the only comparison that decides this verdict")
        return f"{base}; beyond the ±{band:g} band, {sig}" + ("" if hidden else f" (p = {pa:.2g})") + ": fail."
    if st == "not significant":
        return f"{base}; beyond the ±{band:g} band but not significant after {corr}: insufficient evidence."
    if st == "too wide":
        return (f"{base}; the difference is within ±{band:g} but its interval reaches beyond, so equivalence is not "
                "shown: insufficient evidence.")
    return (f"{base}; every group's gap to the comparison group has its {conf}% interval inside ±{band:g}: "
            "equivalence shown: pass.")


def _small_tail(small: list[str], min_n: int) -> str:
    if not small:
        return ""
    return f" Not judged (fewer than {min_n} customers in an arm): " + ", ".join(f"'{g}'" for g in small) + "."


def _pp(x: float) -> str:
    return f"{100 * x:+.1f} points"


def left_out(cells: pd.DataFrame, targeted: list, min_group_size: int, alpha: float = 0.05,
             hidden: set | None = None) -> pd.DataFrame:
    """Per group: customers outside the targeted segments, and the share who would have gained.

    ``cells`` has ``segment``, ``group`` and the :data:`CELLS` counts (one row per segment x group).
    A cell counts as "would have gained" when its uplift interval lies wholly above 0 and each arm has
    at least ``min_group_size`` customers. ``hidden`` holds the (segment, group) cells whose published
    counts are suppressed: a group needing one of them has its numbers None.

    Returns
    -------
    DataFrame
        ``group, customers_left_out, would_have_gained, share, cells_judged, cells_not_judged``.
    """
    hidden = hidden or set()
    outside = cells.loc[~cells["segment"].isin(targeted)]
    eff = effects_from_counts(outside, alpha)
    judged = (eff["n_treatment"] >= min_group_size) & (eff["n_control"] >= min_group_size)
    gained = judged & (eff["uplift_low"] > 0)
    eff = eff.assign(n=eff["n_treatment"] + eff["n_control"], judged=judged, gained=gained)
    rows = []
    for group, part in eff.groupby("group", sort=False, observed=True):
        keys = set(zip(part["segment"], part["group"]))
        blocked = bool(keys & hidden)
        n, g = int(part["n"].sum()), int(part.loc[part["gained"], "n"].sum())
        rows.append({"group": str(group), "customers_left_out": None if blocked else n,
                     "would_have_gained": None if blocked else g,
                     "share": None if blocked or n == 0 else g / n,
                     "cells_judged": int(part["judged"].sum()), "cells_not_judged": int((~part["judged"]).sum())})
    return pd.DataFrame(rows, columns=["group", "customers_left_out", "would_have_gained", "share", "cells_judged",
                                       "cells_not_judged"])


def pooled(cells: pd.DataFrame, segments: list) -> pd.DataFrame:
    """The :data:`CELLS` counts (and revenue moments) of ``segments`` summed per group."""
    part = cells.loc[cells["segment"].isin(segments)]
    numeric = [c for c in part.columns if c in CELLS or c.startswith("revenue")]
    return part.groupby("group", sort=False, observed=True)[numeric].sum().reset_index()
