"""The count bootstrap: resampling customers drawn exactly as a multinomial over a table of counts."""

from __future__ import annotations

import warnings

import numpy as np


def _generator(seed: int | np.random.Generator) -> np.random.Generator:
    """``seed`` itself when it is a generator (callers pass independent streams), else a new one."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _multinomial(cells: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap draws of a table of counts: (n_boot, *cells.shape).

    Resampling N rows with replacement and counting them per cell is a multinomial draw with the
    observed cell shares as probabilities: the exact row bootstrap of any statistic of the counts.
    """
    flat = np.asarray(cells, dtype=np.int64).ravel()
    total = int(flat.sum())
    if total == 0:
        return np.zeros((n_boot, *np.shape(cells)), dtype=np.int64)
    draws = rng.multinomial(total, flat / total, size=n_boot)
    return draws.reshape(n_boot, *np.shape(cells))


def _quantiles(samples: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    if samples.shape[0] == 0:  # no resamples: no interval
        nan = np.full(samples.shape[1:], np.nan)
        return nan, nan.copy()
    with np.errstate(invalid="ignore"):
        samples = np.where(np.isinf(samples), np.nan, samples)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, hi = np.nanquantile(samples, [alpha / 2, 1 - alpha / 2], axis=0)
    return lo, hi
