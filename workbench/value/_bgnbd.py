"""The BG/NBD model of repeat purchases (Fader, Hardie & Lee 2005), fitted by maximum likelihood.

While alive, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); after each
purchase they drop out with probability p ~ Beta(a, b). The likelihood of (frequency x, recency t_x,
age T) and every prediction are closed forms, so fitting needs only the four parameters' optimiser
and scoring a million customers is a few vectorised array expressions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

__all__ = ["BetaGeo", "bgnbd_loglik", "bgnbd_loglik_grad", "fit_bgnbd"]


def bgnbd_loglik(params, x, t_x, T) -> np.ndarray:
    """Log-likelihood of each customer under BG/NBD parameters ``(r, alpha, a, b)`` (eq. 6 of the paper)."""
    r, alpha, a, b = params
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.betaln(a, b + x) - special.betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x), -np.inf)
    return a1 + a2 + np.logaddexp(a3, a4)


def bgnbd_loglik_grad(params, x, t_x, T, weights) -> tuple[float, np.ndarray]:
    """Weighted total log-likelihood and its gradient with respect to ``log(r, alpha, a, b)``.

    The analytic gradient lets L-BFGS-B take one likelihood evaluation per step instead of five
    (finite differences), which is most of the fit's cost on a large sample.
    """
    r, alpha, a, b = params
    ll = bgnbd_loglik(params, x, t_x, T)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x), -np.inf)
        w = np.where(x > 0, np.exp(a4 - np.logaddexp(a3, a4)), 0.0)  # weight of the "dropped out" term
        inv_b = np.where(x > 0, 1.0 / np.maximum(b + x - 1, 1e-300), 0.0)
    dg = special.digamma
    d_r = dg(r + x) - dg(r) + np.log(alpha) - (1 - w) * np.log(alpha + T) - w * np.log(alpha + t_x)
    d_alpha = r / alpha - (1 - w) * (r + x) / (alpha + T) - w * (r + x) / (alpha + t_x)
    d_a = dg(a + b) - dg(a + b + x) + w / a
    d_b = dg(b + x) - dg(a + b + x) - dg(b) + dg(a + b) - w * inv_b
    # element-wise sums, not BLAS dot products: BLAS threads spin on a shared 2-core machine
    grad = np.array([(weights * d_r).sum() * r, (weights * d_alpha).sum() * alpha, (weights * d_a).sum() * a,
                     (weights * d_b).sum() * b])
    return float((weights * ll).sum()), grad


def _compress(x, t_x, T):
    """Unique (x, t_x, T) rows and their counts: day-level data repeat a lot, so the likelihood is cheaper."""
    stacked = np.column_stack([x, t_x, T]).astype(float)
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return unique[:, 0], unique[:, 1], unique[:, 2], counts.astype(float)


def fit_bgnbd(x, t_x, T, initial=(1.0, 1.0, 1.0, 1.0)) -> "BetaGeo":
    """Maximum-likelihood BG/NBD parameters for arrays of frequency, recency and age.

    The optimiser works on log-parameters (all four are positive) with L-BFGS-B; the objective is
    the mean negative log-likelihood over unique (x, t_x, T) rows weighted by their counts. Time
    units are those of the inputs: ``alpha`` scales with them, ``r``, ``a`` and ``b`` do not.

    Parameters
    ----------
    x, t_x, T : array-like
        Repeat purchases, time of the last purchase and age, measured from the first purchase.
    initial : tuple of float
        Starting ``(r, alpha, a, b)``; ``alpha`` is rescaled to the data's time unit.

    Returns
    -------
    BetaGeo
        The fitted model (``params``, ``loglik`` total, ``n`` customers, ``converged``).
    """
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    _check(x, t_x, T)
    ux, ut, uT, w = _compress(x, t_x, T)
    total = w.sum()
    start = np.log(np.array(initial, dtype=float) * [1.0, max(float(np.mean(T)), 1e-9) / 30.0, 1.0, 1.0])

    def objective(theta):
        ll, grad = bgnbd_loglik_grad(np.exp(theta), ux, ut, uT, w)
        return -ll / total, -grad / total

    res = optimize.minimize(objective, start, jac=True, method="L-BFGS-B", bounds=[(-12, 12)] * 4,
                            options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9})
    r, alpha, a, b = np.exp(res.x)
    return BetaGeo(r=float(r), alpha=float(alpha), a=float(a), b=float(b), loglik=float(-res.fun * total),
                   n=int(total), converged=bool(res.success))


def _check(x, t_x, T) -> None:
    if not (len(x) == len(t_x) == len(T)) or len(x) == 0:
        raise ValueError("frequency, recency and T must be non-empty and of equal length")
    if np.any(~np.isfinite(x)) or np.any(~np.isfinite(t_x)) or np.any(~np.isfinite(T)):
        raise ValueError("frequency, recency and T must be finite (no missing values)")
    if np.any(x < 0) or np.any(t_x < 0) or np.any(t_x > T + 1e-9):
        raise ValueError("need frequency >= 0 and 0 <= recency <= T for every customer")
    if np.any((x == 0) & (t_x != 0)):
        raise ValueError("a customer without repeat purchases must have recency 0")


@dataclass(frozen=True)
class BetaGeo:
    """A fitted BG/NBD model: its parameters and closed-form predictions per customer.

    All methods take arrays (one entry per customer) and return arrays; time is in the unit the
    model was fitted in.
    """

    r: float
    alpha: float
    a: float
    b: float
    loglik: float = float("nan")
    n: int = 0
    converged: bool = True

    @property
    def params(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}

    def _odds_dead(self, x, t_x, T) -> np.ndarray:
        """a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x) for x > 0, else 0."""
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_odds = (np.log(self.a) - np.log(np.maximum(self.b + x - 1, 1e-300))
                        + (self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + t_x)))
            return np.where(x > 0, np.exp(np.minimum(log_odds, 700.0)), 0.0)

    def p_alive(self, x, t_x, T) -> np.ndarray:
        """Probability that the customer is still active at ``T`` (eq. 13 of Fader, Hardie & Lee 2008).

        A customer with no repeat purchase is alive with probability 1 under BG/NBD (drop-out
        happens only right after a purchase): read P(alive) together with frequency.
        """
        return 1.0 / (1.0 + self._odds_dead(x, t_x, T))

    def expected_purchases(self, t, x, t_x, T) -> np.ndarray:
        """Expected repeat purchases in the next ``t`` time units, given (x, t_x, T) (eq. 10)."""
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        t = np.asarray(t, dtype=float)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = t / (alpha + T + t)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            head = (a + b + x - 1) / (a - 1)
            body = 1.0 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp
            out = head * body / (1.0 + self._odds_dead(x, t_x, T))
        return np.where(t > 0, out, 0.0)

    def expected_purchases_new(self, t) -> np.ndarray:
        """Expected purchases of a new customer in ``t`` time units (eq. 9): the population curve."""
        t = np.asarray(t, dtype=float)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return (a + b - 1) / (a - 1) * (1.0 - (alpha / (alpha + t)) ** r * hyp)

    def rescaled(self, factor: float) -> "BetaGeo":
        """The same model in a time unit ``factor`` times longer (days -> weeks: ``factor=7``)."""
        return BetaGeo(self.r, self.alpha / factor, self.a, self.b, self.loglik, self.n, self.converged)

    def table(self) -> pd.DataFrame:
        """The parameters as a one-column table, for a report."""
        return pd.DataFrame({"estimate": self.params}).rename_axis("parameter")
