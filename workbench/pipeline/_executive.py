"""The executive summary at the top of a run's ``index.html`` (and the first page of ``audit.pdf``).

Four parts, read from ``summary.json``, ``manifest.json``, ``data/prepare.json`` and the config, never
recomputed: purpose and scope, the verdict table, the key privacy facts, and the limitations that
apply to this run. A reviewer reads this page first; every verdict links to the section holding its
evidence.
"""

from __future__ import annotations

import html
import re

from ._provenance import REPORT_KEYS

_VERDICT_CLASS = {"pass": "pass", "fail": "fail"}
_VERDICT_WORD = {"pass": "PASS", "fail": "FAIL"}


def executive_summary(config: dict, summary: dict, manifest: dict, prep: dict, notebooks: list[str]) -> str:
    """The executive summary as an HTML ``<section>``.

    Parameters
    ----------
    config : dict
        The run's config: ``report:`` (purpose, decision, commissioner, reviewer) and the fairness
        thresholds shown beside each verdict.
    summary, manifest, prep : dict
        ``summary.json``, ``manifest.json`` and ``data/prepare.json`` content.
    notebooks : list of str
        The run's notebook names, to link each verdict to its evidence (``04_…html``).

    Returns
    -------
    str
        HTML: purpose and scope, verdicts, privacy facts, limitations.
    """
    return (
        "<section class=\"executive\" aria-labelledby=\"executive-summary\">"
        "<h2 id=\"executive-summary\">Executive summary</h2>"
        + _purpose(config, prep)
        + verdict_table(summary, config, notebooks)
        + _privacy_facts(summary, manifest, prep)
        + _limitations(summary, config)
        + "</section>"
    )


def verdict_rows(summary: dict) -> list[dict]:
    """Every stage's verdict rows with the stage they come from, stages in name order."""
    rows = []
    for stage in sorted(k for k in summary if isinstance(summary[k], dict)):
        for row in summary[stage].get("verdicts", []) or []:
            rows.append({**row, "_stage": stage})
    return rows


def verdict_table(summary: dict, config: dict, notebooks: list[str]) -> str:
    """The verdict table: per verdict, one line of check, threshold, value, interval, test, verdict and
    evidence, and under it the finding across the whole width.

    ``value`` and its interval are the numbers the stage published in ``summary.json`` (for fairness:
    the rate ratio of the group furthest from parity to the comparison group, and its interval),
    shown as recorded there, never recomputed, and blank where the stage withheld them (suppressed
    counts). The test column names the level, the correction and the size of the family it runs
    over; the finding is the stage's own sentence. The sentence gets the page's width (a column of
    its own among eight left it about 12 characters wide on paper: 12 verdicts filled 6 pages), and
    each verdict's two rows are kept on one page.
    """
    rows = verdict_rows(summary)
    if not rows:
        return "<h3>Verdicts</h3><p>No verdict-bearing check ran in this run.</p>"
    band, test = _threshold_text(config)
    out = [
        "<h3 id=\"verdicts\">Verdicts</h3><table class=\"verdicts\"><caption>Fairness checks: the selection "
        f"rate of each group against the comparison group, per action and attribute; each check's finding "
        f"follows it. {html.escape(test)}"
        f"{_BENEFIT_CAPTION if any('campaign' in r and 'action' not in r for r in rows) else ''}</caption><colgroup>"
        + "".join(f"<col class=\"{c}\">" for c in ("check", "threshold", "value", "interval", "test", "verdict", "evidence"))
        + "</colgroup><thead><tr>"
        "<th scope=\"col\">check</th><th scope=\"col\">threshold</th>"
        "<th scope=\"col\">value</th><th scope=\"col\">95% interval</th><th scope=\"col\">test</th>"
        "<th scope=\"col\">verdict</th><th scope=\"col\">evidence</th></tr></thead>"
    ]
    for r in rows:
        v = str(r.get("verdict", ""))
        word = _VERDICT_WORD.get(v, "INSUFFICIENT")
        check, row_band = _check_text(r, config, band)
        link = _evidence_link(r["_stage"], notebooks)
        out.append(
            f"<tbody class=\"verdict\"><tr><th scope=\"row\">{html.escape(check)}</th><td>{html.escape(row_band)}</td>"
            f"{_value_cells(r)}<td>{html.escape(_test_text(r))}</td>"
            f"<td class=\"{_VERDICT_CLASS.get(v, 'insufficient')}\">{word}</td><td>{link}</td></tr>"
            f"<tr class=\"finding\"><td colspan=\"7\">{unbroken_hyphens(str(r.get('sentence', '')))}</td></tr></tbody>"
        )
    out.append("</table>")
    return "\n".join(out)


_BENEFIT_CAPTION = (
    " Benefit checks (notebook 08): inside the segments a campaign targeted, the uplift of each group against "
    "the group that gains most; pass, fail and insufficient evidence by the same rule on the uplift difference."
)


