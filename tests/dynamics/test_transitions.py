"""Transition matrices, migration share, up- and downgrades."""

from __future__ import annotations

import numpy as np
import pytest

from workbench import dynamics


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
    assert sup.loc["low", "low"] == 25 or np.isnan(sup.loc["low", "low"])
    assert sup_rates.isna().equals(sup.isna())
    assert (sup.fillna(0) == 0).sum().sum() < sup.size  # not everything suppressed


def test_migration_share_and_grade_changes(toy_states):
    states = toy_states
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
