"""Shapes of real exports that broke a run (issue 25, item 9): each is run the way a new user would.

* transactions dated in the future are left out, and notebook 01's page says so where a reviewer reads it;
* one megabyte of text in a category column is replaced by a short stand-in (it made stage 02 allocate
  rows x length and run for minutes), and the page says that too;
* an export with one purchase per customer gives notebook 07 "not applicable" and why, not a crash.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from workbench import data, pipeline, value
from workbench.data import load_config
from workbench.rundir import Run

N = 300
FAST = ["segmentation.k_range=[2,3]", "segmentation.n_bootstrap=2", "segmentation.compare_learned=false",
        "privacy.suppression_k=5"]


def _run(tmp_path, d: data.Dataset, notebooks: list[str]):
    config = data.write_byo(d, tmp_path / "byo")
    result = pipeline.run(load_config(config=config, overrides=FAST), tmp_path / "run", notebooks=notebooks,
                          progress=lambda m: None)
    assert result.ok, result.message
    return result, json.loads((result.out / "summary.json").read_text())


@pytest.fixture(scope="module")
def messy_export(tmp_path_factory):
    """Seven transactions dated 2031 and one megabyte of text in one customer's region; notebooks 01 and 02."""
    d = data.load("synthetic", n_customers=N, seed=3)
    d.transactions.loc[d.transactions.index[:7], "timestamp"] = pd.Timestamp("2031-01-01")
    d.customers["region"] = d.customers["region"].astype(object)
    d.customers.loc[5, "region"] = "x" * 1_000_000
    with pytest.MonkeyPatch.context() as patch:  # the same fixed key as conftest's per-test fixture
        patch.setenv("WORKBENCH_PSEUDONYM_KEY", "test-key-not-secret-0123456789")
        return _run(tmp_path_factory.mktemp("messy"), d, ["01_data_privacy", "02_segmentation"])


def test_future_dated_transactions_are_excluded_and_the_report_says_so(messy_export):
    result, summary = messy_export
    prep = json.loads((result.out / "data" / "prepare.json").read_text())
    assert prep["data_checks"]["future_transactions_excluded"] == 7
    page = (result.out / "01_data_privacy.html").read_text()
    assert "7 transactions dated after the run date (future-dated in the export)" in page
    assert any("future-dated" in line for line in summary["01_data_privacy"]["headline"])  # index, executive summary


def test_a_megabyte_category_value_is_replaced_and_stage_02_runs(messy_export):
    result, summary = messy_export
    prep = json.loads((result.out / "data" / "prepare.json").read_text())
    assert prep["data_checks"]["long_values_replaced"] == {"max_length": 200, "columns": {"region": 1}}
    customers = pd.read_parquet(result.out / "data" / "customers.parquet")
    assert customers["region"].astype(str).str.len().max() <= 200
    assert customers["region"].str.startswith("long value (1,000,000 characters, sha256 ").sum() == 1
    assert "xxxxxxxxxx" not in (result.out / "01_data_privacy.html").read_text()  # none of the text is kept
    assert "longer than 200 characters" in (result.out / "01_data_privacy.html").read_text()
    assert summary["02_segmentation"]["headline"]


def test_cap_long_values_keeps_equal_values_equal_and_ids_untouched():
    from workbench.data._checks import cap_long_values

    df = pd.DataFrame({"id": ["a" * 300, "b"], "note": ["y" * 500, "y" * 500], "n": [1, 2]})
    out, counts = cap_long_values(df, 200, keep=("id",))
    assert counts == {"note": 2} and out["id"].tolist() == df["id"].tolist()
    assert out["note"].nunique() == 1 and out["note"].iloc[0].startswith("long value (500 characters")
    same, none = cap_long_values(df[["n"]], 200)
    assert none == {} and same is not None


def test_one_purchase_per_customer_makes_predicted_value_not_applicable(tmp_path):
    d = data.load("synthetic", n_customers=N, seed=3)
    d.transactions = d.transactions.sort_values("timestamp").groupby("customer_id", observed=True).head(1)
    result, summary = _run(tmp_path, d, ["07_predicted_value"])
    page = (result.out / "07_predicted_value.html").read_text()
    assert "not applicable" in page.lower() and "bought on more than one day" in page
    fragment = summary["07_predicted_value"]
    assert fragment["applicable"] is False and "more than one day" in fragment["because"]
    with pytest.raises(ValueError, match="not applicable"):  # a later stage asking for it gets the reason
        value.value_run(Run(result.out))
