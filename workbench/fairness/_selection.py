"""Selection by one action for one attribute: rates checked against Fairlearn's ``MetricFrame``, DP figures."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ._bootstrap import _generator, _multinomial, _quantiles
from ._groups import _codes
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
    reference: str | None = "largest",
    n_boot: int = 1000,
    alpha: float = 0.05,
    min_group_size: int = 30,
    seed: int | np.random.Generator = 0,
) -> tuple[pd.DataFrame, dict]:
    """Selection rate per group for one action and attribute, checked against Fairlearn.

    The table is :func:`rate_by_group`'s, with ``rate`` replaced by ``MetricFrame.by_group`` (the
    two agree to rounding; the difference is asserted below 1e-9). The dict holds Fairlearn's
    demographic-parity difference (max - min rate) and ratio (min / max) over all groups, the
    four-fifths check on that ratio, and the CIs of both from the same bootstrap.
    """
    from fairlearn.metrics import demographic_parity_difference, demographic_parity_ratio

    sel = np.asarray(selected).astype(bool)
    table = rate_by_group(
        sel, groups, reference=reference, n_boot=n_boot, alpha=alpha, min_group_size=min_group_size,
        correction=None, seed=seed,
    )
    mf = _metricframe_rates(sel, groups)
    mf_rates = mf.reindex(table["group"]).to_numpy(dtype=float)
    gap = np.nanmax(np.abs(mf_rates - table["rate"].to_numpy()))
    if not gap < 1e-9:
        raise AssertionError(f"selection rates differ from MetricFrame by {gap}")
    table["rate"] = mf_rates
    sf = np.asarray(groups.astype(str))
    dp_diff = float(demographic_parity_difference(sel.astype(int), sel.astype(int), sensitive_features=sf))
    dp_ratio = float(demographic_parity_ratio(sel.astype(int), sel.astype(int), sensitive_features=sf))
    # CIs of the DP figures from a multinomial bootstrap of the (selected, group) counts.
    codes, labels = _codes(groups)
    G = len(labels)
    n = np.bincount(codes, minlength=G)
    s = np.bincount(codes[sel], minlength=G)
    rng = _generator(seed)
    boot = _multinomial(np.stack([s, n - s]), n_boot, rng)
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        br = boot[:, 0, :] / (boot[:, 0, :] + boot[:, 1, :])
        bd = np.nanmax(br, axis=1) - np.nanmin(br, axis=1)
        bq = np.nanmin(br, axis=1) / np.nanmax(br, axis=1)
    d_lo, d_hi = _quantiles(bd, alpha)
    q_lo, q_hi = _quantiles(bq, alpha)
    summary = {
        "dp_difference": dp_diff, "dp_difference_low": float(d_lo), "dp_difference_high": float(d_hi),
        "dp_ratio": dp_ratio, "dp_ratio_low": float(q_lo), "dp_ratio_high": float(q_hi),
        "four_fifths": bool(dp_ratio >= 0.8),
    }
    return table, summary
