"""Results as words: markdown and tables for notebook 03, and one customer's explanation as text and HTML."""

from __future__ import annotations

import html as _html

import numpy as np
import pandas as pd

from ._counterfactual import PERIOD_DAYS
from ._grouping import _label


# -- notebook 03 --------------------------------------------------------------------------------
def describe(result: dict) -> str:
    """Markdown: which path explained membership and whether the explanation can be trusted."""
    if result["method"] == "exact":
        text = ("**Exact explanation of the decision.** The segmentation assigns each customer to the nearest centre. "
                "What is explained is the margin by which the assigned centre beats the runner-up, "
                "||z - c_runner-up||\u00b2 - ||z - c_assigned||\u00b2: it is linear in the model inputs, so its SHAP "
                "values are exact (base value plus contributions equals the margin) and do not depend on where the "
                "origin of the features lies.")
        if result.get("agreement") is not None:
            text += f" The scores reproduce {result['agreement']:.2%} of the stored assignments."
        return text
    if result["method"] == "none":
        return f"**Nothing to explain.** {result['reason'][0].upper() + result['reason'][1:]}."
    fid = result["fidelity"]
    f1 = ", ".join(f"{s}: {v:.2f}" for s, v in fid["f1"].items())
    if result.get("audit") is not None:
        given = result["audit"]
        text = ("**Surrogate explanation of the given segments.** The segments were given as labels (an existing "
                "segmentation), so there are no centroids to decompose: a compact gradient-boosted surrogate was "
                "fitted from the customers' features to their labels")
        text += f"; {fid['reason']}." if result["trustworthy"] else (
            f". **Not trustworthy: explanations are withheld.** {fid['reason'][0].upper() + fid['reason'][1:]}.")
        text += f" Per-segment F1 on held-out customers: {f1}."
        if given.get("unlabelled_customers"):
            text += (f" {given['unlabelled_customers']:,} customers without a label are not explained: no rule "
                     "assigned them, so there is no membership to explain.")
        if given.get("untrusted"):
            text += (f" Explanations are withheld for {len(given['untrusted'])} segment(s) that are too small "
                     "(insufficient evidence) or that the surrogate does not reproduce closely enough.")
        return text
    if result["trustworthy"]:
        return (f"**Surrogate explanation.** The segmentation is not linear in its inputs, so a compact "
                f"gradient-boosted surrogate was fitted to it; {fid['reason']}. What is explained is the surrogate's "
                f"log-odds of the assigned segment against the runner-up. Per-segment F1: {f1}.")
    return (f"**Not trustworthy: explanations are withheld.** {fid['reason'][0].upper() + fid['reason'][1:]}. "
            f"Per-segment F1: {f1}.")


def shown_segments(result: dict, limit: int | None = None) -> list:
    """Segments whose explanation the notebook plots: every explained segment of a normal run; in an
    audit of given labels the trustworthy ones, largest first, at most ``limit``."""
    if result.get("result") is None:
        return []
    segments = [_label(s) for s in result["result"]["segments"]]
    if result.get("audit") is None:
        return segments
    imp = result["importance"]
    trusted = set(imp.loc[imp["trustworthy"], "segment"].map(_label))
    sizes = imp.drop_duplicates("segment").set_index("segment")["n_members"] if "n_members" in imp else None
    out = [s for s in segments if s in trusted]
    if sizes is not None:
        out = sorted(out, key=lambda s: -float(sizes.get(s, 0)))
    return out[:limit] if limit else out


def withheld_table(result: dict) -> pd.DataFrame | None:
    """Audit of given labels: the segments whose explanation is withheld, and why (None if none)."""
    given = result.get("audit")
    if not given or not given.get("untrusted"):
        return None
    rows = [{"segment": _label(s), "name": (result.get("names") or {}).get(str(s), str(s)), "why withheld": why}
            for s, why in given["untrusted"].items()]
    return pd.DataFrame(rows).set_index("segment")


def top_features(importance: pd.DataFrame, names: dict | None = None, n: int = 3) -> pd.DataFrame:
    """The ``n`` features with the largest mean |SHAP| per segment, one row per segment."""
    rows = []
    for seg, part in importance.groupby("segment", sort=True):
        part = part.nlargest(n, "mean_abs_shap")
        rows.append({"segment": seg, "name": (names or {}).get(str(seg), str(seg)),
                     **{f"feature_{i + 1}": f for i, f in enumerate(part["feature"])},
                     "trustworthy": bool(part["trustworthy"].all())})
    return pd.DataFrame(rows)


