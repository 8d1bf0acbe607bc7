"""Figures of notebook 07: the holdout check and historical vs predicted targeting by group."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = ["plot_holdout", "plot_targeting"]


def plot_holdout(holdout: pd.DataFrame, title: str = "Holdout check"):
    """Mean holdout purchases, observed and predicted, per calibration-period repeat purchases."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    x = np.arange(len(holdout))
    ax.bar(x - 0.2, holdout["actual"], width=0.4, label="observed", color="#4c72b0")
    ax.bar(x + 0.2, holdout["predicted"], width=0.4, label="predicted (BG/NBD)", color="#dd8452")
    ax.set_xticks(x, holdout["bucket"])
    ax.set_xlabel("repeat purchases in the calibration period")
    ax.set_ylabel("mean purchases in the holdout")
    ax.set_title(title)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def plot_targeting(rates: pd.DataFrame, attribute: str):
    """Selection rate per group with 95% intervals, by historical value and by predicted value."""
    groups = list(dict.fromkeys(rates["group"]))
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * len(groups) * 2))
    y = np.arange(len(groups))
    for offset, (policy, color) in zip((-0.18, 0.18), (("historical value", "#4c72b0"), ("predicted value", "#dd8452"))):
        r = rates[rates["policy"] == policy].set_index("group").reindex(groups)
        err = np.vstack([r["rate"] - r["rate_low"], r["rate_high"] - r["rate"]])
        ax.errorbar(r["rate"], y + offset, xerr=err, fmt="o", color=color, label=f"selected by {policy}", capsize=3)
    ax.set_yticks(y, groups)
    ax.invert_yaxis()
    ax.set_xlabel("share of the group selected (95% interval)")
    ax.set_title(f"Top-value targeting by {attribute}")
    ax.legend(frameon=False, loc="best")
    fig.tight_layout()
    return fig
