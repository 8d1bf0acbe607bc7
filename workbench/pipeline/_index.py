"""The ``index.html`` pages: one per run, and one for a suite of runs (``reports/index.html``)."""

from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from ..compare import compare_runs, index_section, write_comparison
from ..data import InputError
from ._executive import executive_summary, verdict_rows
from ._provenance import provenance_html

if TYPE_CHECKING:
    from ._run import RunResult

# One stylesheet (screen and print) for the index pages and the notebook pages.
_CSS = (Path(__file__).resolve().parent / "templates" / "offline" / "report.css").read_text()


def write_run_index(folder: Path, config: dict, summary: dict, statuses: list[dict], manifest: dict) -> None:
    """One page per run: the executive summary first, then headlines, notebooks, parameters, provenance.

    Parameters
    ----------
    folder : Path
        The run directory (``data/prepare.json`` is read; ``index.html`` is written).
    config : dict
        The run's config (its ``name`` titles the page; ``report:`` gives purpose and sign-off fields).
    summary, manifest : dict
        The run's ``summary.json`` and ``manifest.json`` content (``manifest["provenance"]`` is shown).
    statuses : list of dict
        Per step: ``notebook``, ``status``, ``seconds`` and optionally ``error``.
    """
    name = html.escape(str(config["name"]))
    prep = json.loads((folder / "data" / "prepare.json").read_text())
    notebooks = [s["notebook"] for s in statuses if s["notebook"] != "prepare"]
    rows = "".join(_status_row(folder, s) for s in statuses)
    heads = "".join(f"<li>{html.escape(h)}</li>" for h in _headlines(summary))
    params = yaml.safe_dump(manifest["parameters"], sort_keys=False)
    status_css = "ok" if manifest["status"] == "complete" else "failed"
    body = f"""
<header><h1>Segmentation audit: {name}</h1>
<p>Run status: <b class="{status_css}">{manifest['status']}</b>, started {manifest['started']}.</p></header>
<main>
{executive_summary(config, summary, manifest, prep, notebooks)}
{comparison_section(folder, config, summary, manifest)}
<section aria-labelledby="headlines"><h2 id="headlines">Headline results</h2>
<ul>{heads or '<li class="muted">No headline results recorded.</li>'}</ul></section>
<section aria-labelledby="sections"><h2 id="sections">Report sections</h2>
<table><thead><tr><th scope="col">report</th><th scope="col">status</th><th scope="col">duration</th></tr></thead>
<tbody>{rows}</tbody></table>
<p>Printable: <a href="audit.pdf">audit.pdf</a> (this summary and every section, in order).</p></section>
<section aria-labelledby="parameters"><h2 id="parameters">Parameters</h2><pre>{html.escape(params)}</pre>
<p class="muted">Machine-readable: <a href="summary.json">summary.json</a>, <a href="manifest.json">manifest.json</a>.</p>
</section>
</main>
{provenance_html(manifest["provenance"]) if manifest.get("provenance") else ""}
"""
    (folder / "index.html").write_text(_page(f"Segmentation audit: {config['name']}", body))


def comparison_section(folder: Path, config: dict, summary: dict, manifest: dict) -> str:
    """"Compared with the previous audit", when the config names the earlier run (``report.compare_with``).

    Writes ``compare.html`` and ``compare.json`` into the run (``workbench compare``'s output); a
    comparison that cannot be made (the earlier run missing, another dataset or pseudonym key) does
    not fail the run: the section says why. A relative path is read from the config file's folder.
    """
    earlier = (config.get("report") or {}).get("compare_with")
    if not earlier:
        return ""
    path = Path(str(earlier)).expanduser()
    if not path.is_absolute():
        path = Path(config.get("_base_dir", ".")) / path
    try:
        comparison = compare_runs(path, folder, later_summary=summary, later_manifest=manifest)
        write_comparison(comparison, folder)
    except InputError as exc:
        return index_section(None, because=str(exc))
    return index_section(comparison)


