"""The clusterers behind every segmentation: k-means, Gaussian mixture, Ward on a sample."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.mixture import GaussianMixture

METHODS = ("kmeans", "gmm", "ward")


def nearest_centre(Z: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index of each row's nearest centre: argmin ||z - c||^2 == argmax 2 z.c - ||c||^2 (linear in z)."""
    return np.argmax(2 * Z @ centers.T - (centers**2).sum(axis=1), axis=1)


def cluster(Z: np.ndarray, method: str, k: int, seed: int, n_init: int, ward_sample: int):
    """Fit a clusterer on Z; return labels, centres (nearest-centre methods) or means, estimator."""
    if method == "kmeans":
        km = KMeans(k, n_init=n_init, random_state=seed).fit(Z)
        return km.labels_.astype(int), km.cluster_centers_.copy(), None
    if method == "gmm":
        gm = GaussianMixture(k, covariance_type="full", n_init=max(1, n_init // 2), random_state=seed, reg_covar=1e-4).fit(Z)
        return gm.predict(Z).astype(int), gm.means_.copy(), gm
    if method == "ward":
        rng = np.random.default_rng(seed)
        rows = np.arange(len(Z)) if len(Z) <= ward_sample else np.sort(rng.choice(len(Z), ward_sample, replace=False))
        tree = AgglomerativeClustering(n_clusters=k, linkage="ward").fit(Z[rows])
        centers = np.vstack([Z[rows][tree.labels_ == j].mean(axis=0) for j in range(k)])
        labels = nearest_centre(Z, centers)
        return labels.astype(int), centers, None
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")
