"""The stage end to end: the planted proxy is caught (and the audit passes without it); no sensitive attribute."""

from __future__ import annotations

import pytest

from workbench import fairness, pipeline
from workbench.data import load_config


@pytest.mark.parametrize("strength,n", [(0.9, 5000), (0.0, 20000)])
def test_synthetic_planted_proxy(tmp_path, strength, n, prepared):
    """The planted proxy fails; without it the audit *passes* (equivalence shown) at the default size,
    20,000 customers (mitigation off: it does not change the verdicts, and costs most of the time)."""
    run = prepared(tmp_path, "synthetic", [
        f"dataset.params.n_customers={n}", f"dataset.params.proxy_strength={strength}", "dataset.params.seed=11",
        "fairness.policy={premium_offer: {top_value: 1}}", "fairness.mitigation.correlation_remover=false",
    ])
    audit = fairness.fairness_run(run)
    v = audit.verdicts.set_index(["action", "attribute"])
    proxies = audit.proxies.query("attribute == 'ethnicity'")
    summary = run.read_json("summary/04_fairness.json")
    assert [r["attribute"] for r in summary["verdicts"]] == ["gender", "age", "ethnicity", "gender × age"]
    if strength > 0:
        assert v.loc[("premium_offer", "ethnicity"), "verdict"] == "fail"
        assert "below 0.8 with 95% confidence" in v.loc[("premium_offer", "ethnicity"), "sentence"]
        assert proxies.iloc[0]["feature"] == "postcode" and proxies.iloc[0]["cramers_v"] > 0.5
        assert audit.proxy_joint.set_index("attribute").loc["ethnicity", "features_auc"] > 0.8
    else:
        assert v.loc[("premium_offer", "ethnicity"), "verdict"] == "pass"
        assert proxies.set_index("feature").loc["postcode", "cramers_v"] < 0.1
        # Same config, same summary (bootstrap, CV and refits are seeded from run.seed).
        fairness.fairness_run(run)
        assert run.read_json("summary/04_fairness.json") == summary
    # The summary carries no pseudonym.
    ids = set(run.customers()["customer_id"])
    assert not any(i in str(summary) for i in list(ids)[:500])


def test_cdnow_is_not_applicable(tmp_path):
    cfg = load_config(dataset="cdnow")
    run = pipeline.prepare(cfg, tmp_path / "cdnow", fresh=True)
    audit = fairness.fairness_run(run)
    assert not audit.applicable and "sensitive" in audit.reason
    assert run.read_json("summary/04_fairness.json")["verdicts"] == []


def test_published_verdicts_carry_the_value_and_interval_unless_suppressed():
    import numpy as np
    import pandas as pd

    from workbench.fairness.stage import published_verdicts

    v = pd.DataFrame({
        "action": ["offer", "offer"], "attribute": ["gender", "age"], "verdict": ["pass", "insufficient evidence"],
        "sentence": ["a", "b"], "reference": ["female", "30-45"], "family_size": [1, 3],
        "family": ["1 comparison against female that decides this verdict", "3 comparisons against 30-45 that decide this verdict"],
        "reference_by_rate": [False, False],
        "worst_group": ["male", "18-30"], "worst_ratio": [0.97, 0.7], "worst_ratio_low": [0.91, np.nan],
        "worst_ratio_high": [1.04, 1.1], "worst_masked": [False, True],
    })
    out = published_verdicts(v, alpha=0.05, correction="holm")
    first, second = out.to_dict(orient="records")
    assert (first["value"], first["interval_low"], first["interval_high"]) == (0.97, 0.91, 1.04)
    assert first["compared_group"] == "male" and first["level"] == 0.95 and first["family_size"] == 1
    # the suppressed group's numbers are withheld, as in its sentence
    assert second["value"] is None and second["interval_low"] is None and second["compared_group"] is None
    assert second["correction"] == "holm" and second["reference"] == "30-45"
