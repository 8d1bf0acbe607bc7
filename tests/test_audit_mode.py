"""Audit mode: segments given as labels (a CRM/CDP export) are profiled, explained and audited, not fitted."""

import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import workbench
from workbench import data, dynamics, explain, fairness, segment
from workbench import features as feat
from workbench.cli import app
from workbench.data import load_config
from workbench.pipeline import run as run_pipeline
from workbench.rundir import Run

N_MISSING, N_UNKNOWN = 5, 3
MIGRATION = {"source": "Steady regulars", "target": "Loyal high spenders", "share": 0.3, "at": "2025-10-01"}


def _overlap(top: list[str], wanted: list[str]) -> float:
    return len(set(top) & set(wanted)) / len(wanted)


def test_given_segment_ids_follow_value_and_keep_unlabelled_last():
    labels = np.array(["b", "a", "unlabelled", "c", "a", "b"])
    values = np.array([5.0, 1.0, 100.0, 9.0, 3.0, 7.0])
    ids, names, order = segment.given_segment_ids(labels, values)
    assert names == {0: "a", 1: "b", 2: "c", 3: "unlabelled"}  # by mean value; unlabelled last
    assert order == [0, 1, 2]  # not a value tier
    assert ids.tolist() == [1, 0, 3, 2, 0, 1]
    assert segment.UNLABELLED == data.UNLABELLED
    table = segment.label_quality_table({"labels_in_file": 10, "customers_labelled": 8, "customers_unlabelled": 2,
                                         "labels_for_unknown_customers": 2, "distinct_labels": 3})
    assert table["count"].tolist() == [10, 3, 8, 2, 2]
    assert table["share"].tolist()[2:] == [0.8, 0.2, 0.2]


def test_policy_can_name_given_segments_by_pattern():
    names = {0: "Flex new basic", 1: "Annual loyal premium", 2: "Flex loyal premium", 3: "unlabelled"}
    got = fairness.resolve_policy({"premium": {"match": " premium$"}, "retain": {"match": "^Flex "}}, names, [0, 1, 2])
    assert got == {"premium": [1, 2], "retain": [0, 2]}
    with pytest.raises(ValueError, match="no segment name matches"):
        fairness.resolve_policy({"x": {"match": "^Gold"}}, names)


def test_planted_segments_as_labels_are_explained_by_what_they_differ_on():
    d = workbench.load("synthetic", n_customers=2000, seed=1)
    features = feat.build_features(d.customers, d.transactions, d.roles)
    labels = d.truth.segments.reindex(features["customer_id"]).to_numpy()
    explainer, result = explain.explain_labels(features, labels, {"sample_size": 1500, "plot_sample": 10}, seed=0)
    assert explainer.fidelity_["accuracy"] >= 0.9 and explainer.trustworthy_
    imp = result["importance"]
    for name, wanted in d.truth.differs_on.items():
        top = imp[imp["segment"] == name].nlargest(5, "mean_abs_shap")["feature"].tolist()
        assert _overlap(top, wanted) >= 0.5, (name, top, wanted)


@pytest.fixture(scope="module")
def audit_run(tmp_path_factory):
    """A bring-your-own config with planted labels: a few customers unlabelled, a few unknown ids."""
    folder = tmp_path_factory.mktemp("byo")
    d = workbench.load("synthetic", n_customers=1500, seed=1, migration=MIGRATION)
    config_path = data.write_byo(d, folder)
    ids = d.customers["customer_id"]
    labels = pd.DataFrame({"customer_id": ids, "segment": d.truth.segments.reindex(ids).to_numpy(),
                           "assigned_at": MIGRATION["at"]}).iloc[N_MISSING:]
    unknown = pd.DataFrame({"customer_id": [f"X{i}" for i in range(N_UNKNOWN)], "segment": "Lapsed",
                            "assigned_at": MIGRATION["at"]})
    pd.concat([labels, unknown]).to_csv(folder / "labels.csv", index=False)
    spec = yaml.safe_load(config_path.read_text())
    spec["dataset"]["labels"] = "labels.csv"
    spec["explain"] = {"sample_size": 1500, "plot_sample": 300}
    spec["fairness"] = {"policy": {"premium_offer": {"match": "^Loyal"}, "reactivation": {"names": ["Lapsed"]}},
                        "n_boot": 200, "mitigation": {"threshold_optimizer": False}}
    config_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    cfg = load_config(config=config_path)
    result = run_pipeline(cfg, folder / "run", notebooks=["02_segmentation", "03_explain_membership"],
                          progress=lambda _: None)
    assert result.ok, result.message
    return d, Run(result.out)


