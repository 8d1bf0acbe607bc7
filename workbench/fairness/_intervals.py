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

:func:`band_pvalue` inverts the same intervals into the p-value of "the ratio (or difference) lies
inside the band": with one comparison, ``p < alpha`` exactly when the ``1 - alpha`` interval shown lies
wholly beyond a band edge.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


def wilson_interval(events, n, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of ``events / n`` (arrays; NaN where ``n == 0``)."""
    return _wilson(np.asarray(events, dtype=float), np.asarray(n, dtype=float), _z(alpha))


def _wilson(s: np.ndarray, n: np.ndarray, z) -> tuple[np.ndarray, np.ndarray]:
    """Wilson's interval at the normal quantile ``z`` (a number or an array broadcast with ``s``)."""
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
    return _newcombe(s1, n1, s0, n0, _z(alpha))


def _newcombe(s1, n1, s0, n0, z) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's interval at the normal quantile ``z`` (a number or an array)."""
    l1, u1 = _wilson(s1, n1, z)
    l0, u0 = _wilson(s0, n0, z)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p0 = s1 / n1, s0 / n0
    d = p1 - p0
    lo = d - np.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    hi = d + np.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return lo, hi


def _two_sided(z) -> np.ndarray:
    """``2 * P(Z > |z|)`` for a standard normal ``Z`` (elementwise; no scipy at import)."""
    z = np.abs(np.asarray(z, dtype=float))
    return np.vectorize(math.erfc, otypes=[float])(z / math.sqrt(2.0)) if z.size else z


def ratio_band_pvalue(s1, n1, s0, n0, low: float, high: float) -> np.ndarray:
    """p-value of "the ratio ``(s1/n1) / (s0/n0)`` lies in ``[low, high]``", by Koopman's score test.

    1 where the estimate lies inside; beyond an edge, the two-sided p-value of the score test of
    "ratio = that edge". It is below ``alpha`` exactly when :func:`ratio_interval` at ``alpha`` lies
    wholly beyond that edge (the interval is the set of ratios this test does not reject). NaN where
    a group is empty.
    """
    s1, n1, s0, n0 = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(s1, n1, s0, n0))
    with np.errstate(divide="ignore", invalid="ignore"):
        below = s1 * n0 < low * s0 * n1
        above = s1 * n0 > high * s0 * n1
        z = np.where(below, _ratio_score(low, s1, n1, s0, n0), _ratio_score(high, s1, n1, s0, n0))
    p = np.where(below | above, np.minimum(_two_sided(z), 1.0), 1.0)
    return np.where((n1 <= 0) | (n0 <= 0), np.nan, p)


def difference_band_pvalue(s1, n1, s0, n0, threshold: float) -> np.ndarray:
    """p-value of "the difference ``s1/n1 - s0/n0`` lies in ``[-threshold, threshold]``" (Newcombe).

    1 where the estimate lies inside; beyond an edge, ``2 * P(Z > z*)`` where ``z*`` is the normal
    quantile at which Newcombe's interval just reaches that edge (found by bisection; the interval
    widens with ``z``), so it is below ``alpha`` exactly when :func:`difference_interval` at ``alpha``
    lies wholly beyond the edge.
    """
    s1, n1, s0, n0 = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(s1, n1, s0, n0))
    with np.errstate(divide="ignore", invalid="ignore"):
        d = s1 / n1 - s0 / n0
    below, above = d < -threshold, d > threshold
    if not (below | above).any():
        return np.where((n1 <= 0) | (n0 <= 0), np.nan, 1.0)
    lo, hi = np.zeros(d.shape), np.full(d.shape, 40.0)
    for _ in range(50):  # z to 4e-14
        mid = (lo + hi) / 2
        d_lo, d_hi = _newcombe(s1, n1, s0, n0, mid)
        beyond = np.where(below, d_hi < -threshold, d_lo > threshold)  # the interval at mid excludes the edge
        lo, hi = np.where(beyond, mid, lo), np.where(beyond, hi, mid)
    p = np.where(below | above, _two_sided((lo + hi) / 2), 1.0)
    return np.where((n1 <= 0) | (n0 <= 0), np.nan, p)


def band_pvalue(s1, n1, s0, n0, thresholds: dict | None = None) -> np.ndarray:
    """p-value of "group 1 is treated like group 0 within the band": the smaller of the ratio's and,
    when ``thresholds["difference"]`` is set, the difference's (:func:`ratio_band_pvalue`,
    :func:`difference_band_pvalue`).

    Taking the smaller of two p-values keeps the level because the two edges can only be reached at
    once where they describe the same pair of rates (``p1 = low * p0 = p0 - d``), and there the two
    score statistics are almost the same statistic (correlation above 0.99); the simulation tests
    check the false-fail rate at that corner.
    """
    thresholds = thresholds or {}
    low, high = (float(x) for x in thresholds.get("ratio", [0.8, 1.25]))
    p = ratio_band_pvalue(s1, n1, s0, n0, low, high)
    d = thresholds.get("difference")
    if d is not None:
        p = np.fmin(p, difference_band_pvalue(s1, n1, s0, n0, float(d)))
    return p
