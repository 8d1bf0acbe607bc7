"""audit.pdf: headless Chromium (ours, via Playwright) against WeasyPrint on the same combined report.

Usage: ``python bench/bench_pdf.py RUN_DIR`` (a finished run directory). Prints time, size, page count,
whether the PDF is tagged and has an outline, and the time ratio. WeasyPrint is optional (not a
dependency): without it only Chromium is measured.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workbench.pipeline._pdf import combined_html, write_pdf


def _facts(pdf: Path) -> str:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    pages = re.search(r"Pages:\s+(\d+)", info)
    tagged = re.search(r"Tagged:\s+(\w+)", info)
    return (f"{pdf.stat().st_size / 1e6:.2f} MB, {pages.group(1) if pages else '?'} pages, "
            f"tagged {tagged.group(1) if tagged else '?'}, outline {'/Outlines' in pdf.read_bytes().decode('latin-1')}")


def main(run_dir: Path) -> None:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    notebooks = [s["notebook"] for s in manifest["timings"] if s["notebook"] != "prepare"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "chromium.pdf"
        t0 = time.perf_counter()
        write_pdf(run_dir, notebooks, "bench", out=out)
        t_chrome = time.perf_counter() - t0
        print(f"chromium:   {t_chrome:6.1f} s, {_facts(out)}")
        try:
            from weasyprint import HTML
        except ImportError:
            print("weasyprint: not installed (pip install weasyprint to compare)")
            return
        html = Path(tmp) / "audit.html"
        html.write_text(combined_html(run_dir, notebooks, "bench"))
        wp = Path(tmp) / "weasyprint.pdf"
        t0 = time.perf_counter()
        HTML(filename=str(html)).write_pdf(str(wp))
        t_wp = time.perf_counter() - t0
        print(f"weasyprint: {t_wp:6.1f} s, {_facts(wp)}")
        print(f"ratio: weasyprint / chromium = {t_wp / t_chrome:.1f}x")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
