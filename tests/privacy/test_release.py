"""The private release as a publishable artefact: release/ holds DP values only, a ledger per
dataset persists across runs, and a release over the dataset's budget is refused."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import pipeline, privacy
from workbench.data import load_config
from workbench.features import rfm


def _stage02(run, k: int = 4) -> None:
    """A stand-in for stage 02: k-means on the RFM features, its artifacts."""
    from sklearn.cluster import KMeans
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    feats = run.customers()[["customer_id"]].merge(rfm(run.transactions()), on="customer_id", how="left").fillna(0)
    X = feats.drop(columns="customer_id").astype(float)
    labels = make_pipeline(StandardScaler(), KMeans(k, n_init=4, random_state=0)).fit_predict(X)
    run.write_table("segments/features.parquet", feats)
    run.write_table("segments/assignments.parquet", pd.DataFrame({
        "customer_id": feats["customer_id"], "segment": labels, "segment_name": [f"S{i}" for i in labels]}))
    run.write_json("artifacts/segments/segments.json", {
        "method": "kmeans", "k": k, "names": {i: f"S{i}" for i in range(k)}, "inputs": list(X.columns)})


def _release(tmp_path, name: str, ledger, total: float = 10.0, overrides=(), n: int = 2000):
    """Prepare a synthetic run into ``tmp_path / name`` and make its release (``ledger`` None: the default)."""
    config = load_config(dataset="synthetic", overrides=[
        f"dataset.params.n_customers={n}", "privacy.dp.enabled=true", "privacy.dp.epsilon=1.0",
        f"privacy.dp.total_epsilon={total}", *([f"privacy.dp.ledger={ledger}"] if ledger else []), *overrides])
    config["name"] = name
    config["privacy"]["dp"]["bounds"] = {"recency": [0, 730], "monetary": [0, 5000]}  # two queries: fast
    run = pipeline.prepare(config, tmp_path / name)
    _stage02(run)
    return run, privacy.private_release_run(run)


def _numbers(text: str) -> set[float]:
    return {float(x) for x in re.findall(r"-?\d+\.?\d*(?:e-?\d+)?", text)}


def test_release_folder_holds_dp_values_accuracy_ledger_and_methodology_but_no_exact_value(tmp_path):
    ledger = tmp_path / "ledger.json"
    run, release = _release(tmp_path, "first", ledger)
    folder = run.path / privacy.RELEASE_DIR
    assert sorted(p.name for p in folder.iterdir()) == ["accuracy.csv", "ledger.json", "methodology.html", "release.csv"]
    published = pd.read_csv(folder / "release.csv")
    assert published["count"].tolist() == release.table["count"].tolist()
    assert set(pd.read_csv(folder / "accuracy.csv")["statistic"]) >= {"count", "mean_recency"}
    book = json.loads((folder / "ledger.json").read_text())
    assert [r["epsilon"] for r in book["releases"]] == [1.0] and book["total_epsilon"] == 10.0
    page = (folder / "methodology.html").read_text()
    assert "about 30% of the customers" in page and "keyed hash" in page
    assert "not protected" in page and "fit sample" in page
    # the exact values (internal utility table) appear nowhere in release/, at any rounding
    utility = run.read_table("privacy/dp_utility.parquet")
    exact_means = utility.loc[utility["statistic"] != "count", "exact"].dropna()
    assert len(exact_means) > 0
    text = "".join(p.read_text() for p in folder.iterdir())
    shown = _numbers(text)
    for v in exact_means:
        assert not any(np.isclose(v, s, rtol=0, atol=5e-5) for s in shown), v
    released_total = int(utility.loc[utility["statistic"] == "count", "exact"].sum())
    assert released_total == 2000 - round(0.3 * len(run.customers())) or released_total < len(run.customers())
    assert str(released_total) not in re.findall(r"\d+", text)
    assert str(len(run.customers())) not in re.findall(r"\d+", text)
    summary = json.loads((run.path / "summary" / "06_private_release.json").read_text())
    assert summary["refused"] is False and summary["fit_share"] == 0.3


def test_the_ledger_persists_across_runs_and_a_release_over_budget_is_refused(tmp_path):
    ledger = tmp_path / "reports" / "dp_ledger.json"
    _release(tmp_path, "one", ledger, total=1.5)
    run, release = _release(tmp_path, "two", ledger, total=1.5)
    assert release is None
    message = (run.path / privacy.RELEASE_DIR / "REFUSED.txt").read_text()
    assert "refused" in message and "already spent epsilon 1 of its total budget 1.5" in message
    assert not (run.path / privacy.RELEASE_DIR / "release.csv").exists()
    loaded = privacy.load_private_release(run)
    assert loaded["refused"] == message.strip()
    dataset = run.read_json("manifest_parts/dataset.json")
    releases = privacy.read_ledger(ledger, f"{dataset['name']}: {dataset['identity']}")
    assert [r["run"] for r in releases] == ["one"]  # refused: nothing spent
    assert releases[0]["content_fingerprint"] == dataset["fingerprint"]
    summary = json.loads((run.path / "summary" / "06_private_release.json").read_text())
    assert summary["refused"] is True and "refused" in summary["headline"][0]


def test_erasing_a_customer_does_not_reset_the_budget(tmp_path):
    """The same people minus one erased customer: different content, the same population's budget."""
    ledger = tmp_path / "reports" / "dp_ledger.json"
    first, _ = _release(tmp_path, "one", ledger, total=1.5)
    erased = tmp_path / "forget.txt"
    erased.write_text("C0000001\n")
    run, release = _release(tmp_path, "two", ledger, total=1.5, overrides=[f"privacy.forget={erased}"])
    assert run.read_json("manifest_parts/dataset.json")["fingerprint"] != \
        first.read_json("manifest_parts/dataset.json")["fingerprint"]
    assert release is None
    assert "already spent epsilon 1" in (run.path / privacy.RELEASE_DIR / "REFUSED.txt").read_text()


