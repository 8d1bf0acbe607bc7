"""Tables, sentences and the methodology of notebook 08 (from a :class:`~workbench.campaign.stage.CampaignResult`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import report

__all__ = ["effects_view", "group_view", "headline", "kpi_view", "left_out_view", "methodology_markdown", "reach_sentences",
           "strategies_view", "verdict_markdown"]

_NAMES = {"segment_name": "segment", "n_treatment": "offered", "n_control": "holdout",
          "rate_treatment": "response (offered)", "rate_control": "response (holdout)", "uplift": "uplift",
          "uplift_low": "uplift 95% low", "uplift_high": "uplift 95% high", "relative_lift": "relative lift",
          "incremental_responders": "incremental responders", "incremental_revenue": "incremental revenue",
          "net_return_per_contact": "net return per contact"}
_PERCENT = ("rate_treatment", "rate_control", "uplift", "uplift_low", "uplift_high", "relative_lift")


def _segment_rows(result, campaign: str) -> pd.DataFrame:
    eff = result.effects
    return eff.loc[(eff["campaign"] == campaign) & eff["attribute"].isna()]


def effects_view(result, campaign: str):
    """The effect per segment: rates in both arms, uplift with its interval, lift, incremental results."""
    rows = _segment_rows(result, campaign)
    cols = ["segment_name", "n_treatment", "n_control", "rate_treatment", "rate_control", "uplift", "uplift_low",
            "uplift_high", "relative_lift", "incremental_responders", "incremental_revenue"]
    if rows["net_return_per_contact"].notna().any():
        cols.append("net_return_per_contact")
    targeted = set(result.targeted.get(campaign, []))
    frame = rows[cols].copy()
    frame.insert(1, "targeted", ["yes" if s in targeted else "no" for s in rows["segment"]])
    return report.table(frame, k=result.settings.get("suppression_k"), names=_NAMES, percent=_PERCENT,
                        caption=f"Campaign {campaign}: effect per segment (membership as of assignment)")


def group_view(result, campaign: str, attribute: str):
    """Uplift per group of ``attribute`` inside the targeted segments."""
    eff = result.effects
    rows = eff.loc[(eff["campaign"] == campaign) & (eff["attribute"] == attribute)]
    cols = ["segment_name", "group", "n_treatment", "n_control", "rate_treatment", "rate_control", "uplift",
            "uplift_low", "uplift_high"]
    return report.table(rows[cols], k=result.settings.get("suppression_k"), names=_NAMES, percent=_PERCENT,
                        caption=f"Campaign {campaign}: uplift by {attribute} in the targeted segments")


def verdict_markdown(result) -> str:
    """The benefit verdicts as a list, one sentence each."""
    if not len(result.verdicts):
        return "No benefit verdict: no campaign is linked to a policy action with targeted segments."
    return "\n".join(f"* **{r.campaign} by {r.attribute}: {r.verdict}.** {r.sentence}"
                     for r in result.verdicts.itertuples())


def left_out_view(result, campaign: str):
    """Per group: customers outside the targeted segments, and the share who would have gained."""
    rows = result.left_out.loc[result.left_out["campaign"] == campaign]
    cols = ["attribute", "group", "customers_left_out", "would_have_gained", "share", "cells_not_judged"]
    return report.table(rows[cols], k=result.settings.get("suppression_k"), percent=("share",),
                        names={"share": "share who would have gained",
                               "cells_not_judged": "segment cells too small to judge"},
                        caption=f"Campaign {campaign}: who was left out")


def strategies_view(result, campaign: str):
    """Incremental responders reached at the same contacts, and AUUC, per targeting strategy."""
    rows = result.strategies.loc[result.strategies["campaign"] == campaign]
    cols = ["strategy", "contacts", "incremental_responders", "incremental_low", "incremental_high", "auuc",
            "auuc_low", "auuc_high"]
    n = rows["evaluated_on"].iloc[0] if len(rows) else 0
    evaluated = f"{int(n):,}" if pd.notna(n) else "a suppressed number of"
    return report.table(rows[cols], names={"incremental_low": "95% low", "incremental_high": "95% high",
                                           "auuc": "AUUC", "auuc_low": "AUUC 95% low", "auuc_high": "AUUC 95% high"},
                        caption=f"Campaign {campaign}: targeting strategies at the same contacts "
                                f"({evaluated} customers the uplift model was not fitted on; counts as published, "
                                "perturbed; Newcombe intervals, AUUC's bootstrap)")


def reach_sentences(result, campaign: str) -> list[str]:
    """Per segment with published counts: "targeting X alone reaches N% of the incremental responders
    with M% of the contacts" (incremental responders if the whole segment were contacted: uplift x size)."""
    rows = _segment_rows(result, campaign)
    size = rows["n_treatment"] + rows["n_control"]
    gained = rows["uplift"] * size
    if rows["uplift"].isna().any() or not np.isfinite(gained.sum()) or gained.sum() <= 0:
        return []  # a hidden segment would be given away by the shares of the others
    total, customers = gained.sum(), size.sum()
    return [f"Targeting '{name}' alone reaches {g / total:.0%} of the incremental responders with {n / customers:.0%} "
            "of the contacts." for name, g, n in zip(rows["segment_name"], gained, size)]


