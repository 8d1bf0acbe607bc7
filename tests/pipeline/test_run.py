"""End-to-end: ``pipeline.run`` on a small synthetic world; the run directory, its reports, failures."""

import copy
import hashlib
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from workbench import pipeline

EXTERNAL = re.compile(r"""(src|href)\s*=\s*["']?(https?:)?//""", re.IGNORECASE)


@pytest.fixture()
def small_run(small_synthetic_run):
    """The session's end-to-end run (tests/conftest.py): synthetic, 1,500 customers, every notebook."""
    return small_synthetic_run


def test_run_directory_is_complete_and_self_describing(small_run):
    assert small_run.ok, small_run.message
    out = small_run.out
    for name in pipeline.NOTEBOOKS:
        assert (out / f"{name}.ipynb").exists() and (out / f"{name}.html").exists(), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["seed"] == 42
    assert manifest["parameters"]["dataset"]["params"]["n_customers"] == 1500
    assert manifest["versions"]["pandas"] and manifest["versions"]["fairlearn"]
    assert manifest["dataset"]["fingerprint"]
    assert [t["notebook"] for t in manifest["timings"]] == ["prepare", *pipeline.NOTEBOOKS]
    assert all(t["cpu_seconds"] > 0 for t in manifest["timings"][1:])  # the kernel's, per notebook
    for rel, digest in manifest["output_sha256"].items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest, rel
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dataset"] == "synthetic"
    assert summary["n_customers"] == summary["privacy"]["customers_kept"]
    index = (out / "index.html").read_text()
    for name in pipeline.NOTEBOOKS:
        assert f'href="{name}.html"' in index
    assert "complete" in index


def test_the_whole_run_disclosure_check_covers_every_published_table(small_run):
    """Stage 07 publishes after notebook 06's check: the summary's check is made again at the end, over
    every registered table, each linked to the tables of its population (none attacked alone)."""
    out = small_run.out
    registered = sorted(p.stem for p in (out / "artifacts" / "disclosure").glob("*.parquet"))
    assert any(name.startswith("value_") for name in registered)
    summary = json.loads((out / "summary.json").read_text())["disclosure"]
    check = json.loads((out / "artifacts" / "privacy" / "disclosure_check.json").read_text())
    assert summary["tables"] == check["tables"] == len(registered)
    assert check["conflicts"] == [] and check["unlinked_tables"] == [] and summary["recoverable_cells"] == 0


def test_reports_load_nothing_from_the_internet(small_run):
    pages = list(small_run.out.glob("*.html"))
    assert len(pages) >= len(pipeline.NOTEBOOKS) + 1
    for page in pages:
        text = page.read_text()
        assert not EXTERNAL.search(text), f"{page.name} references an external resource"
        assert "cdnjs" not in text and "require.js" not in text


def test_reports_hide_code(small_run):
    html = (small_run.out / "02_segmentation.html").read_text()
    assert "workbench.open_run(" not in html
    assert "import workbench" not in html and "run_dir =" not in html


def test_same_config_gives_identical_summary(small_run, small_synthetic_config, tmp_path):
    again = pipeline.run(copy.deepcopy(small_synthetic_config), tmp_path / "again", progress=lambda m: None)
    assert again.ok, again.message
    assert (again.out / "summary.json").read_text() == (small_run.out / "summary.json").read_text()


def _broken_notebooks(tmp_path: Path) -> Path:
    folder = tmp_path / "notebooks"
    shutil.copytree(pipeline.NOTEBOOK_DIR, folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    nb = nbformat.read(folder / "02_segmentation.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell('raise RuntimeError("planted failure")'))
    nbformat.write(nb, folder / "02_segmentation.ipynb")
    return folder


def test_failing_notebook_keeps_evidence_and_never_damages_a_complete_run(small_run, small_synthetic_config, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(small_run.out, out)
    before = (out / "summary.json").read_text()
    broken = _broken_notebooks(tmp_path)
    result = pipeline.run(
        copy.deepcopy(small_synthetic_config), out, progress=lambda m: None,
        notebooks=pipeline.NOTEBOOKS[:3], notebook_dir=broken,
    )
    assert not result.ok
    assert "planted failure" in result.message
    assert (out / "summary.json").read_text() == before  # earlier complete run untouched
    failed = result.out
    assert failed.name == "run.failed"
    executed = nbformat.read(failed / "02_segmentation.ipynb", as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors and errors[0].evalue == "planted failure"
    index = (failed / "index.html").read_text()
    assert "failed" in index and "not run" in index
    assert json.loads((failed / "manifest.json").read_text())["status"] == "failed"
    assert not list(tmp_path.glob(".run.tmp-*"))  # no temporary folder left behind


def test_suite_index_links_every_run_and_shows_failures(small_run, tmp_path):
    reports = small_run.out.parent
    index = pipeline.write_suite_index(reports, [("small", small_run, ""), ("broken", None, "Input error in table 'customers'")])
    text = index.read_text()
    assert 'href="small/index.html"' in text
    assert "Input error in table" in text and "failed" in text
    assert not EXTERNAL.search(text)
