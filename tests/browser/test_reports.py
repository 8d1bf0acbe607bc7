"""A small run's reports in a real browser (Debian's Chromium through Playwright), with the network off.

Every page loads with no console error and no attempt to reach the network, has ``lang``, a ``main``
landmark, headings, alt text on every image and real tables; screenshots of the index and one notebook
are kept under the test's temporary folder. ``audit.pdf`` holds every verdict sentence (``pdftotext``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from workbench import pipeline
from workbench.pipeline._executive import verdict_rows
from workbench.pipeline._pdf import CHROMIUM, chromium_available

pytestmark = pytest.mark.skipif(
    not chromium_available(),
    reason=f"Debian's Chromium ({CHROMIUM}) or playwright is not installed: run `make browser` "
           "(apt-get install chromium poppler-utils)",
)
@pytest.fixture()
def run_dir(small_synthetic_run):
    """The session's end-to-end run (tests/conftest.py), signed off with a purpose and a reviewer."""
    assert small_synthetic_run.ok, small_synthetic_run.message
    return small_synthetic_run.out


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _visit(browser, path):
    """Open one page offline; return the page, its console errors and the network requests attempted."""
    context = browser.new_context()
    attempted, errors = [], []
    context.route(re.compile(r"^https?://"), lambda route: (attempted.append(route.request.url), route.abort()))
    page = context.new_page()
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(path.as_uri(), wait_until="load")
    return context, page, errors, attempted


def test_every_page_loads_offline_accessibly(run_dir, browser, tmp_path):
    pages = [run_dir / "index.html", *(run_dir / f"{nb}.html" for nb in pipeline.NOTEBOOKS)]
    for path in pages:
        context, page, errors, attempted = _visit(browser, path)
        try:
            assert not errors, f"{path.name}: console errors {errors}"
            assert not attempted, f"{path.name} tried to reach the network: {attempted}"
            assert page.evaluate("document.documentElement.lang") == "en", path.name
            assert page.locator("main").count() == 1, f"{path.name}: one main landmark"
            assert page.locator("h1, h2").count() >= 1, f"{path.name}: no heading"
            missing = page.evaluate("[...document.images].filter(i => !(i.alt || '').trim()).length")
            assert missing == 0, f"{path.name}: {missing} image(s) without alt text"
            assert page.locator("footer[role=contentinfo] >> text=Provenance and sign-off").count() == 1, path.name
            broken = page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0).length")
            assert broken == 0, f"{path.name}: {broken} image(s) failed to load"
            if path.name == "index.html":
                page.screenshot(path=str(tmp_path / "index.png"), full_page=True)
                # check, threshold, value, 95% interval, test, verdict, evidence; the finding spans a row below
                assert page.locator("table.verdicts th[scope=col]").count() == 7
                assert page.locator("h2").first.inner_text() == "Executive summary"
            if path.name == "02_segmentation.html":
                page.screenshot(path=str(tmp_path / "02_segmentation.png"), full_page=True)
                alts = page.evaluate("[...document.images].map(i => i.alt)")
                assert alts and any("axis" in a for a in alts), alts  # described from the figure itself
        finally:
            context.close()
    assert (tmp_path / "index.png").stat().st_size > 10_000
    assert (tmp_path / "02_segmentation.png").stat().st_size > 10_000


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext missing: apt-get install poppler-utils")
def test_audit_pdf_holds_every_verdict_sentence(run_dir):
    pdf = run_dir / "audit.pdf"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["pdf"] == "audit.pdf" and "audit.pdf" in manifest["output_sha256"]
    text = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True)
                    .stdout.split())
    summary = json.loads((run_dir / "summary.json").read_text())
    sentences = [v["sentence"] for part in summary.values() if isinstance(part, dict)
                 for v in part.get("verdicts", []) or []]
    assert sentences, "the small run has fairness verdicts"
    for sentence in sentences:
        assert " ".join(sentence.split()) in text, sentence
    assert text.index("Executive summary") < text.index("Provenance and sign-off")
    assert "Quarterly fairness audit" in text and manifest["provenance"]["config_sha256"] in text.replace(" ", "")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Tagged:\s+yes", info)
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert f"page {pages} of {pages}" in text  # page numbers in the footer
    assert b"/Outlines" in pdf.read_bytes()  # headings as the PDF outline (bookmarks)
    outline = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True)
    assert "Executive summary" in outline.stdout  # the summary is the first page
    # issue 25: the printed verdict table (each finding across the page's width) takes at most 2 pages
    page_texts = [subprocess.run(["pdftotext", "-f", str(i), "-l", str(i), str(pdf), "-"], capture_output=True,
                                 text=True, check=True).stdout for i in range(1, pages + 1)]
    first = next(i for i, t in enumerate(page_texts) if "Verdicts" in t)
    last_finding = verdict_rows(summary)[-1]["sentence"]  # the table's last row (each verdict stays on one page)
    tail = " ".join(last_finding.split()[-6:])
    last = next(i for i, t in enumerate(page_texts) if tail in " ".join(t.split()))
    assert last - first + 1 <= 2, f"the verdict table spans pages {first + 1}–{last + 1}"


def test_compare_page_loads_offline_accessibly(run_dir, browser, tmp_path):
    """``workbench compare`` of the run with itself: the page works offline and reads "No change"."""
    from workbench.compare import compare_runs, write_comparison

    page_path, _ = write_comparison(compare_runs(run_dir, run_dir), tmp_path / "compare")
    context, page, errors, attempted = _visit(browser, page_path)
    try:
        assert not errors and not attempted, (errors, attempted)
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.locator("main").count() == 1 and page.locator("h1").count() == 1
        assert page.locator("h2").count() >= 5 and page.locator("table th[scope=col]").count() > 10
        assert page.locator("text=No change").count() >= 1
        page.screenshot(path=str(tmp_path / "compare.png"), full_page=True)
    finally:
        context.close()
