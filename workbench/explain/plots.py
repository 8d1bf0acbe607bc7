"""Figures for the notebook: mean |margin SHAP| per segment and its quantile bands (matplotlib; aggregates only)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ._grouping import _label


def plot_importance(importance: pd.DataFrame, names: dict | None = None, top: int = 8):
    """Bar charts of mean |SHAP| per segment (one panel per segment), matplotlib."""
    import matplotlib.pyplot as plt

    segs = list(dict.fromkeys(importance["segment"].tolist()))
    ncols = min(3, len(segs))
    nrows = math.ceil(len(segs) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 0.35 * top * nrows + 1.2 * nrows), squeeze=False)
    for ax, seg in zip(axes.ravel(), segs):
        part = importance[importance["segment"] == seg].nlargest(top, "mean_abs_shap").iloc[::-1]
        signed = part["mean_shap_members"].fillna(0)
        colors = np.where(signed >= 0, "#c0392b", "#2e86c1")
        ax.barh(part["feature"], part["mean_abs_shap"], color=colors)
        ax.set_title(_segment_title(seg, names), fontsize=10)
        ax.tick_params(labelsize=8)
        ax.set_xlabel("mean |SHAP| of the margin over the runner-up", fontsize=8)
    for ax in axes.ravel()[len(segs):]:
        ax.axis("off")
    fig.suptitle("What separates each segment's members from their runner-up (red: on average towards the "
                 "segment, blue: towards the runner-up)", fontsize=10)
    fig.tight_layout()
    return fig


#: Fewest members of a segment in the sample for its quantile bands to be drawn.
MIN_BAND_MEMBERS = 50


def margin_bands(result: dict, segment, top: int = 8, min_members: int = MIN_BAND_MEMBERS) -> pd.DataFrame | None:
    """Quantiles (10, 25, 50, 75, 90 %) of each feature's margin SHAP over a segment's sampled members.

    Aggregates only: no single customer's value is returned, and a segment with fewer than
    ``min_members`` sampled members gets None. Features are the ``top`` by mean |margin SHAP|.
    """
    members = np.asarray(result["sample_segment"]).astype(str) == str(segment)
    if members.sum() < min_members:
        return None
    phi = result["sample_margin"][members]
    order = np.argsort(-np.abs(phi).mean(axis=0), kind="stable")[:top]
    q = np.quantile(phi[:, order], [0.1, 0.25, 0.5, 0.75, 0.9], axis=0)
    return pd.DataFrame({"feature": [result["features"][i] for i in order], "q10": q[0], "q25": q[1],
                         "median": q[2], "q75": q[3], "q90": q[4], "n": int(members.sum())})


def plot_margin_bands(result: dict, segment, names: dict | None = None, top: int = 8,
                      min_members: int = MIN_BAND_MEMBERS):
    """How each feature's contribution to the margin varies over a segment's members: quantile bands.

    A bar from the 25th to the 75th percentile, a line from the 10th to the 90th and a tick at the
    median, per feature (no individual customers are drawn). Positive: pushes members towards their
    segment, negative: towards the runner-up. None when the segment has too few sampled members.
    """
    import matplotlib.pyplot as plt

    bands = margin_bands(result, segment, top, min_members)
    if bands is None:
        return None
    bands = bands.iloc[::-1].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(bands) + 1.2))
    y = np.arange(len(bands))
    ax.hlines(y, bands["q10"], bands["q90"], color="#555555", lw=1)
    ax.barh(y, bands["q75"] - bands["q25"], left=bands["q25"], height=0.5, color="#c0392b", alpha=0.6)
    ax.scatter(bands["median"], y, marker="|", s=120, color="black")
    ax.axvline(0, color="black", lw=0.6)
    ax.set_yticks(y, bands["feature"], fontsize=8)
    ax.set_xlabel("contribution to the margin over the runner-up (SHAP; > 0 towards the segment)", fontsize=8)
    ax.set_title(f"{_segment_title(segment, names)}: middle half (bar) and 10-90% (line) of its "
                 f"{int(bands['n'].iloc[0]):,} sampled members", fontsize=9)
    fig.tight_layout()
    return fig


def _segment_title(seg, names: dict | None) -> str:
    if names and str(seg) in names:
        return f"{seg}: {names[str(seg)]}"
    return f"segment {seg}"
