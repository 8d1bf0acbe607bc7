"""What notebook 04 shows: the audit's tables and verdicts as DataFrames, Markdown and text."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .stage import FairnessAudit

_VERDICT_MARK = {"pass": "✅ pass", "fail": "❌ fail", "insufficient evidence": "⚠️ insufficient evidence"}


def verdict_markdown(audit: FairnessAudit) -> str:
    """The verdicts as a Markdown table: action, attribute, verdict, the plain-language sentence."""
    rows = ["| action | attribute | verdict | why |", "|---|---|---|---|"]
    for r in audit.verdicts.itertuples():
        rows.append(f"| {r.action.replace('_', ' ')} | {r.attribute} | {_VERDICT_MARK.get(r.verdict, r.verdict)} | {r.sentence} |")
    return "\n".join(rows)


def given_markdown(audit: FairnessAudit) -> str | None:
    """Audit of given segments: where they come from, the policy over their labels, and which are too
    small to judge (Markdown); None for segments learned in this run."""
    if audit.given is None or not audit.applicable:
        return None
    g = audit.given
    text = (f"**Audit of given segments.** The segments were given as labels ({g['source']}), not fitted here; "
            "the targeting policy names those labels: ")
    text += "; ".join(f"{r.action.replace('_', ' ')} \u2192 {len(r.segment_ids)} segment(s), chosen by {r.chosen_by}"
                      for r in audit.policy.itertuples()) + "."
    small = g.get("insufficient_evidence") or []
    if small:
        names = dict(zip(audit.balance["segment"].astype(int), audit.balance["segment_name"]))
        text += (f" {len(small)} segment(s) have fewer than {g['min_segment_size']} customers and are "
                 "insufficient evidence: their composition is shown (small cells suppressed) but their balance is "
                 "not judged (" + "; ".join(str(names.get(j, j)) for j in small) + ").")
    if g.get("unlabelled_segment") is not None:
        text += " Customers without a label are audited as the segment \u201cunlabelled\u201d."
    return text


def verdict_text(audit: FairnessAudit) -> str:
    """One deterministic line per verdict (for nbval)."""
    if not audit.applicable:
        return "not applicable"
    return "\n".join(f"{r.action} / {r.attribute}: {r.verdict}" for r in audit.verdicts.itertuples())


def _ci(x, lo, hi, digits=2, pct=False) -> str:
    if x is None or not np.isfinite(x):
        return "–"
    f = (lambda v: f"{100 * v:.1f}%") if pct else (lambda v: f"{v:.{digits}f}")
    if lo is None or not np.isfinite(lo) or not np.isfinite(hi):
        return f(x)
    return f"{f(x)} ({f(lo)}–{f(hi)})"


def published_status(groups: dict, masked: set) -> dict:
    """The status of each group as shown: a suppressed group's reads "suppressed", whatever it is.

    "not significant" (estimate outside the band), "too wide" (inside it), "fail" and "small" (fewer
    customers than the minimum) would each say where a hidden estimate or count lies; the verdict
    sentence names the verdict of the group it is about."""
    return {g: "suppressed" if g in masked else st for g, st in groups.items()}


def _masked_groups(t: pd.DataFrame) -> dict[str, set]:
    """Per attribute, the groups whose counts are suppressed (every group when the reference's are)."""
    out = {}
    for attr, part in t.groupby("attribute", sort=False):
        masked = part["masked"].fillna(False).astype(bool) if "masked" in part else pd.Series(False, index=part.index)
        if (masked & (part["is_reference"] == True)).any():  # noqa: E712 (suppressed rows hold None)
            masked[:] = True
        out[attr] = set(part.loc[masked, "group"])
    return out


def selection_view(audit: FairnessAudit, action: str) -> pd.DataFrame:
    """Selection rate per group with CIs, ratio to the reference, corrected p-value, status."""
    t = audit.selection.loc[audit.selection["action"] == action]
    status, masked = {}, _masked_groups(t)
    for r in audit.verdicts.loc[audit.verdicts["action"] == action].itertuples():
        for g, st in published_status(r.groups, masked.get(r.attribute, set())).items():
            status[(r.attribute, g)] = st
    rows = []
    for r in t.itertuples():
        is_ref = r.is_reference == True  # noqa: E712 (suppressed rows hold None)
        rows.append({
            "attribute": r.attribute, "group": r.group,
            "customers": "suppressed" if not np.isfinite(r.n) else int(r.n),
            "selection rate (CI)": _ci(r.rate, r.rate_low, r.rate_high, pct=True),
            "ratio to comparison group (CI)": "comparison group" if is_ref else _ci(r.ratio, r.ratio_low, r.ratio_high),
            "p (corrected)": "" if is_ref or not np.isfinite(r.p_adjusted) else f"{r.p_adjusted:.2g}",
            "status": "" if is_ref else status.get((r.attribute, r.group), ""),
        })
    return pd.DataFrame(rows).set_index(["attribute", "group"])


def dp_view(audit: FairnessAudit) -> pd.DataFrame:
    """Demographic-parity difference and ratio per (action, attribute) over the groups large enough
    to judge (the verdict's groups), with the intervals of the extreme pair; tiny groups named."""
    d = audit.dp

    def yes_no(v, yes, no):
        return "withheld" if v is None or (isinstance(v, float) and np.isnan(v)) else (yes if v else no)

    return pd.DataFrame({
        "action": d["action"], "attribute": d["attribute"],
        "DP difference (CI)": [_ci(*v) for v in zip(d["dp_difference"], d["dp_difference_low"], d["dp_difference_high"])],
        "DP ratio (CI)": [_ci(*v) for v in zip(d["dp_ratio"], d["dp_ratio_low"], d["dp_ratio_high"])],
        "four-fifths rule": [yes_no(v, "met", "not met") for v in d["four_fifths"]],
        "within thresholds": [yes_no(v, "yes", "no") for v in d["within_thresholds"]],
        "left out (too small)": d["dp_left_out"].replace("", "–"),
    }).set_index(["action", "attribute"])


def consent_view(audit: FairnessAudit) -> pd.DataFrame | None:
    """Consent rate by group for each purpose the policy needs (masked where a cell is suppressed)."""
    c = audit.consent
    if c is None:
        return None
    return pd.DataFrame({
        "purpose": c["purpose"], "attribute": c["attribute"], "group": c["group"],
        "customers": ["suppressed" if not np.isfinite(v) else int(v) for v in c["n"].astype(float)],
        "consent rate (CI)": [_ci(*v, pct=True) for v in zip(c["rate"], c["rate_low"], c["rate_high"])],
        "ratio to largest group (CI)": [_ci(*v) for v in zip(c["ratio"], c["ratio_low"], c["ratio_high"])],
    }).set_index(["purpose", "attribute", "group"])


def outcome_view(audit: FairnessAudit) -> pd.DataFrame:
    """Equal-opportunity and equalized-odds differences of each targeting rule, with CIs, and the
    equal-opportunity verdict (the selection rule on customers with the outcome; its sentence is in the
    verdict table)."""
    d = audit.outcome_summary
    return pd.DataFrame({
        "action": d["action"], "attribute": d["attribute"],
        "equal opportunity difference (CI)": [_ci(*v) for v in zip(
            d["equal_opportunity_difference"], d["equal_opportunity_low"], d["equal_opportunity_high"])],
        "equal opportunity verdict": d.get("equal_opportunity_verdict", pd.Series("", index=d.index)),
        "equalized odds difference (CI)": [_ci(*v) for v in zip(
            d["equalized_odds_difference"], d["equalized_odds_low"], d["equalized_odds_high"])],
    }).set_index(["action", "attribute"])


def proxy_view(audit: FairnessAudit, top: int = 6) -> pd.DataFrame:
    """The ranked proxy list per attribute with each feature's SHAP weight."""
    t = audit.proxies.groupby("attribute", sort=False).head(top)
    shap = [c for c in t.columns if c.startswith("shap_") and c != "shap_weight" and t[c].notna().any()]
    out = t[["attribute", "rank", "feature", "cramers_v", "mutual_information", "segmentation_input", *shap]].copy()
    out.columns = ["attribute", "rank", "feature", "Cramér's V", "mutual information (nats)", "segmentation input",
                   *[f"SHAP weight in '{c[5:]}'" for c in shap]]
    return out.set_index(["attribute", "rank"]).round(3)


def proxy_joint_view(audit: FairnessAudit) -> pd.DataFrame:
    """How well each sensitive attribute can be predicted: from the segmentation's own inputs, from every
    customer column, and from the segment labels alone (cross-validated AUC)."""
    j = audit.proxy_joint.set_index("attribute")
    return pd.DataFrame({
        "AUC, segmentation inputs": j["inputs_auc"], "AUC, all customer columns": j["features_auc"],
        "AUC, segment labels": j["segments_auc"], "Cramér's V, segment labels": j["segments_cramers_v"],
    }).round(3)


def mitigation_view(audit: FairnessAudit) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Disparity and cost before and after CorrelationRemover, side by side.

    Returns
    -------
    disparity, silhouette, reach : pandas.DataFrame
        Worst ratio and DP difference per (action, attribute) and variant; silhouette per variant;
        selected and value share per (variant, action).
    """
    m = audit.mitigation
    piv = m.pivot_table(index=["action", "attribute"], columns="variant",
                        values=["worst_ratio", "dp_difference"], sort=False)
    piv.columns = [f"{a.replace('_', ' ')}: {b}" for a, b in piv.columns]
    cost = m.groupby("variant", sort=False)[["silhouette"]].first().T
    return piv.round(3), cost.round(3), m.groupby(["variant", "action"], sort=False)[["selected_share", "value_share"]].first().round(3)


def methodology_markdown(audit: FairnessAudit) -> str:
    """The verdict rule, its correction family and its intervals, with this run's settings, in words a
    reviewer can check by hand against the selection tables."""
    r = audit.rule
    lo, hi = (float(x) for x in r["thresholds"].get("ratio", [0.8, 1.25]))
    d = r["thresholds"].get("difference")
    conf, n, alpha = int(round(100 * (1 - r["alpha"]))), r["min_group_size"], r["alpha"]
    corr = {"holm": "Holm", "bh": "Benjamini–Hochberg"}.get(r["correction"], r["correction"])
    diff = f" and the interval of its rate difference inside ±{d:g}" if d is not None else ""
    diff_b = f", or its rate difference beyond ±{d:g}" if d is not None else ""
    diff_test = (f"; for the difference, the same read off Newcombe's interval at ±{d:g}, and the smaller "
                 "of the two p-values counts") if d is not None else ""
    return f"""**Groups judged.** A group is judged when it has at least {n} customers. "unknown", and every
intersection with an unknown part ("female × unknown"), is never the comparison group; when smaller
than {n} it is ignored, when larger it is judged like any other group. Smaller known groups are named in
the verdict's sentence, not judged, and left out of the demographic-parity figures.

**Comparison group.** For each (action, attribute): the most favoured judged group, i.e. the one with the
highest selection rate for a favourable action (`favourable: true`, the default) or the lowest for an
adverse one, unless the config names a group or asks for the largest (`fairness.reference`). Why the most
favoured: every other group's ratio to it lies on one side of 1, so the widest gap between any two groups is
a gap to it, and a pass against it covers every pair of groups (against the largest group, two other groups
could lie 0.85 and 1.18 times its rate, 0.72 times each other's, and still pass). The price: it is chosen by
looking at the rates, which the fail test corrects for (below).

**Pass** (equivalence shown). Every judged group's {conf}% interval of its rate ratio to the comparison
group lies inside {lo:g}–{hi:g}{diff}. This is a two one-sided tests (TOST) equivalence test, each
one-sided test at level {alpha / 2:g} (conservative: a {conf}% interval where TOST at {alpha:g} would need
only a {100 - 200 * alpha:g}% one). A pass needs *every* comparison to succeed (an intersection–union test),
so the chance of a false pass stays below that level without any multiplicity correction.

**Fail** (a breach shown). The evidence says some judged group's ratio lies *outside* {lo:g}–{hi:g}{diff_b}:
a ratio different from 1 but inside the band is never a fail. Each comparison's p-value is that of "the
ratio lies inside the band": 1 when the estimate is inside; beyond an edge, the two-sided p-value of the
score test that the ratio equals that edge (Koopman's, the one behind the ratio interval{diff_test}). With one
comparison, p < {alpha:g} exactly when the {conf}% interval lies wholly beyond the edge ("below {lo:g} with
{conf}% confidence"), so a false fail at the very edge happens at most {100 * alpha / 2:g}% of the time. The
p-values get {corr} correction over the **family** of comparisons that can decide this verdict. Because the
most favoured group is picked by its rate, any pair of the judged groups could have been the one compared:
the family is every pair, G(G − 1)/2 comparisons for G judged groups (3 for 3 groups, 28 for 8), Holm's
first step dividing {alpha:g} by that number. Against a named or the largest group, chosen before the rates
are seen, the family is the G − 1 comparisons with it. Small groups, a small "unknown" and the other
verdicts' comparisons are not in the family. The test suite checks the rule by simulation: a fail at most
{100 * alpha:g}% of the time (plus Monte Carlo error) inside the band, on its edge, with 4, 8 and 20 equal
groups and with half of 20 groups exactly on the edge, and at least 80% of the time at a ratio of 0.6 with
3,000 customers per group and a 10% rate.

**Equal opportunity** (where the dataset records an outcome, such as churn). The share of each group's
customers *with* the outcome that an action reaches (its true-positive rate) is judged by the same rule:
it is the action's selection rate among those customers, so the same comparison group, band, intervals,
tests and correction apply, and the verdict reads "… among customers with *outcome*". False-positive
rates are shown, not judged: the band says nothing about how often customers the action was not meant
for should receive it.

**Insufficient evidence** otherwise: an estimate beyond the band that is not shown to be, an estimate inside the band whose
interval reaches beyond it, or fewer than two judged groups. Where it can be computed, the sentence says how
many more customers (both groups grown at their observed rates) would settle it.

**Intervals** (all from the counts in the selection tables). Rate: Wilson's score interval. Ratio of two
rates: Koopman's score interval (the ratios whose score test, with both rates re-estimated under that ratio,
is not rejected). Difference: Newcombe's hybrid score interval from the two Wilson intervals. None collapses
to [0, 0] at zero selections; their coverage at 30 customers and a 10% rate is checked by simulation in the
test suite (at least 93% for a nominal {conf}%).

**Disclosure.** Each published table of counts (selected / not selected per group, with its totals; customers
per segment and group; consent given per group) is suppressed once (cells below {r["k"]} and the complementary
cells that would give them away); every rate, share, ratio, interval and sentence is derived from that table
and shown as "suppressed" where a cell it needs is hidden. Verdicts are decided on the exact counts.
"""


def choices_check_sentence(audit: FairnessAudit, removed: int = 0) -> str:
    """The choices register's promise as checked on the written selections (``fairness/targeting.parquet``).

    ``removed``: customers whose objection to profiling removed them at preparation (``prepare.json``).
    """
    c = audit.choices_check
    if c is None:
        return "This run has no customer choices register."
    return (f"{c['objecting_selected']} of {c['objecting']} customers who objected to an action of the policy "
            f"are in a selection for it; {c['contested_selected']} of {c['contested']} contested assignments "
            f"awaiting review were used for automated targeting; {removed} customers who objected to profiling "
            "were removed before any fit, score or selection.")


def choices_rates_view(audit: FairnessAudit, key: str) -> pd.DataFrame | None:
    """One table of :attr:`FairnessAudit.choices` (e.g. ``contest_by_segment``) as a reader reads it:
    rate and 95% Wilson interval in percent (blank where a count it needs is suppressed), and the flag."""
    rates = audit.choices.get(key)
    if rates is None:
        return None
    return pd.DataFrame({
        "customers": rates["customers"], "rate": [_ci(r, lo, hi, pct=True) for r, lo, hi in
                                                  zip(rates["rate"], rates["low"], rates["high"])],
        "above the rest": np.where(rates["flagged"], "yes (flagged)", "no"),
    }, index=rates.index)
