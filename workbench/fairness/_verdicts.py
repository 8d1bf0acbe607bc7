"""Verdicts: pass / fail / insufficient evidence per (action, attribute), and the sentence saying why.

The rule, implemented here once (the notebook's methodology section states it in words):

* **Groups that count.** A group counts when it has at least ``min_group_size`` customers.
  ``"unknown"`` (and any intersection with an unknown part) never is the comparison group; when
  small it is ignored, when large it is compared like any other group. A small known group is
  named in the sentence but cannot decide the verdict.
* **Comparison group.** The most favoured group that counts (highest rate of a favourable action,
  lowest of an adverse one) unless the config names one or asks for the largest. Every other
  group's ratio to it then lies on one side of 1, so the largest gap between *any* two groups is a
  gap to it, and a pass covers every pair. Because it is chosen by its rate, the fail test is
  corrected as if every pair of groups had been compared (below).
* **Pass** = equivalence shown: for every group that counts, the confidence interval of its rate
  ratio to the comparison group lies wholly inside the band (and, if a difference threshold is
  configured, the interval of the difference inside +-threshold). This is a TOST-style test; a pass
  needs every comparison to succeed (an intersection-union test), so it needs no multiplicity
  correction.
* **Fail** = the evidence says some group's ratio (or difference) lies *outside* the band: the
  p-value of "inside the band" (:func:`workbench.fairness.band_pvalue`: the score test against the
  band edge the estimate lies beyond; with one comparison it is below ``alpha`` exactly when the
  ``1 - alpha`` interval lies wholly beyond that edge) is below ``alpha`` after Holm correction over
  the *family* of comparisons that can decide this (action, attribute) verdict. Against a comparison
  group fixed before the rates are seen (named, or the largest) the family is the groups that count,
  each against it; against the most favoured group it is every pair of the groups that count
  (``G (G - 1) / 2``), because any of them could have turned out to be the one compared
  (:func:`workbench.fairness.adjust_pvalues` with ``family``). Small groups and a small ``unknown``
  are not in the family, nor are other verdicts' comparisons. A difference from 1 that stays inside
  the band is never a fail.
* **Insufficient evidence** otherwise: a breach that is not shown, or an interval that reaches beyond
  the band around an estimate inside it, or fewer than two groups that count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._groups import _is_unknown
from ._intervals import band_pvalue, difference_interval, ratio_interval
from ._policy import _action_text
from ._rates import adjust_pvalues, family_size

_FAMILY = ["action", "attribute"]


def decision_family(comparisons: pd.DataFrame, *, min_group_size: int, correction: str = "holm",
                    thresholds: dict | None = None) -> pd.DataFrame:
    """Each row's ``role`` and its p-value corrected over the comparisons that decide its verdict.

    ``role`` is ``reference``, ``compared`` (at least ``min_group_size`` customers: in the family),
    ``small`` (a known group below it: named, not judged) or ``ignored`` (a small unknown group).
    ``p_adjusted`` is corrected within each (action, attribute) over the ``compared`` rows only,
    and NaN elsewhere; when the comparison group was chosen for its rate (``reference_by_rate``),
    the family is every pair of the groups that count (:func:`family_size`). With ``thresholds``,
    ``p_value`` is recomputed from the counts against that band first, so a table computed with
    another band cannot decide the verdict.
    """
    out = comparisons.copy()
    small = out["n"] < min_group_size
    unknown = out["group"].map(_is_unknown)
    out["role"] = np.select([out["is_reference"].astype(bool), small & unknown, small],
                            ["reference", "ignored", "small"], "compared")
    out["p_adjusted"] = np.nan
    for _, part in out.groupby(_FAMILY, sort=False):
        ref = part.loc[part["role"] == "reference"]
        if thresholds is not None and len(ref):
            p = band_pvalue(part["events"].to_numpy(float), part["n"].to_numpy(float), float(ref["events"].iloc[0]),
                            float(ref["n"].iloc[0]), thresholds)
            out.loc[part.index, "p_value"] = np.where(part["role"] == "reference", np.nan, p)
        rows = part.index[part["role"] == "compared"]
        out.loc[rows, "p_adjusted"] = adjust_pvalues(out.loc[rows, "p_value"].to_numpy(float), correction,
                                                     family_size(len(rows), _by_rate(part)))
    return out


def _by_rate(part: pd.DataFrame) -> bool:
    """Whether this verdict's comparison group was chosen for its rate (the most favoured)."""
    return bool("reference_by_rate" in part and part["reference_by_rate"].astype(bool).any())


