"""Figures of notebook 05."""

from __future__ import annotations

from workbench import dynamics


def test_flow_chart_draws_only_flows_of_at_least_k(toy_states):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import PathPatch

    states = toy_states
    ax = dynamics.flow_chart(states, ["A", "B"], {0: "low", 1: "high"}, [0, 1], k=10)
    flows = [p for p in ax.patches if isinstance(p, PathPatch)]
    # moves of >= 10 customers among active/inactive states: 0->0 (25), 0->1 (10), 1->1 (27), inactive->0 (12)
    assert len(flows) == 4
    plt.close(ax.figure)
