"""``compare.html`` and the "Compared with the previous audit" section of a run's index, from a Comparison.

Every table goes through :func:`workbench.report.table` with the runs' suppression threshold, so a
hidden cell reads "< k" with the footnote saying why; the page is one self-contained, offline file
in the reports' own stylesheet.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from .. import report
from ._comparison import Comparison
from ._verdicts import WORDS

# The reports' one stylesheet (screen and print), shipped as package data beside the export template.
_CSS_PATH = Path(__file__).resolve().parents[1] / "pipeline" / "templates" / "offline" / "report.css"

_FACTS = {
    "name": "Config name", "dataset": "Dataset", "as_of": "Data as of", "run_date": "Run date (UTC)",
    "fingerprint": "Dataset fingerprint (SHA-256)", "config_sha256": "Config hash (SHA-256)", "seed": "Seed",
    "git_commit": "Git commit", "pseudonym_key": "Pseudonym key", "suppression_k": "Suppression threshold k",
    "n_customers": "Customers analysed", "method": "Segmentation method", "k_segments": "Number of segments",
}


def comparison_html(c: Comparison) -> str:
    """The whole ``compare.html`` page: provenance of both runs, summary, verdicts, segments, migration, drift."""
    title = f"Comparison: {c.facts_a.get('name')} ({_date(c.facts_a)}) with {c.facts_b.get('name')} ({_date(c.facts_b)})"
    body = (
        f"<header><h1>{html.escape(title)}</h1></header><main>"
        + provenance_section(c)
        + "<section aria-labelledby=\"summary\"><h2 id=\"summary\">Summary</h2><ul>"
        + "".join(f"<li>{html.escape(s)}</li>" for s in c.summary) + "</ul></section>"
        + _verdict_section(c) + _segment_section(c) + _migration_section(c) + _drift_section(c)
        + "<p class=\"muted\">The same facts, machine-readable: <a href=\"compare.json\">compare.json</a>.</p>"
        + "</main>"
    )
    css = _CSS_PATH.read_text() if _CSS_PATH.exists() else ""
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{css}</style></head><body class=\"wb-index\">\n{body}\n</body></html>\n")


def index_section(c: Comparison | None, href: str = "compare.html", because: str = "") -> str:
    """The "Compared with the previous audit" section of the later run's ``index.html``.

    With ``c`` None (the comparison could not be made) the section says why (``because``).
    """
    head = "<section aria-labelledby=\"compared\"><h2 id=\"compared\">Compared with the previous audit</h2>"
    if c is None:
        return head + f"<p class=\"failed\">No comparison: {html.escape(because)}</p></section>"
    items = "".join(f"<li>{html.escape(s)}</li>" for s in c.summary)
    return (head + f"<p>Earlier run: {html.escape(str(c.facts_a.get('name')))}, data as of "
            f"{html.escape(_date(c.facts_a))}.</p><ul>{items}</ul>"
            f"<p>Details: <a href=\"{html.escape(href)}\">{html.escape(href)}</a>.</p></section>")


def provenance_section(c: Comparison) -> str:
    """Both runs' provenance side by side (from each manifest), first on the page."""
    rows = "".join(
        f"<tr><th scope=\"row\">{html.escape(label)}</th><td>{html.escape(_shown(c.facts_a.get(key)))}</td>"
        f"<td>{html.escape(_shown(c.facts_b.get(key)))}</td></tr>"
        for key, label in _FACTS.items()
    )
    return ("<section aria-labelledby=\"provenance\"><h2 id=\"provenance\">The two runs</h2>"
            "<table class=\"provenance-table\" style=\"word-break: break-all\"><caption>Provenance of each run "
            "(from its manifest.json); both used the same persistent pseudonym key (checked), so customers are "
            "matched across them.</caption>"
            "<thead><tr><th scope=\"col\">fact</th><th scope=\"col\">earlier run</th><th scope=\"col\">later run</th>"
            f"</tr></thead><tbody>{rows}</tbody></table></section>")


def verdict_table(c: Comparison) -> report.Table:
    """Every verdict before and after, with the published ratio, interval and rates of the largest gap."""
    v = c.verdicts
    cols = {"check": [f"{str(a).replace('_', ' ')} by {b}" for a, b in zip(v["action"], v["attribute"])]}
    for side in ("before", "after"):
        cols[f"verdict {side}"] = [WORDS[None] if _missing(x) else WORDS.get(x, str(x)) for x in v[f"verdict_{side}"]]
        cols[f"group {side}"] = ["—" if _missing(g) else f"{g} vs {r}"
                                 for g, r in zip(v[f"group_{side}"], v[f"reference_{side}"])]
        cols[f"ratio {side}"] = pd.Series(
            ["—" if _missing(g) else r for r, g in zip(v[f"ratio_{side}"], v[f"group_{side}"])], dtype=object)
        cols[f"interval {side}"] = [_interval(lo, hi, g) for lo, hi, g in
                                    zip(v[f"ratio_low_{side}"], v[f"ratio_high_{side}"], v[f"group_{side}"])]
    cols["changed"] = v["changed"].astype(bool)
    return report.table(pd.DataFrame(cols), k=c.k, caption="Verdicts before and after (ratio: selection rate "
                        "of the group with the largest published gap over the comparison group's; 95% interval)")


