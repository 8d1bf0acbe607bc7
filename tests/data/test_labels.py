"""External segment labels: attach, count problems, prepare for audit."""

import json

import pandas as pd
import pytest

from workbench import data
from workbench.data import load_config
from workbench.pipeline import prepare
from workbench.data import InputError


def _labels_for(d, n_missing=5, n_unknown=3):
    ids = d.customers["customer_id"]
    labels = pd.DataFrame({"customer_id": ids, "segment": d.truth.segments.reindex(ids).to_numpy()})
    labels = labels.iloc[n_missing:]  # the first customers have no label
    unknown = pd.DataFrame({"customer_id": [f"X{i}" for i in range(n_unknown)], "segment": "Lapsed"})
    return pd.concat([labels, unknown], ignore_index=True)


def test_attach_labels_counts_unlabelled_and_unknown():
    d = data.load("synthetic", n_customers=500, seed=1)
    out = data.attach_labels(d, _labels_for(d))
    assert out.label_counts["customers_unlabelled"] == 5
    assert out.label_counts["labels_for_unknown_customers"] == 3
    assert out.label_counts["customers_labelled"] == 495
    assert (out.customers["segment_label"] == data.UNLABELLED).sum() == 5
    assert out.roles.segment == "segment_label"


def test_duplicate_labels_are_an_error():
    d = data.load("synthetic", n_customers=100, seed=1)
    labels = _labels_for(d, 0, 0)
    with pytest.raises(InputError, match="duplicate"):
        data.attach_labels(d, pd.concat([labels, labels.head(1)]))


def test_labels_survive_preparation_with_counts(tmp_path):
    d = data.load("synthetic", n_customers=400, seed=2)
    config_path = data.write_byo(d, tmp_path / "byo")
    labels = _labels_for(d).assign(assigned_at="2026-01-15")
    labels.to_csv(tmp_path / "byo" / "labels.csv", index=False)
    cfg = load_config(config=config_path, overrides=["dataset.labels=labels.csv"])
    run = prepare(cfg, tmp_path / "run")
    prep = json.loads((tmp_path / "run" / "data" / "prepare.json").read_text())
    assert prep["audit_mode"] is True
    assert prep["labels"]["customers_unlabelled"] == 5
    assert prep["labels"]["labels_for_unknown_customers"] == 3
    customers = run.customers()
    assert run.roles.segment == "segment_label" and run.roles.assigned_at == "segment_assigned_at"
    assert customers["segment_label"].nunique() == 6  # five planted segments + unlabelled
    assert str(customers["segment_assigned_at"].dropna().iloc[0].date()) == "2026-01-15"


def test_telco_audit_config_uses_the_bundled_label_file():
    cfg = load_config(dataset="telco_audit")
    d = data.from_config(cfg["dataset"], cfg["_base_dir"])
    assert d.label_counts["customers_labelled"] == 7043
    assert d.label_counts["distinct_labels"] == 27
