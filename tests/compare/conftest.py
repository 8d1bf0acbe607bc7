"""Two runs of the synthetic world with a planted migration, one per half-year, under one persistent key.

``configs/synthetic_migration.yaml`` plants 30% of "Steady regulars" behaving like "Loyal high
spenders" from 2026-01-01. A period is expressed with ``dataset.since`` / ``dataset.as_of``: the
earlier run sees the twelve months 2025-01-01 … 2025-12-31, the later one 2025-07-01 … 2026-06-30
(both hold one holiday season, so seasonal shoppers stay seasonal), both segmented on transaction
behaviour with k = 5 (a re-audit keeps the number of segments). Only notebooks 02 and 04 run: the
comparison reads the segmentation and the fairness verdicts.
"""

from pathlib import Path

import pytest

from workbench import pipeline
from workbench.data import load_config

ROOT = Path(__file__).resolve().parents[2]
KEY = "test-key-not-secret-0123456789"  # the suite's fixed key (tests/conftest.py)
PERIODS = {"earlier": ("2025-01-01", "2025-12-31"), "later": ("2025-07-01", "2026-06-30")}
NOTEBOOKS = ["02_segmentation", "04_fairness_audit"]
# a behavioural re-audit: the same number of segments, transaction features only
SETTINGS = ["segmentation.k=5", "segmentation.features.customer_families=[]"]


@pytest.fixture(scope="session")
def migration_runs(tmp_path_factory) -> dict[str, Path]:
    """``{"earlier": run dir, "later": run dir}``: 4,000 customers, two half-years, one key."""
    root = tmp_path_factory.mktemp("compare_runs")
    out = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORKBENCH_PSEUDONYM_KEY", KEY)
        for name, (since, as_of) in PERIODS.items():
            # the later run names the earlier one: the pipeline writes compare.html and the index section
            compare = [f"report.compare_with={out['earlier']}"] if out else []
            cfg = load_config(config=ROOT / "configs" / "synthetic_migration.yaml", overrides=[
                "dataset.params.n_customers=4000", f"dataset.since='{since}'", f"dataset.as_of='{as_of}'",
                *SETTINGS, *compare,
            ])
            result = pipeline.run(cfg, root / name, notebooks=NOTEBOOKS, progress=lambda line: None)
            assert result.ok, result.message
            out[name] = result.out
    return out
