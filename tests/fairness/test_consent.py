"""Consent by purpose: an action that needs a consent selects only customers who gave it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import fairness
from workbench.data import InputError

POLICY = ("fairness.policy={premium_offer: {top_value: 1, consent: marketing_opt_in}, "
          "retention_discount: {bottom_value: 1}}")


def test_consent_by_purpose_changes_the_selected_set(tmp_path, prepared):
    run = prepared(tmp_path, "synthetic", ["dataset.params.n_customers=3000", "dataset.params.seed=5",
                                           "dataset.params.choices=false", POLICY,
                                           "fairness.intersections=[]", "fairness.mitigation.correlation_remover=false"])
    cust = run.customers()
    # The per-purpose flag data preparation keeps: women consent less often (a finding of its own).
    rng = np.random.default_rng(0)
    p = np.where(cust["gender"].astype(str) == "female", 0.4, 0.7)
    cust["consent_marketing_opt_in"] = rng.uniform(size=len(cust)) < p
    cust.to_parquet(run.path / "data" / "customers.parquet", index=False)
    audit = fairness.fairness_run(run)

    assign = run.read_table("segments/assignments.parquet").merge(cust, on="customer_id")
    seginfo = run.read_json("artifacts/segments/segments.json")
    top = seginfo["value_order"][-1]
    in_segment = assign["segment"].to_numpy() == top
    consent = assign["consent_marketing_opt_in"].to_numpy()
    policy = audit.policy.set_index("action")
    assert policy.loc["premium_offer", "customers_selected_share"] == pytest.approx((in_segment & consent).mean())
    bottom = assign["segment"].to_numpy() == seginfo["value_order"][0]
    assert policy.loc["retention_discount", "customers_selected_share"] == pytest.approx(bottom.mean())
    # The selected counts published per gender are those of segment AND consent (or suppressed).
    sel = audit.selection.query("action == 'premium_offer' and attribute == 'gender'").set_index("group")
    for g in sel.index:
        mask = assign["gender"].astype(str).to_numpy() == g
        # printed counts are perturbed by the cell-key method, by at most 2 (privacy.perturbation)
        assert np.isnan(sel.loc[g, "events"]) or abs(sel.loc[g, "events"] - (in_segment & consent & mask).sum()) <= 2
    # the exact counts behind the printed (perturbed) table: the registry's internal copy
    pub = run.read_table("privacy/exact_counts/selection_premium_offer_gender.parquet").set_index(["row", "column"])
    assert pub.loc[("Total", "selected"), "n"] == (in_segment & consent).sum() < in_segment.sum()
    # The audit shows consent rates by group.
    rates = fairness.consent_view(audit).loc[("marketing_opt_in", "gender")]
    # printed from the perturbed counts (issue 24): within a few customers' worth of the exact rate
    shown = float(rates.loc["female", "consent rate (CI)"].split("%")[0])
    assert shown == pytest.approx(100 * consent[assign["gender"] == "female"].mean(), abs=0.5)
    assert (run.path / "artifacts" / "disclosure" / "consent_marketing_opt_in_gender.parquet").exists()


def test_missing_consent_column_is_a_clear_error(tmp_path, prepared):
    run = prepared(tmp_path, "synthetic", ["dataset.params.n_customers=1000", POLICY])
    # a dataset whose preparation kept no marketing consent: the action that needs it cannot be audited
    path = run.path / "data" / "customers.parquet"
    pd.read_parquet(path).drop(columns=["consent_marketing_opt_in"]).to_parquet(path, index=False)
    roles = run.read_json("data/roles.json")
    roles["consent"] = {k: v for k, v in (roles.get("consent") or {}).items() if k != "marketing_opt_in"}
    run.write_json("data/roles.json", roles)
    with pytest.raises(InputError, match="consent_marketing_opt_in"):
        fairness.fairness_run(run)
