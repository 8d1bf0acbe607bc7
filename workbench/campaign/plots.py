"""Figures of notebook 08: uplift per segment and per group, with 95% intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["plot_group_uplift", "plot_kpis", "plot_uplift"]


def _forest(ax, labels, est, low, high, color):
    y = np.arange(len(labels))
    shown = np.isfinite(est)
    err = np.vstack([est - low, high - est])[:, shown]
    ax.errorbar(est[shown], y[shown], xerr=err, fmt="o", color=color, capsize=3)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, [f"{lab}{'' if ok else ' (suppressed)'}" for lab, ok in zip(labels, shown)])
    ax.invert_yaxis()


def plot_uplift(result, campaign: str):
    """Uplift per segment with its Newcombe interval; targeted segments in a second colour."""
    eff = result.effects
    rows = eff.loc[(eff["campaign"] == campaign) & eff["attribute"].isna()]
    targeted = set(result.targeted.get(campaign, []))
    labels = [f"{n}{' (targeted)' if s in targeted else ''}" for n, s in zip(rows["segment_name"], rows["segment"])]
    return _uplift_figure(rows, labels, "#0072B2",
                          "uplift: response offered minus holdout, percentage points (95% interval)",
                          f"Campaign {campaign}: uplift per segment")


def plot_group_uplift(result, campaign: str, attribute: str):
    """Uplift per group of ``attribute`` in the targeted segments."""
    eff: pd.DataFrame = result.effects
    rows = eff.loc[(eff["campaign"] == campaign) & (eff["attribute"] == attribute)]
    labels = [f"{n}: {g}" for n, g in zip(rows["segment_name"], rows["group"])]
    return _uplift_figure(rows, labels, "#D55E00", "uplift, percentage points (95% interval)",
                          f"Campaign {campaign}: uplift by {attribute} in the targeted segments")


def _uplift_figure(rows: pd.DataFrame, labels: list[str], colour: str, xlabel: str, title: str):
    """One forest plot of uplift rows (percentage points, with their intervals)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.8 + 0.45 * max(len(rows), 1)))
    _forest(ax, labels, *(rows[c].to_numpy(float) * 100 for c in ("uplift", "uplift_low", "uplift_high")), colour)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_kpis(kpis: pd.DataFrame):
    """Small multiples: retention, upsell and revenue per customer over the windows, one line per segment."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), sharex=True)
    panels = (("retained", "retention"), ("upsold", "upsell"), ("revenue", "revenue per customer"))
    labels = list(dict.fromkeys(kpis["label"]))
    x = np.arange(len(labels))
    for ax, (kpi, title) in zip(axes, panels):
        est, lo, hi = ((f"{kpi}_rate", f"{kpi}_low", f"{kpi}_high") if kpi != "revenue"
                       else ("revenue_per_customer", "revenue_low", "revenue_high"))
        for name, part in kpis.groupby("segment_name", sort=True):
            part = part.set_index("label").reindex(labels)
            ax.plot(x, part[est], marker="o", label=name)
            ax.fill_between(x, part[lo], part[hi], alpha=0.15)
        ax.set_title(title)
        ax.set_xticks(x, labels, rotation=30)
    axes[0].set_ylabel("share of the segment (95% interval)")
    axes[2].set_ylabel("per customer (95% interval)")
    axes[0].legend(frameon=False, fontsize=7, loc="best")
    fig.suptitle("Segment KPIs over time (segment as of each window's start)")
    fig.tight_layout()
    return fig
