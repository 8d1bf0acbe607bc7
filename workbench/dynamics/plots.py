"""Figures for notebook 05 (matplotlib): flows between segments, drift, staleness, fairness of movement."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._states import INACTIVE, STATE_NAMES
from ._transitions import _state_label, transition_matrix, window_counts


def flow_chart(
    states: pd.DataFrame,
    labels: list[str],
    names: dict[int, str],
    value_order: list[int],
    k: int = 10,
    ax=None,
    title: str | None = None,
    printed: dict | None = None,
):
    """Alluvial chart of movements between consecutive windows of ``labels``, drawn from published tables only.

    Pass the windows of one season (``dyn.labels[i::dyn.pair_lag]``): each band is then one of the
    compared pairs' published transition tables.

    One column of stacked bars per window (segments from high value at the top to low value, then
    ``inactive``), each bar as tall as the published count of its state in that window
    (:func:`window_counts`), and a band between consecutive columns for every published cell of the
    window pair's transition table (:func:`transition_matrix` with ``k``), as wide as that cell.
    Hidden cells are not drawn and do not move anything: bars and bands are laid out from
    published values alone (a hidden bar takes no room), so no gap or offset reveals a hidden count.
    ``printed`` (:func:`workbench.dynamics.printed_counts` of the run) draws the tables as the run printed
    them (perturbed counts) instead of suppressing them here from ``states``: a report shows those.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import PathPatch, Rectangle
    from matplotlib.path import Path as MplPath

    order = [*reversed(list(value_order)), INACTIVE]
    state_names = {**names, **STATE_NAMES}
    label_of = {s: _state_label(s, state_names) for s in order}
    tab10, tab20 = plt.get_cmap("tab10"), plt.get_cmap("tab20")
    palette = [tab10(i) for i in (0, 1, 2, 3, 4, 5, 6, 8, 9)] + [tab20(i) for i in (1, 3, 5, 7, 9, 11, 13, 17, 19)]
    colour = {s: palette[i % len(palette)] for i, s in enumerate(value_order)}  # grey is for inactive
    colour[INACTIVE] = (0.75, 0.75, 0.75, 1.0)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6, 1.6 * len(labels) + 2), 5))
    bars = printed["windows"] if printed else window_counts(states, labels, value_order, names, k)
    total = max(float(np.nansum(bars.loc[labels, [label_of[s] for s in order]].to_numpy(), axis=1).max()), 1.0)
    gap, bar_w = 0.02 * total, 0.18
    bottoms: dict[tuple[int, int], float] = {}
    for c, label in enumerate(labels):
        y = 0.0
        for s in reversed(order):  # bottom to top: inactive first
            n = bars.loc[label, label_of[s]]
            bottoms[(c, s)] = y
            if np.isnan(n) or n == 0:
                continue
            ax.add_patch(Rectangle((c - bar_w / 2, y), bar_w, n, color=colour[s], lw=0))
            y += n + gap
    for c in range(len(labels) - 1):
        pair = (labels[c], labels[c + 1])
        table = printed["transitions"][pair] if printed else \
            transition_matrix(states, *pair, state_names, list(value_order), k=k)[0]
        out_off = {s: bottoms[(c, s)] for s in order}
        in_off = {s: bottoms[(c + 1, s)] for s in order}
        for s in reversed(order):
            for t in reversed(order):
                n = table.at[label_of[s], label_of[t]] if (label_of[s] in table.index
                                                            and label_of[t] in table.columns) else np.nan
                if np.isnan(n) or n == 0:  # hidden or empty: takes no room
                    continue
                _band(ax, c, out_off[s], in_off[t], n, bar_w, colour[s], MplPath, PathPatch)
                out_off[s] += n
                in_off[t] += n
    ax.set_xlim(-0.5, len(labels) - 0.5)
    ax.set_ylim(0, total + gap * (len(order) + 1))
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    handles = [Rectangle((0, 0), 1, 1, color=colour[s]) for s in order]
    ax.legend(handles, [label_of[s] for s in order], loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.set_title(title or "Movements between segments (published counts; suppressed cells not drawn)")
    return ax


def _band(ax, c, y0, y1, n, bar_w, colour, MplPath, PathPatch) -> None:
    """One flow of ``n`` customers from column ``c`` (at height ``y0``) to ``c + 1`` (at ``y1``)."""
    x0, x1 = c + bar_w / 2, c + 1 - bar_w / 2
    xm = (x0 + x1) / 2
    verts = [(x0, y0), (xm, y0), (xm, y1), (x1, y1), (x1, y1 + n), (xm, y1 + n), (xm, y0 + n), (x0, y0 + n), (x0, y0)]
    codes = [MplPath.MOVETO, *[MplPath.CURVE4] * 3, MplPath.LINETO, *[MplPath.CURVE4] * 3, MplPath.CLOSEPOLY]
    ax.add_patch(PathPatch(MplPath(verts, codes), fc=colour, alpha=0.35, lw=0))


def plot_drift(drift: pd.DataFrame, top: int = 15, ax=None):
    """Heatmap of PSI per feature (rows, the ``top`` largest) and compared window pair (``Dynamics.pairs``)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm, ListedColormap

    if drift.empty:
        return None
    order = drift.max(axis=1).sort_values(ascending=False).index[:top]
    data = drift.loc[order]
    if ax is None:
        _, ax = plt.subplots(figsize=(1.1 * data.shape[1] + 3, 0.35 * len(order) + 1.5))
    cmap = ListedColormap(["#e8f1e4", "#fdd49e", "#d7301f"])
    norm = BoundaryNorm([0, 0.1, 0.25, 1e9], cmap.N)
    ax.imshow(np.nan_to_num(data.to_numpy(), nan=0.0), cmap=cmap, norm=norm, aspect="auto")
    for (r, c), v in np.ndenumerate(data.to_numpy()):
        ax.text(c, r, "" if np.isnan(v) else f"{v:.2f}", ha="center", va="center", fontsize=7)
    ax.set_xticks(range(data.shape[1]), data.columns, rotation=30, ha="right")
    ax.set_yticks(range(len(order)), order)
    ax.set_title("PSI between compared windows (green < 0.1 stable, orange moderate, red ≥ 0.25 major)")
    return ax


def plot_staleness(curve: pd.DataFrame, window_months: int, tolerance: float = 0.10, ax=None):
    """Share of assignments that changed segment, by months since the refresh, with the tolerance."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    months = curve["lag"] * window_months
    ax.plot(months, curve["stale_share"], marker="o")
    ax.axhline(tolerance, ls="--", c="grey")
    ax.text(months.min(), tolerance, f" tolerance {tolerance:.0%}", va="bottom", color="grey")
    ax.set_xlabel("months since the assignments were recorded")
    ax.set_ylabel("share now in another segment")
    ax.set_ylim(0, max(0.05, float(np.nanmax(curve["stale_share"])) * 1.15) if len(curve) else 1)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_title("How fast segment assignments go stale")
    return ax


def plot_movement_fairness(fair: pd.DataFrame, outcome: str = "downgrade", ax=None):
    """Rate of ``outcome`` per sensitive group with its confidence interval, one panel row per attribute."""
    import matplotlib.pyplot as plt

    part = fair[(fair["outcome"] == outcome) & fair["rate"].notna()]
    if part.empty:
        return None
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.35 * len(part) + 1.2))
    labels = [f"{a}: {g}" for a, g in zip(part["attribute"], part["group"])]
    y = np.arange(len(part))[::-1]
    err = np.vstack([part["rate"] - part["rate_low"], part["rate_high"] - part["rate"]]).clip(min=0)
    ax.errorbar(part["rate"], y, xerr=err, fmt="o", capsize=3)
    ax.set_yticks(y, labels)
    fmt = "{:.1%}" if float(np.nanmax(part["rate_high"])) < 0.1 else "{:.0%}"
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: fmt.format(v)))
    ax.set_xlabel(f"{outcome} rate (with confidence interval)")
    ax.set_title(f"{outcome.capitalize()} rate by sensitive group")
    return ax
