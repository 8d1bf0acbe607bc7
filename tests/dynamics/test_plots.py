"""Figures of notebook 05."""

from __future__ import annotations

import numpy as np

from workbench import dynamics


def test_flow_chart_bands_are_published_values_only(toy_states):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import PathPatch, Rectangle

    states = toy_states
    names = {0: "low", 1: "high"}
    ax = dynamics.flow_chart(states, ["A", "B"], names, [0, 1], k=10)
    published, _ = dynamics.transition_matrix(states, "A", "B", {**names, -1: "inactive", -2: "not yet a customer"},
                                              [0, 1], k=10)
    interior = published.drop(index=["Total", "not yet a customer"], errors="ignore").drop(columns="Total")
    shown = sorted(v for v in interior.to_numpy().ravel() if not np.isnan(v) and v > 0)
    widths = sorted(float(p.get_path().vertices[7, 1] - p.get_path().vertices[0, 1])
                    for p in ax.patches if isinstance(p, PathPatch))
    assert widths == shown  # one band per published cell, as wide as that cell; hidden cells not drawn
    bars = dynamics.window_counts(states, ["A", "B"], [0, 1], names, 10)
    heights = sorted(p.get_height() for p in ax.patches if isinstance(p, Rectangle) and not isinstance(p, PathPatch)
                     and p.get_width() < 1)
    published_bars = sorted(v for v in bars.loc[["A", "B"], ["high", "low", "inactive"]].to_numpy().ravel()
                            if not np.isnan(v) and v > 0)
    assert heights == published_bars
    plt.close(ax.figure)
