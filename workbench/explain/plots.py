"""Figures for the notebook: mean |SHAP| per segment and a beeswarm of contributions (matplotlib)."""

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
        ax.set_xlabel("mean |SHAP| (score units)", fontsize=8)
    for ax in axes.ravel()[len(segs):]:
        ax.axis("off")
    fig.suptitle("Features that drive each segment's score (red: pushes members in, blue: out)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_beeswarm(result: dict, X: pd.DataFrame, segment, names: dict | None = None, top: int = 8):
    """Beeswarm-like plot of one segment's SHAP values over the sampled customers (matplotlib).

    Each dot is a customer; x is the feature's contribution to the segment's score; colour is the
    customer's value of the feature (low blue, high red; grey for categories).
    """
    import matplotlib.pyplot as plt

    segments = [_label(s) for s in result["segments"]]
    j = segments.index(_label(segment))
    phi = result["sample_shap"][:, :, j]
    values = X.iloc[result["sample_rows"]]
    features = result["features"]
    order = np.argsort(-np.abs(phi).mean(axis=0))[:top][::-1]
    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(order) + 1.2))
    for row, i in enumerate(order):
        col = values[features[i]] if features[i] in values.columns else None
        if col is not None and (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
            v = pd.to_numeric(col, errors="coerce").astype(float).to_numpy()
            ranks = pd.Series(v).rank(pct=True).to_numpy()
            color = plt.cm.coolwarm(np.nan_to_num(ranks, nan=0.5))
        else:
            color = "#888888"
        jitter = rng.normal(0, 0.08, len(phi))
        ax.scatter(phi[:, i], row + jitter, s=4, c=color, alpha=0.6, linewidths=0)
    ax.axvline(0, color="black", lw=0.6)
    ax.set_yticks(range(len(order)), [features[i] for i in order], fontsize=8)
    ax.set_xlabel("contribution to the segment's score (SHAP)", fontsize=8)
    ax.set_title(f"{_segment_title(segment, names)}: contributions per customer (colour: low to high value)",
                 fontsize=9)
    fig.tight_layout()
    return fig


def _segment_title(seg, names: dict | None) -> str:
    if names and str(seg) in names:
        return f"{seg}: {names[str(seg)]}"
    return f"segment {seg}"
