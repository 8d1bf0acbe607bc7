"""Customer lifetime value from the two models: fit on a seeded sample, score everyone with closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._bgnbd import BetaGeo, fit_bgnbd
from ._gamma_gamma import GammaGamma, fit_gamma_gamma

__all__ = ["fit_models", "growth_potential", "holdout_table", "predict_value", "top_share_selected"]

_STATS = ["frequency", "recency", "T", "monetary_value"]


def fit_models(summary: pd.DataFrame, fit_sample: int | None = None, seed: int = 0) -> tuple[BetaGeo, GammaGamma]:
    """Fit BG/NBD and Gamma-Gamma on a seeded sample of the summary rows.

    The sample is drawn from the rows ordered by their statistics, not by customer id: pseudonyms
    change between runs without a configured key, the statistics do not, so the same data give the
    same fit.

    Parameters
    ----------
    summary : DataFrame
        :func:`clv_summary` output (``frequency, recency, T, monetary_value``).
    fit_sample : int, optional
        Customers to fit on (``None`` or more than there are: all).
    seed : int
    """
    missing = [c for c in _STATS if c not in summary]
    if missing:
        raise ValueError(f"summary lacks columns {missing}: compute it with workbench.value.clv_summary")
    if not len(summary):
        raise ValueError("no customer with a purchase: the CLV models need a transaction log with purchases")
    stats = summary[_STATS].to_numpy(dtype=float)
    order = np.lexsort(stats.T[::-1])
    if fit_sample is not None and fit_sample < len(order):
        order = order[np.sort(np.random.default_rng(seed).choice(len(order), size=int(fit_sample), replace=False))]
    s = stats[order]
    return fit_bgnbd(s[:, 0], s[:, 1], s[:, 2]), fit_gamma_gamma(s[:, 0], s[:, 3])


def _discounted_purchases(bg: BetaGeo, x, t_x, T, horizon: float, step: float, annual_rate: float) -> np.ndarray:
    """Sum over steps of the purchases expected in each step, discounted to today at ``annual_rate``."""
    edges = np.append(np.arange(step, horizon, step), horizon)
    total = np.zeros(len(np.asarray(x)), dtype=float)
    previous = np.zeros_like(total)
    for end in edges:
        cumulative = bg.expected_purchases(end, x, t_x, T)
        total += (cumulative - previous) / (1.0 + annual_rate) ** (end / 365.0)
        previous = cumulative
    return total


def predict_value(summary: pd.DataFrame, bg: BetaGeo, gg: GammaGamma, horizon_days: float = 365,
                  discount_rate: float = 0.10, step_days: float = 30) -> pd.DataFrame:
    """Per customer: expected purchases and CLV over the horizon, P(alive), expected spend per purchase.

    CLV is the expected spend per purchase (Gamma-Gamma) times the purchases expected in each
    ``step_days`` step of the horizon (BG/NBD), each step discounted at ``discount_rate`` a year
    (the discrete sum of ``lifetimes``' ``customer_lifetime_value``, with the rate stated yearly).
    Time unit: days (the unit of :func:`clv_summary`).

    Returns
    -------
    DataFrame
        The summary's columns plus ``expected_purchases``, ``p_alive``, ``expected_spend``, ``clv``.
    """
    if horizon_days <= 0 or step_days <= 0:
        raise ValueError(f"value.horizon_days and value.step_days must be positive, got {horizon_days}, {step_days}")
    if discount_rate <= -1:
        raise ValueError(f"value.discount_rate must be above -1 (a yearly rate such as 0.1), got {discount_rate}")
    x, t_x, T = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    out = summary.copy()
    out["expected_purchases"] = bg.expected_purchases(float(horizon_days), x, t_x, T)
    out["p_alive"] = bg.p_alive(x, t_x, T)
    out["expected_spend"] = gg.expected_spend(x, summary["monetary_value"].to_numpy(dtype=float))
    out["clv"] = out["expected_spend"] * _discounted_purchases(bg, x, t_x, T, float(horizon_days),
                                                               float(step_days), float(discount_rate))
    return out


def holdout_table(calibration: pd.DataFrame, bg: BetaGeo, max_bucket: int = 7) -> pd.DataFrame:
    """Actual against predicted holdout purchases, by calibration-period repeat purchases (0..max_bucket+).

    ``calibration`` is :func:`calibration_holdout` output. Returns one row per bucket: ``bucket``
    (label), ``customers``, ``actual`` and ``predicted`` mean holdout purchases, and for the cell-key
    perturbation of the means (:func:`workbench.privacy.publish_magnitudes`; never published) their sums
    ``actual_sum``, ``predicted_sum`` and largest single values ``actual_top``, ``predicted_top``.
    """
    x, t_x, T = (calibration[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    pred = bg.expected_purchases(calibration["holdout_days"].to_numpy(dtype=float), x, t_x, T)
    bucket = np.minimum(calibration["frequency"].to_numpy(), max_bucket)
    df = pd.DataFrame({"bucket": bucket, "actual": calibration["holdout_purchases"].to_numpy(float), "predicted": pred})
    out = df.groupby("bucket").agg(customers=("actual", "size"), actual=("actual", "mean"),
                                   predicted=("predicted", "mean"), actual_sum=("actual", "sum"),
                                   predicted_sum=("predicted", "sum"), actual_top=("actual", "max"),
                                   predicted_top=("predicted", "max")).reset_index()
    out["bucket"] = [f"{b}+" if b == max_bucket else str(b) for b in out["bucket"]]
    return out


def _pct_rank(values: np.ndarray) -> np.ndarray:
    """Percentile rank in (0, 1], ties sharing their average rank."""
    return pd.Series(values).rank(method="average", pct=True).to_numpy()


def growth_potential(historical, predicted, gap: float = 0.5) -> np.ndarray:
    """Customers whose predicted-value percentile rank exceeds their historical one by ``gap`` or more.

    Both ranks are percentiles among the customers given (ties share the average rank), so
    ``gap=0.5`` means "in the bottom half by spend so far, top half by predicted value" or further apart.
    """
    h = np.asarray(historical, dtype=float)
    p = np.asarray(predicted, dtype=float)
    return (_pct_rank(p) - _pct_rank(h)) >= gap


def top_share_selected(values, share: float = 0.10) -> np.ndarray:
    """The top ``share`` of customers by ``values`` (ties at the boundary all selected, NaN never)."""
    if not 0 < share < 1:
        raise ValueError(f"value.top_share must be between 0 and 1, got {share}")
    v = pd.Series(np.asarray(values, dtype=float))
    rank = v.rank(method="min", ascending=False)
    return (rank <= np.ceil(share * v.notna().sum())).to_numpy() & v.notna().to_numpy()
