"""Figures of notebook 02 (matplotlib): the k report card, a 2-D projection, profile heatmap, segment sizes."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["plot_k_selection", "plot_profile_heatmap", "plot_projection", "plot_sizes"]


def plot_k_selection(card: pd.DataFrame, k: int | None = None):
    """Four panels over k: silhouette, Calinski-Harabasz, Davies-Bouldin, stability."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(14, 3.2))
    panels = [
        ("silhouette", "Silhouette (higher better)"),
        ("calinski_harabasz", "Calinski-Harabasz (higher better)"),
        ("davies_bouldin", "Davies-Bouldin (lower better)"),
    ]
    for ax, (col, title) in zip(axes, panels):
        ax.plot(card["k"], card[col], marker="o")
        ax.set_title(title, fontsize=9)
    ax = axes[3]
    ax.plot(card["k"], card["stability_ari"], marker="o", label="bootstrap ARI")
    ax.plot(card["k"], card["min_jaccard"], marker="s", label="least stable segment (Jaccard)")
    ax.set_ylim(0, 1.05)
    ax.set_title("Stability (higher better)", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    for ax in axes:
        ax.set_xlabel("k")
        if k is not None:
            ax.axvline(k, color="grey", linestyle="--", linewidth=1)
    fig.tight_layout()
    return fig


def plot_projection(Z: np.ndarray, labels: np.ndarray, names: dict[int, str], sample: int = 20_000, seed: int = 0,
                    min_count: int = 10, hidden: list[int] | None = None, centres: dict[int, np.ndarray] | None = None,
                    n_customers: int | None = None):
    """Where the segments lie: customer density on the first two principal components, and centres.

    No individual customer is drawn: the background is a hexagonal-bin density of (a sample of)
    customers in which cells of fewer than ``min_count`` customers stay blank, and each segment is
    one marker at its mean position, labelled with its name. Segments in ``hidden`` (suppressed
    elsewhere in the report) get no marker.

    Parameters
    ----------
    centres : dict of int to ndarray, optional
        Each non-empty segment's mean position in model space over all customers, when ``Z`` holds
        only a sample of them (the stage passes them); default: the means of ``Z``'s rows.
    n_customers : int, optional
        How many customers ``Z`` was sampled from: the title says the sample's size out of it.
    """
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(Z), min(len(Z), sample), replace=False))
    pca = PCA(2, random_state=seed).fit(Z)
    P = pca.transform(Z[rows])
    fig, ax = plt.subplots(figsize=(7, 5))
    density = ax.hexbin(P[:, 0], P[:, 1], gridsize=30, mincnt=max(int(min_count), 1), cmap="Greys", linewidths=0)
    fig.colorbar(density, ax=ax, label=f"customers per cell (cells under {min_count} blank)")
    if centres is None:
        centres = {j: Z[labels == j].mean(axis=0) for j in sorted(names) if (labels == j).any()}
    shown = [j for j in sorted(names) if j in centres]
    centres = pca.transform(np.vstack([centres[j] for j in shown]))
    for (x, y), j in zip(centres, shown):
        if j in set(hidden or []):
            continue
        ax.scatter([x], [y], s=90, marker="o", edgecolor="black", linewidth=0.8, label=f"{j}: {names[j]}", zorder=3)
        ax.annotate(str(j), (x, y), ha="center", va="center", fontsize=7, zorder=4)
    ev = pca.explained_variance_ratio_
    ax.set_xlabel(f"PC1 ({ev[0]:.0%} of variance)")
    ax.set_ylabel(f"PC2 ({ev[1]:.0%} of variance)")
    title = "Customer density and segment centres (first two principal components)"
    if n_customers is not None and len(rows) < n_customers:
        title += f"\ndensity of a seeded sample of {len(rows):,} of {n_customers:,} customers; centres of all"
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="best", title="segment centre", title_fontsize=7)
    fig.tight_layout()
    return fig


def plot_profile_heatmap(z: pd.DataFrame, names: dict[int, str], suppressed: list[int] | None = None, max_inputs: int = 30):
    """Heatmap of segment means in population standard deviations (suppressed segments blank)."""
    import matplotlib.pyplot as plt

    z = z.copy()
    keep = z.abs().max().sort_values(ascending=False).index[:max_inputs]
    z = z[[c for c in z.columns if c in set(keep)]]
    for j in suppressed or []:
        if j in z.index:
            z.loc[j] = np.nan
    fig, ax = plt.subplots(figsize=(max(6, 0.38 * z.shape[1] + 3), 0.45 * len(z) + 1.8))
    vmax = float(np.nanmax(np.abs(z.to_numpy()))) if np.isfinite(z.to_numpy()).any() else 1.0
    im = ax.imshow(z.to_numpy(), cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto")
    ax.set_xticks(range(z.shape[1]), z.columns, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(z)), [f"{j}: {names.get(j, j)}" for j in z.index], fontsize=8)
    fig.colorbar(im, ax=ax, label="z (segment mean vs population)")
    fig.tight_layout()
    return fig


def plot_sizes(profile: pd.DataFrame):
    """Bar chart of segment shares (suppressed segments shown as such)."""
    import matplotlib.pyplot as plt

    p = profile[profile["segment"] >= 0]
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(p) + 1.2))
    labels = [f"{int(s)}: {n}" for s, n in zip(p["segment"], p["segment_name"])]
    shares = p["share"].fillna(0).to_numpy()
    bars = ax.barh(labels, shares, color=["#bbbbbb" if s else "#4477aa" for s in p["suppressed"]])
    weak = (p["evidence"].astype(str).str.startswith("insufficient") if "evidence" in p
            else pd.Series(False, index=p.index))
    for bar, sup, sh, w in zip(bars, p["suppressed"], shares, weak):
        text = " suppressed" if sup else f" {sh:.1%}"
        if w:
            text += " (insufficient evidence)"
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, text, va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("share of customers")
    fig.tight_layout()
    return fig
