"""Notebook 08's stage on a run: membership as of assignment, published counts, summary.json's 08_campaign."""

import json

import numpy as np
import pandas as pd

from workbench import campaign, privacy
from workbench.campaign.stage import EFFECT_FIELDS
from workbench.data import load_config
from workbench.pipeline import prepare


def test_summary_rows_carry_exactly_the_issue_fields_and_null_where_suppressed(campaign_run):
    run, result = campaign_run
    summary = json.loads((run.path / "summary" / "08_campaign.json").read_text())
    assert summary["applicable"] is True
    assert summary["effects"] and all(list(r) == EFFECT_FIELDS for r in summary["effects"])
    assert all(list(r) == ["campaign", "attribute", "verdict", "sentence"] for r in summary["verdicts"])
    assert {r["group"] for r in summary["effects"] if r["group"] is None} == {None}
    hidden = result.effects.loc[result.effects["suppressed"]]
    assert len(hidden)  # at 2,500 customers some small cells exist
    for r in summary["effects"]:
        if r["uplift"] is None:
            assert r["n_treatment"] is None and r["rate_control"] is None and r["uplift_low"] is None
    assert "customer_id" not in json.dumps(summary)


def test_every_count_is_registered_and_the_whole_run_attack_recovers_nothing(campaign_run):
    run, _ = campaign_run
    names = {p.stem for p in (run.path / "artifacts" / "disclosure").glob("*.parquet")}
    assert {"campaign_premium_offer_segment", "campaign_premium_offer_gender"} <= names
    check = privacy.disclosure_check(run)
    assert len(check.findings) == 0, check.findings


def test_the_targeted_segment_is_the_linked_policy_action_and_its_gap_is_found(campaign_run):
    run, result = campaign_run
    seginfo = run.read_json("artifacts/segments/segments.json")
    assert result.targeted == {"premium_offer": [seginfo["value_order"][-1]]}  # top_value: 1
    gender = result.verdicts.set_index("attribute").loc["gender"]
    assert gender["verdict"] in ("fail", "insufficient evidence")  # 2,500 customers: the gap shows, power is low
    assert "'non-binary'" in gender["sentence"]


def test_membership_is_taken_before_the_assignment_day(campaign_run):
    run, _ = campaign_run
    table = pd.read_parquet(run.path / "data" / "campaigns.parquet")
    before, how, inputs = campaign.segments_at_assignment(run, table)
    assert "before the day" in how
    tx_path = run.path / "data" / "transactions.parquet"
    tx = pd.read_parquet(tx_path)
    try:  # later behaviour changes nothing: drop every purchase on or after the assignment day
        tx.loc[tx["timestamp"] < table["assigned_at"].min()].to_parquet(tx_path, index=False)
        again, _, inputs_again = campaign.segments_at_assignment(run, table)
    finally:
        tx.to_parquet(tx_path, index=False)
    np.testing.assert_array_equal(before, again)
    pd.testing.assert_frame_equal(inputs, inputs_again)
    current = table["customer_id"].map(run.read_table("segments/assignments.parquet").set_index("customer_id")["segment"])
    assert (before == current.to_numpy()).mean() > 0.7  # six weeks before the end: mostly the same segments


def test_without_a_campaign_table_the_section_is_not_applicable(tmp_path):
    cfg = load_config(dataset="synthetic", overrides=["dataset.params.n_customers=300",
                                                      "dataset.params.campaign=false"])
    run = prepare(cfg, tmp_path / "run")
    result = campaign.campaign_run(run)
    assert not result.applicable and result.because == "no campaign table"
    summary = json.loads((run.path / "summary" / "08_campaign.json").read_text())
    assert summary["effects"] == [] and summary["verdicts"] == []


def test_a_campaign_is_linked_by_name_or_through_campaign_actions():
    from workbench.campaign.stage import _targeted

    names = {0: "low", 1: "mid", 2: "high"}
    policy = {"policy": {"premium_offer": {"top_value": 1}, "winback": {"names": ["low"]}}}
    assert _targeted("premium_offer", {"actions": {}}, policy, names, [0, 1, 2]) == ("premium_offer", [2])
    assert _targeted("spring_mail", {"actions": {"spring_mail": "winback"}}, policy, names, [0, 1, 2]) == ("winback", [0])
    assert _targeted("unlinked", {"actions": {}}, policy, names, [0, 1, 2]) == (None, [])


def test_telco_says_not_applicable_for_the_effect_and_for_the_kpis(tmp_path):
    run = prepare(load_config(dataset="telco"), tmp_path / "telco")
    assert campaign.campaign_run(run).because == "no campaign table"
    kpis, because = campaign.segment_kpis(run)
    assert kpis is None and because == "the dataset has no transactions"
    summary = json.loads((run.path / "summary" / "08_campaign.json").read_text())
    assert summary["applicable"] is False and summary["kpis_because"] == because


def test_every_campaign_number_and_figure_comes_from_the_printed_counts(campaign_run):
    """Issue 24: the strategies table, the effects and the uplift figure show nothing the published tables
    hide, and every count and rate shown is the printed (suppressed, perturbed) table's."""
    import matplotlib

    matplotlib.use("Agg")
    from workbench.campaign._effects import CELLS

    run, result = campaign_run
    strategies = privacy.printed_table(run, "campaign_premium_offer_strategies")
    rows = result.strategies.set_index("strategy")
    assert "everyone" in strategies.index and "policy" in strategies.index
    for name in strategies.index.drop("Total"):
        cells = strategies.loc[name, CELLS]
        if cells.isna().any():  # hidden in the table: hidden in the report (random follows the policy's contacts)
            assert rows.loc[name, ["contacts", "incremental_responders", "auuc"]].isna().all(), name
        else:
            assert rows.loc[name, "contacts"] == cells.sum()
            s1, f1, s0, f0 = cells
            assert np.isclose(rows.loc[name, "incremental_responders"], s1 - s0 * (s1 + f1) / (s0 + f0))
    segments = privacy.printed_table(run, "campaign_premium_offer_segment")
    eff = result.effects.loc[result.effects["attribute"].isna()]
    for r in eff.itertuples():
        cells = segments.loc[str(r.segment), CELLS]
        assert r.suppressed == cells.isna().any()
        if not r.suppressed:
            assert r.n_treatment == cells.iloc[0] + cells.iloc[1]
            assert np.isclose(r.rate_treatment, cells.iloc[0] / (cells.iloc[0] + cells.iloc[1]))
    fig = campaign.plot_uplift(result, "premium_offer")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    points = fig.axes[0].lines[0].get_xdata()  # the errorbar's markers: one per shown segment
    assert len(points) == int((~eff["suppressed"]).sum())
    assert [lab.endswith("(suppressed)") for lab in labels] == list(eff["suppressed"])
