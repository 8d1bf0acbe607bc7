"""Display helpers for notebooks: reviewer-ready tables, figure alt text, one plot style, "not applicable" notes.

* :func:`table` turns a DataFrame into a table a reviewer reads: counts as integers, suppressed cells
  as "< k" with a footnote saying why, no pandas index artefacts, column names in words, long names
  wrapped, everything HTML-escaped.
* :func:`figure_alt` describes a matplotlib figure from its titles, axis labels and legend; with
  :func:`use_report_style` (called by ``open_run``) every inline figure carries it as alt text, which
  the offline HTML export writes into the ``<img alt=…>``.
* :func:`use_report_style` sets a colour-blind-safe palette (Okabe–Ito) and colour map (cividis) in one
  place for every figure.
* :func:`print_pdfs` prints HTML pages to PDF with Debian's headless Chromium, every network request
  refused: the run's ``audit.pdf`` and the per-customer statements both go through it.
"""

from __future__ import annotations

import html
import math
import os
import re
import shutil
from numbers import Number
from pathlib import Path

import pandas as pd

__all__ = ["CHROMIUM", "OKABE_ITO", "PDFUnavailable", "Table", "chromium_available", "figure_alt", "not_applicable",
           "print_pdfs", "table", "use_report_style"]

# Okabe & Ito (2008), distinguishable under the common colour-vision deficiencies.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


def not_applicable(section: str, because: str) -> None:
    """Show a clear "not applicable" note instead of failing a notebook section."""
    from IPython.display import Markdown, display

    display(Markdown(f"> **{section}: not applicable to this dataset**, because {because}."))


class Table:
    """A DataFrame prepared for reading: shown as a real HTML table in reports, as text in a console.

    Build it with :func:`table`. ``frame`` holds the display strings (what the report shows),
    ``footnotes`` the sentences printed under it.
    """

    def __init__(self, frame: pd.DataFrame, numeric: list[bool], caption: str | None, footnotes: list[str]):
        self.frame, self.numeric, self.caption, self.footnotes = frame, numeric, caption, footnotes

    def _repr_html_(self) -> str:
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        head = "".join(f"<th scope=\"col\">{html.escape(str(c))}</th>" for c in self.frame.columns)
        rows = []
        for values in self.frame.itertuples(index=False):
            cells = "".join(
                f"<td class=\"num\">{html.escape(v)}</td>" if num else f"<td>{html.escape(v)}</td>"
                for v, num in zip(values, self.numeric)
            )
            rows.append(f"<tr>{cells}</tr>")
        notes = "".join(f"<p class=\"wb-footnote\">{html.escape(n)}</p>" for n in self.footnotes)
        return (f"<table class=\"wb-table\">{cap}<thead><tr>{head}</tr></thead>"
                f"<tbody>{''.join(rows)}</tbody></table>{notes}")

    def __repr__(self) -> str:
        text = self.frame.to_string(index=False)
        return "\n".join([*( [self.caption] if self.caption else []), text, *self.footnotes])


def table(
    df: pd.DataFrame,
    *,
    k: int | None = None,
    names: dict | None = None,
    percent: tuple | list = (),
    decimals: int = 2,
    index: bool | None = None,
    caption: str | None = None,
    complementary: list | None = None,
) -> Table:
    """A reviewer-ready table from a DataFrame (counts, rates, names).

    Parameters
    ----------
    df : DataFrame
        The table to show. A meaningful index (named, or not a plain 0..n-1 range) becomes
        ordinary leading columns, so no second header row appears; column MultiIndexes are joined.
    k : int, optional
        The run's suppression threshold. Missing values are then shown as ``"< k"`` with a
        footnote saying why; without ``k`` they are shown as "–" ("not available").
    names : dict, optional
        Column name -> words. Columns not named get ``snake_case`` turned into words.
    percent : sequence of str
        Columns holding shares in [0, 1], shown as percentages with one decimal.
    decimals : int, default 2
        Decimals of non-integral numbers.
    index : bool, optional
        Force keeping (True) or dropping (False) the index; by default kept when meaningful.
    caption : str, optional
        A caption over the table.
    complementary : list of (row, column), optional
        The cells hidden only to protect a smaller cell (complementary suppression), by index label
        and column. Ignored when ``df.attrs["unmarked"]`` is true (one marker for every hidden cell:
        :func:`workbench.privacy.suppress_jointly` found that the two markers would narrow a hidden
        count). Default: ``df.attrs["complementary"]``, which
        :func:`workbench.privacy.suppress_counts` and :func:`~workbench.privacy.suppress_rows` set.
        With ``k`` these cells read ``"hidden†"`` and the others ``"< k"``, each with its footnote;
        without this knowledge every hidden cell reads ``"< k"`` with a footnote naming both reasons.

    Returns
    -------
    Table
        Displays as an HTML table (``<th scope="col">``, numbers right-aligned, long names
        wrapped, all text escaped) and prints as plain text.

    Examples
    --------
    In a notebook cell: ``report.table(counts, k=run_k, names={"n": "customers"})``. A column of
    floats that are all whole numbers (counts after a join that introduced NaN) prints ``530``,
    not ``530.0``; a suppressed count prints ``< 10``.
    """
    known = complementary if complementary is not None else df.attrs.get("complementary")
    if df.attrs.get("unmarked"):  # the mechanism found that printing why a cell is hidden would narrow it
        known = None
    frame = _flatten(df, index)
    guard = _flatten(_complement_mask(df, known or []), index)
    names = names or {}
    shown, numeric, used = {}, [], set()
    for col, guard_col in zip(frame.columns, guard.columns):
        values = frame[col]
        is_num = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        whole = is_num and bool(values.dropna().map(lambda v: float(v).is_integer()).all())
        fmt = _formatter(col in percent, whole, decimals)
        cells = [_cell(v, fmt, k, g is True) for v, g in zip(values, guard[guard_col])]
        used |= {c for c in cells if c in (_COMPLEMENT, f"< {k}", "–")}
        shown[_words(col, names)] = cells
        numeric.append(is_num)
    return Table(pd.DataFrame(shown, dtype=object), numeric, caption, _notes(used, k, known is not None))


