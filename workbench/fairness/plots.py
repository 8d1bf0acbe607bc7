"""Figures of the fairness audit (matplotlib): selection rates, representation, proxies."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .stage import FairnessAudit


def plot_selection_rates(audit: FairnessAudit, action: str, ax=None):
    """Selection rate per group with its CI, one panel per attribute, for one action."""
    import matplotlib.pyplot as plt

    sub = audit.selection.loc[audit.selection["action"] == action]
    band = [float(x) for x in (audit.rule.get("thresholds") or {}).get("ratio", [0.8, 1.25])]
    attrs = list(dict.fromkeys(sub["attribute"]))
    fig, axes = plt.subplots(1, len(attrs), figsize=(3.6 * len(attrs), 3.2), squeeze=False, sharey=True)
    for ax_, attr in zip(axes[0], attrs):
        t = sub.loc[sub["attribute"] == attr]
        isref = (t["is_reference"] == True).to_numpy()  # noqa: E712 (suppressed rows hold None)
        x = np.arange(len(t))
        rate = t["rate"].to_numpy(dtype=float)
        err = np.vstack([rate - t["rate_low"].to_numpy(dtype=float), t["rate_high"].to_numpy(dtype=float) - rate])
        colors = ["#555" if r else "#3b6ea8" for r in isref]
        ax_.bar(x, rate, color=colors, alpha=0.8)
        ax_.errorbar(x, rate, yerr=np.nan_to_num(err), fmt="none", ecolor="black", capsize=3)
        ref = t.loc[isref, "rate"]
        if len(ref) and np.isfinite(ref.iloc[0]):
            for edge in band:  # a favourable action breaches below, an adverse one above
                ax_.axhline(edge * ref.iloc[0], color="#b00020", lw=0.8, ls="--")
        ax_.set_xticks(x, t["group"], rotation=45, ha="right", fontsize=8)
        ax_.set_title(attr, fontsize=10)
    axes[0][0].set_ylabel(f"selected for {action.replace('_', ' ')}")
    fig.suptitle(f"Selection rate by group (grey: comparison group; dashed: {band[0]:g} and {band[1]:g} x its rate; "
                 "suppressed rates not drawn)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_representation(audit: FairnessAudit, attribute: str):
    """Heat map of representation ratios (group share in segment / in population)."""
    import matplotlib.pyplot as plt

    t = audit.composition.loc[audit.composition["attribute"] == attribute]
    piv = t.pivot(index="segment_name", columns="group", values="representation_ratio")
    piv = piv[[c for c in dict.fromkeys(t["group"]) if c in piv.columns]]
    short = lambda s, n: s if len(s) <= n else s[: n - 1] + "…"  # noqa: E731
    rows = [short(str(i), 40) for i in piv.index]
    cols = [short(str(c), 30) for c in piv.columns]
    vals = piv.to_numpy(dtype=float)
    width = 3.0 + 0.065 * max(len(r) for r in rows) + 0.75 * len(cols)
    fig, ax = plt.subplots(figsize=(min(width, 14), 1.6 + 0.42 * len(rows)))
    with np.errstate(divide="ignore", invalid="ignore"):
        im = ax.imshow(np.log2(vals), cmap="RdBu", vmin=-1.5, vmax=1.5, aspect="auto")
    for (i, j), v in np.ndenumerate(vals):
        dark = np.isfinite(v) and (v <= 0 or abs(np.log2(v)) > 1)
        ax.text(j, i, "–" if not np.isfinite(v) else f"{v:.2f}", ha="center", va="center", fontsize=8,
                color="white" if dark else "black")
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set_title(f"Representation ratio by {attribute} (1 = as in the population)", fontsize=10)
    fig.colorbar(im, ax=ax, label="log2 ratio", fraction=0.04, pad=0.02)
    fig.tight_layout()
    return fig


def plot_proxies(audit: FairnessAudit, top: int = 8):
    """Bias-corrected Cramer's V of the strongest proxies per attribute."""
    import matplotlib.pyplot as plt

    attrs = list(dict.fromkeys(audit.proxies["attribute"]))
    fig, axes = plt.subplots(1, len(attrs), figsize=(3.8 * len(attrs), 3.2), squeeze=False)
    for ax, attr in zip(axes[0], attrs):
        t = audit.proxies.loc[audit.proxies["attribute"] == attr].head(top)[::-1]
        ax.barh(t["feature"], t["cramers_v"], color=["#b00020" if s else "#3b6ea8" for s in t["segmentation_input"]])
        ax.set_xlim(0, 1)
        ax.set_title(f"proxies for {attr}", fontsize=10)
        ax.tick_params(labelsize=8)
    fig.suptitle("Cramér's V with the attribute (red: segmentation input)", fontsize=10)
    fig.tight_layout()
    return fig