def kpi_view(kpis: pd.DataFrame, k: int | None = None):
    """Retention, upsell and revenue per customer per window and segment, with 95% intervals."""
    cols = ["label", "segment_name", "customers", "retained_rate", "retained_low", "retained_high", "upsold_rate",
            "upsold_low", "upsold_high", "revenue_per_customer", "revenue_low", "revenue_high"]
    return report.table(kpis[cols], k=k, percent=("retained_rate", "retained_low", "retained_high", "upsold_rate",
                                                  "upsold_low", "upsold_high"),
                        names={"label": "window", "segment_name": "segment as of its start"},
                        caption="Segment KPIs over time")


def headline(result, names: dict) -> list[str]:
    """Summary sentences: per campaign the segments with an uplift surely above / below zero, and the verdicts."""
    lines = []
    for campaign in sorted(result.targeted):
        rows = _segment_rows(result, campaign)
        up = [n for n, lo in zip(rows["segment_name"], rows["uplift_low"]) if np.isfinite(lo) and lo > 0]
        down = [n for n, hi in zip(rows["segment_name"], rows["uplift_high"]) if np.isfinite(hi) and hi < 0]
        target = ", ".join(names[s] for s in result.targeted[campaign]) or "no segment (not linked to a policy action)"
        lines.append(f"Campaign {campaign} (targeted: {target}): uplift above zero with 95% confidence in "
                     f"{_list(up)}; below zero (do not disturb) in {_list(down)}.")
    for r in result.verdicts.itertuples() if len(result.verdicts) else []:
        lines.append(f"Fairness of benefit, {r.campaign} by {r.attribute}: {r.verdict}.")
    return lines


def _list(items) -> str:
    return ", ".join(f"'{x}'" for x in items) if items else "no segment"


def methodology_markdown(result) -> str:
    """How notebook 08's numbers are made, in words a reviewer can check by hand."""
    s = result.settings
    band = (s.get("thresholds") or {}).get("uplift_difference", 0.05)
    return "\n".join([
        "### Methodology",
        "",
        "* **Design.** Each campaign's control arm is its randomised holdout: the uplift is the response rate "
        "of the offered customers minus that of the holdout, an unbiased estimate of the offer's effect when "
        "assignment was random.",
        f"* **Segment membership** is taken as of the day each customer was assigned: {result.membership}.",
        f"* **Response.** From the campaign table's response column, or a purchase within {s.get('response_days')} "
        "days after assignment (revenue: the net spend in that window), computed in the engine.",
        "* **Intervals.** Uplift: Newcombe's hybrid score interval (95%). Incremental responders: uplift x "
        "offered customers. Incremental revenue: the difference of mean revenue per customer x offered "
        "customers, with a Welch normal interval. Relative lift: the ratio of the two rates minus one.",
        f"* **Disclosure.** The four counts per segment (and per segment x group), the customers each targeting "
        f"strategy contacts (by arm and response) and the KPI counts are suppressed once, jointly with every table "
        f"published before (k = {s.get('suppression_k')}), then perturbed by the cell-key method (by at most a few "
        "customers, the same way wherever the same count appears; see notebook 01). Every count, rate, uplift, "
        "incremental result and interval shown is computed from these printed counts, so small differences "
        "from other tables are deliberate; every number of a row with a hidden count is hidden, in tables and "
        "figures alike. Revenue figures are sums of amounts, not counts, and are not perturbed.",
        f"* **Fairness of benefit.** Inside the targeted segments (the policy action linked to the campaign), "
        f"each group's uplift is compared with the group that gains most. Pass: every difference's 95% interval "
        f"(MOVER of the Newcombe intervals) inside ±{band:g}. Fail: a difference beyond ±{band:g} whose Wald test "
        "is significant after Holm over the groups compared. Otherwise insufficient evidence. Groups with fewer "
        f"than {s.get('min_group_size')} customers in an arm are named, not judged.",
        "* **Alternatives.** At the same number of contacts (the policy's, or `campaign.budget_share`): the "
        "policy (its targeted segments first), random targeting (the diagonal), everyone, and a T-learner (one "
        "logistic regression per arm on the segmentation inputs as of assignment, fitted on a seeded half "
        "and evaluated on the other half, where every strategy is compared). Incremental responders at those "
        "contacts: responders among the offered minus the holdout's scaled to as many customers (the Qini "
        "curve's value), from the printed counts of the contacted customers, with the uplift's Newcombe "
        "interval scaled by the offered; random is everyone's scaled to the policy's contacts. AUUC as "
        "causalml 0.18 computes it (agreement tested), bootstrap percentiles over customers; shown only where "
        "the strategy's counts are.",
        "* **Who was left out.** Per group, among customers outside the targeted segments: the share in segment "
        "x group cells whose uplift interval lies wholly above zero (they would have gained and were not offered "
        "it); cells too small in an arm are not judged.",
    ])
