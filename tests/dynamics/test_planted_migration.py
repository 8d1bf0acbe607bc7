"""The planted migration of the synthetic world is recovered (synthetic truth only)."""

from __future__ import annotations

import pytest

from workbench import dynamics


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
