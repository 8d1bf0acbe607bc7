import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd

from workbench.value import plots


def test_holdout_and_targeting_figures_have_one_mark_per_bucket_and_group():
    holdout = pd.DataFrame({"bucket": ["0", "1", "2+"], "customers": [10.0, 20, 30], "actual": [0.5, 1.0, np.nan],
                            "predicted": [0.6, 0.9, np.nan]})
    fig = plots.plot_holdout(holdout)
    assert len(fig.axes[0].patches) == 6
    rates = pd.DataFrame({"policy": ["historical value"] * 2 + ["predicted value"] * 2, "group": ["a", "b"] * 2,
                          "rate": [0.1, 0.2, 0.15, np.nan], "rate_low": [0.05, 0.1, 0.1, np.nan],
                          "rate_high": [0.15, 0.3, 0.2, np.nan]})
    fig = plots.plot_targeting(rates, "gender")
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["a", "b"]
    assert "gender" in fig.axes[0].get_title()
