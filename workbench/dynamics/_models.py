"""Scoring customers into segments: stand-in models (nearest centroid, surrogate of given labels) and
how any model's inputs, transform and prediction are taken."""

from __future__ import annotations

import numpy as np
import pandas as pd


class _CentroidModel:
    """Nearest-centroid stand-in when stage 02 saved no model: scores new customers by the recorded
    segments' standardised feature means (only used until ``segments/model.joblib`` exists)."""

    method = "nearest-centroid"

    def __init__(self, features: pd.DataFrame, segments: np.ndarray, names: dict[int, str]):
        X = features.drop(columns=["customer_id"]).select_dtypes("number")
        self.feature_names_in_ = list(X.columns)
        self.input_names_ = list(X.columns)
        self.input_feature_ = list(X.columns)
        values = X.to_numpy(dtype=float)
        self._median = np.nanmedian(values, axis=0)
        values = np.where(np.isnan(values), self._median, values)
        self._mean, self._scale = values.mean(axis=0), values.std(axis=0)
        self._scale[self._scale == 0] = 1.0
        z = (values - self._mean) / self._scale
        ids = np.unique(segments)
        self.cluster_centers_ = np.full((int(ids.max()) + 1, z.shape[1]), 1e6)  # absent ids: never nearest
        for j in ids:
            self.cluster_centers_[j] = z[segments == j].mean(axis=0)
        self._ids = ids
        self.segment_names_ = dict(names)

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        values = X[self.feature_names_in_].to_numpy(dtype=float)
        values = np.where(np.isnan(values), self._median, values)
        return (values - self._mean) / self._scale

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        z = self.transform(X)
        c = self.cluster_centers_[self._ids]
        d = (z * z).sum(1)[:, None] - 2 * z @ c.T + (c * c).sum(1)[None, :]
        return self._ids[d.argmin(axis=1)]


class _LabelModel:
    """Scores customers into *given* segments (audit mode) with a surrogate of the labels.

    ``predict`` is the fitted :class:`workbench.explain.SurrogateExplainer`'s prediction;
    ``transform`` standardises the numeric inputs (for centroids, cohort means and drift), as the
    nearest-centroid stand-in does.
    """

    def __init__(self, surrogate, reference: pd.DataFrame, names: dict[int, str]):
        self.surrogate = surrogate
        self.method = "surrogate of the given labels"
        self.feature_names_in_ = list(surrogate.features_)
        cats = set(getattr(surrogate, "categories_", {}) or {})
        self._numeric = [c for c in self.feature_names_in_ if c not in cats]
        self.input_names_ = list(self._numeric)
        self.input_feature_ = list(self._numeric)
        values = reference[self._numeric].to_numpy(dtype=float)
        self._median = np.nan_to_num(np.nanmedian(values, axis=0)) if len(values) else np.zeros(len(self._numeric))
        values = np.where(np.isnan(values), self._median, values)
        self._mean, self._scale = values.mean(axis=0), values.std(axis=0)
        self._scale[self._scale == 0] = 1.0
        self.cluster_centers_ = None
        self.segment_names_ = dict(names)

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        values = X[self._numeric].to_numpy(dtype=float)
        values = np.where(np.isnan(values), self._median, values)
        return (values - self._mean) / self._scale

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.surrogate.predict(X[self.feature_names_in_]), dtype=int)


def _model_inputs(model, features: pd.DataFrame) -> pd.DataFrame:
    cols = getattr(model, "feature_names_in_", None)
    if cols is None:
        return features.drop(columns=["customer_id"])
    missing = [c for c in cols if c not in features.columns]
    if missing:
        raise ValueError(f"The window features lack model inputs {missing}")
    return features[list(cols)]


def _transform(model, X: pd.DataFrame) -> np.ndarray:
    if hasattr(model, "transform"):
        return np.asarray(model.transform(X), dtype=float)
    return X.to_numpy(dtype=float)


def _predict(model, X: pd.DataFrame, z: np.ndarray) -> np.ndarray:
    """Segments of ``X``; from its model inputs ``z`` when the model assigns the nearest centre.

    For such models (k-means, Ward) the contract says ``predict(X) == argmin_j ||z - c_j||^2``,
    so ``argmax_j 2 z.c_j - ||c_j||^2`` gives the same labels without transforming ``X`` twice.
    """
    centers = getattr(model, "cluster_centers_", None)
    if centers is None or getattr(model, "method", "kmeans") not in ("kmeans", "ward", "nearest-centroid") \
            or z.shape[1] != np.shape(centers)[1]:
        return np.asarray(model.predict(X), dtype=np.int16)
    c = np.asarray(centers, dtype=float)
    out = np.empty(len(z), dtype=np.int16)
    for start in range(0, len(z), 200_000):  # blocks keep the (n, k) score matrix small
        block = z[start:start + 200_000]
        out[start:start + len(block)] = np.argmax(2 * block @ c.T - (c * c).sum(axis=1), axis=1)
    return out
