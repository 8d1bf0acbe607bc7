"""Selection by one action for one attribute: rates checked against Fairlearn's ``MetricFrame``, DP figures."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._intervals import difference_interval, ratio_interval
from ._rates import rate_by_group


def _metricframe_rates(selected: np.ndarray, groups: pd.Series) -> pd.Series:
    from fairlearn.metrics import MetricFrame, selection_rate

    mf = MetricFrame(
        metrics=selection_rate, y_true=selected.astype(int), y_pred=selected.astype(int),
        sensitive_features=pd.Series(np.asarray(groups.astype(str)), name="group"),
    )
    return mf.by_group


def selection_audit(
    selected: np.ndarray,
    groups: pd.Series,
    *,
    reference: str | None = "most favoured",
    favourable: bool = True,
    alpha: float = 0.05,
    min_group_size: int = 30,
    thresholds: dict | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Selection rate per group for one action and attribute, checked against Fairlearn.

    The table is :func:`rate_by_group`'s (score intervals, the most favoured group as reference
    unless one is named, p-values against the band ``thresholds``), with ``rate`` replaced by ``MetricFrame.by_group`` (the two agree to
    rounding; the difference is asserted below 1e-9). The dict is :func:`dp_summary` of it.
    """
    sel = np.asarray(selected).astype(bool)
    table = rate_by_group(sel, groups, reference=reference, favourable=favourable, alpha=alpha,
                          min_group_size=min_group_size, correction=None, thresholds=thresholds)
    mf = _metricframe_rates(sel, groups)
    mf_rates = mf.reindex(table["group"]).to_numpy(dtype=float)
    gap = np.nanmax(np.abs(mf_rates - table["rate"].to_numpy()))
    if not gap < 1e-9:
        raise AssertionError(f"selection rates differ from MetricFrame by {gap}")
    table["rate"] = mf_rates
    return table, dp_summary(table, min_group_size=min_group_size, alpha=alpha, thresholds=thresholds)


def dp_summary(table: pd.DataFrame, *, min_group_size: int, alpha: float = 0.05,
               thresholds: dict | None = None, printed: pd.DataFrame | None = None) -> dict:
    """Demographic-parity difference (max - min rate) and ratio (min / max) over the groups of at
    least ``min_group_size`` customers, the same groups the verdict judges.

    Fairlearn's ``demographic_parity_ratio`` over every group is 0 as soon as one 15-customer cell
    has no selection; here such cells are named in ``left_out`` instead of averaged in. The
    intervals are those of the extreme pair (Koopman for the ratio, Newcombe for the difference).
    ``table`` holds the exact counts; where any judged group's counts are suppressed (``masked``), the
    figures are withheld (computing them over the visible groups only would judge other groups than
    the verdict). With ``printed`` (the same rows as published: :func:`~workbench.fairness.mask_rates`),
    the groups judged are still chosen on ``table``, but every figure is computed from the printed counts
    and rates (issue 24: the exact ones move by one erased customer between runs).
    """
    thresholds = thresholds or {"ratio": [0.8, 1.25], "difference": None}
    lo_t, hi_t = (float(x) for x in thresholds.get("ratio", [0.8, 1.25]))
    d_t = thresholds.get("difference")
    big = table.loc[table["n"] >= min_group_size]
    left_out = [str(g) for g in table.loc[table["n"] < min_group_size, "group"]]
    out = {"dp_groups": len(big), "dp_left_out": ", ".join(left_out)}
    nan = {"dp_difference": np.nan, "dp_difference_low": np.nan, "dp_difference_high": np.nan,
           "dp_ratio": np.nan, "dp_ratio_low": np.nan, "dp_ratio_high": np.nan, "four_fifths": None,
           "within_thresholds": None}
    if len(big) < 2:
        return {**out, **nan}
    if "masked" in big.columns and big["masked"].astype(bool).any():  # min and max would give a masked rate away
        return {**out, **nan}
    if printed is not None:
        big = printed.loc[big.index]
        big = big.assign(events=np.minimum(big["events"], big["n"]))  # perturbed apart: may print above n
    hi_g, lo_g = big.loc[big["rate"].idxmax()], big.loc[big["rate"].idxmin()]
    args = (lo_g["events"], lo_g["n"], hi_g["events"], hi_g["n"])
    q_lo, q_hi = ratio_interval(*args, alpha)
    d_lo, d_hi = difference_interval(hi_g["events"], hi_g["n"], lo_g["events"], lo_g["n"], alpha)
    ratio = float(lo_g["rate"] / hi_g["rate"]) if hi_g["rate"] > 0 else np.nan
    diff = float(hi_g["rate"] - lo_g["rate"])
    within = bool(np.isfinite(ratio) and ratio >= lo_t and 1 / max(ratio, 1e-300) <= hi_t)
    if d_t is not None:
        within = within and diff <= float(d_t)
    return {**out, "dp_difference": diff, "dp_difference_low": float(d_lo), "dp_difference_high": float(d_hi),
            "dp_ratio": ratio, "dp_ratio_low": float(q_lo), "dp_ratio_high": float(q_hi),
            "four_fifths": bool(np.isfinite(ratio) and ratio >= 0.8), "within_thresholds": within}
