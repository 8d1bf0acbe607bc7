"""Per-customer statements: seconds per statement for the HTML alone and with its PDF.

Usage: ``python bench/bench_statements.py RUN_DIR IDS_FILE`` (a finished run made with a persistent
pseudonym key, and a file of raw ids, one per line). Prints, per statement: HTML only; HTML and PDF with
one offline Chromium for all statements (what ``workbench statement`` does); and the reference of one
Chromium started per statement (``print_pdfs`` called once per file), with the ratio.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from workbench.report import print_pdfs
from workbench.statement import read_ids, statements_run


def main(run_dir: Path, ids_file: Path) -> None:
    ids = read_ids(ids_file)
    with tempfile.TemporaryDirectory() as tmp:
        statements_run(run_dir, ids[:1], Path(tmp) / "warm", pdf=False, draft=True)  # first read of the run's artifacts
        t0 = time.perf_counter()
        html = statements_run(run_dir, ids, Path(tmp) / "html", pdf=False, draft=True)
        t_html = time.perf_counter() - t0
        n = sum(r["status"] == "written" for r in html)
        if not n:
            raise SystemExit("no id of the file is in the run: nothing to measure")
        t0 = time.perf_counter()
        statements_run(run_dir, ids, Path(tmp) / "pdf", pdf=True, draft=True)
        t_pdf = time.perf_counter() - t0
        files = [Path(r["file"]) for r in html if r["status"] == "written"]
        t0 = time.perf_counter()
        for f in files:  # reference: a browser per statement
            print_pdfs([(f, f.with_suffix(".pdf"), "Your segment statement")])
        t_each = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in (Path(tmp) / "pdf").glob("*.pdf")) / n / 1024
    print(f"{n} statements")
    print(f"HTML only:                       {t_html / n:6.2f} s per statement")
    print(f"HTML + PDF, one browser:         {t_pdf / n:6.2f} s per statement ({size:.0f} KB per PDF)")
    print(f"PDF only, a browser per file:    {t_each / n:6.2f} s per statement (reference)")
    print(f"ratio reference / ours (PDF part): {t_each / max(t_pdf - t_html, 1e-9):.1f}x")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
