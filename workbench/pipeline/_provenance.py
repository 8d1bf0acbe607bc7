"""Provenance and sign-off: the facts a reviewer needs to reproduce and sign a run, on every page.

The facts come from the run's records only (``manifest.json`` content, ``config.yaml``): nothing is
recomputed. The same dictionary is stored in ``manifest.json`` under ``provenance`` and shown as the
block at the foot of ``index.html`` and of every notebook page, so the printed report and the
machine-readable record cannot disagree.
"""

from __future__ import annotations

import hashlib
import html
import json
from pathlib import Path

# Sign-off keys a config may give under ``report:`` (all optional); shown in this order.
REPORT_KEYS = {
    "commissioned_by": "Commissioned by",
    "purpose": "Purpose",
    "decision": "Decision the segments feed",
    "reviewer": "Reviewer",
}
# Placeholder the offline template writes where the block goes (see templates/offline).
MARKER = "<!-- workbench:provenance -->"


def config_hash(config: dict) -> str:
    """SHA-256 of the run's parameters as canonical JSON (keys sorted; private ``_`` keys left out).

    Two runs with the same hash were asked the same question of the same data source; the dataset
    fingerprint says whether the data itself was the same.
    """
    public = {k: v for k, v in config.items() if not str(k).startswith("_")}
    return hashlib.sha256(json.dumps(public, sort_keys=True, default=str).encode()).hexdigest()


def provenance_facts(config: dict, manifest: dict) -> dict:
    """The provenance and sign-off facts of a run, read from its config and manifest.

    Parameters
    ----------
    config : dict
        The resolved run config (``report:`` gives the optional sign-off fields).
    manifest : dict
        ``manifest.json`` content as built by the pipeline (``dataset``, ``versions``, ``dp_ledger``…).

    Returns
    -------
    dict
        ``dataset``, ``fingerprint``, ``config_sha256``, ``seed``, ``git_commit``, ``run_date``,
        ``software`` (name -> version), ``dp`` (budget and spend, or None), ``pseudonym_key``, and
        ``report`` (the sign-off fields given, with ``None`` for those left out).
    """
    dataset = manifest.get("dataset") or {}
    ledger = manifest.get("dp_ledger")
    report = config.get("report") or {}
    return {
        "dataset": dataset.get("name", config.get("name")),
        "source": dataset.get("source"),
        "fingerprint": dataset.get("fingerprint"),
        "pseudonym_key": dataset.get("pseudonym_key_origin"),
        "config_sha256": config_hash(config),
        "seed": manifest.get("seed", config.get("seed")),
        "git_commit": manifest.get("git_commit"),
        "run_date": manifest.get("started"),
        "software": {k: v for k, v in (manifest.get("versions") or {}).items() if v},
        "dp": None if not ledger else {
            "epsilon_budget": ledger.get("epsilon"),
            "delta_budget": ledger.get("delta"),
            "epsilon_spent": (ledger.get("spent") or {}).get("epsilon"),
            "delta_spent": (ledger.get("spent") or {}).get("delta"),
            "queries": len(ledger.get("queries") or []),
            "library": ledger.get("library"),
        },
        "report": {key: report.get(key) for key in REPORT_KEYS},
    }


def provenance_html(facts: dict) -> str:
    """The provenance and sign-off block (an HTML ``<footer>``) for one run's pages.

    A signature line is left blank for the reviewer; fields the config does not give read
    "not stated" so a missing purpose is visible rather than silently absent.
    """
    def row(label, value):
        shown = "not stated" if value in (None, "") else str(value)
        cls = ' class="muted"' if value in (None, "") else ""
        return f"<tr><th scope=\"row\">{html.escape(label)}</th><td{cls}>{html.escape(shown)}</td></tr>"

    rows = [row(label, facts["report"].get(key)) for key, label in REPORT_KEYS.items()]
    rows += [
        row("Dataset", f"{facts['dataset']} ({facts['source']})" if facts.get("source") else facts["dataset"]),
        row("Dataset fingerprint (SHA-256)", facts.get("fingerprint")),
        row("Config hash (SHA-256)", facts["config_sha256"]),
        row("Seed", facts.get("seed")),
        row("Git commit", facts.get("git_commit")),
        row("Run date (UTC)", facts.get("run_date")),
        row("Pseudonym key", facts.get("pseudonym_key")),
        row("Differential privacy", _dp_text(facts.get("dp"))),
        row("Software", ", ".join(f"{k} {v}" for k, v in facts["software"].items())),
    ]
    return (
        "<footer class=\"provenance\" role=\"contentinfo\" aria-label=\"Provenance and sign-off\">"
        "<h2 id=\"provenance\">Provenance and sign-off</h2>"
        "<table class=\"provenance-table\"><caption>How this report was produced (from manifest.json)</caption>"
        + "".join(rows)
        + "</table><p class=\"signature\">Reviewed and signed: ______________________ "
        "Date: ____________</p><p class=\"muted\">Parameters in full: <a href=\"manifest.json\">manifest.json</a>."
        "</p></footer>"
    )


def add_provenance(page: Path, block: str) -> None:
    """Put ``block`` into one exported page: at the template's marker, else before ``</body>``."""
    text = page.read_text()
    if MARKER in text:
        text = text.replace(MARKER, block, 1)
    else:
        text = text.replace("</body>", block + "</body>", 1)
    page.write_text(text)


def _dp_text(dp: dict | None) -> str:
    if not dp:
        return "no differentially private release in this run"
    return (
        f"epsilon {dp['epsilon_spent']:g} spent of {dp['epsilon_budget']:g}, delta {dp['delta_spent']:g} of "
        f"{dp['delta_budget']:g}, over {dp['queries']} queries ({dp['library']})"
    )