def verdicts(
    comparisons: pd.DataFrame,
    *,
    thresholds: dict,
    min_group_size: int,
    alpha: float,
    correction: str = "holm",
    labelled: set[str] | None = None,
    favourable: dict[str, bool] | None = None,
    settle: bool = True,
    printed: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Pass / fail / insufficient evidence per (action, attribute), with one sentence each.

    ``comparisons`` is the long table of :func:`rate_by_group` rows with ``action`` and
    ``attribute`` columns (and optionally ``masked``: rows whose counts are suppressed, so the
    sentence shows no number of theirs). The rule is this module's docstring. ``settle=False``
    skips the search for how many customers would settle an insufficient verdict (the costly part,
    which no verdict depends on: simulations of the rule switch it off). ``printed`` (the same rows as
    published, :func:`~workbench.fairness.mask_rates`: recomputed from the printed counts) gives the numbers
    the sentence and the ``worst_*`` columns show; the verdict is decided on ``comparisons`` (issue 24).

    Returns
    -------
    pandas.DataFrame
        ``action, attribute, verdict, sentence, reference, family_size`` (comparisons the correction
        runs over), ``family`` (which, in words), ``reference_by_rate``, ``worst_group, worst_ratio,
        worst_ratio_low, worst_ratio_high`` (its interval), ``worst_masked`` (its counts are
        suppressed, so none of its numbers may be published), ``groups`` (status per group: ``pass``, ``fail``, ``not significant``, ``too wide``, ``small``,
        ``ignored``) and ``more_customers`` (customers that would settle an insufficient verdict
        at the observed rates, where computable).
    """
    lo_t, hi_t = (float(x) for x in thresholds.get("ratio", [0.8, 1.25]))
    d_t = thresholds.get("difference")
    d_t = None if d_t is None else float(d_t)
    band = (lo_t, hi_t, d_t)
    if "role" not in comparisons.columns:
        comparisons = decision_family(comparisons, min_group_size=min_group_size, correction=correction,
                                      thresholds=thresholds)
    words = {"conf": int(round(100 * (1 - alpha))), "labelled": labelled or set(), "min_n": min_group_size,
             "corr": {"holm": "Holm", "bh": "Benjamini–Hochberg"}.get(correction, str(correction))}
    rows = []
    for (action, attribute), part in comparisons.groupby(_FAMILY, sort=False):
        fav = True if favourable is None else bool(favourable.get(action, True))
        ref = part.loc[part["role"] == "reference"].iloc[0]
        if _masked(ref):  # every ratio would give the comparison group's rate away
            part = part.assign(masked=True)
        status = _group_status(part, band, alpha)
        verdict, worst = _decide(part, ref, status, min_group_size)
        shown = part if printed is None else printed.loc[part.index].assign(
            role=part["role"], masked=part["masked"] if "masked" in part else False)
        more = None
        worst = None if worst is None else shown.loc[worst.name]
        if settle and verdict == "insufficient evidence" and not (worst is not None and _masked(worst)):
            # a number the sentence prints: from the printed counts, or two runs one erasure apart would
            # differ by the erased customer's effect on it
            more = _more_customers(worst, shown.loc[ref.name], status, band, alpha, part)
        sentence = _sentence(action, attribute, fav, verdict, shown.loc[ref.name], worst, status, shown, band, more,
                             words)
        compared = int((part["role"] == "compared").sum())
        rows.append({
            "action": action, "attribute": attribute, "verdict": verdict, "sentence": sentence,
            "reference": ref["group"], "family_size": family_size(compared, _by_rate(part)),
            "family": _family_text(compared, _by_rate(part), ref["group"]), "reference_by_rate": _by_rate(part),
            "worst_group": None if worst is None else worst["group"],
            "worst_ratio": np.nan if worst is None else float(worst["ratio"]),
            "worst_ratio_low": np.nan if worst is None else float(worst["ratio_low"]),
            "worst_ratio_high": np.nan if worst is None else float(worst["ratio_high"]),
            "worst_masked": worst is not None and _masked(worst),
            "more_customers": more, "groups": status,
        })
    return pd.DataFrame(rows)


def equal_opportunity_action(action: str, outcome: str) -> str:
    """The verdict key of an action's equal-opportunity verdict: its selection among customers with the outcome."""
    return f"{action} among customers with {outcome}"


def equal_opportunity_verdicts(comparisons: list[pd.DataFrame], outcome: str, *, favourable: dict[str, bool],
                               printed: list[pd.DataFrame] | None = None, **rule) -> pd.DataFrame:
    """Equal-opportunity verdicts: the selection rule of this module applied to customers with the outcome.

    ``comparisons`` are :func:`~workbench.fairness._masking.equal_opportunity_comparisons` tables with
    ``action`` and ``attribute`` columns (the action as in the policy); each (action, attribute) is its own
    family, as a selection verdict is, and its verdict row's ``action`` reads
    :func:`equal_opportunity_action` ("retention_discount among customers with churn"). ``rule``: the keyword
    arguments of :func:`verdicts` (``thresholds``, ``min_group_size``, ``alpha``, ``correction``, ``labelled``).
    Only true-positive rates are judged: a false-positive rate is a rate of customers the action was not
    meant for, and the band says nothing about how often they should receive it. ``printed``: the same tables
    recomputed from the printed counts (:func:`~workbench.fairness._masking.equal_opportunity_printed`), whose
    numbers the sentences show (:func:`verdicts`' ``printed``).
    """
    if not comparisons:
        return pd.DataFrame(columns=["action", "attribute", "verdict", "sentence"])
    table = pd.concat(comparisons, ignore_index=True)
    keys = {a: equal_opportunity_action(a, outcome) for a in table["action"].unique()}
    table["action"] = table["action"].map(keys)
    shown = None if printed is None else pd.concat(printed, ignore_index=True).assign(action=table["action"])
    return verdicts(table, favourable={keys[a]: fav for a, fav in favourable.items() if a in keys}, printed=shown,
                    **rule)


def _breach(r: pd.Series, band) -> bool:
    lo_t, hi_t, d_t = band
    ratio = float(r["ratio"])
    out = (not np.isfinite(ratio) and r["rate"] > 0) or (np.isfinite(ratio) and not lo_t <= ratio <= hi_t)
    return bool(out or (d_t is not None and abs(r["difference"]) > d_t))


def _inside(r: pd.Series, band) -> bool:
    lo_t, hi_t, d_t = band
    ok = lo_t <= r["ratio_low"] and r["ratio_high"] <= hi_t
    if d_t is not None:
        ok = ok and -d_t <= r["difference_low"] and r["difference_high"] <= d_t
    return bool(ok)


def _group_status(part: pd.DataFrame, band, alpha: float) -> dict[str, str]:
    """Status of each non-reference group under the rule (see the module docstring)."""
    status = {}
    for _, r in part.loc[part["role"] != "reference"].iterrows():
        if r["role"] in ("small", "ignored"):
            status[r["group"]] = r["role"]
        elif r["p_adjusted"] < alpha:  # shown to lie outside the band (p_value is 1 inside it)
            status[r["group"]] = "fail"
        elif _breach(r, band):
            status[r["group"]] = "not significant"
        else:
            status[r["group"]] = "pass" if _inside(r, band) else "too wide"
    return status


def _decide(part: pd.DataFrame, ref: pd.Series, status: dict[str, str],
            min_group_size: int) -> tuple[str, pd.Series | None]:
    """The verdict, and the group its sentence is about (None when no comparison could be judged).

    Among failing groups the one furthest from the comparison group (by |log ratio|); otherwise the
    furthest of the undecided; for a pass the one whose interval comes closest to the band's edge.
    """
    compared = part.loc[part["role"] == "compared"]
    if ref["n"] < min_group_size or compared.empty:
        return "insufficient evidence", None
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.abs(np.log(compared["ratio"].astype(float).clip(lower=1e-300))).fillna(0.0)
    for verdict, states in (("fail", {"fail"}), ("insufficient evidence", {"not significant", "too wide"})):
        cand = compared.loc[compared["group"].map(status).isin(states)]
        if len(cand):
            return verdict, cand.loc[dist.loc[cand.index].idxmax()]
    with np.errstate(divide="ignore"):
        reach = np.maximum(np.abs(np.log(compared["ratio_low"].astype(float).clip(lower=1e-300))),
                           np.abs(np.log(compared["ratio_high"].astype(float))))
    return "pass", compared.loc[reach.idxmax()]


def _more_customers(worst, ref, status, band, alpha: float, part: pd.DataFrame) -> int | None:
    """Customers (in the shown group and the comparison group together) that would settle the verdict,
    if both grew by the same factor at their observed rates; None when no growth would (the estimate
    sits on the band's edge) or there is nothing to grow."""
    if worst is None or status.get(worst["group"]) not in ("not significant", "too wide"):
        return None
    m = family_size(int((part["role"] == "compared").sum()), _by_rate(part))
    s1, n1, s0, n0 = (float(v) for v in (worst["events"], worst["n"], ref["events"], ref["n"]))
    if not np.isfinite([s1, n1, s0, n0]).all():  # a count hidden in print: no number may rest on it
        return None
    thresholds = {"ratio": band[:2], "difference": band[2]}

    def settled(f: np.ndarray) -> np.ndarray:
        """Whether the verdict would be settled with every count grown by each factor in ``f``."""
        a1, b1, a0, b0 = (np.round(v * f) for v in (s1, n1, s0, n0))
        if status[worst["group"]] == "not significant":  # Holm's strictest level: alpha / m
            return band_pvalue(a1, b1, a0, b0, thresholds) < alpha / max(m, 1)
        q_lo, q_hi = ratio_interval(a1, b1, a0, b0, alpha)
        ok = (band[0] <= q_lo) & (q_hi <= band[1])
        if band[2] is not None:
            d_lo, d_hi = difference_interval(a1, b1, a0, b0, alpha)
            ok &= (-band[2] <= d_lo) & (d_hi <= band[2])
        return ok

    lo, hi = 1.0, 1000.0
    if not settled(np.array([hi]))[0]:
        return None
    for _ in range(3):  # three geometric grids of 32 steps between the last unsettled and settled factor: to 0.02%
        grid = np.geomspace(lo, hi, 33)
        first = int(np.argmax(settled(grid)))  # the last grid point (hi) is settled
        lo, hi = grid[max(first - 1, 0)], grid[first]
    return int(np.ceil((hi - 1) * (n1 + n0)))


# -- the sentences -----------------------------------------------------------------------------------
def _sentence(action, attribute, fav, verdict, ref, worst, status, part, band, more, words) -> str:
    """The plain-language reason for one verdict: comparison group, interval, threshold, why."""
    act = _action_text(action)
    # a suppressed group is neither named as too small nor left out silently: either would say on which
    # side of the minimum size its hidden count lies
    hidden = set(part.loc[part.get("masked", pd.Series(False, index=part.index)).fillna(False).astype(bool), "group"])
    small = [g for g, st in status.items() if st == "small" and g not in hidden]
    tail = ""
    if small:
        tail = (f" Not judged (fewer than {words['min_n']} customers): "
                + ", ".join(f"'{g}'" for g in small) + ".")
    if hidden - {ref["group"]}:
        tail += (" Groups whose counts are suppressed are judged, or left out as too small, on their exact counts "
                 "without being named here.")
    if worst is None:
        return (f"Fewer than two groups of {attribute} have {words['min_n']} or more customers: no comparison "
                f"can be judged for {act}: insufficient evidence.{tail}")
    ref_name = _group_phrase(attribute, ref["group"], attribute in words["labelled"], first=False)
    ref_name += ", the group that receives it most" if fav else ", the group that receives it least"
    if verdict == "pass":
        return _pass_sentence(act, attribute, ref_name, worst, part, band, words) + tail
    g_name = _group_phrase(attribute, worst["group"], attribute in words["labelled"])
    g_name = g_name[0].upper() + g_name[1:]
    verb = "were selected for" if fav else "received"
    if _masked(worst) or _masked(ref):
        return _masked_sentence(g_name, verb, act, ref_name, status[worst["group"]], part, words) + tail
    ci = f"{words['conf']}% CI {_f(worst['ratio_low'])}–{_f(worst['ratio_high'])}"
    base = (f"{g_name} {verb} {act} at {_ratio_text(worst['ratio'], band)} times the rate of {ref_name} "
            f"({ci}; {_pct(worst['rate'])} vs {_pct(ref['rate'])})")
    st = status[worst["group"]]
    m = family_size(int((part["role"] == "compared").sum()), _by_rate(part))
    where = _where(worst, band, words["conf"]) if st in ("fail", "not significant") else ""
    if m > 1:
        sig = (f"shown after {words['corr']} correction over "
               f"{_family_text(int((part['role'] == 'compared').sum()), _by_rate(part), None)}")
    else:
        sig = "shown by the only comparison that decides this verdict, so uncorrected"
    sig_text = f"{sig} (p = {worst['p_adjusted']:.2g} for 'inside the band')"
    settle = f"; about {more:,} more customers at these rates would settle it" if more else ""
    if st == "fail":
        return f"{base}; {where}, {sig_text}: fail.{tail}"
    if st == "not significant":
        return f"{base}; {where} but not {sig_text}: insufficient evidence{settle}.{tail}"
    return (f"{base}; the estimate is within {band[0]:g}–{band[1]:g} but the interval reaches beyond it, so "
            f"equivalence is not shown: insufficient evidence{settle}.{tail}")


def _masked_sentence(g_name, verb, act, ref_name, st, part, words) -> str:
    """A verdict about a group whose counts are suppressed: the verdict and its test, nothing about where
    the hidden estimate lies (below, above or inside the band, how far): each would narrow the hidden counts."""
    base = (f"{g_name} {verb} {act}; their rate, and its ratio to that of {ref_name}, are suppressed (small "
            "cells), and so is where the estimate lies: the verdict is decided on the exact counts")
    if st != "fail":
        return f"{base}: insufficient evidence."
    m = int((part["role"] == "compared").sum())
    sig = (f"a breach significant after {words['corr']} correction over the {m} comparisons that decide this verdict"
           if m > 1 else "a breach significant in the only comparison that decides this verdict")
    return f"{base}, {sig}: fail."


def _pass_sentence(act, attribute, ref_name, worst, part, band, words) -> str:
    lo_t, hi_t, d_t = band
    m = int((part["role"] == "compared").sum())
    diff = f" and its rate difference within ±{d_t:g}" if d_t is not None else ""
    shown = "" if _masked(worst) else (
        f" (closest to the edge: '{worst['group']}', {_f(worst['ratio_low'])}–{_f(worst['ratio_high'])})")
    who = f"Each of the {m} groups of {attribute} compared" if m > 1 else f"The one group of {attribute} compared"
    return (f"{who} with {ref_name}, has a {words['conf']}% CI of its selection-rate ratio for {act} inside {lo_t:g}–{hi_t:g}{diff}{shown}: "
            "equivalence shown; a pass needs every comparison, so no multiplicity correction applies: pass.")


def _family_text(compared: int, by_rate: bool, reference) -> str:
    """The comparisons a verdict's correction runs over, in words."""
    m = family_size(compared, by_rate)
    if by_rate and compared > 1:
        chosen = "the comparison group" if reference is None else reference
        return f"all {m} pairs of the {compared + 1} groups judged, since {chosen} was chosen for its rate"
    against = "" if reference is None else f" against {reference}"
    return f"the {m} comparison{'s' if m != 1 else ''}{against} that decide{'s' if m == 1 else ''} this verdict"


def _where(worst: pd.Series, band, conf: int) -> str:
    """Where the shown group's ratio or gap lies relative to the thresholds (a group whose counts are
    published: for a suppressed one, :func:`_masked_sentence` says nothing about where it lies)."""
    lo_t, hi_t, d_t = band
    ratio = float(worst["ratio"])
    if np.isfinite(ratio) and ratio < lo_t:
        sure = worst["ratio_high"] < lo_t
        return f"below {lo_t:g} with {conf}% confidence" if sure else f"below the {lo_t:g} threshold"
    if (np.isfinite(ratio) and ratio > hi_t) or not np.isfinite(ratio):
        sure = worst["ratio_low"] > hi_t
        return f"above {hi_t:g} with {conf}% confidence" if sure else f"above the {hi_t:g} threshold"
    return f"a gap of {abs(worst['difference']):.2f}, beyond the {d_t:g} threshold"


def _masked(r: pd.Series) -> bool:
    return bool(r.get("masked", False) == True)  # noqa: E712 (NaN and None are not masked)


def _ratio_text(ratio: float, band) -> str:
    shown = _f(ratio)
    if shown in (f"{band[0]:.2f}", f"{band[1]:.2f}"):  # 1.2502 must not read as "1.25 ... above 1.25"
        shown = f"{ratio:.3f}"
    return shown


def _group_phrase(attribute: str, group: str, labelled: bool, first: bool = True) -> str:
    if " × " in attribute:
        return f"customers in group '{group}'" + (f" ({attribute})" if first else "")
    if labelled:
        return group
    return f"customers with {attribute} = {group}"


def _f(x) -> str:
    """Two decimals of the value summary.json publishes (rounded to 4 first): the sentence and the verdict
    table never differ in the last digit (0.67496 is published as 0.675 and printed 0.68 in both)."""
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "n/a"
    return "∞" if np.isinf(x) else f"{round(float(x), 4):.2f}"


def _pct(x) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:.1f}%"