def _check_text(r: dict, config: dict, band: str) -> tuple[str, str]:
    """What a verdict row checks and its band: a selection verdict (``action``) or a benefit verdict
    of notebook 08 (``campaign``: the uplift difference between groups inside the targeted segments)."""
    if "campaign" in r and "action" not in r:
        gap = ((config.get("campaign") or {}).get("thresholds") or {}).get("uplift_difference", 0.05)
        return (f"benefit of {str(r['campaign']).replace('_', ' ')} by {r.get('attribute', '')}",
                f"uplift gap ≤ {float(gap):g}")
    return f"{str(r.get('action', '')).replace('_', ' ')} by {r.get('attribute', '')}", band


def unbroken_hyphens(text: str) -> str:
    """``text`` escaped, each hyphenated word or range (``non-binary``, ``0.8–1.25``) kept on one line.

    A line break after a word's hyphen in a narrow table cell is joined back without the hyphen by
    ``pdftotext`` (after an en dash, with a space added), so the PDF would no longer hold the
    stage's sentence word for word.
    """
    return re.sub(r"(\S*\w[-–]\w\S*)", r'<span class="nobr">\1</span>', html.escape(text))


def format_value(x) -> str:
    """A published number as the verdict table shows it (two decimals; "–" where none was published)."""
    return "–" if x is None else f"{float(x):.2f}"


def _value_cells(r: dict) -> str:
    """The value and its interval, as recorded in summary.json (numeric cells, right-aligned)."""
    value = format_value(r.get("value"))
    lo, hi = r.get("interval_low"), r.get("interval_high")
    interval = "–" if lo is None or hi is None else f"{format_value(lo)}–{format_value(hi)}"
    title = f" title=\"{html.escape(str(r['measure']))}\"" if r.get("measure") else ""
    return f"<td class=\"num\"{title}>{value}</td><td class=\"num\">{interval}</td>"


def _test_text(r: dict) -> str:
    """Family and level of the row's test, from the row itself."""
    if r.get("level") is None:
        return "–"
    corr = {"holm": "Holm", "bh": "Benjamini–Hochberg"}.get(str(r.get("correction")), str(r.get("correction")))
    m = r.get("family_size")
    if m is None:
        return f"{float(r['level']):.0%} level, {corr} over its comparisons"
    pairs = "pairs" if r.get("reference_by_rate") else f"comparison{'s' if m != 1 else ''} with {r.get('reference')}"
    return f"{float(r['level']):.0%} level, {corr} over {m} {pairs}"


def _purpose(config: dict, prep: dict) -> str:
    report = config.get("report") or {}
    items = []
    for key, label in REPORT_KEYS.items():
        value = report.get(key)
        shown = html.escape(str(value)) if value else "<span class=\"muted\">not stated in the config</span>"
        items.append(f"<li><b>{label}:</b> {shown}</li>")
    scope = (
        f"<li><b>Scope:</b> {prep['n_customers']:,} customers and {prep['n_transactions']:,} transactions "
        f"of dataset {html.escape(str(prep['dataset']))} ({html.escape(str(prep['source']))}).</li>"
    )
    return f"<h3>Purpose and scope</h3><ul>{''.join(items)}{scope}</ul>"


def _privacy_facts(summary: dict, manifest: dict, prep: dict) -> str:
    c = prep.get("counts", {})
    p01 = summary.get("01_data_privacy", {})
    facts = [
        f"{c.get('customers_in_input', 0):,} customers in the input; {c.get('opted_out_of_profiling', 0):,} "
        f"excluded because they opted out of profiling, {c.get('erased', 0):,} erased on request "
        f"({c.get('erasure_requests', 0):,} requests, {c.get('erasure_ids_not_found', 0):,} ids not found); "
        f"{c.get('customers_kept', prep.get('n_customers', 0)):,} analysed.",
    ]
    if p01.get("direct_identifiers_dropped") is not None:
        facts.append(
            f"{p01['direct_identifiers_dropped']} direct identifier column(s) dropped at load; "
            f"{p01.get('columns_kept')} of {p01.get('columns_in')} input columns kept for the declared purpose."
        )
    k = prep.get("suppression_k", p01.get("suppression_k"))
    facts.append(
        f"Small-cell suppression: every published count below {k} is hidden (shown as “&lt; {k}”), "
        "with complementary cells hidden so it cannot be recovered from totals (shown as “hidden†”)."
    )
    sens = summary.get("02_segmentation", {}).get("sensitive_inputs")
    if sens is not None:
        facts.append("Sensitive attributes used as segmentation inputs: " + (", ".join(sens) if sens else "none") + ".")
    facts.append(_dp_fact(manifest.get("dp_ledger"), summary.get("06_private_release", {})))
    items = "".join(f"<li>{f if '&lt;' in f else html.escape(f)}</li>" for f in facts)
    return f"<h3>Privacy</h3><ul>{items}</ul>"