def test_label_problems_are_counted_in_summary_and_report(audit_run):
    d, run = audit_run
    summary = json.loads((run.path / "summary.json").read_text())
    assert summary["labels"]["customers_unlabelled"] == N_MISSING
    assert summary["labels"]["labels_for_unknown_customers"] == N_UNKNOWN
    seg = summary["02_segmentation"]
    assert seg["method"] == "external labels"
    assert seg["labels"]["customers_unlabelled"] == N_MISSING
    assert any(f"{N_MISSING:,} customers without a label" in h for h in seg["headline"])
    assert any(f"{N_UNKNOWN:,} labels for customers not in the customer table" in h for h in seg["headline"])
    text = re.sub(r"<[^>]+>", " ", (run.path / "02_segmentation.html").read_text())
    assert re.search(rf"customers without a label \(audited as \S+unlabelled\S+\)\s+{N_MISSING}\s", text)
    assert re.search(rf"labels for customers not in the customer table \(dropped\)\s+{N_UNKNOWN}\s", text)
    assert "Audit of given segments" in text and "k report card: not applicable" in text


def test_given_labels_become_stable_segments_without_a_model(audit_run):
    d, run = audit_run
    info = run.read_json("artifacts/segments/segments.json")
    assert info["method"] == "external labels"
    assert not run.has("segments/model.joblib")
    names = {int(k): v for k, v in info["names"].items()}
    assert sorted(names.values()) == sorted([*d.truth.segment_names, "unlabelled"])
    assert names[max(names)] == "unlabelled" and max(names) not in info["value_order"]
    assignments = run.read_table("segments/assignments.parquet")
    assert dict(zip(assignments["segment"], assignments["segment_name"])) == names
    # every prepared customer keeps the label it was given
    customers = run.customers()
    merged = assignments.merge(customers[["customer_id", "segment_label"]], on="customer_id")
    assert (merged["segment_name"] == merged["segment_label"]).all()
    profile = run.read_table("segments/profiles.parquet")
    unl = profile[profile["segment_name"] == "unlabelled"].iloc[0]
    assert bool(unl["suppressed"])  # 5 customers: below k, statistics masked
    assert unl["evidence"].startswith("insufficient evidence")
    assert info["audit"]["comparison"]["k"] >= 2 and 0 < info["audit"]["comparison"]["ari"] <= 1


def test_explanations_report_fidelity_and_name_planted_differences(audit_run):
    d, run = audit_run
    summary = json.loads((run.path / "summary.json").read_text())["03_explain"]
    assert summary["method"] == "surrogate" and summary["audit"] is True
    assert summary["fidelity"]["accuracy"] >= 0.9 and summary["trustworthy"]
    assert summary["unexplained_customers"] > 0  # the unlabelled ones
    names = {str(k): v for k, v in run.read_json("artifacts/segments/segments.json")["names"].items()}
    importance = run.read_table("explain/importance.parquet")
    assert "unlabelled" not in {names[str(s)] for s in importance["segment"]}
    for seg, part in importance.groupby("segment"):
        wanted = d.truth.differs_on[names[str(seg)]]
        top = part.nlargest(5, "mean_abs_shap")["feature"].tolist()
        assert _overlap(top, wanted) >= 0.5, (names[str(seg)], top, wanted)


def test_explain_cli_works_on_an_audit_run(audit_run):
    d, run = audit_run
    assignments = run.read_table("segments/assignments.parquet")
    labelled = assignments.loc[assignments["segment_name"] != "unlabelled", "customer_id"].iloc[0]
    out = CliRunner().invoke(app, ["explain", "--run", str(run.path), "--customer", labelled, "--json"])
    assert out.exit_code == 0, out.output
    exp = json.loads(out.output)
    assert exp["method"] == "surrogate" and exp["contributions"]
    unlabelled = assignments.loc[assignments["segment_name"] == "unlabelled", "customer_id"].iloc[0]
    exp = explain.explain_customer(run, unlabelled)
    assert exp["trustworthy"] is False and "no segment label" in exp["paragraph"]


def test_fairness_and_staleness_of_given_labels(audit_run):
    d, run = audit_run
    audit = fairness.fairness_run(run)
    assert audit.given is not None and audit.given["unlabelled_segment"] is not None
    names = {int(k): v for k, v in run.read_json("artifacts/segments/segments.json")["names"].items()}
    policy = audit.policy.set_index("action")
    assert [names[i] for i in policy.loc["premium_offer", "segment_ids"]] == ["Loyal high spenders"]
    assert set(audit.verdicts["action"]) == {"premium_offer", "reactivation"}
    assert "given as labels (labels.csv)" in fairness.given_markdown(audit)

    result = dynamics.label_staleness(run)
    assert result.applicable and result.overall["method"] == "surrogate"
    assert result.overall["noise_floor"] < 0.1
    table = result.by_segment.set_index("segment")
    steady = table.loc["Steady regulars"]
    # the planted migration: a share of "Steady regulars" now behaves like "Loyal high spenders"
    assert steady["main_destination"] == "Loyal high spenders" and steady["stale_share"] > 0.08
    assert table.loc["Loyal high spenders", "stale_share"] < 0.05
    assert result.ages["median_days"] == (pd.Timestamp("2026-07-01") - pd.Timestamp(MIGRATION["at"])).days
