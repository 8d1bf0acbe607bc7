"""audit.pdf's source: the run's pages joined into one printable document (links kept inside it)."""

import shutil
import subprocess

import pytest

from workbench.pipeline._pdf import chromium_available, combined_html, write_pdf

INDEX = ('<html><head><style>.x{}</style></head><body><header><h1>Audit</h1></header><main>'
         '<h2>Executive summary</h2><a href="01_a.html">a</a></main>'
         '<footer class="provenance" role="contentinfo"><h2>Provenance and sign-off</h2></footer></body></html>')
PAGE = ('<html><head><style>.lab{}</style></head><body><main><h1>Section A</h1><img src="data:," alt="Figure: A">'
        '</main><footer class="provenance" role="contentinfo"><h2>Provenance and sign-off</h2></footer></body></html>')


def _folder(tmp_path):
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "01_a.html").write_text(PAGE)
    return tmp_path


def test_pages_are_joined_in_order_with_one_provenance_block(tmp_path):
    doc = combined_html(_folder(tmp_path), ["01_a", "02_missing"], "Audit <x>")
    assert doc.index("Executive summary") < doc.index("Section A")
    assert doc.count("Provenance and sign-off") == 1 and doc.index("Section A") < doc.index("Provenance")
    assert 'href="#page-01_a"' in doc and 'id="page-01_a"' in doc  # a link between pages stays in the PDF
    assert "<title>Audit &lt;x&gt;</title>" in doc and ".x{}" in doc and ".lab{}" in doc
    assert doc.count("<main>") == 1 and "<h1>Audit</h1>" in doc and 'lang="en"' in doc


@pytest.mark.skipif(not chromium_available() or shutil.which("pdftotext") is None,
                    reason="needs Debian's chromium and poppler-utils (`make browser`)")
def test_pdf_is_printed_offline_with_page_numbers(tmp_path):
    pdf = write_pdf(_folder(tmp_path), ["01_a"], "Audit")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Executive summary" in text and "Section A" in text and "page 2 of 2" in text


def _verdict_summary(n_checks: int) -> dict:
    """``n_checks`` real verdict rows (sentences from the verdict rule itself), as summary.json holds them."""
    import numpy as np
    import pandas as pd

    from workbench import fairness
    from workbench.fairness.stage import published_verdicts

    rng = np.random.default_rng(3)
    labels = ["women × 18–29", "men × 18–29", "women × 30–44", "men × 30–44", "women × 45–59", "men × 45–59"]
    parts = []
    for i in range(n_checks):
        n = rng.integers(200, 4000, len(labels))
        s = rng.binomial(n, rng.choice([0.1, 0.2], len(labels)) * rng.uniform(0.6, 1.0, len(labels)))
        parts.append(fairness.compare_counts(labels, n, s).assign(action=f"offer_{i}", attribute="gender × age"))
    band = {"ratio": [0.8, 1.25], "difference": 0.1}
    v = fairness.verdicts(pd.concat(parts, ignore_index=True), thresholds=band, min_group_size=30, alpha=0.05)
    return {"04_fairness": {"verdicts": published_verdicts(v, 0.05, "holm").to_dict(orient="records")}}


@pytest.mark.skipif(not chromium_available() or shutil.which("pdftotext") is None,
                    reason="needs Debian's chromium and poppler-utils (`make browser`)")
def test_printed_verdict_table_gives_the_sentence_the_width_and_fits_two_pages(tmp_path):
    """Issue 25: with the finding in a column of its own, 12 verdicts filled 6 A4 pages. Now each finding
    spans the table: 16 verdicts with long intersection sentences take at most 2 pages, and every
    sentence is printed word for word."""
    import re
    from importlib.resources import files

    from workbench.pipeline._executive import verdict_table

    summary = _verdict_summary(16)
    css = (files("workbench.pipeline") / "templates" / "offline" / "report.css").read_text()
    (tmp_path / "index.html").write_text(
        f"<html><head><style>{css}</style></head><body class=\"wb-index\"><main><h2>Executive summary</h2>"
        f"{verdict_table(summary, {}, ['04_fairness_audit'])}"
        "<h2 style=\"break-before:page\">After the verdicts</h2></main></body></html>")
    pdf = write_pdf(tmp_path, [], "Audit")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert pages - 1 <= 2, f"the verdict table takes {pages - 1} pages"
    text = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout.split())
    for row in summary["04_fairness"]["verdicts"]:
        assert " ".join(row["sentence"].split()) in text, row["sentence"]
