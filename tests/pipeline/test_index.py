"""The run and suite ``index.html`` pages, from a hand-made run folder (no notebook is executed)."""

import json

from workbench import pipeline

SUMMARY = {
    "dataset": "synthetic",
    "02_segmentation": {"headline": ["Five <segments>"]},
    "04_fairness_audit": {"headline": ["One gap"], "verdicts": [
        {"action": "offer", "attribute": "age", "verdict": "fail", "sentence": "gap & more"},
        {"action": "offer", "attribute": "sex", "verdict": "too few"},
    ]},
}


def _run_folder(tmp_path):
    folder = tmp_path / "small"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "prepare.json").write_text(json.dumps(
        {"dataset": "synthetic", "source": "generated", "n_customers": 1200, "n_transactions": 34567}
    ))
    (folder / "summary.json").write_text(json.dumps(SUMMARY))
    (folder / "01_data_privacy.html").write_text("")
    return folder


def test_run_index_shows_verdicts_headlines_and_each_notebook(tmp_path):
    folder = _run_folder(tmp_path)
    statuses = [
        {"notebook": "prepare", "status": "ok", "seconds": 1.0},
        {"notebook": "01_data_privacy", "status": "failed", "seconds": 2.0, "error": "ValueError: <x>"},
        {"notebook": "02_segmentation", "status": "not run", "seconds": 0.0, "error": ""},
    ]
    manifest = {"status": "failed", "started": "2024-01-01T00:00:00+00:00", "parameters": {"name": "small"}}
    pipeline.write_run_index(folder, {"name": "small"}, SUMMARY, statuses, manifest)
    page = (folder / "index.html").read_text()
    assert "1,200 customers" in page and "34,567 transactions" in page
    assert '<td class="fail">FAIL</td>' in page and '<td class="insufficient">INSUFFICIENT</td>' in page
    assert "Five &lt;segments&gt;" in page and "gap &amp; more" in page
    assert '<a href="01_data_privacy.html">01_data_privacy</a>' in page
    assert "ValueError: &lt;x&gt;" in page and '<td class="notrun">not run</td>' in page
    assert page.index("Executive summary") < page.index("Verdicts") < page.index("Headline results")


def test_suite_index_marks_incomplete_runs_failed(tmp_path):
    folder = _run_folder(tmp_path)
    result = pipeline.RunResult(out=folder, ok=False, message="notebook 01 failed")
    page = pipeline.write_suite_index(tmp_path, [("small", result, result.message)]).read_text()
    assert '<a href="small/index.html">small</a>' in page and '<td class="failed">failed</td>' in page
    assert "Five &lt;segments&gt;" in page and "notebook 01 failed" in page


def test_the_suite_starts_the_longest_runs_first_and_lists_them_in_its_own_order(tmp_path):
    """Runs of unknown length first, then longest first; two worker processes; the index in the given order.
    (Unknown datasets: each run ends at once with its input error, no notebook is executed.)"""
    from workbench.pipeline._run import SUITE, suite_order

    assert suite_order(SUITE) == ["synthetic", "telco_audit", "telco", "cdnow"]
    assert suite_order(["cdnow", "mine", "synthetic"]) == ["mine", "synthetic", "cdnow"]
    ok, index = pipeline.run_suite(tmp_path, names=["nope_b", "nope_a"], jobs=2)
    page = index.read_text()
    assert not ok and page.index("nope_b") < page.index("nope_a") and "No built-in config for dataset" in page
