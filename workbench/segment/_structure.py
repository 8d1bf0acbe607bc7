"""Are there segments at all? The gap statistic against a structureless reference, as a test of k = 1.

Stability alone cannot answer this: k-means cuts one elongated Gaussian, or a uniform cloud, into
slabs that reproduce in every bootstrap refit, so a stable k > 1 is found in data without groups.
The gap statistic (Tibshirani, Walther & Hastie 2001) compares how much the within-segment sum of
squares falls as k grows with how much it falls in data without groups: a uniform distribution over
the box aligned with the data's principal components (their reference (b), which follows an
elongated cloud's shape). Data with segments lose far more of their dispersion at the right k than
the reference does; a single Gaussian loses less (it is concentrated), a uniform cloud the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["StructureTest", "structure_test"]


@dataclass
class StructureTest:
    """The outcome of :func:`structure_test`.

    Attributes
    ----------
    gaps : DataFrame
        ``k`` (1 … k_max), ``log_w`` (log within-segment sum of squares of the data), ``gap``
        (mean reference log W minus the data's) and ``gap_se`` (its simulation standard error,
        ``sd * sqrt(1 + 1/B)`` as in Tibshirani et al.).
    statistic : float
        ``max over k >= 2 of gap(k) - gap(1)``: how much more the data's dispersion falls from one
        segment to its best k than the reference's does.
    p_value : float
        Monte Carlo p-value of ``statistic``: each reference data set, treated as the data, gives one
        draw of it under "no segments"; ``(1 + #{draws >= statistic}) / (B + 1)``.
    alpha : float
        The test's level; ``has_structure`` is ``p_value <= alpha``.
    n_reference, n_rows : int
        Reference data sets drawn, and customers (rows) tested.
    """

    gaps: pd.DataFrame
    statistic: float
    p_value: float
    alpha: float
    n_reference: int
    n_rows: int

    @property
    def has_structure(self) -> bool:
        """Whether some k >= 2 beats k = 1: the data have segments the reference does not."""
        return bool(self.p_value <= self.alpha)

    def sentence(self) -> str:
        """The test's outcome in words a reviewer can check against the gap table."""
        best = self.gaps.loc[self.gaps["k"] >= 2].sort_values("gap", ascending=False).iloc[0]
        head = (f"Gap statistic against a uniform reference over the data's principal-component box "
                f"({self.n_reference} reference data sets, {self.n_rows:,} customers): the best k = {int(best['k'])} "
                f"improves on one segment by {self.statistic:.3f} in log dispersion beyond the reference "
                f"(Monte Carlo p = {self.p_value:.3f}, level {self.alpha:g})")
        if self.has_structure:
            return head + "; the data have segment structure, and stability chooses among k >= 2."
        return head + "; no k beats one segment: no stable segment structure."


def _log_w(Z: np.ndarray, k: int, seed: int, n_init: int) -> float:
    """log of the within-segment sum of squares of k-means with k segments (k = 1: around the mean)."""
    from sklearn.cluster import KMeans

    if k == 1:
        return float(np.log(((Z - Z.mean(axis=0)) ** 2).sum()))
    km = KMeans(k, n_init=n_init, random_state=seed).fit(Z)
    return float(np.log(max(km.inertia_, 1e-300)))


def _reference(Z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniform draw over the box of ``Z``'s principal components, rotated back (Tibshirani's (b))."""
    centre = Z.mean(axis=0)
    _, _, vt = np.linalg.svd(Z - centre, full_matrices=False)
    rotated = (Z - centre) @ vt.T
    lo, hi = rotated.min(axis=0), rotated.max(axis=0)
    return rng.uniform(lo, hi, size=rotated.shape) @ vt + centre


def structure_test(Z: np.ndarray, k_max: int = 8, n_reference: int = 19, sample: int = 1_000,
                   alpha: float = 0.05, n_init: int = 2, random_state: int = 0) -> StructureTest:
    """Test "one segment" against "some k in 2 … k_max", with the gap statistic.

    Parameters
    ----------
    Z : ndarray (n, d)
        Customers in model-input space (``SegmentationModel.transform``).
    k_max : int
        Largest k compared with k = 1.
    n_reference : int
        Reference data sets (the Monte Carlo p-value cannot fall below ``1 / (n_reference + 1)``,
        so it must be at least ``1 / alpha - 1`` for the test to ever find structure).
    sample : int
        At most this many customers (seeded sample) are tested: the test is about shape, not size.
    alpha : float
        Level of the test.
    n_init : int
        k-means restarts per fit (data and references alike).
    random_state : int
        Seed of the sample, the references and the fits.

    Returns
    -------
    StructureTest
    """
    if n_reference + 1 < 1 / alpha:
        raise ValueError(f"segmentation.structure.n_reference = {n_reference} cannot reach p <= alpha = {alpha}: "
                         f"use at least {int(np.ceil(1 / alpha - 1))}")
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _structure_test(np.asarray(Z, dtype=float), k_max, n_reference, sample, alpha, n_init, random_state)


def _structure_test(Z, k_max, n_reference, sample, alpha, n_init, random_state) -> StructureTest:
    rng = np.random.default_rng(random_state)
    if len(Z) > sample:
        Z = Z[np.sort(rng.choice(len(Z), sample, replace=False))]
    ks = list(range(1, max(2, min(int(k_max), len(Z) - 1)) + 1))
    data = np.array([_log_w(Z, k, random_state, n_init) for k in ks])
    refs = np.array([[_log_w(R, k, random_state, n_init) for k in ks]
                     for R in (_reference(Z, rng) for _ in range(n_reference))])
    gap = refs.mean(axis=0) - data
    se = refs.std(axis=0) * np.sqrt(1 + 1 / n_reference)
    statistic = float(np.max(gap[1:] - gap[0]))
    # each reference as the data: its drop from k = 1 beyond the mean reference drop
    drops = (refs[:, :1] - refs[:, 1:]) - (refs[:, :1] - refs[:, 1:]).mean(axis=0)
    null = drops.max(axis=1)
    p_value = float((1 + np.sum(null >= statistic)) / (n_reference + 1))
    gaps = pd.DataFrame({"k": ks, "log_w": data, "gap": gap, "gap_se": se})
    return StructureTest(gaps=gaps, statistic=statistic, p_value=p_value, alpha=alpha,
                         n_reference=n_reference, n_rows=len(Z))
