"""Composition of segments: group shares with intervals, representation ratios, balance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..engine import crosstab
from ._bootstrap import _generator, _multinomial, _quantiles
from ._groups import UNKNOWN, _codes


def composition(
    segments,
    groups,
    *,
    segment_names: dict[int, str] | None = None,
    n_boot: int = 1000,
    alpha: float = 0.05,
    min_group_size: int = 30,
    seed: int | np.random.Generator = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Segment x group counts, shares with CIs, representation ratios and generalised balance.

    Returns
    -------
    long : pandas.DataFrame
        One row per (segment, group): ``segment, segment_name, group, n, share, share_low,
        share_high, population_share, representation_ratio, rr_low, rr_high``. ``share`` is the
        group's share of the segment; the representation ratio divides it by the group's share of
        the population.
    balance : pandas.DataFrame
        One row per segment: ``segment, segment_name, balance, least_represented``. The balance
        of a segment (Chierichetti et al. 2017, generalised beyond two groups as in Bera et al.
        2019) is the minimum over groups of ``min(RR, 1/RR)``; groups smaller than
        ``min_group_size`` and ``"unknown"`` are left out of it.
    """
    seg = np.asarray(segments).astype(np.int64)
    codes, labels = _codes(groups)
    seg_ids = np.unique(seg)
    seg_pos = np.searchsorted(seg_ids, seg)
    S, G = len(seg_ids), len(labels)
    table = crosstab({"segment": seg_pos, "group": codes}, (S, G))  # counted in the engine
    rng = _generator(seed)
    boot = _multinomial(table, n_boot, rng)  # (B, S, G)

    def shares(t):
        with np.errstate(divide="ignore", invalid="ignore"):
            within = t / t.sum(axis=-1, keepdims=True)
            pop = t.sum(axis=-2, keepdims=True) / t.sum(axis=(-2, -1), keepdims=True)
            return within, pop, within / pop

    share, pop, rr = shares(table.astype(float))
    b_share, _, b_rr = shares(boot.astype(float))
    s_lo, s_hi = _quantiles(b_share, alpha)
    rr_lo, rr_hi = _quantiles(b_rr, alpha)
    names = segment_names or {}
    rows = []
    for i, sid in enumerate(seg_ids):
        for g, lab in enumerate(labels):
            rows.append({
                "segment": int(sid), "segment_name": str(names.get(int(sid), f"Segment {sid}")),
                "group": lab, "n": int(table[i, g]), "share": share[i, g], "share_low": s_lo[i, g],
                "share_high": s_hi[i, g], "population_share": pop[0, g], "representation_ratio": rr[i, g],
                "rr_low": rr_lo[i, g], "rr_high": rr_hi[i, g],
            })
    long = pd.DataFrame(rows)
    counted = table.sum(axis=0) >= min_group_size
    eligible = [g for g in range(G) if counted[g] and labels[g] != UNKNOWN]
    bal = []
    for i, sid in enumerate(seg_ids):
        vals = {labels[g]: min(rr[i, g], 1 / rr[i, g]) if rr[i, g] > 0 else 0.0 for g in eligible}
        worst = min(vals, key=vals.get) if vals else None
        bal.append({
            "segment": int(sid), "segment_name": str(names.get(int(sid), f"Segment {sid}")),
            "balance": vals[worst] if worst else np.nan, "least_represented": worst,
        })
    return long, pd.DataFrame(bal)