#: How a cell hidden only to protect a smaller one reads (complementary suppression).
_COMPLEMENT = "hidden†"


def _complement_mask(df: pd.DataFrame, cells: list) -> pd.DataFrame:
    """True at the listed (row, column) cells; the index is kept so it flattens like ``df``."""
    mask = pd.DataFrame(False, index=df.index, columns=df.columns, dtype=object)
    for row, col in cells:
        if row in mask.index and col in mask.columns:
            mask.loc[row, col] = True
    return mask


def _notes(used: set, k: int | None, known: bool) -> list[str]:
    """Footnotes for the markers the table shows, and only those."""
    same = "The same cell is hidden in every table, figure and sentence of this run."
    notes = []
    if k is not None and f"< {k}" in used:
        notes.append(
            f"“< {k}”: fewer than {k} customers, hidden by small-cell suppression (privacy.suppression_k = {k}). {same}"
            if known else
            f"“< {k}”: hidden by small-cell suppression (privacy.suppression_k = {k}): the cell counts fewer "
            f"than {k} customers, or was hidden together with such a cell so that it cannot be worked out "
            f"from the totals. {same}"
        )
    if _COMPLEMENT in used:
        notes.append(f"“{_COMPLEMENT}”: hidden so that a smaller cell cannot be recovered from the totals (its own "
                     f"count may be {k} or more). {same}")
    if "–" in used:
        notes.append("“–”: not available for this row.")
    return notes


def _flatten(df: pd.DataFrame, index: bool | None) -> pd.DataFrame:
    """Index -> leading columns when meaningful; MultiIndex columns joined with " / "."""
    frame = df.copy()
    if isinstance(frame.columns, pd.MultiIndex):
        frame.columns = [" / ".join(str(p) for p in col if str(p)) for col in frame.columns]
    plain_range = isinstance(frame.index, pd.RangeIndex) and frame.index.name is None
    keep = (not plain_range) if index is None else index
    if keep:
        frame = frame.reset_index()
    else:
        frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _formatter(is_percent: bool, whole: bool, decimals: int):
    if is_percent:
        return lambda v: f"{100 * float(v):.1f}%"
    if whole:
        return lambda v: f"{int(round(float(v))):,}"
    return lambda v: f"{float(v):,.{decimals}f}"


def _cell(value, fmt, k: int | None, complementary: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT:
        if k is None:
            return "–"
        return _COMPLEMENT if complementary else f"< {k}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Number):
        return fmt(value)
    return str(value)


def _words(col: str, names: dict) -> str:
    if col in names:
        return str(names[col])
    text = str(col).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


# -- figures -------------------------------------------------------------------------------------------
def figure_alt(fig) -> str:
    """Alt text for a matplotlib figure, from what it shows: titles, axis labels and legend entries.

    Parameters
    ----------
    fig : matplotlib.figure.Figure

    Returns
    -------
    str
        For example ``"Figure: Segment sizes. Bar chart: x axis 'segment', y axis 'customers'."``.
    """
    parts = []
    sup = getattr(fig, "_suptitle", None)
    if sup is not None and sup.get_text():
        parts.append(sup.get_text())
    for ax in fig.get_axes():
        if not ax.get_visible() or ax.get_label() == "<colorbar>":
            continue
        bits = [ax.get_title()] if ax.get_title() else []
        kind = _chart_kind(ax)
        axes = [f"{name} axis '{label}'" for name, label in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())) if label]
        if kind == "Heatmap":
            rows = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
            cols = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
            axes += [f"{name}: {', '.join(ticks[:8])}{' …' if len(ticks) > 8 else ''}"
                     for name, ticks in (("rows", rows), ("columns", cols)) if ticks]
        if kind or axes:
            bits.append((kind + (": " if kind and axes else "") + ", ".join(axes)).strip())
        legend = ax.get_legend()
        if legend is not None:
            labels = [t.get_text() for t in legend.get_texts()][:8]
            if labels:
                bits.append("legend: " + ", ".join(labels))
        if bits:
            parts.append("; ".join(bits))
    text = ". ".join(p.rstrip(".") for p in parts if p)
    return ("Figure: " + text + ".") if text else "Figure (no title or axis labels)."