def write_suite_index(reports: Path, results: list[tuple[str, RunResult | None, str]]) -> Path:
    """``reports/index.html``: one row per dataset with status, headline results and verdicts.

    Parameters
    ----------
    reports : Path
        The suite's folder.
    results : list of (name, RunResult or None, error)
        Per run: its name, its result (None when it never started, e.g. bad input) and an error message.

    Returns
    -------
    Path
        The page written.
    """
    rows = "".join(_suite_row(name, result, error) for name, result, error in results)
    body = (
        "<h1>Segmentation audit workbench: reports</h1>"
        f"<p class=\"muted\">Generated {datetime.now(timezone.utc).isoformat(timespec='seconds')}. "
        "Every report opens offline; code is hidden.</p>"
        "<table><thead><tr><th scope=\"col\">run</th><th scope=\"col\">status</th>"
        "<th scope=\"col\">headline results</th></tr></thead><tbody>" + rows + "</tbody></table>"
    )
    body = f"<main>{body}</main>"
    path = reports / "index.html"
    path.write_text(_page("Segmentation audit workbench", body))
    return path


def _status_row(folder: Path, s: dict) -> str:
    """A notebook's row on the run page: link to its report, status (with the error), duration."""
    nb = s["notebook"]
    link = f"<a href=\"{nb}.html\">{nb}</a>" if (folder / f"{nb}.html").exists() else nb
    if not s.get("error"):
        return (
            f"<tr><td>{link}</td><td class=\"{s['status'].replace(' ', '')}\">{s['status']}</td>"
            f"<td>{s['seconds']:.1f} s</td></tr>"
        )
    err = f"<br><span class=\"muted\">{html.escape(s.get('error') or '')}</span>"
    return f"<tr><td>{link}</td><td class=\"failed\">{s['status']}{err}</td><td>{s['seconds']:.1f} s</td></tr>"


def _suite_row(name: str, result: RunResult | None, error: str) -> str:
    """A run's row on the suite page: link, status, first headlines and verdicts, error."""
    folder = result.out if result else None
    status = "complete" if result and result.ok else "failed"
    link = f"<a href=\"{folder.name}/index.html\">{html.escape(name)}</a>" if folder else html.escape(name)
    details = ""
    if folder and (folder / "summary.json").exists():
        summary = json.loads((folder / "summary.json").read_text())
        heads = "".join(f"<li>{html.escape(h)}</li>" for h in _headlines(summary)[:6])
        details = f"<ul>{heads}</ul>{_verdict_table(verdict_rows(summary))}"
    if error:
        details += f"<p class=\"failed\">{html.escape(error)}</p>"
    return f"<tr><td>{link}</td><td class=\"{'ok' if status == 'complete' else 'failed'}\">{status}</td><td>{details}</td></tr>"


def _page(title: str, body: str) -> str:
    return (
        f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body class=\"wb-index\">\n{body}\n</body></html>\n"
    )


def _verdict_table(rows: list[dict]) -> str:
    """The suite page's compact verdict list (a run's own page has the full table)."""
    if not rows:
        return ""
    out = ["<table><caption>Fairness verdicts</caption><thead><tr><th scope=\"col\">action</th>"
           "<th scope=\"col\">attribute</th><th scope=\"col\">verdict</th><th scope=\"col\">why</th></tr></thead><tbody>"]
    for r in rows:
        v = str(r.get("verdict", ""))
        css = {"pass": "pass", "fail": "fail"}.get(v, "insufficient")
        out.append(
            f"<tr><td>{html.escape(str(r.get('action', '')))}</td><td>{html.escape(str(r.get('attribute', '')))}</td>"
            f"<td class=\"{css}\">{html.escape(v)}</td><td>{html.escape(str(r.get('sentence', '')))}</td></tr>"
        )
    out.append("</tbody></table>")
    return "\n".join(out)


def _headlines(summary: dict) -> list[str]:
    """Every stage's headline sentences, stages in name order."""
    lines = []
    for stage in sorted(k for k in summary if isinstance(summary[k], dict)):
        lines.extend(str(h) for h in summary[stage].get("headline", []) or [])
    return lines
