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
