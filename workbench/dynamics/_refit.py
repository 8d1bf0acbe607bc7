"""Refitting the segmentation on one window, its segment ids matched to a reference's (Hungarian)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def match_centroids(reference: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Match new centroids to reference centroids (Hungarian assignment on squared distances).

    (The per-window refit uses :meth:`workbench.segment.SegmentationModel.align_to` when the model
    has it; this is the fallback for other models.)

    Returns
    -------
    numpy.ndarray
        ``mapping[j]`` = the reference id given to new centroid ``j``. Extra new centroids (more
        new than reference) get fresh ids after the reference ones.
    """
    from scipy.optimize import linear_sum_assignment

    cost = ((new[:, None, :] - reference[None, :, :]) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    mapping = np.full(len(new), -1, dtype=int)
    mapping[rows] = cols
    spare = iter(range(len(reference), len(reference) + len(new)))
    for j in np.flatnonzero(mapping < 0):
        mapping[j] = next(spare)
    return mapping


def _refit(model, X: pd.DataFrame, z: np.ndarray, reference, seed: int, sample: int):
    """Refit a clone of ``model`` on one window; return its labels in the reference's ids.

    ``reference`` is the previous window's model (or the original one for the first window). When
    the model class offers ``align_to`` (:meth:`workbench.segment.SegmentationModel.align_to`:
    centroids compared in the reference's model space, Hungarian matching), it renumbers the refit;
    otherwise new segments are matched to the reference's centroids here, in the original model's
    input space (``z`` = the original model's transform of ``X``).

    Returns
    -------
    labels : numpy.ndarray
        Segment of each row of ``X`` in the reference's ids.
    reference : model or numpy.ndarray
        What the next window is matched to.
    """
    from sklearn.base import clone

    fresh = clone(model)
    if "random_state" in fresh.get_params():
        fresh.set_params(random_state=seed)
    rng = np.random.default_rng(seed)
    fit_rows = np.sort(rng.choice(len(X), size=min(sample, len(X)), replace=False))
    fresh.fit(X.iloc[fit_rows])
    if hasattr(fresh, "align_to") and not isinstance(reference, np.ndarray):
        fresh.align_to(reference, X.iloc[fit_rows])
        return np.asarray(fresh.predict(X)), fresh
    labels = np.asarray(fresh.predict(X))
    ids = np.unique(labels)
    centers = np.stack([z[labels == j].mean(axis=0) for j in ids])
    mapping = match_centroids(np.asarray(reference), centers)
    lookup = np.zeros(int(ids.max()) + 1, dtype=int)
    lookup[ids] = mapping
    new_ref = np.array(reference, dtype=float, copy=True)
    for j, m in enumerate(mapping):
        if m < len(new_ref):
            new_ref[m] = centers[j]
    return lookup[labels], new_ref