def compare_with_planted(assignments: pd.DataFrame, truth: pd.DataFrame, differs_on: dict, importance: pd.DataFrame,
                         k_min: int, n: int = 5) -> pd.DataFrame:
    """Synthetic dataset only: does each segment's explanation name what its planted segment differs on?

    Parameters
    ----------
    assignments : DataFrame
        ``customer_id``, ``segment`` (stage 02).
    truth : DataFrame
        ``customer_id``, ``segment`` (the planted segment of every customer).
    differs_on : dict
        Planted segment -> the features it was built to differ on.
    importance : DataFrame
        ``segment``, ``feature``, ``mean_abs_shap``.
    k_min : int
        Segments of fewer customers are left out.
    n : int, default 5
        Most important explained features compared.

    Returns
    -------
    DataFrame
        Per segment: the planted segment most of its members come from, its purity, the features it
        differs on, the ``n`` most important explained features, and how many of them are named.
    """
    assignments = assignments.merge(truth, on="customer_id", suffixes=("", "_planted"))
    rows = []
    for seg, part in assignments.groupby("segment"):
        if len(part) < k_min:
            continue
        planted = part["segment_planted"].value_counts()
        top = importance[importance["segment"] == seg].nlargest(n, "mean_abs_shap")["feature"].tolist()
        want = differs_on.get(planted.index[0], [])
        rows.append({"segment": seg, "planted": planted.index[0], "purity": planted.iloc[0] / len(part),
                     "planted_differs_on": ", ".join(want), "explained_top": ", ".join(top),
                     "named": len(set(want) & set(top)), "of": len(want)})
    return pd.DataFrame(rows)


# -- one customer -------------------------------------------------------------------------------
def nothing_paragraph(segment_name: str, reason: str) -> str:
    """The paragraph when the run has a single segment: no decision between segments was made."""
    return f"You are in the segment \u201c{segment_name}\u201d, the only one: {reason}."


def example_withheld() -> str:
    """Markdown for notebook 03 when no individual customer may be shown (the default)."""
    return ("**No individual customer is shown in this report.** A compliance report does not show one "
            "customer's data by default. To answer one customer's access request, run "
            "`workbench explain --run DIR --customer PSEUDONYM` (add `--html FILE` for a page to send); to show a "
            "randomly drawn example here, set `report.individual_examples: true` in the config.")


def unlabelled_paragraph(segment_name: str) -> str:
    """The paragraph for a customer without a given label: there is no assignment to explain."""
    return (f"You have no segment label in the source system, so you are counted in the group "
            f"\u201c{segment_name}\u201d. There is no assignment to explain.")


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if v.is_integer():
            return f"{int(v):,}"
        if abs(v) >= 100:
            return f"{v:,.0f}"
        if abs(v) >= 1:
            return f"{v:,.1f}"
        return f"{v:.2f}"
    return str(value)


def _readable(feature: str) -> str:
    return feature.replace("_", " ")

def _level(value, median) -> str:
    try:
        v, m = float(value), float(median)
    except (TypeError, ValueError):
        return ""
    if not (np.isfinite(v) and np.isfinite(m)):
        return ""
    if v > m:
        return "high"
    if v < m:
        return "low"
    return "typical"


def customer_paragraph(out: dict) -> str:
    """The plain-language paragraph of one customer's explanation (its ``paragraph``).

    Built on the margin against the runner-up (or the requested segment): "mainly because of" names
    only features that push the customer towards the assigned segment; the features that pull towards
    the other segment are named as such.
    """
    name = out["segment_name"]
    if not out["trustworthy"]:
        return (f"You are in the segment \u201c{name}\u201d. We cannot give a reliable explanation of why: "
                f"{out['reason']}. The table shows your values next to the typical member of your segment "
                "and all customers, for comparison only.")
    runner = out.get("runner_up") or {}
    other = runner.get("segment_name", "the other segments")
    if runner.get("segment") == "rest":
        other = "the other segments"
    towards = [c for c in out["contributions"] if c["contribution"] > 0]
    away = [c for c in out["contributions"] if c["contribution"] < 0]
    closest = "the segment you compared with" if out.get("versus_requested") else "the closest other segment"
    text = (f"You are in the segment \u201c{name}\u201d rather than \u201c{other}\u201d ({closest}) ")
    if towards:
        text += "mainly because of " + _join([_described(c) for c in towards[:4]]) + "."
    else:
        text += "although none of the listed features on its own favours it."
    if away:
        text += (f" Pulling you towards \u201c{other}\u201d: "
                 + _join([f"your {_readable(c['feature'])} ({_fmt(c['value'])})" for c in away[:3]]) + ".")
    text += _counterfactual_sentence(out.get("counterfactual"))
    if out["method"] == "surrogate":
        text += (" This explanation describes a surrogate model that reproduces the segments closely "
                 f"({out['reason']}).")
        if not out.get("model_agrees", True):
            text += " For you, the surrogate predicts a different segment, so treat this explanation with care."
    return text