def _dp_fact(ledger: dict | None, release: dict) -> str:
    if not ledger or not release.get("enabled"):
        return "No differentially private release in this run (no privacy budget spent)."
    spent = ledger.get("spent", {})
    return (
        f"Differential privacy budget spent: epsilon {spent.get('epsilon', 0):g} of {ledger.get('epsilon'):g}, "
        f"delta {spent.get('delta', 0):g} of {ledger.get('delta'):g}, over {len(ledger.get('queries') or [])} "
        f"queries ({ledger.get('library')})."
    )


def limitations(summary: dict, config: dict) -> list[str]:
    """Plain sentences on what limits this run's conclusions, from the facts ``summary.json`` records.

    Covers: verdicts without enough evidence, re-identification risk, pseudonyms that cannot be
    linked across runs, explanations withheld, stale assignments or labels, imputation before the
    private release, and sections that did not apply to this dataset.
    """
    out = []
    fairness = config.get("fairness") or {}
    n_ins = sum(1 for r in verdict_rows(summary) if r.get("verdict") not in ("pass", "fail"))
    if n_ins:
        out.append(
            f"{n_ins} verdict(s) are insufficient evidence: a group below {fairness.get('min_group_size', 30)} "
            "customers, or a gap not significant after correction. Absence of a finding is not a pass."
        )
    p01 = summary.get("01_data_privacy", {})
    if p01.get("k_anonymity") is not None and p01["k_anonymity"] < 2:
        out.append(
            f"{p01.get('share_unique', 0):.0%} of customers are unique on their quasi-identifiers "
            f"(k-anonymity {p01['k_anonymity']}): row-level data must not leave the controlled environment."
        )
    if p01.get("pseudonyms_persistent") is False:
        out.append("Pseudonyms use a per-run random key: customers cannot be followed into a later run.")
    ex = summary.get("03_explain", {})
    if ex and ex.get("trustworthy") is False:
        out.append("Explanations of membership did not reach the fidelity threshold and are withheld.")
    out += _staleness_limits(summary.get("05_dynamics", {}), config)
    impute = ((config.get("privacy") or {}).get("dp") or {}).get("impute")
    if impute and summary.get("06_private_release", {}).get("enabled"):
        out.append("The private release imputes missing values before adding noise: "
                   + ", ".join(f"{k} = {v}" for k, v in impute.items()) + ".")
    for stage in sorted(k for k in summary if isinstance(summary[k], dict)):
        part = summary[stage]
        if part.get("applicable") is False and part.get("because"):
            out.append(f"{stage.split('_', 1)[-1].replace('_', ' ').capitalize()} not applicable: {part['because']}.")
        elif part.get("applicable") is False:
            out.append(f"{stage.split('_', 1)[-1].replace('_', ' ').capitalize()} not applicable to this dataset.")
    return out


def _staleness_limits(dyn: dict, config: dict) -> list[str]:
    out = []
    tol = (config.get("dynamics") or {}).get("stale_tolerance")
    if dyn.get("stale_share") is not None and tol is not None and dyn.get("stale_share", 0) > tol:
        out.append(
            f"{dyn['stale_share']:.0%} of assignments recorded earlier are stale now (tolerance {tol:.0%}): "
            f"refresh every {dyn.get('refresh_every_months', '?')} months."
        )
    labels = dyn.get("labels") or {}
    if isinstance(labels, dict) and labels.get("stale_share") is not None:
        out.append(f"{labels['stale_share']:.0%} of the given segment labels are stale.")
    return out


def _limitations(summary: dict, config: dict) -> str:
    items = limitations(summary, config)
    body = "".join(f"<li>{html.escape(s)}</li>" for s in items) or "<li>None recorded for this run.</li>"
    return f"<h3>Limitations</h3><ul>{body}</ul>"


def _threshold_text(config: dict) -> tuple[str, str]:
    """The policy band (per row) and the test (once, in the caption)."""
    f = config.get("fairness") or {}
    lo, hi = (f.get("thresholds") or {}).get("ratio", [0.8, 1.25])
    diff = (f.get("thresholds") or {}).get("difference", 0.1)
    alpha = f.get("alpha", 0.05)
    corr = {"holm": "Holm", "bh": "Benjamini–Hochberg"}.get(f.get("correction", "holm"), f.get("correction"))
    band = f"ratio {lo:g}–{hi:g}, gap ≤ {diff:g}"
    test = (
        f"Pass: the {1 - alpha:.0%} interval lies inside the band. Fail: the ratio is shown to lie outside it "
        f"(test against the band edge, {corr}-corrected over the comparisons that decide the verdict: every pair "
        "of groups when the comparison group is the most favoured, since it is chosen by its rate). Otherwise "
        "insufficient evidence. Value: the rate ratio of the group furthest from parity to the comparison group."
    )
    return band, test


def _evidence_link(stage: str, notebooks: list[str]) -> str:
    prefix = stage.split("_", 1)[0]
    for nb in notebooks:
        if nb.startswith(prefix + "_"):
            return f"<a href=\"{nb}.html\">{html.escape(nb.split('_', 1)[1].replace('_', ' '))}</a>"
    return html.escape(stage)
