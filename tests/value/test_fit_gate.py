"""The CLV fit gate: fails on the synthetic world (not BG/NBD-generated), passes on CDNOW; said beside CLV numbers."""

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench.data import load_config
from workbench.pipeline import prepare
from workbench.value import calibration_holdout, clv_summary, fit_models, views
from workbench.value._fit_gate import UNFIT, correlation_check, fit_gate, holdout_check


def _gate(tx: pd.DataFrame, calibration_end):
    end = tx["timestamp"].max().normalize() + pd.Timedelta(days=1)
    cal = calibration_holdout(tx, calibration_end, end)
    bg = fit_models(cal)[0]
    predicted = bg.expected_purchases(cal["holdout_days"].to_numpy(float), cal["frequency"].to_numpy(float),
                                      cal["recency"].to_numpy(float), cal["T"].to_numpy(float))
    summary = clv_summary(tx, end)
    return fit_gate(cal, predicted, summary["frequency"], summary["monetary_value"])


def test_the_gate_passes_on_cdnow():
    # Fader, Hardie & Lee (2005): 39 weeks of calibration, 39 of holdout, on the whole master log
    gate = _gate(workbench.load("cdnow").transactions, "1997-10-01")
    assert gate.fits, gate.reasons
    assert (gate.holdout["verdict"] == "within tolerance").all()
    assert abs(gate.correlation["r"]) < 0.15
    assert gate.sentence().startswith("Model fit: PASS")


def test_the_gate_fails_on_the_synthetic_world():
    tx = workbench.load("synthetic", n_customers=1500, seed=1).transactions
    start, end = tx["timestamp"].min().normalize(), tx["timestamp"].max().normalize() + pd.Timedelta(days=1)
    gate = _gate(tx, end - pd.Timedelta(days=(end - start).days // 3))
    assert not gate.fits
    assert len(gate.reasons) == 2  # the holdout misses and spend follows frequency
    assert "outside tolerance" in set(gate.holdout["verdict"])
    assert gate.correlation["low"] > 0.3
    assert UNFIT in gate.sentence()


def test_a_bucket_fails_only_when_its_whole_interval_is_outside_the_tolerance():
    rng = np.random.default_rng(0)
    n = 400
    cal = pd.DataFrame({"frequency": np.repeat([0, 1], n), "holdout_purchases": rng.poisson(1.0, 2 * n)})
    near = np.r_[np.full(n, 0.62), np.full(n, 1.0)]   # 38% under: inside a ±40% band
    far = np.r_[np.full(n, 0.3), np.full(n, 1.0)]     # 70% under: outside, far beyond the noise
    assert set(holdout_check(cal, near)["verdict"]) == {"within tolerance"}
    assert list(holdout_check(cal, far)["verdict"]) == ["outside tolerance", "within tolerance"]
    small = holdout_check(cal.iloc[n - 10:n + 10], far[n - 10:n + 10], min_customers=30)
    assert set(small["verdict"]) == {"not judged (n < 30)"}


def test_a_weak_correlation_on_few_buyers_is_not_a_failure():
    rng = np.random.default_rng(1)
    x = rng.integers(1, 10, 40)
    m = 20 + 2 * x + rng.normal(0, 14, 40)   # r near 0.5, but 40 buyers cannot place it beyond 0.3
    check = correlation_check(x, m)
    assert check["r"] > 0.3 and check["low"] < 0.3 and check["fits"]


@pytest.fixture(scope="module")
def unfit_runs(tmp_path_factory):
    runs = {}
    for mode in ("warn", "historical"):
        cfg = load_config(dataset="synthetic", overrides=[
            "dataset.params.n_customers=900", "dataset.params.seed=5", "segmentation.k=3",
            f"value.when_unfit={mode}"])
        run = prepare(cfg, tmp_path_factory.mktemp(mode))
        runs[mode] = (run, workbench.value.value_run(run))
    return runs


def test_every_clv_number_says_the_model_does_not_fit(unfit_runs):
    run, result = unfit_runs["warn"]
    models = result.models
    assert models["fit_gate"]["fits"] is False and models["fallback_to_historical"] is False
    assert "outside tolerance" in set(result.holdout["fit"])  # the verdict beside each bucket of the table
    lines = views.headline(models, result.holdout, 12)
    assert UNFIT in lines[0] and UNFIT in lines[-1]
    assert any(line.startswith("Model fit: FAIL") for line in lines)
    assert UNFIT in views.model_lines(models)[-1]
    assert views.fit_markdown(models).startswith("**Model fit: FAIL.**")
    growth = workbench.value.growth_by_segment(run)
    assert UNFIT in views.growth_sentence(growth, models)
    assert "This run: FAIL" in views.methodology_markdown(models, 10)
    assert run.read_table(workbench.value.PREDICTED)["growth_potential"].any()


def test_when_unfit_historical_falls_back_for_growth_and_targeting(unfit_runs):
    run, result = unfit_runs["historical"]
    assert result.models["fallback_to_historical"] is True
    assert not run.read_table(workbench.value.PREDICTED)["growth_potential"].any()
    assert "use historical value instead" in views.fit_caveat(result.models)
    for overlap, _ in workbench.value.targeting_audit(run).values():
        # both policies select by historical value: nobody is selected by one only
        assert (overlap.loc["Total", ["historical only", "predicted only"]].fillna(0) == 0).all()
