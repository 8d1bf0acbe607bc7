"""Outcome metrics and ThresholdOptimizer on telco."""

from __future__ import annotations

import pytest
from fairlearn.metrics import equalized_odds_difference


def test_telco_outcome_metrics_and_threshold_optimizer(telco_audit):
    run, audit = telco_audit
    assign = run.read_table("segments/assignments.parquet").merge(run.customers(), on="customer_id")
    summ = audit.outcome_summary.set_index(["action", "attribute"])
    ids = audit.policy.set_index("action").loc["retention_discount", "segment_ids"]
    selected = assign["segment"].isin(ids).astype(int)
    eo = equalized_odds_difference(assign["churn"], selected, sensitive_features=assign["female"])
    assert summ.loc[("retention_discount", "female"), "equalized_odds_difference"] == pytest.approx(eo, abs=1e-9)
    th = audit.threshold
    assert th is not None and set(th["attribute"]) == {"female", "senior_citizen"}
    constrained = th[th["rule"].str.contains("ThresholdOptimizer")]
    assert (constrained["equalized_odds_difference"] < 0.15).all()
