"""Preparing a run directory, and ``open_run`` preparing it again only when the config changed."""

import json

import pandas as pd
import pytest
import yaml

from workbench import pipeline
from workbench.data import load_config


def _config(tmp_path, n_customers):
    path = tmp_path / f"c{n_customers}.yaml"
    path.write_text(yaml.safe_dump({
        "name": "tiny", "dataset": {"builtin": "synthetic", "params": {"n_customers": n_customers, "seed": 3}},
    }))
    return path


def test_prepared_data_holds_pseudonyms_only_and_the_manifest_fingerprint(tmp_path):
    cfg = load_config(dataset="synthetic", overrides=["dataset.params.n_customers=300"])
    run = pipeline.prepare(cfg, tmp_path / "run")
    customers = run.customers()
    assert customers["customer_id"].str.fullmatch(r"p[0-9a-f]{16}").all()
    tx = run.transactions()
    assert set(tx["customer_id"]) <= set(customers["customer_id"])
    prep = json.loads((run.path / "data" / "prepare.json").read_text())
    assert prep["n_customers"] == len(customers) and prep["n_transactions"] == len(tx)
    truth = pd.read_parquet(run.path / "data" / "truth.parquet")
    assert list(truth["customer_id"]) == list(customers["customer_id"])
    assert json.loads((run.path / "manifest_parts" / "dataset.json").read_text())["fingerprint"]


def test_open_run_prepares_again_only_when_the_config_changes(tmp_path):
    with pytest.raises(FileNotFoundError):
        pipeline.open_run(tmp_path / "run")
    run = pipeline.open_run(tmp_path / "run", _config(tmp_path, 200))
    assert len(run.customers()) <= 200
    (run.path / "artifacts" / "marker").parent.mkdir(parents=True)
    (run.path / "artifacts" / "marker").write_text("kept")
    pipeline.open_run(tmp_path / "run", _config(tmp_path, 200))
    assert (run.path / "artifacts" / "marker").exists()  # same config: nothing redone
    pipeline.open_run(tmp_path / "run", _config(tmp_path, 250))
    assert not (run.path / "artifacts" / "marker").exists()  # new config: prepared afresh
    assert 200 < len(run.customers()) <= 250
