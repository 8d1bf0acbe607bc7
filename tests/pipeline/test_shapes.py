"""Edge-shaped inputs a user meets on day one: each runs the pipeline on small data.

Each shape either completes (every notebook run, ``summary.json`` written, sections that need what the
data lacks say so) or stops with exit code 2 and a message naming the cause. Only the notebooks a shape
exercises are run, to keep the module within a minute or two per shape; the heaviest tests live here
so that ``pytest -n 2 --dist loadfile`` gives this module a worker of its own.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from workbench import data, pipeline
from workbench.cli import app
from workbench.data import load_config

N = 300
AUDIT = ["02_segmentation", "03_explain_membership", "04_fairness_audit"]
SMALL = ["segmentation.k_range=[2,4]", "segmentation.n_bootstrap=2", "segmentation.compare_learned=false",
         "fairness.n_boot=100", "fairness.proxy.max_rows=300", "explain.sample_size=300",
         "explain.surrogate.n_estimators=30", "privacy.suppression_k=5"]


def _world(n: int = N, seed: int = 3) -> data.Dataset:
    return data.load("synthetic", n_customers=n, seed=seed)


def _run(tmp_path, d: data.Dataset, notebooks: list[str], labels=None, overrides=()):
    """Write ``d`` as bring-your-own files (plus a label file), run ``notebooks``; return the result."""
    config = data.write_byo(d, tmp_path / "byo")
    extra = list(SMALL) + list(overrides)
    if labels is not None:
        pd.DataFrame({"customer_id": d.customers["customer_id"], "segment": labels}).to_csv(
            config.parent / "labels.csv", index=False)
        extra.append("dataset.labels=labels.csv")
    cfg = load_config(config=config, overrides=extra)
    result = pipeline.run(cfg, tmp_path / "run", notebooks=notebooks, progress=lambda m: None)
    assert result.ok, result.message
    summary = json.loads((result.out / "summary.json").read_text())
    for nb in notebooks:
        assert (result.out / f"{nb}.html").exists()
    return result, summary


def _html(result, notebook: str) -> str:
    return (result.out / f"{notebook}.html").read_text()


# --- given segments -----------------------------------------------------------------------------------

def test_one_given_segment_audits_composition_only(tmp_path):
    d = _world()
    result, summary = _run(tmp_path, d, AUDIT, labels=["everyone"] * N)
    assert "not applicable" in _html(result, "03_explain_membership").lower() + _html(result, "04_fairness_audit").lower()


def test_two_given_segments_give_a_full_report(tmp_path):
    d = _world()
    labels = np.where(np.arange(N) % 3 == 0, "targeted", "not targeted")
    _run(tmp_path, d, AUDIT, labels=labels)


def test_fifty_given_segments(tmp_path):
    d = _world(n=1000)
    _run(tmp_path, d, AUDIT, labels=[f"S{i % 50:02d}" for i in range(1000)])


def test_a_given_segment_of_one_customer(tmp_path):
    d = _world()
    labels = np.where(np.arange(N) % 2 == 0, "big", "other").astype(object)
    labels[7] = "lonely"
    result, summary = _run(tmp_path, d, AUDIT, labels=labels)
    assert "lonely" not in json.dumps(summary) or "insufficient" in json.dumps(summary).lower()


def test_a_segment_named_like_markup_is_text_in_every_report(tmp_path):
    d = _world()
    labels = np.where(np.arange(N) % 2 == 0, '<script>alert("x")</script>', "plain <b>bold</b>")
    result, _ = _run(tmp_path, d, ["02_segmentation"], labels=labels)
    html = _html(result, "02_segmentation")
    assert '<script>alert("x")' not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;" in html


# --- sensitive attributes -----------------------------------------------------------------------------

def _with_gender(values) -> data.Dataset:
    d = _world()
    d.customers["gender"] = values
    return d


@pytest.mark.parametrize("shape, values", [
    ("one group", ["female"] * N),
    ("all missing", [None] * N),
    ("40 groups", [f"g{i % 40:02d}" for i in range(N)]),
])
def test_sensitive_attribute_shapes(tmp_path, shape, values):
    result, summary = _run(tmp_path, _with_gender(values), ["02_segmentation", "04_fairness_audit"])
    assert "gender" in _html(result, "04_fairness_audit")


def test_numeric_sensitive_attribute_holding_text_stops_with_exit_2(tmp_path):
    d = _world()
    d.customers["age"] = d.customers["age"].astype(object)
    d.customers.loc[3, "age"] = "forty"
    config = data.write_byo(d, tmp_path / "byo")
    res = CliRunner().invoke(app, ["run", "--config", str(config), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "'age' holds values that are not numbers" in res.output and "'forty'" in res.output
    assert not (tmp_path / "out").exists()


# --- transactions -------------------------------------------------------------------------------------

def test_no_transactions(tmp_path):
    d = _world()
    d.transactions = None
    d.roles.transactions = None
    result, summary = _run(tmp_path, d, ["01_data_privacy", "02_segmentation", "05_segment_dynamics"])
    assert summary["n_transactions"] == 0
    assert "not applicable" in _html(result, "05_segment_dynamics").lower()


def test_transactions_but_no_customer_table_features(tmp_path):
    d = _world()
    d.customers = d.customers[["customer_id"]]
    d.roles = data.Roles(id="customer_id", transactions=d.roles.transactions)
    d.choices = None  # its corrections name customer-table features this export no longer has
    _run(tmp_path, d, ["01_data_privacy", "02_segmentation", "03_explain_membership"])


def test_one_transaction_per_customer(tmp_path):
    d = _world()
    d.transactions = d.transactions.sort_values("timestamp").groupby("customer_id", as_index=False).first()
    _run(tmp_path, d, ["02_segmentation", "03_explain_membership", "05_segment_dynamics"])


def test_every_customer_identical_stops_with_a_message_naming_the_cause(tmp_path):
    d = _world()
    first = d.customers.iloc[0]
    for col in d.roles.feature_columns + d.roles.sensitive:
        d.customers[col] = first[col]
    tx = d.transactions.iloc[[0]].drop(columns="customer_id")
    d.transactions = tx.merge(d.customers[["customer_id"]], how="cross")[d.transactions.columns]
    config = data.write_byo(d, tmp_path / "byo")
    cfg = load_config(config=config, overrides=list(SMALL))
    result = pipeline.run(cfg, tmp_path / "run", notebooks=["02_segmentation"], progress=lambda m: None)
    assert not result.ok and "No segmentation input varies across customers" in result.message


def test_one_customer_stops_with_exit_2(tmp_path):
    d = _world()
    d.customers = d.customers.head(1)
    d.transactions = d.transactions[d.transactions["customer_id"].isin(d.customers["customer_id"])]
    config = data.write_byo(d, tmp_path / "byo")
    res = CliRunner().invoke(app, ["run", "--config", str(config), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "1 customer(s), fewer than the minimum of 50" in res.output
    assert not (tmp_path / "out").exists()


# --- real export formats ------------------------------------------------------------------------------

def test_latin1_semicolon_and_bom_crlf_exports_give_the_clean_csvs_summary(tmp_path):
    d = _world()
    d.choices = None  # the register is read as comma-separated UTF-8 only (README: choices)
    regions = sorted(d.customers["region"].unique())
    d.customers["region"] = d.customers["region"].map(dict(zip(regions, ["Zürich", "Köln", "Malmö", "Besançon", "Nîmes", "Ærø"])))
    summaries = []
    for i, (encoding, sep, newline) in enumerate([("utf-8", ",", "\n"), ("latin-1", ",", "\n"),
                                                 ("cp1252", ";", "\n"), ("utf-8-sig", ",", "\r\n")]):
        config = data.write_byo(d, tmp_path / f"byo{i}")
        for path in config.parent.glob("*.csv"):
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
            path.write_bytes(df.to_csv(index=False, sep=sep, lineterminator=newline).encode(encoding))
        cfg = load_config(config=config, overrides=SMALL)
        result = pipeline.run(cfg, tmp_path / f"run{i}", notebooks=["01_data_privacy"], progress=lambda m: None)
        assert result.ok, result.message
        summaries.append((result.out / "summary.json").read_text())
    assert summaries[1] == summaries[0] and summaries[2] == summaries[0] and summaries[3] == summaries[0]
