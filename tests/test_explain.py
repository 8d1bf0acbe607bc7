"""Explanations of segment membership: exact SHAP of centroid scores, fidelity-gated surrogates, per customer."""

import re

import numpy as np
import pandas as pd
import pytest
import shap
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from workbench import explain

EXTERNAL = re.compile(r"""(src|href)\s*=""", re.IGNORECASE)


def _customers(n=600, seed=0):
    """Three planted groups differing on spend, visits and colour; 'noise' differs on nothing."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, n)
    return pd.DataFrame({
        "spend": rng.lognormal(np.array([3.0, 4.5, 6.0])[group], 0.3),
        "visits": rng.poisson(np.array([2, 8, 4])[group]).astype(float),
        "noise": rng.normal(size=n),
        "colour": np.array(["red", "green", "blue"])[(group + (rng.random(n) < 0.2)) % 3],
    }), group


def _pipeline(X, k=4):
    pre = ColumnTransformer([
        ("log", make_pipeline(FunctionTransformer(np.log1p), StandardScaler()), ["spend"]),
        ("num", StandardScaler(), ["visits", "noise"]),
        ("cat", OneHotEncoder(sparse_output=False), ["colour"]),
    ])
    pipe = make_pipeline(pre, KMeans(k, n_init=2, random_state=0)).fit(X)
    input_feature = ["spend", "visits", "noise"] + ["colour"] * len(pipe[0].named_transformers_["cat"].categories_[0])
    return pipe, input_feature


@pytest.fixture(scope="module")
def fitted():
    X, group = _customers()
    pipe, input_feature = _pipeline(X)
    exp = explain.centroid_explainer(pipe, X, input_feature=input_feature, background_size=40, random_state=1)
    return X, group, pipe, exp


def test_centroid_scores_reproduce_kmeans(fitted):
    X, _, pipe, exp = fitted
    assert np.array_equal(exp.predict(X), pipe.predict(X))
    assert exp.features_ == ["spend", "visits", "noise", "colour"]


def test_exact_shap_is_additive_in_original_features(fitted):
    X, _, _, exp = fitted
    phi = exp.shap_values(X)
    assert phi.shape == (len(X), 4, 4)
    scores = exp.scores(X)
    np.testing.assert_allclose(exp.base_values_ + phi.sum(axis=1), scores, atol=1e-6)
    res = exp.explain(X)
    # the fused fast path gives exactly shap.LinearExplainer's values, summed per original feature
    np.testing.assert_allclose(res["shap"], phi, atol=1e-9)
    raw = exp.explainer_.shap_values(exp.transform(X))  # (n, d model columns, k)
    np.testing.assert_allclose(phi[:, 3, :], raw[:, 3:, :].sum(axis=1), atol=1e-9)  # colour = its one-hot columns
    rows = np.arange(len(X))
    top = res["top_index"]
    np.testing.assert_allclose(res["base_own"] + res["own"].sum(axis=1), scores[rows, top], atol=1e-6)
    margin = scores[rows, top] - scores[rows, res["runner_index"]]
    assert (margin >= 0).all()
    np.testing.assert_allclose(res["base_versus"] + res["versus"].sum(axis=1), margin, atol=1e-6)


def test_exact_shap_agrees_with_shap_exact_explainer(fitted):
    X, _, _, exp = fitted
    levels = sorted(X["colour"].unique())
    codes = X.assign(colour=X["colour"].map({c: i for i, c in enumerate(levels)}).astype(float))

    def scores(arr):
        frame = pd.DataFrame(arr, columns=X.columns)
        frame["colour"] = np.array(levels)[frame["colour"].round().astype(int)]
        for c in ["spend", "visits", "noise"]:
            frame[c] = frame[c].astype(float)
        return exp.scores(frame)

    background = codes.iloc[exp.background_rows_].to_numpy()
    reference = shap.ExactExplainer(scores, shap.maskers.Independent(background, max_samples=len(background)))
    sample = codes.iloc[:15].to_numpy()
    expected = reference(sample).values  # (15, 4 features, 4 segments)
    np.testing.assert_allclose(exp.shap_values(X.iloc[:15]), expected, atol=1e-6)


def test_global_importance_batches_match_one_pass(fitted):
    X, _, _, exp = fitted
    one = explain.global_importance(exp, X, batch_size=len(X), top_n=2)
    many = explain.global_importance(exp, X, batch_size=97, top_n=2, sample=np.array([5, 200, 599]))
    pd.testing.assert_frame_equal(one["importance"], many["importance"])
    assert np.array_equal(one["top"]["feature"], many["top"]["feature"])
    np.testing.assert_allclose(many["sample_shap"], exp.shap_values(X.iloc[[5, 200, 599]]))
    # the planted drivers outrank pure noise in every segment
    imp = one["importance"].pivot(index="feature", columns="segment", values="mean_abs_shap")
    assert (imp.loc["spend"] > imp.loc["noise"]).all()


def test_surrogate_fidelity_gates_explanations():
    X, group = _customers(800, seed=2)
    gmm = GaussianMixture(3, random_state=0).fit(np.column_stack([np.log(X["spend"]), X["visits"]]))
    labels = gmm.predict(np.column_stack([np.log(X["spend"]), X["visits"]]))
    good = explain.SurrogateExplainer(n_estimators=60, random_state=0).fit(X, labels)
    assert good.trustworthy_ and good.fidelity_["accuracy"] >= 0.9
    assert set(good.fidelity_["f1"]) == {0, 1, 2}
    phi = good.shap_values(X.iloc[:50])
    np.testing.assert_allclose(good.base_values_ + phi.sum(axis=1), good.scores(X.iloc[:50]), atol=1e-6)

    noise = np.random.default_rng(0).integers(0, 4, len(X))
    bad = explain.SurrogateExplainer(n_estimators=60, random_state=0).fit(X, noise)
    assert not bad.trustworthy_
    assert "below the threshold of 90%" in bad.fidelity_["reason"]

    one = explain.SurrogateExplainer(segment=1, n_estimators=60, random_state=0).fit(X, labels)
    res = one.explain(X.iloc[:30])
    assert res["shap"].shape == (30, 4, 1)
    log_odds = np.log(one.model_.predict_proba(one._prepare(X.iloc[:30]))[:, 0])
    log_odds -= np.log(one.model_.predict_proba(one._prepare(X.iloc[:30]))[:, 1])
    np.testing.assert_allclose(res["base_own"] + res["own"].sum(axis=1), log_odds, atol=1e-6)


def test_explain_labels_works_from_any_pair():
    X, group = _customers(500, seed=3)
    names = np.array(["budget", "regular", "premium"])[group]
    exp, result = explain.explain_labels(X, names, {"sample_size": 300, "surrogate": {"n_estimators": 40}})
    assert set(result["importance"]["segment"]) == {"budget", "premium", "regular"}
    top = result["importance"].sort_values("mean_abs_shap").groupby("segment").tail(1)["feature"]
    assert set(top) <= {"spend", "visits", "colour"}


def test_counterfactual_moves_customer_with_actionable_features_only(fitted):
    X, _, _, exp = fitted
    res = exp.explain(X.iloc[:40])
    moved = 0
    for i in range(40):
        x = X.iloc[[i]]
        target = int(res["runner_up"][i])
        members = X[exp.predict(X) == target]
        typical = {c: float(members[c].median()) for c in ["spend", "visits"]}
        cf = explain.counterfactual(x, exp.predict, target, typical, ["spend", "visits"],
                                    scale={"spend": float(X["spend"].std()), "visits": float(X["visits"].std())})
        if cf is None:
            continue
        moved += 1
        changed = x.copy()
        for c in cf["changes"]:
            assert c["feature"] in {"spend", "visits"}
            changed[c["feature"]] = c["to"]
        assert exp.predict(changed)[0] == target
    assert moved >= 20


def test_profiles_suppress_small_segments():
    X, group = _customers(300, seed=4)
    labels = group.copy()
    labels[:4] = 7  # a tiny segment of 4 customers
    prof = explain.profiles(X, labels, k=10)
    tiny = prof[prof["segment"] == "7"].iloc[0]
    assert bool(tiny["suppressed"]) and np.isnan(tiny["spend"])
    assert prof.iloc[-1]["segment"] == "all"
    assert prof.iloc[-1]["spend"] == pytest.approx(X["spend"].median())


def test_group_columns_maps_dummies_to_their_feature():
    cols = ["region_North", "region_South", "price_sensitivity", "frequency"]
    assert explain.group_columns(cols, ["region", "price_sensitivity", "price"]) == [
        "region", "region", "price_sensitivity", "frequency"]


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