def _described(c: dict) -> str:
    level = _level(c["value"], c["population_median"])
    desc = f"your {_readable(c['feature'])}"
    desc += f", which is {level}" if level and level != "typical" else ""
    return desc + (f" ({_fmt(c['value'])}; typical member of this segment: {_fmt(c['typical'])}; "
                   f"all customers: {_fmt(c['population_median'])})")


def _counterfactual_sentence(cf: dict | None) -> str:
    if not cf:
        return ""
    if not cf.get("found"):
        return f" No change we looked for would move you to another segment: {cf['why']}."
    return (f" What you could do next that would move you to \u201c{cf['target_name']}\u201d: "
            f"{_join(cf['actions'])}.")


def _join(items: list[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def render_text(exp: dict) -> str:
    """Plain text of :func:`explain_customer`'s result (what ``workbench explain`` prints)."""
    lines = [f"Customer {exp['customer_id']}: segment {exp['segment']} \u201c{exp['segment_name']}\u201d",
             f"Method: {'exact SHAP of the centroid scores' if exp['method'] == 'exact' else 'surrogate model'}"
             + ("" if exp["trustworthy"] else " (not trustworthy)"), ""]
    lines += _wrap(exp["paragraph"]) + [""]
    runner = (exp.get("runner_up") or {}).get("segment_name", "")
    if exp["contributions"]:
        lines += [f"Contributions to the margin over \u201c{runner}\u201d (positive: towards your segment)"]
    header = f"{'feature':<24} {'your value':>12} {'typical':>12} {'all (median)':>12} {'contribution':>13}"
    lines += [header, "-" * len(header)]
    for c in exp["contributions"]:
        contrib = f"{c['contribution']:+.3f}" if exp["trustworthy"] else "-"
        lines.append(f"{c['feature'][:24]:<24} {_fmt(c['value'])[:12]:>12} {_fmt(c['typical'])[:12]:>12} "
                     f"{_fmt(c['population_median'])[:12]:>12} {contrib:>13}")
    cf = exp.get("counterfactual")
    if cf and cf.get("found"):
        lines += ["", f"Counterfactual (verified with the model): to be in \u201c{cf['target_name']}\u201d:"]
        lines += [f"  {a}" for a in cf["actions"]]
        lines += ["  which would change:"]
        lines += [f"    {c['feature']}: {_fmt(c['from'])} -> {_fmt(c['to'])}" for c in cf["changes"]]
    elif cf:
        lines += ["", f"Counterfactual: none found ({cf['why']})."]
    return "\n".join(lines)


def _wrap(text: str, width: int = 100) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width)


def render_html(exp: dict) -> str:
    """A self-contained HTML page of one customer's explanation (no scripts, no external links)."""
    e = _html.escape
    rows = []
    max_abs = max([abs(c["contribution"]) for c in exp["contributions"]] + [1e-12])
    for c in exp["contributions"]:
        width = int(120 * abs(c["contribution"]) / max_abs)
        color = "#c0392b" if c["contribution"] > 0 else "#2e86c1"
        bar = (f'<svg width="130" height="12" role="img" aria-label="contribution">'
               f'<rect x="0" y="1" width="{width}" height="10" fill="{color}"/></svg>') if exp["trustworthy"] else ""
        rows.append(
            f"<tr><td>{e(_readable(c['feature']))}</td><td>{e(_fmt(c['value']))}</td><td>{e(_fmt(c['typical']))}</td>"
            f"<td>{e(_fmt(c['population_median']))}</td><td>{bar}</td></tr>"
        )
    cf_html = _counterfactual_html(exp.get("counterfactual"))
    method = ("an exact decomposition of the margin between your segment and the closest other one (SHAP values)"
              if exp["method"] == "exact" else "a surrogate model of the segmentation, explained with SHAP values")
    trust = "" if exp["trustworthy"] else f"<p class=warn>Not trustworthy: {e(exp['reason'])}.</p>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Segment explanation for {e(exp['customer_id'])}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 46em; margin: 2em auto; color: #222; line-height: 1.45; }}
table {{ border-collapse: collapse; margin: 1em 0; }} td, th {{ padding: 0.3em 0.8em; border-bottom: 1px solid #ddd; text-align: left; }}
.note {{ color: #555; font-size: 0.9em; }} .warn {{ color: #a00; font-weight: bold; }}
</style></head>
<body>
<h1>Why are you in the segment &ldquo;{e(exp['segment_name'])}&rdquo;?</h1>
<p class=note>Reference: {e(exp['customer_id'])} (pseudonymous identifier). Method: {e(method)}.</p>
{trust}
<p>{e(exp['paragraph'])}</p>
<h2>The features that mattered most</h2>
<table><tr><th>feature</th><th>your value</th><th>typical member of your segment</th><th>all customers (median)</th>
<th>weight in the decision</th></tr>
{''.join(rows)}
</table>
<p class=note>Red bars pushed you towards your segment, blue bars towards the closest other one. Typical values are medians
(most common value for categories); figures for groups of fewer customers than the publication threshold
are not shown.</p>
{cf_html}
</body></html>
"""




def _counterfactual_html(cf: dict | None) -> str:
    """The "what would change the segment?" section of the page (changes in purchasing only)."""
    e = _html.escape
    if not cf:
        return ""
    if not cf.get("found"):
        return f"<h2>What would change the segment?</h2><p>No change was found: {e(cf['why'])}.</p>"
    actions = "".join(f"<li>{e(a)}</li>" for a in cf["actions"])
    items = "".join(f"<li>{e(_readable(c['feature']))}: {e(_fmt(c['from']))} &rarr; {e(_fmt(c['to']))}</li>"
                    for c in cf["changes"])
    return (f"<h2>What would change the segment?</h2><p>The nearest segment that additional purchases in the "
            f"next {PERIOD_DAYS} days reach is &ldquo;{e(cf['target_name'])}&rdquo;:</p><ul>{actions}</ul>"
            f"<p>By the end of those {PERIOD_DAYS} days your figures would change as follows:</p><ul>{items}</ul>"
            "<p class=note>Only future purchases were considered: what you bought before cannot change. Recency "
            "and tenure follow from the dates of purchases and are never suggested; age, location and survey "
            "answers are never changed.</p>")


def methodology_markdown(result: dict, settings: dict) -> str:
    """Notebook 03's methodology with this run's settings: what is explained, samples, fidelity, counterfactuals.

    Parameters
    ----------
    result : dict
        What :func:`~workbench.explain.explain_run` returned.
    settings : dict
        The ``explain`` config section over its defaults (``run.settings("explain", DEFAULTS)``).

    Returns
    -------
    str
        Markdown a reviewer can check by hand against the fidelity line and the importance table.
    """
    from ._counterfactual import ADD_PURCHASES, BASKETS

    thr = float(settings["fidelity_threshold"])
    sur = settings["surrogate"]
    if result["method"] == "exact":
        how = f"""**Exact SHAP of the margin.** The margin ||z − c_runner-up||² − ||z − c_assigned||² is linear in the
model inputs z, so each input's SHAP value is its term of that difference measured from a background of
{int(settings['background_size'])} seeded customers; contributions of one-hot columns and transforms are summed back to
the original feature. Additivity holds exactly: base value + contributions = margin (tested). Importance is
the mean absolute contribution over every member of the segment (computed in batches of
{int(settings['batch_size']):,}); the spread bands use a seeded sample of {int(settings['plot_sample']):,} customers and
are drawn only for segments with at least 50 sampled members. There is no sampling error in the importance
and so no interval; the agreement line says how many stored assignments the scores reproduce."""
    elif result["method"] == "none":
        how = "**Nothing was explained.** " + str(result.get("reason", ""))
    else:
        fid = result.get("fidelity") or {}
        how = f"""**Surrogate SHAP.** A gradient-boosted surrogate (LightGBM, {sur['n_estimators']} trees of
{sur['num_leaves']} leaves) learns the segment labels from the features of at most {int(sur['max_fit']):,} seeded
customers; {float(sur['test_size']):.0%} of them are held out. **Fidelity rule:** its explanations are shown only
when its held-out accuracy is at least {thr:g} (`explain.fidelity_threshold`), and a segment's only when that
segment's held-out F1 is at least {thr:g} as well{f" (this run: accuracy {fid['accuracy']:.3f} on {fid.get('n_test', 0):,} held-out customers)" if fid.get('accuracy') is not None else ''}.
Importance is the mean absolute TreeSHAP value over a seeded sample of {int(settings['sample_size']):,} customers;
a SHAP value explains the surrogate, which is why fidelity gates it."""
    return f"""{how}

**Counterfactuals.** A suggestion is something a customer can still do: additional purchases in the next
{PERIOD_DAYS} days: {', '.join(map(str, ADD_PURCHASES))} purchases of {', '.join(f'{b:g}×' for b in BASKETS)} their
typical basket, as usual, in one category, through one channel, or both. Past purchases are never changed or
relabelled. The customer's transactions with the added purchases go through the run's own feature computation at
the end of those {PERIOD_DAYS} days and are scored by the segmentation model (by the explainer where the model does
not reproduce the stored assignments); doing nothing is scored too, and a segment the customer would reach without
any purchase is not a suggestion. The nearest segment some candidate reaches is reported (distance: standardised
change of the features; ties: fewer purchases). Clock features (recency, tenure) move only with time and purchases
and are never suggested; customer attributes (demographics, survey scores) are never changed.

**Disclosure.** Importance and spread are aggregates over segments; a segment smaller than
`privacy.suppression_k` customers is not profiled, and no individual customer is shown unless the config sets
`report.individual_examples: true`."""
