"""Exporting an executed notebook to a self-contained, offline HTML report with the code hidden."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
REPORT_HIDDEN = "report-hidden"


def export_html(ipynb: Path, html_path: Path) -> None:
    """Export an executed notebook to self-contained HTML: code hidden, nothing loaded from the web.

    Parameters
    ----------
    ipynb : Path
        The executed notebook.
    html_path : Path
        Where the HTML page is written.
    """
    import nbformat

    nb = nbformat.read(str(ipynb), as_version=4)
    _keep_report_content(nb)
    _fill_missing_alt(nb)
    body, _ = _exporter().from_notebook_node(nb, resources={"metadata": {"name": _title(nb, ipynb.stem)}})
    html_path.write_text(body)


@lru_cache(maxsize=1)
def _exporter():
    """One exporter per process: building it (templates found, Jinja environment compiled) cost as much as
    an export itself, paid for each of a run's notebooks; what it writes depends only on the notebook."""
    from nbconvert import HTMLExporter

    return HTMLExporter(
        template_name="offline",
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )


def _keep_report_content(nb) -> None:
    """Drop cells tagged ``report-hidden`` and every output written to stderr (warnings, logs)."""
    # Cells tagged "report-hidden" print plain-text key numbers for nbval; the report shows the
    # same numbers as a table or figure, so they are left out of the HTML.
    nb.cells = [c for c in nb.cells if REPORT_HIDDEN not in c.get("metadata", {}).get("tags", [])]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [
                o for o in cell.get("outputs", [])
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]


def _fill_missing_alt(nb) -> None:
    """Give every figure without alt text one naming the section it illustrates.

    Figures shown through the inline backend carry :func:`workbench.report.figure_alt` (their titles,
    axes and legend); this covers the rest (e.g. an image displayed directly).
    """
    heading = "this report"
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.lstrip().startswith("#"):
                    heading = line.lstrip("# ").strip()
            continue
        for out in cell.get("outputs", []):
            if "image/png" in out.get("data", {}) and not (
                out.get("metadata", {}).get("alt") or out.get("metadata", {}).get("image/png", {}).get("alt")
            ):
                out.setdefault("metadata", {})["alt"] = f"Figure for the section “{heading}”."


def _title(nb, fallback: str) -> str:
    """The notebook's first level-1 markdown heading, else ``fallback``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback
