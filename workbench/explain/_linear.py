"""The exact path: SHAP values of scores linear in the model inputs (k-means: nearest centroid)."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from ._grouping import _aggregation_matrix, _unique

class LinearScoreExplainer:
    """Exact SHAP values of linear segment scores, mapped back to original features.

    The model assigns a customer to ``argmax_j s_j`` with ``s_j = z @ coef[j] + intercept[j]`` and
    ``z = transform(X)``. For k-means, ``coef = 2 C`` and ``intercept = -||c_j||^2``
    (:func:`centroid_explainer`).

    Parameters
    ----------
    transform : callable
        Raw feature DataFrame -> (n, d) model inputs.
    coef : ndarray of shape (k, d)
    intercept : ndarray of shape (k,)
    input_feature : list of str
        For each of the d model columns, the original feature it comes from.
    segments : sequence of int, optional
        Segment id of each score row (default ``0..k-1``).
    background_size : int, default 200
        Size of the background sample drawn in :meth:`fit`.
    random_state : int, default 0

    Attributes
    ----------
    explainer_ : shap.LinearExplainer
        Interventional explainer over an Independent masker of the background sample.
    base_values_ : ndarray of shape (k,)
        Expected score of each segment over the background.
    features_ : list of str
        Original features, in order of first appearance in ``input_feature``.
    """

    kind = "exact"

    def __init__(self, transform: Callable, coef, intercept, input_feature, segments=None,
                 background_size: int = 200, random_state: int = 0):
        self.transform = transform
        self.coef = np.asarray(coef, dtype=float)
        self.intercept = np.asarray(intercept, dtype=float)
        self.input_feature = list(input_feature)
        self.segments = np.arange(len(self.coef)) if segments is None else np.asarray(segments)
        self.background_size = background_size
        self.random_state = random_state

    def fit(self, X: pd.DataFrame) -> "LinearScoreExplainer":
        """Draw the background sample from ``X`` (seeded) and build the SHAP explainer."""
        import shap

        if self.coef.shape[1] != len(self.input_feature):
            raise ValueError(
                f"coef has {self.coef.shape[1]} model columns but input_feature names {len(self.input_feature)}."
            )
        rng = np.random.default_rng(self.random_state)
        n_bg = min(self.background_size, len(X))
        rows = np.sort(rng.choice(len(X), n_bg, replace=False))
        self.background_rows_ = rows
        z_bg = np.asarray(self.transform(X.iloc[rows]), dtype=float)
        self.explainer_ = shap.LinearExplainer(
            (self.coef, self.intercept), shap.maskers.Independent(z_bg, max_samples=n_bg)
        )
        self.base_values_ = np.atleast_1d(np.asarray(self.explainer_.expected_value, dtype=float))
        self.features_ = _unique(self.input_feature)
        self.aggregate_ = _aggregation_matrix(self.input_feature, self.features_)
        return self

    def scores(self, X: pd.DataFrame) -> np.ndarray:
        """(n, k) segment scores; the assigned segment has the highest."""
        z = np.asarray(self.transform(X), dtype=float)
        return z @ self.coef.T + self.intercept

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.segments[np.argmax(self.scores(X), axis=1)]

    def shap_values(self, X: pd.DataFrame, original: bool = True) -> np.ndarray:
        """SHAP values of every segment's score, shape (n, p, k) (or (n, d, k) with ``original=False``)."""
        z = np.asarray(self.transform(X), dtype=float)
        phi = self.explainer_.shap_values(z)
        if phi.ndim == 2:  # a single segment
            phi = phi[:, :, None]
        if not original:
            return phi
        return np.einsum("ndk,dp->npk", phi, self.aggregate_, optimize=True)

    def explain(self, X: pd.DataFrame) -> dict:
        """Explain a batch: assigned and runner-up segment, own-score and versus-runner-up SHAP.

        The SHAP values are the LinearExplainer's interventional values ``(z - mean) * coef`` (its
        fitted ``mean`` and ``coef``), fused with the sum into original features as one matrix
        product ``(z - mean) @ B`` with ``B[:, j*p:(j+1)*p] = diag(coef[j]) @ aggregate``; a test
        checks that they equal ``explainer_.shap_values``.

        Returns
        -------
        dict
            ``segment``, ``runner_up`` (segment ids, (n,)), ``scores`` (n, k), ``shap`` (n, p, k),
            ``shap_nkp`` (the same values laid out (n, k, p)), ``own`` (n, p): SHAP of the assigned
            segment's score, ``versus`` (n, p): SHAP of ``s_segment - s_runner_up``, ``base_own``
            and ``base_versus`` (n,): their base values, ``top_index``/``runner_index`` (positions).
        """
        z = np.asarray(self.transform(X), dtype=float)
        scores = z @ self.coef.T
        scores += self.intercept
        if getattr(self, "_fused", None) is None:
            k, p = len(self.coef), len(self.features_)
            self._fused = np.concatenate([self.coef[j][:, None] * self.aggregate_ for j in range(k)], axis=1)
        z -= np.asarray(self.explainer_.mean, dtype=float)
        phi = (z @ self._fused).reshape(len(z), len(self.coef), len(self.features_))
        return _batch_result(scores, phi, self.base_values_, self.segments)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_fused", None)
        return state


def _batch_result(scores: np.ndarray, phi_nkp: np.ndarray, base: np.ndarray, segments: np.ndarray) -> dict:
    n, k = scores.shape
    rows = np.arange(n)
    top = np.argmax(scores, axis=1)
    if k > 1:
        masked = scores.copy()
        masked[rows, top] = -np.inf
        second = np.argmax(masked, axis=1)
    else:
        second = top
    own = phi_nkp[rows, top, :]
    versus = own - phi_nkp[rows, second, :]
    return {
        "segment": segments[top],
        "runner_up": segments[second],
        "scores": scores,
        "shap": phi_nkp.transpose(0, 2, 1),
        "shap_nkp": phi_nkp,
        "own": own,
        "versus": versus,
        "base_own": base[top],
        "base_versus": base[top] - base[second],
        "top_index": top,
        "runner_index": second,
    }


def centroid_explainer(model, X: pd.DataFrame | None = None, transform: Callable | None = None,
                       centers=None, input_feature=None, **kwargs) -> LinearScoreExplainer:
    """A :class:`LinearScoreExplainer` for a centroid model, fitted on background drawn from ``X``.

    ``model`` is a :class:`workbench.segment.SegmentationModel` with ``cluster_centers_`` (then
    ``transform``, ``centers`` and ``input_feature`` are read from it) or a scikit-learn pipeline
    ending in ``KMeans`` (then ``input_feature`` must be given unless the preprocessing keeps one
    column per feature).

    Parameters
    ----------
    model : SegmentationModel, scikit-learn Pipeline ending in KMeans, or None
        None: ``transform``, ``centers`` and ``input_feature`` must all be given.
    X : DataFrame, optional
        Raw features to draw the background sample from; without it the explainer is returned unfitted.
    transform, centers, input_feature : optional
        Override what is read from ``model``.
    **kwargs
        Passed to :class:`LinearScoreExplainer` (``background_size``, ``random_state``, ``segments``).

    Returns
    -------
    LinearScoreExplainer
    """
    if model is not None:
        centers = getattr(model, "cluster_centers_", None) if centers is None else centers
        if centers is None and hasattr(model, "steps"):
            centers = model.steps[-1][1].cluster_centers_
            transform = transform or model[:-1].transform
            if input_feature is None and hasattr(model, "feature_names_in_"):
                input_feature = list(model.feature_names_in_)
        transform = transform or model.transform
        if input_feature is None:
            input_feature = list(getattr(model, "input_feature_", None) or getattr(model, "feature_names_in_"))
    if centers is None:
        raise ValueError("The model has no centroids: use SurrogateExplainer.")
    centers = np.asarray(centers, dtype=float)
    explainer = LinearScoreExplainer(
        transform, 2.0 * centers, -(centers ** 2).sum(axis=1), input_feature, **kwargs
    )
    return explainer.fit(X) if X is not None else explainer



def has_centroids(model) -> bool:
    """Whether ``model`` assigns by nearest centroid (so :func:`centroid_explainer` explains it exactly)."""
    if model is None:
        return False
    if getattr(model, "cluster_centers_", None) is not None and hasattr(model, "transform"):
        return True
    steps = getattr(model, "steps", None)  # a scikit-learn pipeline ending in k-means
    return bool(steps) and getattr(steps[-1][1], "cluster_centers_", None) is not None

