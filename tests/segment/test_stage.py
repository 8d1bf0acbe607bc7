"""Stage 02: the artifact contract of a run, and `workbench assign` with the run's key."""

import joblib
import numpy as np
import pandas as pd
import pytest

import workbench
from workbench import features as feat
from workbench import segment
from workbench.data import load_config
from workbench.pipeline import prepare


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    import os

    os.environ["WORKBENCH_PSEUDONYM_KEY"] = "test-key-0123456789abcdef"
    try:
        cfg = load_config(dataset="synthetic", overrides=[
            "dataset.params.n_customers=1500", "dataset.params.seed=3", "segmentation.k_range=[3,6]",
        ])
        run = prepare(cfg, tmp_path_factory.mktemp("run"))
        result = segment.segment_run(run)
    finally:
        del os.environ["WORKBENCH_PSEUDONYM_KEY"]
    return run, result


def test_segment_run_writes_the_artifact_contract(run_dir):
    run, result = run_dir
    a = run.read_table("segments/assignments.parquet")
    assert list(a.columns) == ["customer_id", "segment", "segment_name"] and len(a) == len(run.customers())
    f = run.read_table("segments/features.parquet")
    assert f["customer_id"].tolist() == a["customer_id"].tolist()
    info = run.read_json("artifacts/segments/segments.json")
    assert {"method", "k", "names", "inputs", "value_order"} <= set(info)
    assert sorted(info["value_order"]) == list(range(info["k"]))
    model = joblib.load(run.artifact("segments/model.joblib"))
    np.testing.assert_array_equal(model.predict(f), a["segment"].to_numpy())
    assert not set(info["inputs"]) & {"age", "gender", "ethnicity"}
    summary = run.read_json("summary/02_segmentation.json")
    assert "p" not in "".join(str(v) for v in summary.get("names", {}).values())[:1]
    assert summary["truth_ari"] > 0.8 and result.card is not None and 3 <= result.k <= 6
    assert result.rfm_groups is not None and "Champions" in set(result.rfm_groups["group"])


def test_assign_new_customers_uses_the_run_key(run_dir, tmp_path, monkeypatch):
    run, _ = run_dir
    d = workbench.load("synthetic", n_customers=1500, seed=3)
    raw = feat.build_features(d.customers, d.transactions, d.roles).iloc[:50]
    path = tmp_path / "new.csv"
    raw.to_csv(path, index=False)
    monkeypatch.setenv("WORKBENCH_PSEUDONYM_KEY", "test-key-0123456789abcdef")
    from typer.testing import CliRunner

    from workbench.cli import app

    out = tmp_path / "assigned.csv"
    res = CliRunner().invoke(app, ["assign", "--run", str(run.path), str(path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out)
    assert not got["customer_id"].isin(raw["customer_id"]).any()  # raw ids never leave
    saved = run.read_table("segments/assignments.parquet").set_index("customer_id")
    known = got[got["customer_id"].isin(saved.index)]
    assert len(known) >= 45  # the same key gives the run's pseudonyms (opted-out customers are absent)
    assert (known["segment"].to_numpy() == saved.loc[known["customer_id"], "segment"].to_numpy()).mean() > 0.97
    bad = tmp_path / "bad.csv"
    raw.drop(columns=["monetary"]).to_csv(bad, index=False)
    res = CliRunner().invoke(app, ["assign", "--run", str(run.path), str(bad)])
    assert res.exit_code == 2 and "monetary" in res.output
