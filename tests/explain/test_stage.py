"""The stage on a small run, the per-customer explanation (CLI, JSON, HTML) and the real segmentation model."""

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from workbench import explain

EXTERNAL = re.compile(r"""(src|href)\s*=""", re.IGNORECASE)


# -- the stage, the CLI and the per-customer page on a small run ------------------------------------
def _write_segments(run, with_model: bool):
    """Stage-02 artifacts from our own StandardScaler + KMeans pipeline (independent of segment.py)."""
    import joblib

    from workbench.features import rfm

    customers = run.customers()
    features = customers[["customer_id", "price_sensitivity", "email_opens_90d", "site_visits_90d", "region"]]
    features = features.merge(rfm(run.transactions()), on="customer_id", how="left")
    features = features.fillna({"recency": 999.0, "frequency": 0, "monetary": 0.0, "price_sensitivity": 5.0})
    numeric = features.drop(columns=["customer_id", "region"])
    pipe = make_pipeline(StandardScaler(), KMeans(4, n_init=2, random_state=0)).fit(numeric)
    labels = pipe.predict(numeric)
    names = {int(j): f"Segment {j}" for j in range(4)}
    run.write_table("segments/features.parquet", features if not with_model else features.drop(columns="region"))
    run.write_table("segments/assignments.parquet", pd.DataFrame({
        "customer_id": features["customer_id"], "segment": labels, "segment_name": [names[j] for j in labels]}))
    run.write_json("artifacts/segments/segments.json", {"method": "kmeans", "k": 4, "names": names})
    if with_model:
        joblib.dump(pipe, run.artifact("segments/model.joblib"))
    elif run.has("segments/model.joblib"):
        run.artifact("segments/model.joblib").unlink()


@pytest.fixture(scope="module", params=["exact", "surrogate"])
def small_run(request, tmp_path_factory):
    import os

    import yaml

    from workbench import open_run

    folder = tmp_path_factory.mktemp("explain")
    cfg = folder / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({
        "name": "t", "dataset": {"builtin": "synthetic", "params": {"n_customers": 2000, "seed": 1}}, "seed": 3,
        "explain": {"sample_size": 800, "surrogate": {"n_estimators": 60}, "fidelity_threshold": 0.8},
    }))
    os.environ.setdefault("WORKBENCH_PSEUDONYM_KEY", "test-key-not-secret-0123456789")
    run = open_run(folder / "run", cfg)
    _write_segments(run, with_model=request.param == "exact")
    out = explain.explain_run(run)
    assert out["method"] == request.param
    return run, out


def test_stage_writes_importance_and_summary(small_run):
    run, out = small_run
    imp = run.read_table("explain/importance.parquet")
    assert list(imp.columns)[:3] == ["segment", "feature", "mean_abs_shap"]
    features = set(run.read_table("segments/features.parquet").columns) - {"customer_id"}
    originals = set(explain.group_columns(sorted(features), run.roles.feature_columns))
    assert set(imp["feature"]) <= originals
    assert (imp["mean_abs_shap"] >= 0).all()
    summary = run.read_json("summary/03_explain.json")
    assert summary["method"] in {"exact", "surrogate"} and summary["headline"]
    text = (run.path / "summary" / "03_explain.json").read_text()
    assert not re.search(r"p[0-9a-f]{16}", text)


def test_explain_customer_text_json_and_html(small_run):
    from typer.testing import CliRunner

    from workbench.cli import app

    run, out = small_run
    assignments = run.read_table("segments/assignments.parquet")
    pid = assignments["customer_id"].iloc[17]
    exp = explain.explain_customer(run, pid)
    assert exp["segment"] == int(assignments["segment"].iloc[17])
    assert exp["contributions"] and exp["paragraph"].startswith("You are in the segment")
    assert exp["runner_up"]["segment"] != exp["segment"] and exp["margin"] >= 0
    if len(exp["contributions"]) < 5:  # every feature listed: they add up to the margin
        assert exp["margin"] == pytest.approx(exp["base_value"] + sum(
            c["contribution"] for c in exp["contributions"]), abs=1e-6)
    towards = [c["feature"] for c in exp["contributions"] if c["contribution"] > 0]
    reasons = exp["paragraph"].split("mainly because of")[1].split(".")[0] if towards else ""
    for c in exp["contributions"]:  # "mainly because of" names only features that push towards the segment
        if c["contribution"] < 0:
            assert f"your {c['feature'].replace('_', ' ')}," not in reasons
    other = explain.explain_customer(run, pid, versus=(exp["segment"] + 1) % 4 if out["method"] == "exact" else None)
    assert other["contributions"]
    page = explain.render_html(exp)
    assert not EXTERNAL.search(page) and "<script" not in page
    runner = CliRunner()
    result = runner.invoke(app, ["explain", "--run", str(run.path), "--customer", pid])
    assert result.exit_code == 0, result.output
    others = set(re.findall(r"p[0-9a-f]{16}", result.output)) - {pid}
    assert pid in result.output and not others
    html_file = run.path / "page.html"
    result = runner.invoke(app, ["explain", "--run", str(run.path), "--customer", pid, "--json", "--html", str(html_file)])
    assert result.exit_code == 0 and '"segment"' in result.output
    assert html_file.exists() and not EXTERNAL.search(html_file.read_text())
    missing = runner.invoke(app, ["explain", "--run", str(run.path), "--customer", "p0000000000000000"])
    assert missing.exit_code == 2


