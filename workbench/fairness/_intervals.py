"""Score-based confidence intervals for rates, rate ratios and rate differences (from counts).

They behave at the edges, where the bootstrap and the Wald interval collapse: zero events in a
group give ``[0, upper]`` with ``upper > 0``, never ``[0, 0]``.

* rate: Wilson's score interval (Wilson 1927);
* ratio of two rates: the asymptotic score interval of Koopman (1984), i.e. the
  Miettinen-Nurminen score without its ``N / (N - 1)`` factor: the ratios ``theta`` whose score
  statistic, with both rates re-estimated under ``p1 = theta * p0``, stays within the normal
  quantile; found by bisection on ``log(theta)``;
* difference of two rates: Newcombe's hybrid score interval (Newcombe 1998, method 10), built from
  the two Wilson intervals.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


def wilson_interval(events, n, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of ``events / n`` (arrays; NaN where ``n == 0``)."""
    s = np.asarray(events, dtype=float)
    n = np.asarray(n, dtype=float)
    z = _z(alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = s / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    lo = np.where(s == 0, 0.0, np.clip(centre - half, 0, 1))
    hi = np.where(s == n, 1.0, np.clip(centre + half, 0, 1))
    bad = n <= 0
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def _restricted_p0(theta, s1, n1, s0, n0):
    """Maximum-likelihood ``p0`` under ``p1 = theta * p0`` (Miettinen & Nurminen 1985)."""
    a = theta * (n1 + n0)
    b = -(theta * n1 + s1 + n0 + theta * s0)
    c = s1 + s0
    disc = np.sqrt(np.maximum(b * b - 4 * a * c, 0.0))
    return (-b - disc) / (2 * a)


def _ratio_score(theta, s1, n1, s0, n0):
    """Koopman's score statistic of ``H0: p1 / p0 = theta`` (decreasing in ``theta``)."""
    p0 = np.clip(_restricted_p0(theta, s1, n1, s0, n0), 1e-300, 1.0)
    p1 = np.clip(theta * p0, 1e-300, 1.0)
    var = p1 * (1 - p1) / n1 + theta**2 * p0 * (1 - p0) / n0
    num = s1 / n1 - theta * s0 / n0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = num / np.sqrt(np.maximum(var, 1e-300))
    return np.where(np.abs(num) < 1e-15, 0.0, z)


def _bisect(s1, n1, s0, n0, target: float, iters: int = 60) -> np.ndarray:
    """``theta`` where the score crosses ``target`` (bisection on log theta in [e^-30, e^30])."""
    lo = np.full(np.shape(s1), -30.0)
    hi = np.full(np.shape(s1), 30.0)
    for _ in range(iters):
        mid = (lo + hi) / 2
        above = _ratio_score(np.exp(mid), s1, n1, s0, n0) > target
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    return np.exp((lo + hi) / 2)


def ratio_interval(s1, n1, s0, n0, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Koopman score interval of the ratio ``(s1 / n1) / (s0 / n0)`` (arrays).

    Zero events in the numerator group give a lower bound of 0 and a finite upper bound; zero in
    the denominator group an infinite upper bound; zero in both ``[0, inf]``. NaN where a group
    is empty.
    """
    s1, n1, s0, n0 = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(s1, n1, s0, n0))
    z = _z(alpha)
    lo = _bisect(s1, n1, s0, n0, z)
    hi = _bisect(s1, n1, s0, n0, -z)
    lo = np.where(s1 == 0, 0.0, lo)
    hi = np.where(s0 == 0, np.inf, hi)
    both = (s1 == 0) & (s0 == 0)
    lo, hi = np.where(both, 0.0, lo), np.where(both, np.inf, hi)
    bad = (n1 <= 0) | (n0 <= 0)
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def difference_interval(s1, n1, s0, n0, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's hybrid score interval of ``s1 / n1 - s0 / n0`` (arrays)."""
    s1, n1, s0, n0 = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(s1, n1, s0, n0))
    l1, u1 = wilson_interval(s1, n1, alpha)
    l0, u0 = wilson_interval(s0, n0, alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p0 = s1 / n1, s0 / n0
    d = p1 - p0
    lo = d - np.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    hi = d + np.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return lo, hi
