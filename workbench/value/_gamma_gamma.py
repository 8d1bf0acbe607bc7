"""The Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005, "RFM and CLV"), by maximum likelihood.

A customer's purchase amounts are Gamma(p, nu) with nu ~ Gamma(q, gamma) across customers; the mean
of x repeat purchases has a closed-form marginal likelihood, and the expected spend per purchase
shrinks each customer's observed mean towards the population mean, the more so the fewer purchases.
The model assumes spend is independent of purchase frequency: :func:`spend_frequency_correlation`
reports how far the data are from that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

__all__ = ["GammaGamma", "fit_gamma_gamma", "gamma_gamma_loglik", "gamma_gamma_loglik_grad", "spend_frequency_correlation"]


def gamma_gamma_loglik(params, x, m) -> np.ndarray:
    """Log-likelihood of each customer's mean spend ``m`` over ``x`` purchases under ``(p, q, v)``."""
    p, q, v = params
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    px = p * x
    return (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(v)
            + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(x * m + v))


def gamma_gamma_loglik_grad(params, x, m) -> tuple[float, np.ndarray]:
    """Total log-likelihood and its gradient with respect to ``log(p, q, v)`` (one evaluation per step)."""
    p, q, v = params
    px, xm = p * x, x * m
    dg = special.digamma
    d_p = x * (dg(px + q) - dg(px) + np.log(m) + np.log(x) - np.log(xm + v))
    d_q = dg(px + q) - dg(q) + np.log(v) - np.log(xm + v)
    d_v = q / v - (px + q) / (xm + v)
    grad = np.array([d_p.sum() * p, d_q.sum() * q, d_v.sum() * v])
    return float(gamma_gamma_loglik(params, x, m).sum()), grad


def fit_gamma_gamma(x, m, initial=(1.0, 1.0, 1.0)) -> "GammaGamma":
    """Maximum-likelihood Gamma-Gamma parameters from customers with at least one repeat purchase.

    Parameters
    ----------
    x : array-like
        Repeat purchases per customer (customers with ``x == 0`` or ``m <= 0`` are left out of the fit).
    m : array-like
        Mean spend of those repeat purchases.
    initial : tuple of float
        Starting ``(p, q, v)``; ``v`` is rescaled to the data's currency unit.

    Returns
    -------
    GammaGamma
        The fitted model (``p``, ``q``, ``v``, ``loglik``, ``n`` customers used, ``converged``).
    """
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    if len(x) != len(m):
        raise ValueError("frequency and monetary_value must be of equal length")
    keep = (x > 0) & (m > 0) & np.isfinite(m)
    if keep.sum() < 3:
        raise ValueError(f"Gamma-Gamma needs customers with repeat purchases; found {int(keep.sum())}")
    x, m = x[keep], m[keep]
    start = np.log(np.array(initial, dtype=float) * [1.0, 1.0, float(np.mean(m))])

    def objective(theta):
        ll, grad = gamma_gamma_loglik_grad(np.exp(theta), x, m)
        return -ll / len(x), -grad / len(x)

    res = optimize.minimize(objective, start, jac=True, method="L-BFGS-B", bounds=[(-12, 12)] * 3,
                            options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9})
    p, q, v = np.exp(res.x)
    return GammaGamma(p=float(p), q=float(q), v=float(v), loglik=float(-res.fun * len(x)), n=int(len(x)),
                      converged=bool(res.success))


def spend_frequency_correlation(x, m) -> float:
    """Pearson correlation of repeat purchases and mean spend among repeat buyers (the model assumes ~0)."""
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    keep = (x > 0) & (m > 0)
    if keep.sum() < 3 or np.std(x[keep]) == 0 or np.std(m[keep]) == 0:
        return float("nan")
    return float(np.corrcoef(x[keep], m[keep])[0, 1])


@dataclass(frozen=True)
class GammaGamma:
    """A fitted Gamma-Gamma spend model."""

    p: float
    q: float
    v: float
    loglik: float = float("nan")
    n: int = 0
    converged: bool = True

    @property
    def params(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "v": self.v}

    def population_mean(self) -> float:
        """Mean spend per purchase of a customer drawn from the population: p v / (q - 1) (inf if q <= 1)."""
        return self.p * self.v / (self.q - 1) if self.q > 1 else float("inf")

    def expected_spend(self, x, m) -> np.ndarray:
        """Expected spend per purchase given ``x`` repeat purchases with mean ``m`` (``x = 0``: the population mean).

        ``(p (v + x m)) / (p x + q - 1)``: a weighted mean of the population mean and the customer's own.
        """
        x = np.asarray(x, dtype=float)
        m = np.where(np.asarray(m, dtype=float) > 0, np.asarray(m, dtype=float), 0.0)
        x = np.where(m > 0, x, 0.0)
        return self.p * (self.v + x * m) / (self.p * x + self.q - 1)

    def table(self) -> pd.DataFrame:
        """The parameters as a one-column table, for a report."""
        return pd.DataFrame({"estimate": self.params}).rename_axis("parameter")
