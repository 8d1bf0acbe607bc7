"""The stage on a run directory: artifacts, deterministic summary, not applicable without transactions."""

from __future__ import annotations

from workbench import dynamics


def _prepared(tmp_path, dataset, overrides):
    from workbench.data import load_config
    from workbench.pipeline import prepare

    cfg = load_config(dataset=dataset, overrides=overrides)
    return prepare(cfg, tmp_path / dataset, fresh=True)


def test_stage_on_synthetic_writes_artifacts_and_deterministic_summary(tmp_path, planted_migration):
    overrides = ["dataset.params.n_customers=2500", "dataset.params.seed=3", "segmentation.k=4",
                 f"dataset.params.migration={planted_migration}".replace("'", '"')]
    run = _prepared(tmp_path, "synthetic", overrides)
    dyn = dynamics.dynamics_run(run)
    assert dyn is not None and len(dyn.labels) == 4
    for name in ("states", "transitions", "grades", "drift", "centroid_shift", "staleness", "stale", "fairness"):
        assert run.has(f"dynamics/{name}.parquet"), name
    summary = run.read_json("summary/05_dynamics.json")
    assert summary["applicable"] and summary["windows"][0] == "2024H2"
    assert "planted_migration" in summary
    assert not any("customer_id" in str(v) or str(v).startswith("p") and len(str(v)) == 17
                   for v in summary.values() if isinstance(v, str))
    # every published count table is registered for the whole-run disclosure check, margins included
    from workbench import privacy

    registered = privacy.published_tables(run)
    names = set(registered["table"])
    assert "dynamics_window_states" in names and any(n.startswith("dynamics_transitions_") for n in names)
    assert any(n.startswith("dynamics_movement_") for n in names)
    assert (registered["column"] == "Total").any()
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


def test_movement_headline_says_when_a_share_is_hidden():
    """Issue 25: the headline printed "nan% of active customers moved to a higher-value segment"."""
    import numpy as np
    import pandas as pd

    from workbench.dynamics.stage import _movement_sentence

    hidden = _movement_sentence(pd.Series({"upgraded": np.nan, "downgraded": 0.12, "inactive": 0.3}), "2025H1", "2026H1")
    assert "nan" not in hidden and "12% to a lower-value one and 30% became inactive by 2026H1" in hidden
    assert "the share that moved up is not published" in hidden
    none = _movement_sentence(pd.Series({"upgraded": np.nan, "downgraded": np.nan, "inactive": np.nan}), "A", "B")
    assert "nan" not in none and "the shares that moved up, moved down and became inactive are not published" in none
