"""Exporting an executed notebook to a self-contained, offline HTML report with the code hidden."""

from __future__ import annotations

from pathlib import Path

import nbformat

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
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(ipynb), as_version=4)
    _keep_report_content(nb)
    exporter = HTMLExporter(
        template_name="offline",
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": _title(nb, ipynb.stem)}})
    html_path.write_text(body)


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


def _title(nb, fallback: str) -> str:
    """The notebook's first level-1 markdown heading, else ``fallback``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback
