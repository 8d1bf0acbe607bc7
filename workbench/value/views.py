"""Tables and sentences of notebook 07 (predicted value): results in, DataFrames and strings out."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._fit_gate import UNFIT

__all__ = ["headline", "methodology_markdown", "model_lines", "parameter_table", "targeting_table", "left_out_table",
           "growth_sentence", "fit_caveat", "fit_markdown"]


def fit_caveat(models: dict | None) -> str:
    """What stands beside every CLV number: "" when the model fits, else that it does not (and any fallback)."""
    gate = (models or {}).get("fit_gate") or {}
    if gate.get("fits", True):
        return ""
    if models.get("fallback_to_historical"):
        return (" (the CLV model does not fit this data, so growth potential and value targeting use historical "
                "value instead: `value.when_unfit: historical`)")
    return f" ({UNFIT})"


def fit_markdown(models: dict) -> str:
    """The fit gate's verdict as a paragraph for the top of notebook 07."""
    gate = models.get("fit_gate") or {}
    if not gate.get("judged", False):
        return "**Model fit: not judged.** The history is too short for a calibration period and a holdout."
    head = "**Model fit: PASS.**" if gate["fits"] else "**Model fit: FAIL.**"
    return head + " " + gate["sentence"].split(": ", 1)[1].removeprefix("PASS. ").removeprefix("FAIL: ")

_MEANING = {
    "r": "purchase rate: Gamma shape",
    "alpha": "purchase rate: Gamma scale (days)",
    "a": "drop-out probability: Beta a",
    "b": "drop-out probability: Beta b",
    "p": "spend per purchase: Gamma shape",
    "q": "spend heterogeneity: Gamma shape",
    "v": "spend heterogeneity: Gamma scale",
}


def parameter_table(models: dict) -> pd.DataFrame:
    """Both models' parameters with what each one governs."""
    rows = [("BG/NBD", k, v) for k, v in models["bgnbd"].items()]
    rows += [("Gamma-Gamma", k, v) for k, v in models["gamma_gamma"].items()]
    out = pd.DataFrame(rows, columns=["model", "parameter", "estimate"])
    out["meaning"] = out["parameter"].map(_MEANING)
    return out


def model_lines(models: dict) -> list[str]:
    """Plain-text key numbers (rounded) for nbval: parameters, sample sizes, mean purchase rate."""
    bg, gg = models["bgnbd"], models["gamma_gamma"]
    return [
        f"customers with a purchase: {models['scored_customers']} of {models['customers']}; "
        f"fitted on {models['fitted_customers']} (Gamma-Gamma on {models['gamma_gamma_customers']} repeat buyers)",
        "BG/NBD: " + ", ".join(f"{k}={v:.3g}" for k, v in bg.items()),
        "Gamma-Gamma: " + ", ".join(f"{k}={v:.3g}" for k, v in gg.items()),
        f"converged: {models['converged']}; spend-frequency correlation {models['spend_frequency_correlation']:.2f}",
        "model fit: " + ("PASS" if (models.get("fit_gate") or {}).get("fits", True) else "FAIL") + fit_caveat(models),
    ]


def headline(models: dict, holdout: pd.DataFrame, growth_total: float | None) -> list[str]:
    """Summary sentences: the models, the holdout check and how many customers show growth potential."""
    s = models["settings"]
    caveat = fit_caveat(models)
    out = [f"CLV over {s['horizon_days']} days at {s['discount_rate']:.0%} a year, from BG/NBD and Gamma-Gamma "
           f"fitted on {models['fitted_customers']} customers and scored for {models['scored_customers']}{caveat}."]
    gate = models.get("fit_gate") or {}
    if gate.get("judged"):
        out.append(gate["sentence"])
    shown = holdout.dropna(subset=["customers"])
    if len(shown):
        w = shown["customers"].to_numpy(float)
        actual, predicted = np.dot(w, shown["actual"]) / w.sum(), np.dot(w, shown["predicted"]) / w.sum()
        out.append(f"Holdout check ({models['holdout']['holdout_days']} days after "
                   f"{models['holdout']['calibration_end']}): {actual:.2f} repeat purchases per customer observed, "
                   f"{predicted:.2f} predicted.")
    if growth_total is not None and np.isfinite(growth_total):
        out.append(f"{int(growth_total)} customers rank far higher by predicted value than by spend so far "
                   f"(percentile gap >= {s['growth_rank_gap']:g}){caveat}.")
    return out


def growth_sentence(counts: pd.DataFrame, models: dict | None = None) -> str:
    """One sentence on the growth-potential table (its ``Total`` row, as published), with the fit caveat."""
    total = counts.loc["Total"]
    caveat = fit_caveat(models)
    if not np.isfinite(total["growth potential"]) or not np.isfinite(total["Total"]):
        return f"The number of customers with growth potential is suppressed (small count){caveat}."
    return (f"{int(total['growth potential'])} of {int(total['Total'])} customers with a purchase rank far higher "
            f"by predicted value than by historical spend{caveat}.")


def _interval(rate, low, high) -> str:
    if not np.isfinite(rate):
        return "suppressed"
    return f"{rate:.1%} [{low:.1%}, {high:.1%}]"


