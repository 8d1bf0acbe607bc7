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
    if exp["trustworthy"] and exp["method"] == "exact":
        assert exp["score"] == pytest.approx(exp["base_value"] + sum(
            c["contribution"] for c in exp["contributions"]), abs=1e-6) or len(exp["contributions"]) == 5
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
