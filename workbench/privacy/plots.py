"""Privacy results as matplotlib figures for notebooks 01 and 06."""

from __future__ import annotations

import pandas as pd

__all__ = ["plot_relative_errors", "plot_uniqueness"]


def plot_uniqueness(combinations: pd.DataFrame, top: int = 10):
    """Bar chart of the share of customers unique on each quasi-identifier combination.

    Parameters
    ----------
    combinations : DataFrame
        ``risk["combinations"]`` from :func:`workbench.privacy.reidentification_risk` (most
        identifying first).
    top : int, default 10
        How many combinations to show.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    head = combinations.head(top)
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(head) + 1))
    ax.barh(head["combination"][::-1], head["share_unique"][::-1], color="#4c72b0")
    ax.set_xlabel("share of customers unique on the combination")
    ax.set_xlim(0, 1)
    plt.tight_layout()
    return fig


def plot_relative_errors(utility: pd.DataFrame):
    """Relative error of each released statistic, one dot per segment (symlog scale).

    Internal: the errors are measured against exact values, so this figure belongs with the internal
    comparison (``artifacts/privacy/dp_utility.parquet``), never in a report a reader gets.

    Parameters
    ----------
    utility : DataFrame
        The output of :func:`workbench.privacy.dp_utility`; rows without a relative error (exact
        value suppressed or zero) are left out.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    u = utility.dropna(subset=["relative_error"])
    stats = list(dict.fromkeys(u["statistic"]))
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(stats) + 1))
    for i, s in enumerate(stats):
        v = u.loc[u["statistic"] == s, "relative_error"]
        ax.scatter(v, [i] * len(v), color="#4c72b0")
    ax.set_yticks(range(len(stats)), stats)
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlabel("relative error of the released value (one dot per segment)")
    plt.tight_layout()
    return fig