def _chart_kind(ax) -> str:
    if ax.images:
        return "Heatmap"
    if ax.patches and not ax.lines:
        return "Bar chart"
    if ax.collections and not ax.lines:
        return "Scatter plot"
    if ax.lines:
        return "Line chart"
    return ""


def use_report_style() -> None:
    """One plot style for every figure: colour-blind-safe colours, readable sizes, inline alt text.

    Sets matplotlib's colour cycle to Okabe–Ito and its default colour map to ``cividis``, and, in a
    Jupyter kernel using the inline backend, attaches :func:`figure_alt` to every figure shown, so
    the HTML export writes it as the image's alt text. Safe to call more than once.
    """
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams["axes.prop_cycle"] = cycler(color=OKABE_ITO)
    mpl.rcParams["image.cmap"] = "cividis"
    mpl.rcParams["figure.dpi"] = max(mpl.rcParams.get("figure.dpi", 72), 72)
    try:
        from matplotlib_inline import backend_inline
    except ImportError:  # no Jupyter here: colours are enough
        return
    original = getattr(backend_inline._fetch_figure_metadata, "__wrapped__", backend_inline._fetch_figure_metadata)

    def with_alt(fig):
        # The inline backend shows each figure with display(fig, metadata=this); nbconvert keeps it.
        metadata = dict(original(fig) or {})
        metadata["alt"] = figure_alt(fig)
        return metadata

    with_alt.__wrapped__ = original
    backend_inline._fetch_figure_metadata = with_alt


# -- printing ------------------------------------------------------------------------------------------
#: Debian's Chromium (apt-get install chromium); Playwright drives it, no browser is downloaded.
CHROMIUM = os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium")
_PDF_FOOTER = (
    "<div style=\"font-size:8px;width:100%;text-align:center;color:#555;font-family:sans-serif\">"
    "{title} — page <span class=\"pageNumber\"></span> of <span class=\"totalPages\"></span></div>"
)


class PDFUnavailable(RuntimeError):
    """Chromium or Playwright is missing: the HTML is complete, only the PDF could not be printed."""


def chromium_available() -> bool:
    """Whether Debian's Chromium and the Playwright driver are installed here."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return False
    return Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is not None


def print_pdfs(jobs: list[tuple[Path, Path, str]]) -> list[Path]:
    """Print HTML files to PDF with headless Chromium, offline, one browser for all of them.

    Every ``http(s)`` request is refused, so a page prints only what it holds (a self-contained page
    prints completely; nothing leaves the machine). A4, page numbers in the footer, headings as the
    PDF outline, tagged PDF (figures keep their alt text).

    Parameters
    ----------
    jobs : list of (html_path, pdf_path, title)
        Each page to print, where to write it, and the title shown in its footer.

    Returns
    -------
    list of Path
        The PDFs written, in order.

    Raises
    ------
    PDFUnavailable
        When Chromium or Playwright is not installed (``make`` installs both).

    Examples
    --------
    ``print_pdfs([(Path("statement-001.html"), Path("statement-001.pdf"), "Your segment statement")])``
    """
    if not chromium_available():
        raise PDFUnavailable(
            f"cannot print a PDF: Chromium ({CHROMIUM}) or the Python package playwright is missing; "
            "`make test` / `.ci/run` install them (apt-get install chromium poppler-utils)."
        )
    from playwright.sync_api import sync_playwright

    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for source, out, title in jobs:
                page = browser.new_page()
                page.route(re.compile(r"^https?://"), lambda route: route.abort())  # nothing leaves the machine
                page.goto(Path(source).resolve().as_uri(), wait_until="load")
                page.emulate_media(media="print")
                page.pdf(
                    path=str(out), format="A4", print_background=True, outline=True, tagged=True,
                    display_header_footer=True, header_template="<span></span>",
                    footer_template=_PDF_FOOTER.format(title=html.escape(title, quote=False)),
                    margin={"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"},
                )
                page.close()
                written.append(Path(out))
        finally:
            browser.close()
    return written