def targeting_table(rates: pd.DataFrame) -> pd.DataFrame:
    """Selection rate with its 95% interval per group, the two policies side by side."""
    r = rates.assign(shown=[_interval(a, b, c) for a, b, c in zip(rates["rate"], rates["rate_low"], rates["rate_high"])])
    wide = r.pivot(index="group", columns="policy", values="shown")
    n = r.drop_duplicates("group").set_index("group")["n"]
    wide.insert(0, "customers", n.map(lambda v: "suppressed" if not np.isfinite(v) else f"{int(v)}"))
    order = list(dict.fromkeys(rates["group"]))
    return wide.loc[order].rename_axis(None, axis=1).reset_index()


def left_out_table(overlap: pd.DataFrame) -> pd.DataFrame:
    """Per group: selected by history but left out by prediction, and the reverse, as shares of the group."""
    body = overlap.drop(index="Total", errors="ignore")
    out = pd.DataFrame(index=body.index)
    out["customers"] = body["Total"]
    out["left out by predicted (history only)"] = body["historical only"] / body["Total"]
    out["left out by historical (predicted only)"] = body["predicted only"] / body["Total"]
    return out.rename_axis("group").reset_index()


def methodology_markdown(models: dict, k: int, min_group_size: int = 30, thresholds: dict | None = None) -> str:
    """Notebook 07's methodology with this run's settings: fit, CLV, holdout, growth, targeting intervals.

    Parameters
    ----------
    models : dict
        ``ValueResult.models`` (also ``artifacts/value/models.json``): parameters, sample sizes, the
        holdout dates and the ``value`` settings used.
    k : int
        The run's suppression threshold.
    min_group_size : int, default 30
        ``fairness.min_group_size``: the smallest group that can be the comparison group.
    thresholds : dict, optional
        ``fairness.thresholds``: the band each ratio is tested against (default 0.8–1.25).

    Returns
    -------
    str
        Markdown a reviewer can check by hand against the parameter, holdout and targeting tables.
    """
    s, h = models["settings"], models["holdout"]
    from ._defaults import DEFAULTS

    g = {**DEFAULTS["fit_gate"], **(models.get("fit_gate") or {})}
    lo, hi = (float(x) for x in (thresholds or {}).get("ratio", [0.8, 1.25]))
    band = f"{lo:g}–{hi:g}"
    return f"""**Fit.** Both models are fitted by maximum likelihood on a seeded sample of at most
{int(s['fit_sample']):,} customers (this run: {models['fitted_customers']:,} for BG/NBD, {models['gamma_gamma_customers']:,}
repeat buyers for Gamma-Gamma) and score all {models['scored_customers']:,} customers with a purchase in closed form.
Sufficient statistics per customer: frequency (repeat purchase days), recency and age T in days, mean spend of
repeat purchases. No interval is given for the parameters; the holdout check below is the model's test.

**CLV.** Expected purchases in each {int(s['step_days'])}-day step of the next {int(s['horizon_days'])} days times
the Gamma-Gamma expected spend per purchase, each step discounted once at {float(s['discount_rate']):.0%} a year.

**Holdout check.** Calibration period up to {h['calibration_end']}, holdout of {h['holdout_days']} days up to
{h['observation_end']}. BG/NBD is refitted on the calibration period alone; for customers grouped by their repeat
purchases before the calibration date, the observed mean purchases in the holdout is compared with the
predicted mean. Groups with fewer than {k} customers are suppressed (with their complements) and not drawn.

**Fit gate.** The model fits when, in every bucket of at least {int(g['min_customers'])} customers, the ratio of
predicted to observed mean holdout purchases lies within 1 ± {float(g['holdout_tolerance']):g}
(`value.fit_gate.holdout_tolerance`), and when mean spend does not correlate with purchase frequency beyond
|r| = {float(g['correlation_tolerance']):g} among repeat buyers (Gamma-Gamma assumes independence). A check fails only
when its interval lies wholly outside its tolerance: the observed bucket mean's normal interval, Bonferroni-corrected
over the buckets judged, and the correlation's Fisher-z interval, at level {float(g['alpha']):g}. When the model does
not fit, every CLV number says so; with `value.when_unfit: historical`, growth potential and value targeting use
historical value instead. This run: {'PASS' if g.get('fits', True) else 'FAIL'}.

**Growth potential.** Among customers with a purchase: predicted-CLV percentile rank minus historical-spend
percentile rank at least {float(s['growth_rank_gap']):g} (`value.growth_rank_gap`).

**Targeting.** Each policy selects the top {float(s['top_share']):.0%} of customers (`value.top_share`) by historical
spend or by predicted CLV. Per group: the selection rate with its 95% Wilson score interval, and the ratio to the
most favoured group of at least {min_group_size} customers (`fairness.min_group_size`) with the p-value of "the ratio
lies inside {band}" (`fairness.thresholds`; the score test against the band edge the estimate lies beyond, as for the
fairness verdicts: a ratio different from 1 but inside the band is not a finding), Holm-corrected over every pair of
the groups of that policy and attribute, since the most favoured group is chosen by its rate. Every count comes from one table per attribute (selected by both, by one only, by
neither), suppressed at {k} with its margins; a rate or ratio is blank where a count it needs is hidden.
"""
