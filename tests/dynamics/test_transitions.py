"""Transition matrices, migration share, up- and downgrades."""

from __future__ import annotations

import numpy as np
import pytest

from workbench import dynamics, privacy


def test_transition_matrix_counts_rates_and_suppression(toy_states):
    states = toy_states
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
    assert "Total" in sup.index and "Total" in sup.columns  # margins published with the table
    # rates derive from the published table: a rate exists only where its cell and row total are published
    hidden = sup.drop(columns="Total").isna() | sup["Total"].isna().to_numpy()[:, None]
    assert sup_rates.isna().equals(hidden)
    shown = ~hidden
    np.testing.assert_allclose((sup_rates * sup["Total"].to_numpy()[:, None])[shown], sup.drop(columns="Total")[shown])
    # no hidden cell can be recovered from the published table (LP attack over its equations)
    attack = privacy.disclosure_intervals(counts, sup, margins=True)
    assert len(attack) and not attack["disclosed"].any()
    # grades derive from the published table: NaN where a cell they sum is hidden
    grades = dynamics.grades_from_published(sup, [0, 1], names).set_index("segment")
    assert np.isnan(grades.loc["low", "inactive"]) and np.isnan(grades.loc["high", "downgraded"])


def test_migration_share_and_grade_changes(toy_states):
    states = toy_states
    share = dynamics.migration_share(states, 0, 1, "A", "B")
    # not conditioned on activity: the 5 who became inactive stay in the denominator
    assert share == {"n_source": 40, "n_moved": 10, "n_inactive": 5, "share": pytest.approx(10 / 40)}
    active = dynamics.migration_share(states, 0, 1, "A", "B", active_only=True)
    assert active["n_source"] == 35 and active["share"] == pytest.approx(10 / 35)
    grades = dynamics.grade_changes(states, "A", "B", value_order=[0, 1], names={0: "low", 1: "high"})
    low = grades.set_index("segment").loc["low"]
    assert low["n"] == 40
    assert low["upgraded"] == pytest.approx(10 / 40) and low["same"] == pytest.approx(25 / 40)
    assert low["downgraded"] == 0 and low["inactive"] == pytest.approx(5 / 40)
    high = grades.set_index("segment").loc["high"]
    assert high["downgraded"] == pytest.approx(3 / 30) and high["upgraded"] == 0
    labels = dynamics.grade_labels(states["A"].to_numpy(), states["B"].to_numpy(), [0, 1])
    assert (labels == "down").sum() == 3 and (labels == "up").sum() == 10 and (labels == "").sum() == 35
