"""Selection rates and demographic parity of the telco audit agree with Fairlearn to 1e-9."""

from __future__ import annotations

import numpy as np
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    selection_rate,
)

from workbench import fairness


def test_telco_selection_and_dp_agree_with_metricframe(telco_audit):
    run, audit = telco_audit
    cust = run.customers()
    assign = run.read_table("segments/assignments.parquet").merge(cust, on="customer_id")
    seginfo = run.read_json("artifacts/segments/segments.json")
    policy = fairness.resolve_policy(fairness.DEFAULTS["policy"], {int(k): v for k, v in seginfo["names"].items()},
                                     seginfo["value_order"])
    sel_table = run.read_table("fairness/selection.parquet")
    dp = run.read_table("fairness/dp.parquet").set_index(["action", "attribute"])
    checked = 0
    for action, ids in policy.items():
        selected = assign["segment"].isin(ids).astype(int).to_numpy()
        for attr in ["female", "senior_citizen"]:
            labels = (run.config.get("fairness") or {}).get("labels", {}).get(attr)
            sf = fairness.group_labels(assign[attr], labels=labels).astype(str).to_numpy()
            mf = MetricFrame(metrics=selection_rate, y_true=selected, y_pred=selected, sensitive_features=sf)
            ours = sel_table.query("action == @action and attribute == @attr").set_index("group")["rate"]
            assert set(ours.index) == set(mf.by_group.index)
            np.testing.assert_allclose(ours.to_numpy(), mf.by_group.reindex(ours.index).to_numpy(), atol=1e-9, rtol=0)
            assert abs(dp.loc[(action, attr), "dp_difference"]
                       - demographic_parity_difference(selected, selected, sensitive_features=sf)) < 1e-9
            assert abs(dp.loc[(action, attr), "dp_ratio"]
                       - demographic_parity_ratio(selected, selected, sensitive_features=sf)) < 1e-9
            checked += 1
    assert checked == 4
    assert set(audit.verdicts["verdict"]) <= {"pass", "fail", "insufficient evidence"}
    assert audit.verdicts["sentence"].str.len().min() > 40
