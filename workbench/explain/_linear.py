"""The exact path: SHAP values of scores linear in the model inputs (k-means: nearest centroid)."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from ._grouping import _aggregation_matrix, _unique


class LinearScoreExplainer:
    """Exact SHAP values of the margin between linear segment scores, mapped back to original features.

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

    def _phi(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Scores (n, k) and SHAP values of every score, laid out (n, k, p).

        The SHAP values are the LinearExplainer's interventional values ``(z - mean) * coef`` (its
        fitted ``mean`` and ``coef``), fused with the sum into original features as one matrix
        product ``(z - mean) @ B`` with ``B[:, j*p:(j+1)*p] = diag(coef[j]) @ aggregate``; a test
        checks that they equal ``explainer_.shap_values``.
        """
        z = np.asarray(self.transform(X), dtype=float)
        scores = z @ self.coef.T
        scores += self.intercept
        if getattr(self, "_fused", None) is None:
            k = len(self.coef)
            self._fused = np.concatenate([self.coef[j][:, None] * self.aggregate_ for j in range(k)], axis=1)
        z -= np.asarray(self.explainer_.mean, dtype=float)
        phi = (z @ self._fused).reshape(len(z), len(self.coef), len(self.features_))
        return scores, phi

    def explain(self, X: pd.DataFrame, versus=None) -> dict:
        """Explain a batch: the assigned segment against the runner-up (or a named segment).

        The explained quantity is the *margin* ``m = s_assigned - s_other``; for centroids
        ``m = ||z - c_other||^2 - ||z - c_assigned||^2``, linear in ``z`` and independent of where the
        origin of the model space lies, so its interventional SHAP values are exact and origin-invariant
        (the SHAP values of one score alone are not: they carry the dropped ``||z||^2``).

        Parameters
        ----------
        X : DataFrame
            Raw features.
        versus : segment id, optional
            Explain against this segment instead of each customer's runner-up.

        Returns
        -------
        dict
            ``segment``, ``runner_up`` (segment ids, (n,); ``runner_up`` is ``versus`` when given),
            ``scores`` (n, k), ``margin`` (n, p): SHAP of the margin, ``base_margin`` (n,),
            ``top_index``/``runner_index`` (positions), and the per-score values ``shap`` (n, p, k)
            and ``shap_nkp`` (n, k, p) for diagnostics.
        """
        scores, phi = self._phi(X)
        other = None if versus is None else _position(self.segments, versus)
        return _batch_result(scores, phi, self.base_values_, self.segments, other)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_fused", None)
        return state


def _position(segments: np.ndarray, segment) -> int:
    """Position of ``segment`` among ``segments`` (compared as text: ids may come back as str or int)."""
    names = [str(s) for s in np.asarray(segments).tolist()]
    if str(segment) not in names:
        raise ValueError(f"Unknown segment {segment!r}: the segments are {', '.join(names)}.")
    return names.index(str(segment))


def _batch_result(scores: np.ndarray, phi_nkp: np.ndarray, base: np.ndarray, segments: np.ndarray,
                  other: int | None = None, top: np.ndarray | None = None) -> dict:
    """The margin explanation of a batch from every score's SHAP values.

    ``top`` (positions of the assigned segments) defaults to the highest score; ``other`` (one
    position) to each row's runner-up. SHAP is linear, so the margin's SHAP is the difference of
    the two scores' SHAP values.
    """
    n, k = scores.shape
    rows = np.arange(n)
    if top is None:
        top = np.argmax(scores, axis=1)
    if other is not None:
        second = np.full(n, other)
    elif k > 1:
        masked = scores.copy()
        masked[rows, top] = -np.inf
        second = np.argmax(masked, axis=1)
    else:
        second = top
    margin = phi_nkp[rows, top, :] - phi_nkp[rows, second, :]
    return {
        "segment": segments[top],
        "runner_up": segments[second],
        "scores": scores,
        "shap": phi_nkp.transpose(0, 2, 1),
        "shap_nkp": phi_nkp,
        "margin": margin,
        "base_margin": base[top] - base[second],
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

