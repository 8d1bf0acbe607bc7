"""Notebook figures draw from the algorithms' outputs without error."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from workbench import privacy  # noqa: E402


def test_plot_uniqueness_shows_the_top_combinations():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({c: rng.integers(0, 5, 200) for c in "abcd"})
    fig = privacy.plot_uniqueness(privacy.reidentification_risk(df, list("abcd"), k=5)["combinations"], top=4)
    assert len(fig.axes[0].patches) == 4
    plt.close(fig)


def test_plot_relative_errors_leaves_out_suppressed_values():
    utility = pd.DataFrame({"statistic": ["count", "count", "mean_x"], "relative_error": [0.01, np.nan, 0.2]})
    fig = privacy.plot_relative_errors(utility)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["count", "mean_x"]
    plt.close(fig)
