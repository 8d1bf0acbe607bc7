"""No ``nan`` in any headline (issue 25): every stage's summary sentences on small runs, cells suppressed.

A headline is what a reviewer reads first (index page, executive summary). A share derived from a
suppressed cell is NaN in the tables; a sentence must say it is not published instead of printing
"nan%". Each stage function runs on one small prepared run directory (no notebooks) whose small-cell
threshold hides many cells.
"""

from __future__ import annotations

import json
import re

from workbench.data import load_config
from workbench.pipeline import prepare

SMALL = ["dataset.params.n_customers=800", "dataset.params.seed=5", "segmentation.k_range=[2,4]",
         "segmentation.n_bootstrap=2", "segmentation.compare_learned=false", "fairness.n_boot=100",
         "fairness.proxy.max_rows=300", "explain.sample_size=300", "explain.surrogate.n_estimators=30"]
NAN = re.compile(r"\bnan\b|\bNone\b|\binf\b", re.IGNORECASE)


def _headlines(tmp_path, overrides) -> dict[str, list[str]]:
    from workbench import dynamics, explain, fairness, privacy, segment, value

    run = prepare(load_config(dataset="synthetic", overrides=[*SMALL, *overrides]), tmp_path / "run", fresh=True)
    for stage in (privacy.privacy_audit_run, segment.segment_run, explain.explain_run, fairness.fairness_run,
                  dynamics.dynamics_run, privacy.private_release_run, value.value_run):
        stage(run)
    out = {}
    for path in sorted((run.path / "summary").glob("*.json")):
        heads = json.loads(path.read_text()).get("headline")
        if heads:
            out[path.stem] = heads
    return out


def test_no_headline_prints_nan(tmp_path):
    heads = _headlines(tmp_path, ["privacy.suppression_k=30"])
    assert {"05_dynamics", "02_segmentation", "04_fairness"} <= set(heads), sorted(heads)
    bad = [(stage, line) for stage, lines in heads.items() for line in lines if NAN.search(line)]
    assert not bad, bad