def test_a_named_population_keeps_its_own_budget(tmp_path):
    ledger = tmp_path / "dp_ledger.json"
    _release(tmp_path, "one", ledger, total=1.5, overrides=["privacy.dp.population=panel A"])
    _, release = _release(tmp_path, "two", ledger, total=1.5, overrides=["privacy.dp.population=panel B"])
    assert release is not None
    assert [r["run"] for r in privacy.read_ledger(ledger, "panel A")] == ["one"]


def test_the_same_dataset_in_another_folder_or_at_another_size_spends_the_same_budget(tmp_path, monkeypatch):
    """The review's attack (issue 24, 5d): a new --out, folder or n_customers started a fresh budget."""
    home = tmp_path / "home-ledger.json"
    monkeypatch.setenv("WORKBENCH_DP_LEDGER", str(home))
    first, _ = _release(tmp_path / "reports-a", "one", None, total=1.5)
    run, release = _release(tmp_path / "elsewhere" / "b", "two", None, total=1.5, n=2100)
    assert release is None
    message = (run.path / privacy.RELEASE_DIR / "REFUSED.txt").read_text()
    assert f"already spent epsilon 1 of its total budget 1.5 (ledger {home})" in message
    beside_runs = [*(tmp_path / "reports-a").glob("*.json"), *(tmp_path / "elsewhere").glob("*.json")]
    assert beside_runs == [], "no ledger inside an output folder"
    book = json.loads(home.read_text())
    assert list(book) == ["synthetic: generated by workbench._synthetic (seed=7)"]


def test_without_a_configured_place_the_ledger_lives_outside_every_output_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("WORKBENCH_DP_LEDGER", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data-home"))
    assert privacy.default_ledger_path() == tmp_path / "data-home" / "workbench" / "dp_ledger.json"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert privacy.default_ledger_path() == Path.home() / ".local" / "share" / "workbench" / "dp_ledger.json"


def test_workbench_run_warns_up_front_of_an_over_budget_release_and_goes_on(tmp_path, monkeypatch):
    from workbench.pipeline import _run

    home = tmp_path / "ledger.json"
    monkeypatch.setenv("WORKBENCH_DP_LEDGER", str(home))
    earlier, _ = _release(tmp_path / "earlier", "one", None, total=1.5)
    lines = []
    _run._warn_over_budget(earlier, lines.append)  # the same dataset, any folder: the budget is spent
    assert len(lines) == 1 and lines[0].startswith("warning: Differentially private release refused")
    assert "privacy.dp.epsilon" in lines[0] and "the report shows the release as refused" in lines[0]
