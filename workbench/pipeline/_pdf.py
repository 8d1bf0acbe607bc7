"""One printable PDF per run (``audit.pdf``): the executive summary, then every report section in order.

Headless Chromium prints it (Debian's ``chromium`` at :data:`CHROMIUM`, driven by Playwright; no browser
download, no network): page numbers in the footer, headings as the PDF outline (bookmarks), a tagged PDF
whose figures keep their alt text. The pages are joined into one HTML document first, so page numbers
run through and links between sections become links inside the PDF. Why Chromium rather than
WeasyPrint: see CONTRIBUTING (pipeline) and ``bench/bench_pdf.py``.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from ..report import CHROMIUM, PDFUnavailable, chromium_available, print_pdfs  # noqa: F401 (re-exported)

_STYLE = re.compile(r"<style[^>]*>.*?</style>", re.S | re.I)
_MAIN = re.compile(r"<main[^>]*>(.*)</main>", re.S | re.I)
_HEADER = re.compile(r"<header>(.*?)</header>", re.S)
_FOOTER_BLOCK = re.compile(r"<footer class=\"provenance\".*?</footer>", re.S)


def combined_html(folder: Path, notebooks: list[str], title: str) -> str:
    """The run's pages as one printable HTML document.

    Parameters
    ----------
    folder : Path
        The run directory holding ``index.html`` and ``<notebook>.html``.
    notebooks : list of str
        The sections, in order (missing pages are skipped).
    title : str
        The document title (also in the PDF's metadata).

    Returns
    -------
    str
        One HTML document: the index page's main content (executive summary first), then each
        section on a new page, then the provenance block once; links between pages point inside.
    """
    index = (folder / "index.html").read_text()
    pages = [(nb, (folder / f"{nb}.html").read_text()) for nb in notebooks if (folder / f"{nb}.html").exists()]
    styles = []
    for text in [index, *(t for _, t in pages[:1])]:
        styles.extend(_STYLE.findall(text.split("</head>", 1)[0]))
    header = _HEADER.search(index)
    parts = [f"<section id=\"page-index\">{header.group(1) if header else ''}{_main(index)}</section>"]
    for nb, text in pages:
        parts.append(f"<section id=\"page-{nb}\" class=\"wb-pagebreak jp-Notebook\">{_main(text)}</section>")
    footer = _FOOTER_BLOCK.search(index)
    body = "\n".join(parts) + (footer.group(0) if footer else "")
    for nb, _ in pages:
        body = body.replace(f"href=\"{nb}.html\"", f"href=\"#page-{nb}\"")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{_escape(title)}</title>{''.join(styles)}"
        "<style>.wb-pagebreak{break-before:page}</style></head>"
        f"<body class=\"wb-index\"><main>{body}</main></body></html>\n"
    )


def write_pdf(folder: Path, notebooks: list[str], title: str, out: Path | None = None) -> Path:
    """Print the run's report to ``audit.pdf`` with headless Chromium, offline.

    Parameters
    ----------
    folder : Path
        The run directory.
    notebooks : list of str
        The sections, in order.
    title : str
        Shown in the page footer and the PDF metadata.
    out : Path, optional
        Where to write (default ``folder / "audit.pdf"``).

    Returns
    -------
    Path
        The PDF written.

    Raises
    ------
    PDFUnavailable
        When Chromium or Playwright is not installed (``make`` installs both).
    """
    out = out or folder / "audit.pdf"
    with tempfile.TemporaryDirectory(prefix="wb-pdf-") as tmp:
        source = Path(tmp) / "audit.html"
        source.write_text(combined_html(folder, notebooks, title))
        print_pdfs([(source, out, title)])
    return out


def _main(text: str) -> str:
    """The content of a page's ``<main>`` (the whole body when there is none), provenance removed."""
    m = _MAIN.search(text)
    inner = m.group(1) if m else text.split("<body", 1)[-1].split(">", 1)[-1].rsplit("</body>", 1)[0]
    return _FOOTER_BLOCK.sub("", inner)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
