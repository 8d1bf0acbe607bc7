"""Segment dynamics: windows, states, transition matrices, drift, staleness, planted migration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench import dynamics
from workbench.dynamics import INACTIVE, NOT_YET

MIGRATION = {"source": "Steady regulars", "target": "Loyal high spenders", "share": 0.3, "at": "2026-01-01"}
BEHAVIOURAL = {"customer_families": []}  # transaction features only: customer attributes have no history


# -- windows -------------------------------------------------------------------------------------------
def test_make_windows_full_calendar_quarters():
    ts = pd.Series(pd.to_datetime(["2024-07-01 10:00", "2025-03-03 00:00", "2026-06-30 20:00"]))
    w = dynamics.make_windows(ts)
    assert list(w["label"]) == ["2024Q3", "2024Q4", "2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2"]
    assert w["start"].iloc[0] == pd.Timestamp("2024-07-01") and w["end"].iloc[-1] == pd.Timestamp("2026-07-01")
    assert (w["start"].iloc[1:].to_numpy() == w["end"].iloc[:-1].to_numpy()).all()
    assert list(dynamics.make_windows(ts, n_windows=3)["label"]) == ["2025Q4", "2026Q1", "2026Q2"]
    assert len(dynamics.make_windows(ts, max_windows=5)) == 5
    assert list(dynamics.make_windows(ts, months=6)["label"]) == ["2024H2", "2025H1", "2025H2", "2026H1"]
    assert list(dynamics.make_windows(ts, months=12)["label"]) == ["2025"]
    # partial quarters at either end (beyond a week's grace) do not count
    partial = pd.Series(pd.to_datetime(["2024-07-20", "2026-06-10"]))
    assert list(dynamics.make_windows(partial)["label"]) == [
        "2024Q4", "2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1"]
    assert dynamics.make_windows(pd.Series(pd.to_datetime(["2025-01-05", "2025-02-01"]))).empty


def test_window_activity_matches_pandas():
    tx = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "b", "c"],
        "timestamp": pd.to_datetime(["2025-01-05", "2025-02-01", "2025-05-01", "2025-04-02", "2025-04-03", "2025-06-30"]),
        "amount": [10.0, -10.0, 5.0, 3.0, 4.0, -2.0],
    })
    w = pd.DataFrame({"label": ["Q1", "Q2"], "start": pd.to_datetime(["2025-01-01", "2025-04-01"]),
                      "end": pd.to_datetime(["2025-04-01", "2025-07-01"])})
    act = dynamics.window_activity(tx, w).set_index("customer_id").sort_index()
    assert act.loc["a", "n_Q1"] == 1 and act.loc["a", "n_Q2"] == 1  # the return is not a purchase
    assert act.loc["b", "n_Q1"] == 0 and act.loc["b", "n_Q2"] == 2
    assert not act.loc["b", "seen_Q1"] and act.loc["b", "seen_Q2"]
    assert act.loc["c", "n_Q2"] == 0 and not act.loc["c", "seen_Q2"]  # returns only: never a buyer


# -- transitions ----------------------------------------------------------------------------------------
def _toy_states() -> pd.DataFrame:
    a = [0] * 40 + [1] * 30 + [INACTIVE] * 20 + [NOT_YET] * 10 + [NOT_YET] * 5
    b = [0] * 25 + [1] * 10 + [INACTIVE] * 5 + [1] * 27 + [0] * 3 + [0] * 12 + [INACTIVE] * 8 + [1] * 10 + [NOT_YET] * 5
    return pd.DataFrame({"customer_id": [f"p{i:03d}" for i in range(len(a))], "A": a, "B": b})


def test_transition_matrix_counts_rates_and_suppression():
    states = _toy_states()
    names = {0: "low", 1: "high"}
    counts, rates = dynamics.transition_matrix(states, "A", "B", names, order=[0, 1])
    assert list(counts.index) == ["low", "high", "inactive", "not yet a customer"]
    assert list(counts.columns) == ["low", "high", "inactive"]
    assert counts.loc["low"].tolist() == [25, 10, 5]
    assert counts.loc["high"].tolist() == [3, 27, 0]
    assert counts.loc["inactive"].tolist() == [12, 0, 8]
    assert counts.loc["not yet a customer"].tolist() == [0, 10, 0]
    assert counts.to_numpy().sum() == 100  # the 5 never-customers are left out
    np.testing.assert_allclose(rates.sum(axis=1), 1.0)
    assert rates.loc["low", "high"] == pytest.approx(10 / 40)
    sup, sup_rates = dynamics.transition_matrix(states, "A", "B", names, order=[0, 1], k=10)
    assert np.isnan(sup.loc["high", "low"]) and np.isnan(sup.loc["low", "inactive"])  # 3 and 5 < 10
    assert sup.loc["low", "low"] == 25 or np.isnan(sup.loc["low", "low"])
    assert sup_rates.isna().equals(sup.isna())
    assert (sup.fillna(0) == 0).sum().sum() < sup.size  # not everything suppressed


def test_migration_share_and_grade_changes():
    states = _toy_states()
    share = dynamics.migration_share(states, 0, 1, "A", "B")
    assert share == {"n_source": 35, "n_moved": 10, "share": pytest.approx(10 / 35)}
    grades = dynamics.grade_changes(states, "A", "B", value_order=[0, 1], names={0: "low", 1: "high"})
    low = grades.set_index("segment").loc["low"]
    assert low["n"] == 40
    assert low["upgraded"] == pytest.approx(10 / 40) and low["same"] == pytest.approx(25 / 40)
    assert low["downgraded"] == 0 and low["inactive"] == pytest.approx(5 / 40)
    high = grades.set_index("segment").loc["high"]
    assert high["downgraded"] == pytest.approx(3 / 30) and high["upgraded"] == 0
    labels = dynamics.grade_labels(states["A"].to_numpy(), states["B"].to_numpy(), [0, 1])
    assert (labels == "down").sum() == 3 and (labels == "up").sum() == 10 and (labels == "").sum() == 35


def test_flow_chart_draws_only_flows_of_at_least_k():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import PathPatch

    states = _toy_states()
    ax = dynamics.flow_chart(states, ["A", "B"], {0: "low", 1: "high"}, [0, 1], k=10)
    flows = [p for p in ax.patches if isinstance(p, PathPatch)]
    # moves of >= 10 customers among active/inactive states: 0->0 (25), 0->1 (10), 1->1 (27), inactive->0 (12)
    assert len(flows) == 4
    plt.close(ax.figure)


# -- drift ----------------------------------------------------------------------------------------------
def test_psi_reference_values():
    rng = np.random.default_rng(0)
    x = rng.normal(size=20_000)
    assert dynamics.psi(x, x) == pytest.approx(0.0, abs=1e-12)
    assert dynamics.psi(x, rng.normal(size=20_000)) < 0.01
    assert dynamics.psi(x, rng.normal(1.0, 1.0, 20_000)) > 0.25
    # categorical by hand: shares (0.5, 0.5) -> (0.8, 0.2)
    e = pd.Series(["a"] * 50 + ["b"] * 50)
    a = pd.Series(["a"] * 80 + ["b"] * 20)
    expected = (0.8 - 0.5) * np.log(0.8 / 0.5) + (0.2 - 0.5) * np.log(0.2 / 0.5)
    assert dynamics.psi(e, a) == pytest.approx(expected)
    # missing values are a bin of their own
    assert dynamics.psi(pd.Series([1.0, 2.0] * 50), pd.Series([1.0, np.nan] * 50)) > 0.25


def test_staleness_curve_refresh_advice_and_stale_table():
    segs = pd.DataFrame({
        "customer_id": [f"p{i}" for i in range(10)],
        "w1": [0, 0, 0, 0, 0, 1, 1, 1, 1, NOT_YET],
        "w2": [0, 0, 0, 0, 1, 1, 1, 1, 1, 1],
        "w3": [0, 0, 1, 1, 1, 1, 1, 1, 0, 1],
    })
    curve = dynamics.staleness_curve(segs, ["w1", "w2", "w3"])
    # lag 1: w1->w2 (1 of 9 changed) + w2->w3 (3 of 10) = 4/19; lag 2: w1->w3: 4 of 9
    assert curve["stale_share"].tolist() == pytest.approx([4 / 19, 4 / 9])
    advice = dynamics.refresh_recommendation(curve, window_months=3, tolerance=0.25)
    assert advice["refresh_every_months"] == 3
    advice = dynamics.refresh_recommendation(curve, window_months=3, tolerance=0.1)
    assert advice["refresh_every_months"] == 3 and "more often" in advice["sentence"]
    assert dynamics.refresh_recommendation(curve, 3, tolerance=0.5)["refresh_every_months"] is None
    stale = dynamics.stale_assignments(segs["w1"], segs["w3"], {0: "a", 1: "b"}).set_index("segment")
    assert stale.loc["a", "n"] == 5 and stale.loc["a", "stale"] == 3 and stale.loc["a", "main_destination"] == "b"
    assert stale.loc["all", "stale_share"] == pytest.approx(4 / 9)


def test_match_centroids_hungarian():
    ref = np.array([[0.0, 0.0], [5.0, 5.0], [10.0, 0.0]])
    new = np.array([[9.5, 0.2], [0.1, -0.1], [5.2, 4.9], [20.0, 20.0]])
    assert dynamics.match_centroids(ref, new).tolist() == [2, 0, 1, 3]


# -- on the synthetic world -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def migrated():
    """12,000 synthetic customers; 30% of Steady regulars behave like Loyal high spenders from 2026."""
    from workbench.segment import SegmentationModel

    ds = workbench.load("synthetic", n_customers=12_000, seed=1, migration=MIGRATION)
    end = pd.Timestamp("2026-07-01")
    feats = dynamics.window_features(ds.customers, ds.transactions, ds.roles, end, settings=BEHAVIOURAL)
    model = SegmentationModel(k=5, random_state=0).fit(feats)
    windows = dynamics.make_windows(ds.transactions["timestamp"])
    dyn = dynamics.segment_states(model, ds.customers, ds.transactions, ds.roles, windows,
                                  feature_settings=BEHAVIOURAL, seed=0)
    truth = pd.DataFrame({"customer_id": ds.truth.segments.index, "segment": ds.truth.segments.to_numpy(),
                          "segment_after_migration": ds.truth.segments_after_migration.to_numpy()})
    migration = {k: v for k, v in ds.truth.migration.items() if k != "moved_ids"}
    return ds, model, dyn, truth, migration


def test_states_are_consistent_with_activity(migrated):
    ds, model, dyn, _, _ = migrated
    assert dyn.labels[0] == "2024Q3" and dyn.labels[-1] == "2026Q2" and len(dyn.labels) == 8
    assert list(dyn.states["customer_id"]) == list(ds.customers["customer_id"])  # customer-table order
    tx = ds.transactions
    last = tx[(tx["timestamp"] >= "2026-04-01") & (tx["amount"] > 0)]["customer_id"].unique()
    active = dyn.states["2026Q2"] >= 0
    assert set(dyn.states.loc[active, "customer_id"]) == set(last)
    # in the last window the model sees the very features it was fitted on
    feats = dynamics.window_features(ds.customers, tx, ds.roles, "2026-07-01", settings=BEHAVIOURAL)
    scored = dyn.segments["2026Q2"] >= 0
    np.testing.assert_array_equal(dyn.segments.loc[scored, "2026Q2"], model.predict(feats.loc[scored.to_numpy()]))
    # states equal segments where active, INACTIVE where seen but not active
    s, g = dyn.states.iloc[:, 1:].to_numpy(), dyn.segments.iloc[:, 1:].to_numpy()
    assert ((s == g) | (s == INACTIVE)).all()
    assert ((g == NOT_YET) == (s == NOT_YET)).all()


def test_planted_migration_share_is_recovered_within_two_points(migrated):
    """Done-when: among active customers of the source segment in the quarter ending at the
    migration date (2025Q4) who are active in the last quarter (2026Q2), the share in the target
    segment in 2026Q2 is the planted share (n_moved / n_source) within 2 percentage points."""
    _, _, dyn, truth, migration = migrated
    check = dynamics.planted_migration_check(dyn, truth, migration)
    assert check["applicable"], check
    assert (check["before"], check["after"]) == ("2025Q4", "2026Q2")
    assert check["n_source_active"] > 1000
    assert abs(check["measured_share"] - check["planted_share"]) < 0.02, check
    # the same number read off the transition matrix
    counts, _ = dynamics.transition_matrix(dyn.states, "2025Q4", "2026Q2", dyn.state_names(), dyn.value_order)
    src = [dyn.names[j] for j in check["source_ids"]]
    dst = [dyn.names[j] for j in check["target_ids"]]
    segs = [dyn.names[j] for j in dyn.value_order]
    row = counts.loc[src, segs].sum()
    assert row[dst].sum() / row.sum() == pytest.approx(check["measured_share"])
    # before the migration the same segment does not move like that
    quiet = dynamics.migration_share(dyn.states, check["source_ids"][0], check["target_ids"][0], "2025Q2", "2025Q4")
    assert quiet["share"] < 0.05


def test_cohort_drift_flags_the_features_that_changed(migrated):
    _, model, dyn, truth, migration = migrated
    shift = dynamics.cohort_shift(dyn, "2025Q4", "2026Q2")
    src = dyn.names[dynamics.planted_migration_check(dyn, truth, migration)["source_ids"][0]]
    row = shift.loc[src]
    changed = {"trend", "recency", "frequency", "monetary", "average_order_value", "inter_purchase_time"}
    top = row.abs().sort_values(ascending=False).index[:3]
    assert set(top) <= changed, row.sort_values()
    assert row["trend"] > 0.5  # the movers buy more now than in the half-year before
    # a year earlier the same segment's members did not change like that
    quiet = dynamics.cohort_shift(dyn, "2024Q4", "2025Q2").loc[src]
    assert abs(quiet["trend"]) < row["trend"] / 2
    flags = dynamics.cohort_flags(shift).set_index("segment")
    assert flags.loc[src, "changed"].startswith("trend")
    # population drift: every input gets a PSI for every consecutive pair
    assert dyn.drift.shape == (len(model.feature_names_in_), 7)
    assert (dyn.drift.to_numpy() >= 0).all()


def test_refit_per_window_keeps_ids_aligned(migrated):
    ds, model, _, _, _ = migrated
    small = ds.customers.iloc[:3000]
    tx = ds.transactions[ds.transactions["customer_id"].isin(small["customer_id"])]
    windows = dynamics.make_windows(tx["timestamp"], n_windows=3)
    dyn = dynamics.segment_states(model, small, tx, ds.roles, windows, feature_settings=BEHAVIOURAL,
                                  refit=True, seed=0, cohort=False)
    a, b = dyn.states["2026Q2"].to_numpy(), dyn.refit_states["2026Q2"].to_numpy()
    both = (a >= 0) & (b >= 0)
    assert (a[both] == b[both]).mean() > 0.7  # a refit on the same behaviour mostly agrees, ids matched
    assert ((dyn.refit_states.iloc[:, 1:] == INACTIVE) == (dyn.states.iloc[:, 1:] == INACTIVE)).all().all()
    # matched to the original model instead: the last window's features are the ones it was fitted on
    dyn = dynamics.segment_states(model, small, tx, ds.roles, windows.tail(1), feature_settings=BEHAVIOURAL,
                                  refit=True, refit_match="original", seed=0, cohort=False)
    a, b = dyn.states["2026Q2"].to_numpy(), dyn.refit_states["2026Q2"].to_numpy()
    both = (a >= 0) & (b >= 0)
    assert (a[both] == b[both]).mean() > 0.9


def test_movement_fairness_rates_with_intervals(migrated):
    ds, _, dyn, _, _ = migrated
    fair = dynamics.movement_fairness(dyn.states, ds.customers, "2026Q1", "2026Q2", dyn.value_order,
                                      ["gender", "age"], bands={"age": [18, 30, 45, 60, 120]}, n_boot=200, k=10)
    assert set(fair["attribute"]) == {"gender", "age"} and set(fair["outcome"]) == {"downgrade", "lapse"}
    ok = fair["rate"].notna()
    assert ((fair.loc[ok, "rate_low"] <= fair.loc[ok, "rate"]) & (fair.loc[ok, "rate"] <= fair.loc[ok, "rate_high"])).all()
    # the rates are plain shares of the event in each group
    a, b = dyn.states["2026Q1"].to_numpy(), dyn.states["2026Q2"].to_numpy()
    lab = dynamics.grade_labels(a, b, dyn.value_order)
    g = ds.customers.set_index("customer_id")["gender"].reindex(dyn.states["customer_id"]).to_numpy()
    mask = (a >= 0) & (b >= 0) & (g == "female")
    row = fair[(fair["attribute"] == "gender") & (fair["outcome"] == "downgrade") & (fair["group"] == "female")]
    assert row["rate"].iloc[0] == pytest.approx((lab[mask] == "down").mean())
    # the tiny non-binary group is suppressed
    nb = fair[(fair["attribute"] == "gender") & (fair["group"] == "non-binary")]
    assert nb.empty or nb["rate"].isna().all() or (nb["n"] >= 10).all()


# -- the stage ------------------------------------------------------------------------------------------
def _prepared(tmp_path, dataset, overrides):
    from workbench.data import load_config
    from workbench.pipeline import prepare

    cfg = load_config(dataset=dataset, overrides=overrides)
    return prepare(cfg, tmp_path / dataset, fresh=True)


def test_stage_on_synthetic_writes_artifacts_and_deterministic_summary(tmp_path):
    overrides = ["dataset.params.n_customers=2500", "dataset.params.seed=3", "segmentation.k=4",
                 f"dataset.params.migration={MIGRATION}".replace("'", '"')]
    run = _prepared(tmp_path, "synthetic", overrides)
    dyn = dynamics.dynamics_run(run)
    assert dyn is not None and len(dyn.labels) == 8
    for name in ("states", "transitions", "grades", "drift", "centroid_shift", "staleness", "stale", "fairness"):
        assert run.has(f"dynamics/{name}.parquet"), name
    summary = run.read_json("summary/05_dynamics.json")
    assert summary["applicable"] and summary["windows"][0] == "2024Q3"
    assert "planted_migration" in summary
    assert not any("customer_id" in str(v) or str(v).startswith("p") and len(str(v)) == 17
                   for v in summary.values() if isinstance(v, str))
    transitions = run.read_table("dynamics/transitions.parquet")
    k = run.read_json("data/prepare.json")["suppression_k"]
    assert ((transitions["count"].isna()) | (transitions["count"] == 0) | (transitions["count"] >= k)).all()
    first = (tmp_path / "synthetic" / "summary" / "05_dynamics.json").read_text()
    dynamics.dynamics_run(run)
    assert (tmp_path / "synthetic" / "summary" / "05_dynamics.json").read_text() == first


def test_stage_without_transactions_is_not_applicable(tmp_path):
    run = _prepared(tmp_path, "telco", [])
    assert dynamics.dynamics_run(run) is None
    summary = run.read_json("summary/05_dynamics.json")
    assert summary["applicable"] is False and "transaction" in summary["because"]
    assert run.read_json("artifacts/dynamics/dynamics.json")["applicable"] is False