def _verdict_section(c: Comparison) -> str:
    out = ["<section aria-labelledby=\"verdicts\"><h2 id=\"verdicts\">Verdicts that changed, and why</h2>"]
    if not len(c.verdicts):
        return out[0] + "<p>Neither run has a verdict-bearing check.</p></section>"
    changed = c.verdicts.loc[c.verdicts["changed"].astype(bool)]
    out.append("<ul>" + ("".join(f"<li>{html.escape(s)}</li>" for s in changed["sentence"])
                         or "<li>No verdict changed.</li>") + "</ul>")
    out.append(
        "<p>Each verdict is the run's own (what was tested, at what level and over which family is in that "
        "run's report, section 04); the numbers are read from each run's published selection table, so a "
        "number that run hides stays hidden here.</p>")
    out.append(verdict_table(c)._repr_html_())
    return "\n".join(out) + "</section>"


def _segment_section(c: Comparison) -> str:
    t = report.table(c.segments, k=c.k, caption=(
        f"Segments: k = {c.facts_a.get('k_segments')} before, k = {c.facts_b.get('k_segments')} after. Sizes as "
        "each run published them; segments are paired by name, else by the customers they keep (runs of the same "
        "customers) or the nearest centroid (one to one)."))
    dist = c.matches.loc[c.matches["matched_by"].isin(["centroid", "shared customers"])]
    note = "".join(
        f"<li>{html.escape(str(m.earlier))} → {html.escape(str(m.later))} ({m.matched_by}): centroid distance {m.distance:.2f} "
        "(root mean squared difference of standardised inputs)</li>" for m in dist.itertuples())
    return ("<section aria-labelledby=\"segments\"><h2 id=\"segments\">Segments</h2>" + t._repr_html_()
            + (f"<ul>{note}</ul>" if note else "") + "</section>")


def migration_table(c: Comparison) -> report.Table:
    """The suppressed migration table: earlier segment (rows) x later segment (columns), with totals."""
    return report.table(c.migration, k=c.k, index=True, caption=(
        "Customers by segment in the earlier run (rows) and the later run (columns), joined by keyed pseudonym; "
        "\"not in …\": customers present in one run only. Small cells are suppressed with their complements."))


def _migration_section(c: Comparison) -> str:
    m = c.movement
    facts = [
        f"Customers in both runs: {_count(m.get('in_both'), c.k)}; only in the earlier run: "
        f"{_count(m.get('only_earlier'), c.k)}; only in the later run: {_count(m.get('only_later'), c.k)}.",
    ]
    if m.get("moved") is None:
        facts.append("How many changed segment is not shown: a cell it needs is suppressed.")
    else:
        share = m.get("share_moved")
        facts.append(f"{m['moved']:,} changed segment (to a segment other than their segment's counterpart)"
                     + (f", {100 * share:.1f}% of those in both runs." if share is not None else "."))
    return ("<section aria-labelledby=\"migration\"><h2 id=\"migration\">Migration between the two assignments</h2>"
            "<ul>" + "".join(f"<li>{html.escape(f)}</li>" for f in facts) + "</ul>"
            + migration_table(c)._repr_html_() + "</section>")


def _drift_section(c: Comparison) -> str:
    psi = report.table(c.psi.drop(columns=["only_in"], errors="ignore"), k=None, decimals=3,
                       names={"psi": "PSI", "hidden_bins": "bins hidden by suppression"},
                       caption="Population stability index of each segmentation input, later run against the "
                       "earlier one's bins (< 0.1 stable, 0.1–0.25 moderate shift, > 0.25 major shift)")
    shares = report.table(c.shares, k=c.k, percent=["share before", "share after"],
                          caption="Binned distribution of each input (bins: the earlier run's deciles, or one per "
                          "value), as published")
    return ("<section aria-labelledby=\"drift\"><h2 id=\"drift\">Drift of the inputs</h2>"
            "<p>PSI is computed from the published bins (bins hidden by suppression pooled into one), never "
            "from a hidden count.</p>" + psi._repr_html_()
            + "<details><summary>Binned shares of every input</summary>" + shares._repr_html_() + "</details>"
            + "</section>")


def _missing(v) -> bool:
    """None or NaN (pandas may turn a None in a text column into NaN)."""
    return v is None or (isinstance(v, float) and v != v)


def _interval(lo, hi, group) -> str | float:
    if _missing(group):
        return "—"
    if pd.isna(lo) or pd.isna(hi):
        return float("nan")
    return f"[{lo:.2f}, {hi:.2f}]"


def _count(v, k: int) -> str:
    return f"< {k}" if v is None else f"{v:,}"


def _date(facts: dict) -> str:
    return str(facts.get("as_of") or str(facts.get("run_date") or "")[:10] or "date not recorded")


def _shown(v) -> str:
    return "not recorded" if v in (None, "") else str(v)