def test_real_segmentation_model_is_explained_exactly(tmp_path):
    """Integration with workbench.segment.SegmentationModel: exact path, additive, names planted drivers."""
    segment = pytest.importorskip("workbench.segment")
    if not hasattr(segment, "SegmentationModel"):
        pytest.skip("SegmentationModel not available yet")
    import yaml

    from workbench import open_run

    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"name": "t", "dataset": {"builtin": "synthetic", "params": {
        "n_customers": 2000, "seed": 1}}, "seed": 3, "segmentation": {"k": 5}}))
    run = open_run(tmp_path / "run", cfg)
    segment.segment_run(run)
    out = explain.explain_run(run)
    assert out["method"] == "exact" and out["agreement"] == 1.0
    state = explain.load_state(run)
    features = run.read_table("segments/features.parquet").drop(columns="customer_id").iloc[:300]
    exp = state["explainer"]
    phi = exp.shap_values(features)
    np.testing.assert_allclose(exp.base_values_ + phi.sum(axis=1), exp.scores(features), atol=1e-6)
    truth = explain.compare_with_truth(run, out["importance"])
    holiday = truth[truth["planted"] == "Holiday bargain hunters"]
    assert len(holiday) and "holiday_share" in holiday["explained_top"].iloc[0]


# -- given labels: two segments (issue 15) and one ---------------------------------------------------
def _given_run(tmp_path, n_segments: int):
    import os

    import yaml

    import workbench
    from workbench import data, open_run, segment

    os.environ.setdefault("WORKBENCH_PSEUDONYM_KEY", "test-key-not-secret-0123456789")
    d = workbench.load("synthetic", n_customers=800, seed=4)
    config_path = data.write_byo(d, tmp_path / "byo")
    ids = d.customers["customer_id"]
    planted = d.truth.segments.reindex(ids).to_numpy()
    label = np.where(planted == "Loyal high spenders", "targeted", "not targeted") if n_segments == 2 else "everyone"
    pd.DataFrame({"customer_id": ids, "segment": label}).to_csv(tmp_path / "byo" / "labels.csv", index=False)
    spec = yaml.safe_load(config_path.read_text())
    spec["dataset"]["labels"] = "labels.csv"
    spec["explain"] = {"sample_size": 600, "surrogate": {"n_estimators": 60}}
    config_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    run = open_run(tmp_path / "run", config_path)
    segment.audit_run(run)
    return run


def test_two_given_segments_are_both_explained(tmp_path):
    run = _given_run(tmp_path, 2)
    out = explain.explain_run(run)
    assert out["method"] == "surrogate" and out["trustworthy"]
    imp = run.read_table("explain/importance.parquet")
    names = run.read_json("artifacts/segments/segments.json")["names"]
    assert sorted(names.values()) == ["not targeted", "targeted"]
    assert set(imp["segment"].astype(str)) == set(names) and (imp["mean_abs_shap"] > 0).any()
    assignments = run.read_table("segments/assignments.parquet")
    for name in ("targeted", "not targeted"):
        pid = assignments.loc[assignments["segment_name"] == name, "customer_id"].iloc[0]
        exp = explain.explain_customer(run, pid)
        assert exp["segment_name"] == name and exp["runner_up"]["segment_name"] != name
        assert exp["contributions"] and exp["paragraph"].startswith("You are in the segment")


def test_one_given_segment_says_there_is_nothing_to_explain(tmp_path):
    run = _given_run(tmp_path, 1)
    out = explain.explain_run(run)
    assert out["method"] == "none" and not out["trustworthy"]
    assert "no membership decision to explain" in explain.describe(out)
    assert explain.shown_segments(out) == [] and explain.withheld_table(out) is None
    assert len(run.read_table("explain/importance.parquet")) == 0
    summary = run.read_json("summary/03_explain.json")
    assert summary["method"] == "none" and "no membership decision to explain" in summary["headline"][0]
    pid = run.read_table("segments/assignments.parquet")["customer_id"].iloc[0]
    exp = explain.explain_customer(run, pid)
    assert "the only one" in exp["paragraph"] and not exp["contributions"]


def test_example_customer_only_when_the_config_asks(small_run):
    run, _ = small_run
    assert explain.example_customer(run) is None
    assert "report.individual_examples: true" in explain.example_withheld()
    import yaml

    path = run.path / "config.yaml"
    before = path.read_text()
    path.write_text(yaml.safe_dump({**yaml.safe_load(before), "report": {"individual_examples": True}}))
    try:
        text = explain.example_customer(run)
    finally:
        path.write_text(before)
    assert text.startswith("Customer <an example customer>") and not re.search(r"p[0-9a-f]{16}", text)
