"""Segments: rule segments (RFM), learned segments, choosing k with stability, profiles and names.

User guide
----------
:class:`SegmentationModel` is a scikit-learn estimator that holds the whole path from raw customer
features (original units, as :func:`workbench.features.build_features` returns them) to a stable
segment id: per-feature transforms (``log`` for counts and money, one-hot for categories), imputation,
winsorising at the 1st/99th percentile, scaling, and the clusterer (``kmeans``, the default;
``gmm``, a Gaussian mixture; ``ward``, agglomerative clustering on a sample with every other customer
assigned to the nearest Ward centroid). It is fitted on a random sample (``fit_sample``) and predicts
everyone; saved with joblib in the run directory, it assigns new customers (``workbench assign``).

Segment ids are stable: after fitting, segments are numbered by their mean value (id 0 = lowest
value, e.g. net spend), and :meth:`SegmentationModel.align_to` renumbers a refit to match an earlier
model's segments by centroid (Hungarian matching), so segment 3 stays the same segment across runs.

:func:`choose_k` computes a report card for a range of k: silhouette (on a sample, so it works at
millions of customers), Calinski-Harabasz, Davies-Bouldin and bootstrap stability (ARI between the
reference fit and refits on bootstrap resamples, and each segment's Jaccard similarity with its
matched refit segment). :func:`recommend_k` picks the largest k whose segments all reproduce
(every segment's mean Jaccard >= 0.75 and mean ARI >= 0.8, after Hennig 2007) and says why in words.

:func:`profile_segments` gives size, share, medians vs the population, z-scores, revenue share and
churn rate (where an outcome exists), small-cell suppressed for publication; :func:`name_segments`
derives short descriptive names ("Frequent, high spenders, app users") from the inputs that most
distinguish each segment. Rule segments: :func:`workbench.features.rfm_scores`.

:func:`segment_run` is the stage entry point of notebook 02.

**Audit mode.** When the dataset brings its own segment labels (a CRM/CDP export: a ``labels:`` file or
a ``segment:`` column, see :func:`workbench.data.attach_labels`), :func:`segment_run` hands over to
:func:`audit_run`, which fits nothing: the labels become stable integer ids ordered by value
(:func:`given_segment_ids`; customers without a label form the segment "unlabelled", kept out of the
value order), and the given segments are profiled, described and small-cell suppressed like learned
ones, with segments below ``min_segment_size`` marked insufficient evidence. The label file's problems
(unlabelled customers, labels for unknown customers) are tabled by :func:`label_quality_table`, and
:func:`compare_with_learned` shows, for comparison only, how far a learned segmentation of the same
customers agrees with the given one (adjusted Rand index, crosstab). No ``segments/model.joblib`` is
written: later stages explain and audit the labels themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator, TransformerMixin
from threadpoolctl import threadpool_limits
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, RobustScaler, StandardScaler

from . import features as feat
from .rundir import Run, register_stage

__all__ = [
    "DEFAULTS",
    "METHODS",
    "SegmentationModel",
    "SegmentationResult",
    "UNLABELLED",
    "audit_run",
    "choose_k",
    "compare_with_learned",
    "describe_inputs",
    "given_segment_ids",
    "label_quality_table",
    "name_segments",
    "plot_k_selection",
    "plot_profile_heatmap",
    "plot_projection",
    "plot_sizes",
    "profile_segments",
    "recommend_k",
    "rfm_group_table",
    "segment_run",
    "segment_z",
]

METHODS = ("kmeans", "gmm", "ward")

DEFAULTS: dict[str, Any] = {
    "method": "kmeans",  # kmeans | gmm | ward
    "k": "auto",  # an int, or "auto": the recommended k of the k report card
    "k_range": [2, 8],  # inclusive range of k tried by choose_k
    "features": {},  # overrides of workbench.features.DEFAULTS (families, columns, allow_sensitive)
    "transforms": {},  # per-feature transform overrides: log | none | onehot
    "scaler": "standard",  # standard | robust
    "winsorize": 0.01,  # clip each model input at these quantiles (0 switches off)
    "fit_sample": 50_000,  # the model is fitted on at most this many customers, then predicts all
    "selection_sample": 10_000,  # choosing k uses at most this many customers
    "silhouette_sample": 3_000,
    "n_bootstrap": 5,  # bootstrap refits per k
    "n_init": 8,
    "ward_sample": 5_000,
    "stability": {"ari": 0.8, "jaccard": 0.85},  # thresholds of a "stable" k (Hennig 2007: >= 0.85 highly stable)
    "reference_run": None,  # a previous run directory: align segment ids to its model
    "threads": 1,  # BLAS/OpenMP threads while clustering (1 is fastest on small shared machines)
    # audit mode (segments given as labels, see audit_run):
    "min_segment_size": 30,  # given segments smaller than this are "insufficient evidence"
    "compare_learned": True,  # also fit a learned segmentation of the same customers, for comparison
}

# Imputation of features that are undefined for customers without purchases: "no purchase history"
# is 0 days of tenure, not the median customer's tenure.
IMPUTE = {"tenure": 0.0, "frequency": 0.0, "monetary": 0.0, "trend": 0.0}
ONEHOT_WEIGHT = float(np.sqrt(0.5))  # a change of category counts as one standard deviation


# -- preprocessing ---------------------------------------------------------------------------------


def log1p_nonneg(X):
    """``log(1 + max(x, 0))``: money and counts on a log scale; net-negative spend counts as 0."""
    return np.log1p(np.clip(np.asarray(X, dtype=float), 0, None))


def _to_float(X):
    return np.asarray(X, dtype=float)


def _as_text(X):
    arr = np.asarray(pd.DataFrame(X).astype(object))
    mask = pd.isna(arr)
    arr = arr.astype(str)
    arr[mask] = "missing"
    return arr


class Winsorizer(TransformerMixin, BaseEstimator):
    """Clip each column at its ``q`` and ``1 - q`` quantiles, learned in ``fit``."""

    def __init__(self, q: float = 0.01):
        self.q = q

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=float)
        if self.q > 0:
            self.lower_ = np.nanquantile(X, self.q, axis=0)
            self.upper_ = np.nanquantile(X, 1 - self.q, axis=0)
        else:
            self.lower_ = np.full(X.shape[1], -np.inf)
            self.upper_ = np.full(X.shape[1], np.inf)
        return self

    def transform(self, X):
        return np.clip(np.asarray(X, dtype=float), self.lower_, self.upper_)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features, dtype=object)


class _Weight(TransformerMixin, BaseEstimator):
    def __init__(self, weight: float = 1.0):
        self.weight = weight

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def transform(self, X):
        return np.asarray(X, dtype=float) * self.weight

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features, dtype=object)


def _numeric_pipeline(log: bool, fill, scaler: str, winsorize: float) -> Pipeline:
    steps = [("float", FunctionTransformer(_to_float, feature_names_out="one-to-one"))]
    if log:
        steps.append(("log", FunctionTransformer(log1p_nonneg, feature_names_out="one-to-one")))
    if fill is None:
        steps.append(("impute", SimpleImputer(strategy="median", keep_empty_features=True)))
    else:
        steps.append(("impute", SimpleImputer(strategy="constant", fill_value=fill, keep_empty_features=True)))
    steps.append(("winsorize", Winsorizer(winsorize)))
    steps.append(("scale", RobustScaler() if scaler == "robust" else StandardScaler()))
    return Pipeline(steps)


def _categorical_pipeline(weight: float) -> Pipeline:
    return Pipeline([
        ("text", FunctionTransformer(_as_text, feature_names_out="one-to-one")),
        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ("weight", _Weight(weight)),
    ])


# -- the estimator -----------------------------------------------------------------------------------


class SegmentationModel(BaseEstimator):
    """Feature pipeline plus clusterer: raw customer features in, stable segment ids out.

    Parameters
    ----------
    method : {"kmeans", "gmm", "ward"}, default "kmeans"
    k : int, default 5
        Number of segments.
    transforms : dict, optional
        Per-feature transform (``"log"``, ``"none"`` or ``"onehot"``) overriding the suggestion of
        :mod:`workbench.features` (counts and money: log; categories: one-hot).
    scaler : {"standard", "robust"}, default "standard"
    winsorize : float, default 0.01
        Each numeric input is clipped at its ``winsorize`` and ``1 - winsorize`` quantiles.
    onehot_weight : float, default sqrt(1/2)
        Scale of one-hot columns: a change of category moves a customer by ``onehot_weight * sqrt(2)``.
    fit_sample : int, default 50000
        Fit on at most this many randomly drawn customers (seeded by ``random_state``).
    n_init : int, default 8
        k-means restarts (and Gaussian-mixture initialisations).
    ward_sample : int, default 5000
        Ward clustering runs on at most this many customers; the rest go to the nearest centroid.
    value_feature : str, optional
        Feature whose mean orders the segment ids (0 = lowest). Default ``monetary`` when present,
        else the first numeric input.
    random_state : int, default 0
    n_threads : int or None, default 1
        BLAS/OpenMP threads while clustering. One thread is fastest on small, shared machines
        (threads of two pools spinning against other users' work cost more than they gain).

    Attributes
    ----------
    feature_names_in_ : list of str
        Raw feature columns expected in ``X``.
    transforms_ : dict
        The transform applied to each raw feature.
    preprocessor_ : ColumnTransformer
        Fitted transformer from raw ``X`` to the model-input space.
    input_names_ : list of str
        Model-space column names (one-hot columns are ``"feature=level"``).
    input_feature_ : list of str
        For each model-space column, the raw feature it came from.
    cluster_centers_ : ndarray of shape (k, d) or None
        Centres in model space, row j = segment j, whenever ``predict`` assigns the nearest centre
        (``kmeans`` and ``ward``); ``None`` for ``gmm``.
    means_ : ndarray of shape (k, d)
        Mean of each segment in model space on the fit sample (every method).
    segment_names_ : dict of int to str
    labels_ : ndarray
        Segment of each row of the fit sample.
    """

    def __init__(
        self,
        method: str = "kmeans",
        k: int = 5,
        transforms: dict | None = None,
        scaler: str = "standard",
        winsorize: float = 0.01,
        onehot_weight: float = ONEHOT_WEIGHT,
        fit_sample: int = 50_000,
        n_init: int = 8,
        ward_sample: int = 5_000,
        value_feature: str | None = None,
        random_state: int = 0,
        n_threads: int | None = 1,
    ):
        self.method = method
        self.k = k
        self.transforms = transforms
        self.scaler = scaler
        self.winsorize = winsorize
        self.onehot_weight = onehot_weight
        self.fit_sample = fit_sample
        self.n_init = n_init
        self.ward_sample = ward_sample
        self.value_feature = value_feature
        self.random_state = random_state
        self.n_threads = n_threads

    # -- fitting --------------------------------------------------------------------------------------
    def _validate(self, X: pd.DataFrame) -> pd.DataFrame:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if not isinstance(self.k, (int, np.integer)) or self.k < 2:
            raise ValueError(f"k must be an integer >= 2, got {self.k!r}")
        if self.scaler not in ("standard", "robust"):
            raise ValueError(f"scaler must be 'standard' or 'robust', got {self.scaler!r}")
        if not 0 <= self.winsorize < 0.5:
            raise ValueError(f"winsorize must be within [0, 0.5), got {self.winsorize!r}")
        if not isinstance(X, pd.DataFrame):
            raise TypeError("X must be a DataFrame of raw features (original units)")
        X = X.drop(columns=["customer_id"], errors="ignore")
        if X.shape[1] == 0:
            raise ValueError("X has no feature columns")
        if len(X) < self.k:
            raise ValueError(f"{len(X)} customers cannot form {self.k} segments")
        return X

    def fit_preprocessor(self, X: pd.DataFrame) -> "SegmentationModel":
        """Fit only the feature pipeline (transforms, imputation, winsorising, scaling)."""
        X = self._validate(X)
        self.feature_names_in_ = list(X.columns)
        self.n_features_in_ = len(self.feature_names_in_)
        overrides = self.transforms or {}
        transforms = {}
        for col in self.feature_names_in_:
            t = overrides.get(col) or feat._suggest_transform(col, X[col], None)
            if t == "onehot" or not feat._is_numeric(X[col]):
                t = "onehot"
            transforms[col] = t
        self.transforms_ = transforms
        groups = []
        for col, t in transforms.items():
            if t == "onehot":
                groups.append((col, _categorical_pipeline(self.onehot_weight), [col]))
            else:
                groups.append((col, _numeric_pipeline(t == "log", IMPUTE.get(col), self.scaler, self.winsorize), [col]))
        self.preprocessor_ = ColumnTransformer(groups, remainder="drop", verbose_feature_names_out=False)
        self.preprocessor_.fit(X[self.feature_names_in_])
        names, origin = [], []
        for col, t in transforms.items():
            if t == "onehot":
                enc = self.preprocessor_.named_transformers_[col].named_steps["onehot"]
                for level in enc.categories_[0]:
                    names.append(f"{col}={level}")
                    origin.append(col)
            else:
                names.append(col)
                origin.append(col)
        self.input_names_ = names
        self.input_feature_ = origin
        return self

    def _sample(self, n: int, size: int) -> np.ndarray:
        rng = np.random.default_rng(self.random_state)
        if n <= size:
            return np.arange(n)
        return np.sort(rng.choice(n, size, replace=False))

    def fit(self, X: pd.DataFrame, y=None) -> "SegmentationModel":
        """Fit the feature pipeline and the clusterer on (a random sample of) ``X``."""
        X = self._validate(X)
        for attr in ("labels_", "means_", "segment_names_"):
            self.__dict__.pop(attr, None)
        rows = self._sample(len(X), self.fit_sample)
        Xs = X.iloc[rows]
        self.fit_preprocessor(Xs)
        Z = self.transform(Xs)
        with threadpool_limits(self.n_threads):
            labels, centers, estimator = _cluster(Z, self.method, int(self.k), self.random_state, self.n_init, self.ward_sample)
        self.estimator_ = estimator
        self._order = np.arange(self.k)
        self._centers_raw = centers
        # Canonical ids: ascending mean value (0 = lowest value segment).
        value_col = self._value_column()
        means = np.vstack([Z[labels == j].mean(axis=0) if (labels == j).any() else centers[j] for j in range(self.k)])
        key = means[:, value_col]
        order = np.lexsort((np.arange(self.k), key))  # new id i <- old id order[i]
        self._relabel(order)
        self.labels_ = self._predict_z(Z)
        self.means_ = np.vstack([
            Z[self.labels_ == j].mean(axis=0) if (self.labels_ == j).any() else self._centers()[j] for j in range(self.k)
        ])
        self.segment_names_ = name_segments(segment_z(self, Z, self.labels_))
        return self

    def _value_column(self) -> int:
        vf = self.value_feature or ("monetary" if "monetary" in self.input_names_ else None)
        if vf is not None and vf in self.input_names_:
            return self.input_names_.index(vf)
        numeric = [i for i, f in enumerate(self.input_feature_) if self.transforms_[f] != "onehot"]
        return numeric[0] if numeric else 0

    def _relabel(self, order: np.ndarray) -> None:
        """New segment id i is the old segment ``order[i]``."""
        order = np.asarray(order)
        self._order = self._order[order]
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        if hasattr(self, "labels_"):
            self.labels_ = inverse[self.labels_]
        if hasattr(self, "means_"):
            self.means_ = self.means_[order]
        if hasattr(self, "segment_names_"):
            self.segment_names_ = {int(i): self.segment_names_[int(order[i])] for i in range(len(order))}

    def _centers(self) -> np.ndarray:
        return self._centers_raw[self._order]

    @property
    def cluster_centers_(self) -> np.ndarray | None:
        if self.method == "gmm":
            return None
        return self._centers()

    # -- prediction -----------------------------------------------------------------------------------
    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Raw features -> model-input space, shape (n, d)."""
        X = X.drop(columns=["customer_id"], errors="ignore")
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise ValueError(f"X lacks the model's input columns {missing}")
        return np.asarray(self.preprocessor_.transform(X[self.feature_names_in_]), dtype=float)

    def _predict_z(self, Z: np.ndarray) -> np.ndarray:
        if self.method == "gmm":
            raw = self.estimator_.predict(Z)
            inverse = np.empty(self.k, dtype=int)
            inverse[self._order] = np.arange(self.k)
            return inverse[raw]
        C = self._centers()
        # argmin ||z - c||^2 == argmax 2 z.c - ||c||^2 (the score is linear in z)
        score = 2 * Z @ C.T - (C**2).sum(axis=1)
        return np.argmax(score, axis=1).astype(int)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Stable segment id of each customer."""
        with threadpool_limits(getattr(self, "n_threads", 1)):
            return self._predict_z(self.transform(X))

    def fit_predict(self, X: pd.DataFrame, y=None) -> np.ndarray:
        return self.fit(X).predict(X)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Membership probabilities (``gmm`` only), columns in segment-id order."""
        if self.method != "gmm":
            raise AttributeError("predict_proba exists only for method='gmm'")
        return self.estimator_.predict_proba(self.transform(X))[:, self._order]

    def align_to(self, reference: "SegmentationModel", X: pd.DataFrame) -> "SegmentationModel":
        """Renumber segments to match ``reference``'s by centroid, so ids mean the same in both.

        Each segment's centroid is computed in the reference's model space (from ``X``) and matched
        to the reference's segment means by the Hungarian algorithm on squared distances.
        """
        labels = self.predict(X)
        Zr = reference.transform(X)
        k = self.k
        present = [j for j in range(k) if (labels == j).any()]
        mine = np.vstack([Zr[labels == j].mean(axis=0) for j in present])
        cost = ((mine[:, None, :] - reference.means_[None, :, :]) ** 2).sum(axis=2)
        rows, cols = linear_sum_assignment(cost)
        matched = {present[r]: int(c) for r, c in zip(rows, cols) if c < k}
        free_ids = [i for i in range(k) if i not in matched.values()]
        rest = [j for j in range(k) if j not in matched]  # unmatched segments keep their value order
        matched.update(dict(zip(rest, free_ids)))
        order = np.empty(k, dtype=int)
        for old, new in matched.items():
            order[new] = old
        self._relabel(order)
        return self


def _cluster(Z: np.ndarray, method: str, k: int, seed: int, n_init: int, ward_sample: int):
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
        labels = np.argmax(2 * Z @ centers.T - (centers**2).sum(axis=1), axis=1)
        return labels.astype(int), centers, None
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


# -- choosing k ------------------------------------------------------------------------------------


def _jaccard_matched(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """Per-segment Jaccard of labelling ``a`` with its best-matching segment of ``b``."""
    table = np.zeros((k, k))
    np.add.at(table, (a, b), 1)
    rows, cols = linear_sum_assignment(-table)
    sizes_a, sizes_b = table.sum(axis=1), table.sum(axis=0)
    jac = np.zeros(k)
    for r, c in zip(rows, cols):
        union = sizes_a[r] + sizes_b[c] - table[r, c]
        jac[r] = table[r, c] / union if union else 0.0
    return jac


def choose_k(
    Z: np.ndarray,
    k_range=(2, 8),
    method: str = "kmeans",
    n_bootstrap: int = 5,
    silhouette_sample: int = 3_000,
    n_init: int = 8,
    ward_sample: int = 5_000,
    random_state: int = 0,
    n_threads: int | None = 1,
) -> pd.DataFrame:
    """Report card of k: internal indices and bootstrap stability, one row per k.

    Parameters
    ----------
    Z : ndarray (n, d)
        Customers in model-input space (``SegmentationModel.transform``), e.g. a sample.
    k_range : (int, int)
        Inclusive range of k.
    method : str
        Clusterer, as in :class:`SegmentationModel`.
    n_bootstrap : int
        Refits on bootstrap resamples per k; each refit labels all of ``Z`` and is compared with the
        reference fit (adjusted Rand index; per-segment Jaccard after Hungarian matching).
    n_threads : int or None
        BLAS/OpenMP threads (see :class:`SegmentationModel`).

    Returns
    -------
    DataFrame
        ``k``, ``silhouette`` (sampled), ``calinski_harabasz``, ``davies_bouldin``,
        ``stability_ari`` (mean over refits), ``min_jaccard`` (the least stable segment's mean
        Jaccard), ``jaccard`` (list, per segment, ids of the reference fit), ``smallest_share``.
    """
    with threadpool_limits(n_threads):
        return _choose_k(Z, k_range, method, n_bootstrap, silhouette_sample, n_init, ward_sample, random_state)


def _choose_k(Z, k_range, method, n_bootstrap, silhouette_sample, n_init, ward_sample, random_state):
    rng = np.random.default_rng(random_state)
    n = len(Z)
    sil_rows = np.sort(rng.choice(n, min(n, silhouette_sample), replace=False))
    boot = [rng.choice(n, n, replace=True) for _ in range(n_bootstrap)]
    rows = []
    lo, hi = int(k_range[0]), int(k_range[1])
    for k in range(lo, hi + 1):
        if k >= n:
            break
        labels, centers, est = _cluster(Z, method, k, random_state, n_init, ward_sample)
        aris, jacs = [], []
        for b, idx in enumerate(boot):
            lb, cb, eb = _cluster(Z[idx], method, k, random_state + 1 + b, n_init, ward_sample)
            if method == "gmm":
                pred = eb.predict(Z)
            else:
                pred = np.argmax(2 * Z @ cb.T - (cb**2).sum(axis=1), axis=1)
            aris.append(adjusted_rand_score(labels, pred))
            jacs.append(_jaccard_matched(labels, pred, k))
        jac = np.mean(jacs, axis=0) if jacs else np.full(k, np.nan)
        distinct = len(np.unique(labels[sil_rows])) > 1
        rows.append({
            "k": k,
            "silhouette": silhouette_score(Z[sil_rows], labels[sil_rows]) if distinct else np.nan,
            "calinski_harabasz": calinski_harabasz_score(Z, labels),
            "davies_bouldin": davies_bouldin_score(Z, labels),
            "stability_ari": float(np.mean(aris)) if aris else np.nan,
            "min_jaccard": float(jac.min()),
            "jaccard": [round(float(j), 4) for j in jac],
            "smallest_share": float(np.bincount(labels, minlength=k).min() / n),
        })
    return pd.DataFrame(rows)


def recommend_k(card: pd.DataFrame, ari: float = 0.8, jaccard: float = 0.85) -> tuple[int, str]:
    """The largest k whose segments all reproduce under resampling, and why, in words.

    A k is *stable* when the mean ARI between the reference fit and bootstrap refits is at least
    ``ari`` and every segment's mean Jaccard with its matched refit segment is at least ``jaccard``
    (Hennig 2007: below 0.6 a segment "dissolves", 0.75-0.85 is stable). The recommendation is the
    largest stable k: the finest segmentation whose every segment is reproducible. When no k is
    stable, the k with the highest stability ARI is recommended, with a warning.
    """
    card = card.reset_index(drop=True)
    stable = (card["stability_ari"] >= ari) & (card["min_jaccard"] >= jaccard)
    best_sil = card.loc[card["silhouette"].idxmax()] if card["silhouette"].notna().any() else None
    if stable.any():
        row = card[stable].iloc[-1]
        k = int(row["k"])
        nxt = card[card["k"] > k]
        others = ", ".join(str(int(v)) for v in card.loc[stable, "k"] if int(v) != k)
        reason = (
            f"k = {k} is the largest number of segments whose every segment reproduces in bootstrap "
            f"refits (mean ARI {row['stability_ari']:.2f} >= {ari}, least stable segment's Jaccard "
            f"{row['min_jaccard']:.2f} >= {jaccard})."
        )
        if len(nxt):
            r = nxt.iloc[0]
            reason += (
                f" With k = {int(r['k'])} at least one segment does not reproduce (Jaccard "
                f"{r['min_jaccard']:.2f}, ARI {r['stability_ari']:.2f})."
            )
        if others:
            reason += f" Coarser stable choices: k = {others}."
        if best_sil is not None:
            reason += (
                f" Silhouette at k = {k} is {row['silhouette']:.2f} (highest {best_sil['silhouette']:.2f} "
                f"at k = {int(best_sil['k'])})."
            )
        return k, reason
    row = card.loc[card["stability_ari"].idxmax()]
    k = int(row["k"])
    return k, (
        f"No k in {int(card['k'].min())}-{int(card['k'].max())} is stable (every segment's Jaccard >= "
        f"{jaccard} and ARI >= {ari}); k = {k} has the highest stability (ARI {row['stability_ari']:.2f}, "
        f"least stable segment's Jaccard {row['min_jaccard']:.2f}). Treat the segments with caution."
    )


# -- profiles and names ---------------------------------------------------------------------------------


def segment_z(model: SegmentationModel, Z: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Mean of each model input per segment, in population standard deviations (segments x inputs)."""
    mu, sd = Z.mean(axis=0), Z.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    k = int(labels.max()) + 1 if len(labels) else 0
    k = max(k, getattr(model, "k", k))
    rows = [((Z[labels == j].mean(axis=0) - mu) / sd) if (labels == j).any() else np.zeros(Z.shape[1]) for j in range(k)]
    return pd.DataFrame(np.vstack(rows), columns=model.input_names_, index=pd.Index(range(k), name="segment"))


#: Phrases for the names of segments: feature -> (phrase when high, phrase when low). ``None``: the
#: direction is not used for names. Features not listed get "high <feature>" / "low <feature>".
PHRASES: dict[str, tuple[str | None, str | None]] = {
    "recency": ("lapsed", "recent buyers"),
    "frequency": ("frequent buyers", "infrequent buyers"),
    "monetary": ("high spenders", "low spenders"),
    "tenure": ("long-standing", "new"),
    "average_order_value": ("big baskets", "small baskets"),
    "inter_purchase_time": ("long gaps between purchases", "short gaps between purchases"),
    "trend": ("growing", "declining"),
    "holiday_share": ("holiday shoppers", "off-season shoppers"),
    "returns_rate": ("frequent returners", "rare returners"),
    "email_opens_90d": ("email-engaged", "email-inactive"),
    "site_visits_90d": ("frequent site visitors", "rare site visitors"),
    "app_user": ("app users", "non-app users"),
    "price_sensitivity": ("price-sensitive", "price-insensitive"),
    "brand_affinity": ("brand-loyal", "brand-indifferent"),
    "monthly_charges": ("high monthly charges", "low monthly charges"),
    "total_charges": ("high total charges", "low total charges"),
}


#: Inputs that names prefer (their |z| is multiplied by this when ranking): the behavioural and value
#: features marketers name segments by.
NAME_PRIORITY = {"recency": 1.5, "frequency": 1.5, "monetary": 1.5, "tenure": 1.5, "holiday_share": 1.3,
                 "average_order_value": 1.2}


def phrase_for(feature: str, high: bool) -> str | None:
    """The phrase a name uses for a model input that is high (or low) in a segment."""
    if feature in PHRASES:
        return PHRASES[feature][0 if high else 1]
    words = feature.replace("_", " ")
    if "=" in feature:
        col, level = feature.split("=", 1)
        return f"{col.replace('_', ' ')}: {level}" if high else None
    for prefix, what in (("category_", "buyers"), ("channel_", "shoppers")):
        if feature.startswith(prefix):
            return f"{feature[len(prefix):].replace('_', ' ')} {what}" if high else None
    return f"high {words}" if high else f"low {words}"


def name_segments(z: pd.DataFrame, max_terms: int = 3, min_z: float = 0.5) -> dict[int, str]:
    """Short descriptive names from each segment's most distinguishing inputs.

    The inputs with the largest ``|z|`` (at least ``min_z``; weighted by :data:`NAME_PRIORITY`, and
    by 0.7 for category and channel shares) give
    up to ``max_terms`` phrases of :data:`PHRASES`, e.g. "Frequent buyers, high spenders, app users".
    Duplicate names get another term or, failing that, the segment id.
    """
    names: dict[int, str] = {}
    candidates: dict[int, list[str]] = {}
    for seg, row in z.iterrows():
        weight = pd.Series([NAME_PRIORITY.get(str(c), 0.7 if str(c).startswith(("category_", "channel_")) else 1.0)
                            for c in row.index], index=row.index)
        order = (row.abs() * weight).sort_values(ascending=False, kind="stable")
        terms = []
        for feature, value in order.items():
            if abs(row[feature]) < min_z:
                continue
            phrase = phrase_for(str(feature), bool(row[feature] > 0))
            if "=" in str(feature) and any(": " in t for t in terms):
                continue  # at most one category level per name: they tend to repeat one fact
            if phrase and phrase not in terms:
                terms.append(phrase)
        candidates[int(seg)] = terms or ["average customers"]
    for seg, terms in candidates.items():
        names[seg] = _compose(terms[:max_terms])
    counts = pd.Series(names).value_counts()
    for seg, terms in candidates.items():
        if counts[names[seg]] > 1:
            longer = _compose(terms[: max_terms + 1]) if len(terms) > max_terms else None
            names[seg] = longer if longer and longer not in names.values() else f"{names[seg]} ({seg})"
    return names


def _compose(terms: list[str]) -> str:
    text = ", ".join(terms)
    return text[:1].upper() + text[1:]


def profile_segments(
    features: pd.DataFrame,
    labels: np.ndarray,
    names: dict[int, str] | None = None,
    outcome: pd.Series | None = None,
    value: str | None = "monetary",
    suppression_k: int = 10,
) -> pd.DataFrame:
    """Per segment: size, share, value KPIs and the median of each numeric input, suppressed.

    Parameters
    ----------
    features : DataFrame
        Raw features (original units), one row per customer.
    labels : ndarray
        Segment id per row.
    outcome : Series, optional
        A 0/1 outcome (e.g. churn): its rate per segment is reported as ``churn_rate``.
    value : str, optional
        Column whose segment total gives ``revenue_share``.
    suppression_k : int
        Segments with fewer customers than this have every statistic masked (and a complementary
        segment when needed), via :func:`workbench.privacy.suppress_rows`.

    Returns
    -------
    DataFrame
        One row per segment id plus a ``population`` row (never suppressed: it is the published total).
    """
    X = features.drop(columns=["customer_id"], errors="ignore")
    labels = np.asarray(labels)
    numeric = [c for c in X.columns if feat._is_numeric(X[c])]
    seg_ids = sorted(set(range(int(labels.max()) + 1)) | set(names or {})) if len(labels) else []
    rows = []
    total_value = X[value].clip(lower=0).sum() if value and value in X else None
    for j in seg_ids:
        m = labels == j
        row = {"segment": j, "segment_name": (names or {}).get(j, f"Segment {j}"), "n": int(m.sum()),
               "share": float(m.mean())}
        if total_value:
            row["revenue_share"] = float(X.loc[m, value].clip(lower=0).sum() / total_value)
        if outcome is not None:
            row["churn_rate"] = float(np.asarray(outcome, dtype=float)[m].mean()) if m.any() else np.nan
        for c in numeric:
            row[c] = float(X.loc[m, c].median()) if m.any() else np.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    table = _suppress_rows(table, "n", suppression_k)
    pop = {"segment": -1, "segment_name": "population", "n": len(X), "share": 1.0}
    if total_value:
        pop["revenue_share"] = 1.0
    if outcome is not None:
        pop["churn_rate"] = float(np.nanmean(np.asarray(outcome, dtype=float)))
    for c in numeric:
        pop[c] = float(X[c].median())
    pop["suppressed"] = False
    return pd.concat([table, pd.DataFrame([pop])], ignore_index=True)


def _suppress_rows(table: pd.DataFrame, count: str, k: int, keep: list[str] = ["segment", "segment_name"]) -> pd.DataFrame:
    try:
        from .privacy import suppress_rows
    except ImportError:  # pragma: no cover - privacy module without suppression
        out = table.copy()
        small = (out[count] > 0) & (out[count] < k)
        stats = [c for c in out.columns if c not in keep]
        out[stats] = out[stats].astype(float)
        out.loc[small, stats] = np.nan
        out["suppressed"] = small
        return out
    return suppress_rows(table, count, k, keep=list(keep))


def describe_inputs(plan: pd.DataFrame, model: SegmentationModel) -> pd.DataFrame:
    """The feature plan with the transform actually recorded in the fitted model."""
    out = plan.copy()
    out["transform"] = [model.transforms_.get(f, t) if u else t for f, t, u in zip(out["feature"], out["transform"], out["used"])]
    return out


def rfm_group_table(rfm: pd.DataFrame, suppression_k: int = 10) -> pd.DataFrame:
    """Customers per named RFM group with median recency, frequency and spend, suppressed."""
    order = list(feat.RFM_GROUPS["group"]) + ["No purchases"]
    meaning = dict(zip(feat.RFM_GROUPS["group"], feat.RFM_GROUPS["meaning"]))
    meaning["No purchases"] = "no purchase in the history"
    g = rfm.groupby("rfm_group", observed=True)
    table = pd.DataFrame({
        "n": g.size(),
        "median_recency": g["recency"].median(),
        "median_frequency": g["frequency"].median(),
        "median_monetary": g["monetary"].median(),
    }).reindex(order)
    table["n"] = table["n"].fillna(0).astype(int)
    table.insert(1, "share", table["n"] / max(len(rfm), 1))
    table = table.rename_axis("group").reset_index()
    table.insert(1, "meaning", table["group"].map(meaning))
    table = table[table["n"] > 0].reset_index(drop=True)
    return _suppress_rows(table, "n", suppression_k, keep=["group", "meaning"])


# -- plots ------------------------------------------------------------------------------------------


def plot_k_selection(card: pd.DataFrame, k: int | None = None):
    """Four panels over k: silhouette, Calinski-Harabasz, Davies-Bouldin, stability."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(14, 3.2))
    panels = [
        ("silhouette", "Silhouette (higher better)"),
        ("calinski_harabasz", "Calinski-Harabasz (higher better)"),
        ("davies_bouldin", "Davies-Bouldin (lower better)"),
    ]
    for ax, (col, title) in zip(axes, panels):
        ax.plot(card["k"], card[col], marker="o")
        ax.set_title(title, fontsize=9)
    ax = axes[3]
    ax.plot(card["k"], card["stability_ari"], marker="o", label="bootstrap ARI")
    ax.plot(card["k"], card["min_jaccard"], marker="s", label="least stable segment (Jaccard)")
    ax.set_ylim(0, 1.05)
    ax.set_title("Stability (higher better)", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    for ax in axes:
        ax.set_xlabel("k")
        if k is not None:
            ax.axvline(k, color="grey", linestyle="--", linewidth=1)
    fig.tight_layout()
    return fig


def plot_projection(Z: np.ndarray, labels: np.ndarray, names: dict[int, str], sample: int = 4000, seed: int = 0):
    """Customers on the first two principal components of the model space, coloured by segment."""
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(Z), min(len(Z), sample), replace=False))
    pca = PCA(2, random_state=seed).fit(Z)
    P = pca.transform(Z[rows])
    fig, ax = plt.subplots(figsize=(7, 5))
    for j in sorted(names):
        m = labels[rows] == j
        if m.any():
            ax.scatter(P[m, 0], P[m, 1], s=4, alpha=0.5, label=f"{j}: {names[j]}")
    ev = pca.explained_variance_ratio_
    ax.set_xlabel(f"PC1 ({ev[0]:.0%} of variance)")
    ax.set_ylabel(f"PC2 ({ev[1]:.0%} of variance)")
    ax.legend(fontsize=7, markerscale=3, loc="best")
    fig.tight_layout()
    return fig


def plot_profile_heatmap(z: pd.DataFrame, names: dict[int, str], suppressed: list[int] | None = None, max_inputs: int = 30):
    """Heatmap of segment means in population standard deviations (suppressed segments blank)."""
    import matplotlib.pyplot as plt

    z = z.copy()
    keep = z.abs().max().sort_values(ascending=False).index[:max_inputs]
    z = z[[c for c in z.columns if c in set(keep)]]
    for j in suppressed or []:
        if j in z.index:
            z.loc[j] = np.nan
    fig, ax = plt.subplots(figsize=(max(6, 0.38 * z.shape[1] + 3), 0.45 * len(z) + 1.8))
    vmax = float(np.nanmax(np.abs(z.to_numpy()))) if np.isfinite(z.to_numpy()).any() else 1.0
    im = ax.imshow(z.to_numpy(), cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto")
    ax.set_xticks(range(z.shape[1]), z.columns, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(z)), [f"{j}: {names.get(j, j)}" for j in z.index], fontsize=8)
    fig.colorbar(im, ax=ax, label="z (segment mean vs population)")
    fig.tight_layout()
    return fig


def plot_sizes(profile: pd.DataFrame):
    """Bar chart of segment shares (suppressed segments shown as such)."""
    import matplotlib.pyplot as plt

    p = profile[profile["segment"] >= 0]
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(p) + 1.2))
    labels = [f"{int(s)}: {n}" for s, n in zip(p["segment"], p["segment_name"])]
    shares = p["share"].fillna(0).to_numpy()
    bars = ax.barh(labels, shares, color=["#bbbbbb" if s else "#4477aa" for s in p["suppressed"]])
    weak = (p["evidence"].astype(str).str.startswith("insufficient") if "evidence" in p
            else pd.Series(False, index=p.index))
    for bar, sup, sh, w in zip(bars, p["suppressed"], shares, weak):
        text = " suppressed" if sup else f" {sh:.1%}"
        if w:
            text += " (insufficient evidence)"
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, text, va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("share of customers")
    fig.tight_layout()
    return fig


# -- the stage ----------------------------------------------------------------------------------------


@dataclass
class SegmentationResult:
    """What :func:`segment_run` computed, for notebook 02 to show."""

    model: SegmentationModel
    features: pd.DataFrame
    assignments: pd.DataFrame
    plan: pd.DataFrame
    card: pd.DataFrame | None
    k: int
    reason: str
    profile: pd.DataFrame
    z: pd.DataFrame
    rfm: pd.DataFrame | None
    rfm_groups: pd.DataFrame | None
    truth_ari: float | None = None
    info: dict = field(default_factory=dict)
    audit: dict | None = None  # audit mode (segments given as labels): see :func:`audit_run`

    @property
    def is_audit(self) -> bool:
        """True when the segments were given (external labels) rather than learned here."""
        return self.audit is not None

    def describe(self) -> str:
        """Markdown: where the segments come from (learned here, or given and audited)."""
        if not self.is_audit:
            return (f"**Learned segments.** {self.k} segments were learned here ({self.model.method}) from "
                    "behavioural and value features and the customer table's non-sensitive attributes; "
                    "rule-based RFM groups are shown beside them where the dataset has transactions.")
        a = self.audit
        c = a["label_counts"]
        text = (f"**Audit of given segments.** The {self.k} segments were assigned outside the workbench "
                f"(segment labels from {a['source']}); nothing was fitted to produce them. This notebook profiles "
                "and describes the given segments; a learned segmentation of the same customers is shown "
                "only for comparison.")
        text += (f" {c.get('customers_unlabelled', 0):,} customers had no label and are audited as the segment "
                 f"\u201c{a['unlabelled']}\u201d; {c.get('labels_for_unknown_customers', 0):,} labels named customers "
                 "who are not in the customer table and were dropped.")
        return text

    def label_table(self) -> pd.DataFrame | None:
        """Audit mode: the label file's counts (labelled, unlabelled, labels for unknown customers)."""
        if not self.is_audit:
            return None
        return label_quality_table(self.audit["label_counts"], self.audit["n_customers"])

    def comparison_table(self) -> pd.DataFrame | None:
        """Audit mode: customers per given segment (rows) and learned segment (columns), suppressed."""
        if not self.is_audit or not self.audit.get("comparison"):
            return None
        return self.audit["comparison"]["crosstab"]

    def comparison_text(self) -> str | None:
        """Audit mode: a paragraph on how far a learned segmentation agrees with the given one."""
        if not self.is_audit or not self.audit.get("comparison"):
            return None
        return self.audit["comparison"]["text"]

    def projection(self):
        """2-D projection (first principal components of the model space), coloured by segment."""
        return plot_projection(self.model.transform(self.features), self.assignments["segment"].to_numpy(),
                               self.model.segment_names_)

    def k_chart(self):
        """The k report card as a chart (``None`` when k was fixed in the config)."""
        return None if self.card is None else plot_k_selection(self.card, self.k)

    def heatmap(self):
        """Profile heatmap: segment means of the model inputs in population standard deviations."""
        suppressed = self.profile.loc[self.profile["suppressed"].astype(bool), "segment"].tolist()
        return plot_profile_heatmap(self.z, self.model.segment_names_, suppressed)

    def sizes(self):
        """Bar chart of segment shares; suppressed segments are shown as such."""
        return plot_sizes(self.profile)

    def inputs_table(self) -> pd.DataFrame:
        """Every candidate input: family, source, transform, used or why not."""
        return self.plan[["feature", "family", "source", "kind", "transform", "used", "reason"]]

    def card_table(self) -> pd.DataFrame | None:
        if self.card is None:
            return None
        return self.card.drop(columns="jaccard").round(3).set_index("k")

    def profile_table(self) -> pd.DataFrame:
        """The published profile: one row per segment plus the population, rounded, suppressed."""
        return self.profile.set_index("segment").round(3)

    def segment_table(self) -> pd.DataFrame:
        """Named segments: id, name, share, revenue share, churn rate where an outcome exists."""
        cols = [c for c in ("segment_name", "n", "share", "revenue_share", "churn_rate", "suppressed", "evidence",
                            "description") if c in self.profile]
        return self.profile[cols].set_index(self.profile["segment"]).round(3)


def _value_feature(features: pd.DataFrame, roles) -> str | None:
    if "monetary" in features:
        return "monetary"
    for col in roles.features.get("value", []) if roles.features else []:
        if col in features and feat._is_numeric(features[col]):
            return col
    return None



def _rfm_tables(run: Run, customers: pd.DataFrame, transactions: pd.DataFrame | None, sup_k: int):
    """RFM scores per customer (written to ``segments/rfm.parquet``) and the suppressed group table."""
    if transactions is None or not len(transactions):
        return None, None
    r = customers[["customer_id"]].merge(feat.rfm(transactions), on="customer_id", how="left")
    r["frequency"] = r["frequency"].fillna(0).astype(int)
    r["monetary"] = r["monetary"].fillna(0.0)
    rfm_table = feat.rfm_scores(r)
    run.write_table("segments/rfm.parquet", rfm_table)
    return rfm_table, rfm_group_table(rfm_table, sup_k)


def _segmentation_inputs(customers, transactions, roles, fsettings):
    """Features, their plan, the model inputs (constant columns dropped and noted) and the value feature."""
    features = feat.build_features(customers, transactions, roles, fsettings)
    plan = feat.feature_plan(customers, transactions, roles, fsettings)
    X = features.drop(columns=["customer_id"])
    constant = [c for c in X.columns if X[c].nunique(dropna=True) <= 1]
    if constant:
        X = X.drop(columns=constant)
        features = features.drop(columns=constant)
        plan.loc[plan["feature"].isin(constant), ["used", "reason"]] = [False, "constant in this dataset"]
    return features, plan, X, _value_feature(features, roles)

def fit_with_k(X: pd.DataFrame, settings: dict, value: str | None, seed: int):
    """Fit a :class:`SegmentationModel` with the configured k, choosing it first when k is "auto".

    Returns the fitted model, the k report card (``None`` when k was set) and the reason for k in words.
    """
    params = dict(
        method=settings["method"], transforms=settings.get("transforms") or None, scaler=settings["scaler"],
        winsorize=settings["winsorize"], fit_sample=settings["fit_sample"], n_init=settings["n_init"],
        ward_sample=settings["ward_sample"], value_feature=value, random_state=seed, n_threads=settings["threads"],
    )
    card = None
    k = settings["k"]
    if k == "auto" or k is None:
        selector = SegmentationModel(k=2, **{**params, "fit_sample": settings["selection_sample"]})
        rows = selector._sample(len(X), settings["selection_sample"])
        selector.fit_preprocessor(X.iloc[rows])
        card = choose_k(
            selector.transform(X.iloc[rows]), settings["k_range"], settings["method"], settings["n_bootstrap"],
            settings["silhouette_sample"], settings["n_init"], settings["ward_sample"], seed, settings["threads"],
        )
        k, reason = recommend_k(card, **settings["stability"])
    else:
        k = int(k)
        reason = f"k = {k} was set in the config (segmentation.k)."
    return SegmentationModel(k=int(k), **params).fit(X), card, reason


@register_stage("segments/assignments.parquet")
def segment_run(run: Run) -> SegmentationResult:
    """Stage 02: features, k selection, the fitted model, profiles, names, RFM groups; writes artifacts.

    With external segment labels (``run.roles.segment``) this is an audit instead: see :func:`audit_run`.

    Artifacts: ``segments/assignments.parquet`` (customer_id, segment, segment_name),
    ``segments/features.parquet``, ``segments/model.joblib``, ``segments/segments.json``,
    ``segments/k_selection.parquet``, ``segments/profiles.parquet``, ``segments/inputs.parquet``
    and, with transactions, ``segments/rfm.parquet``.
    """
    if run.roles.segment:
        return audit_run(run)
    settings = run.settings("segmentation", DEFAULTS)
    fsettings = {**feat.DEFAULTS, **(settings.get("features") or {})}
    customers, transactions, roles = run.customers(), run.transactions(), run.roles
    sup_k = int(run.read_json("data/prepare.json").get("suppression_k", 10))
    seed = run.seed
    features, plan, X, value = _segmentation_inputs(customers, transactions, roles, fsettings)
    model, card, reason = fit_with_k(X, settings, value, seed)
    if settings.get("reference_run"):
        ref = joblib.load(Run(settings["reference_run"]).artifact("segments/model.joblib"))
        model.align_to(ref, X)
    labels = model.predict(X)
    Z = model.transform(X)
    z = segment_z(model, Z, labels)
    names = name_segments(z)
    model.segment_names_ = names
    outcome = customers[roles.outcome] if roles.outcome and roles.outcome in customers else None
    profile = profile_segments(features, labels, names, outcome=outcome, value=value, suppression_k=sup_k)
    if value:
        order_key = pd.Series([features.loc[labels == j, value].mean() if (labels == j).any() else -np.inf
                               for j in range(model.k)])
        value_order = [int(j) for j in np.lexsort((np.arange(model.k), order_key.to_numpy()))]
    else:
        value_order = list(range(model.k))
    assignments = pd.DataFrame({"customer_id": features["customer_id"], "segment": labels.astype(int),
                                "segment_name": [names[int(j)] for j in labels]})
    rfm_table, groups = _rfm_tables(run, customers, transactions, sup_k)
    truth_ari = None
    truth_path = run.path / "data" / "truth.parquet"
    if truth_path.exists():
        truth = pd.read_parquet(truth_path)
        planted = features[["customer_id"]].merge(truth[["customer_id", "segment"]], on="customer_id", how="left")
        if planted["segment"].notna().all():
            truth_ari = float(adjusted_rand_score(planted["segment"], labels))

    inputs = describe_inputs(plan, model)
    run.write_table("segments/features.parquet", features)
    run.write_table("segments/assignments.parquet", assignments)
    run.write_table("segments/inputs.parquet", inputs)
    run.write_table("segments/profiles.parquet", profile)
    if card is not None:
        run.write_table("segments/k_selection.parquet", card.assign(jaccard=card["jaccard"].map(str)))
    joblib.dump(model, run.artifact("segments/model.joblib"))
    used_sensitive = [f for f in model.feature_names_in_ if f in roles.sensitive]
    run.write_json("artifacts/segments/segments.json", {
        "method": model.method,
        "k": model.k,
        "names": names,
        "inputs": model.feature_names_in_,
        "value_order": value_order,
        "value_feature": value,
        "transforms": model.transforms_,
        "model_inputs": model.input_names_,
        "sensitive_inputs": used_sensitive,
        "excluded": inputs.loc[~inputs["used"], ["feature", "reason"]].to_dict(orient="records"),
        "k_reason": reason,
    })
    shares = profile[profile["segment"] >= 0].set_index("segment")["share"]
    headline = [f"{model.k} segments ({model.method}): " + re.split(r"\.\s", reason)[0].rstrip(".") + "."]
    named = "; ".join(f"{names[j]} ({'suppressed' if pd.isna(shares.get(j)) else f'{shares[j]:.0%}'})" for j in range(model.k))
    headline.append(f"Segments: {named}.")
    headline.append(
        f"Inputs: {len(model.feature_names_in_)} features"
        + (f" (sensitive attributes used: {', '.join(used_sensitive)})" if used_sensitive else "; no sensitive attribute is an input") + "."
    )
    if truth_ari is not None:
        headline.append(f"Agreement with the planted segments: adjusted Rand index {truth_ari:.3f}.")
    results = dict(method=model.method, k=model.k, k_reason=reason, names=names, shares=shares,
                   n_inputs=len(model.feature_names_in_), sensitive_inputs=used_sensitive, headline=headline)
    if card is not None:
        results["k_card"] = card[["k", "silhouette", "stability_ari", "min_jaccard"]].round(4)
    if truth_ari is not None:
        results["truth_ari"] = round(truth_ari, 4)
    if groups is not None:
        results["rfm_groups"] = {g: (None if pd.isna(n) else int(n)) for g, n in zip(groups["group"], groups["n"])}
    run.summarise("02_segmentation", **results)
    return SegmentationResult(model=model, features=features, assignments=assignments, plan=inputs, card=card,
                              k=model.k, reason=reason, profile=profile, z=z, rfm=rfm_table, rfm_groups=groups,
                              truth_ari=truth_ari, info={"value_feature": value, "suppression_k": sup_k})


# -- audit mode: segments given as labels ---------------------------------------------------------

#: The label of customers without an external segment label (as :mod:`workbench.datasets` writes it).
UNLABELLED = "unlabelled"


def given_segment_ids(
    labels,
    values: pd.Series | np.ndarray | None = None,
    unlabelled: str = UNLABELLED,
) -> tuple[np.ndarray, dict[int, str], list[int]]:
    """Stable integer ids for externally given segment labels.

    Labelled segments are numbered by their mean ``values`` (id 0 = lowest value; equal means by
    label), like learned segments; without ``values`` alphabetically. The ``unlabelled`` group, when
    present, gets the last id and is left out of the value order (it is not a value tier).

    Returns
    -------
    (ids, names, value_order)
        Segment id per customer, ``{id: label}`` and the labelled ids from low to high value.
    """
    labels = pd.Series(np.asarray(labels, dtype=object)).astype(str)
    distinct = sorted(set(labels.unique()) - {unlabelled})
    if values is not None:
        means = pd.Series(np.asarray(values, dtype=float)).groupby(labels.to_numpy()).mean()
        key = {name: (float(means.get(name, np.nan)) if np.isfinite(means.get(name, np.nan)) else -np.inf)
               for name in distinct}
        distinct = sorted(distinct, key=lambda name: (key[name], name))
    order = distinct + ([unlabelled] if (labels == unlabelled).any() else [])
    ids = {name: i for i, name in enumerate(order)}
    value_order = [ids[name] for name in distinct]
    return labels.map(ids).to_numpy(dtype=int), {i: name for name, i in ids.items()}, value_order


def label_quality_table(counts: dict, n_customers: int | None = None) -> pd.DataFrame:
    """The label file's problems in one table: labelled, unlabelled, labels for unknown customers.

    Shares of customers are of the customer table (labelled + unlabelled); the share of unknown
    labels is of the labels in the file.
    """
    customers = int(counts.get("customers_labelled", 0)) + int(counts.get("customers_unlabelled", 0))
    in_file = int(counts.get("labels_in_file", 0))
    rows = [
        ("labels in the file", in_file, None),
        ("distinct segment labels", int(counts.get("distinct_labels", 0)), None),
        ("customers with a label", int(counts.get("customers_labelled", 0)),
         counts.get("customers_labelled", 0) / customers if customers else np.nan),
        (f"customers without a label (audited as \u201c{UNLABELLED}\u201d)", int(counts.get("customers_unlabelled", 0)),
         counts.get("customers_unlabelled", 0) / customers if customers else np.nan),
        ("labels for customers not in the customer table (dropped)",
         int(counts.get("labels_for_unknown_customers", 0)),
         counts.get("labels_for_unknown_customers", 0) / in_file if in_file else np.nan),
    ]
    table = pd.DataFrame(rows, columns=["what", "count", "share"]).set_index("what")
    table["share"] = table["share"].astype(float).round(4)
    return table


def compare_with_learned(
    features: pd.DataFrame,
    ids: np.ndarray,
    names: dict[int, str],
    settings: dict | None = None,
    seed: int = 0,
    exclude: list[int] | None = None,
    suppression_k: int = 10,
    value: str | None = None,
) -> dict:
    """What a learned segmentation of the same customers looks like, against the given segments.

    A :class:`SegmentationModel` (``settings['method']``, k as ``settings['k']``; ``"auto"`` picks k with
    the k report card, as a normal run would) is fitted on the same inputs. Agreement with the given
    segments is measured by the adjusted Rand index and adjusted mutual information over labelled
    customers (segments in ``exclude``, e.g. "unlabelled", are left out), and a crosstab of customers per
    given segment (rows) and learned segment (columns) is small-cell suppressed.

    Returns
    -------
    dict
        ``method``, ``k``, ``k_reason``, ``ari``, ``ami``, ``learned_names`` {id: name}, ``crosstab``
        (DataFrame, suppressed counts, with a ``Total`` row and column), ``best_match`` (per given segment:
        the learned segment holding most of its customers and that share; suppressed segments left out),
        ``text`` (a paragraph), ``model``.
    """
    from sklearn.metrics import adjusted_mutual_info_score

    from .privacy import suppress_counts

    settings = {**DEFAULTS, **(settings or {})}
    X = features.drop(columns=["customer_id"], errors="ignore")
    ids = np.asarray(ids, dtype=int)
    model, _, reason = fit_with_k(X, settings, value, seed)
    learned = model.predict(X)
    keep = ~np.isin(ids, list(exclude or []))
    ari = float(adjusted_rand_score(ids[keep], learned[keep])) if keep.sum() > 1 else float("nan")
    ami = float(adjusted_mutual_info_score(ids[keep], learned[keep])) if keep.sum() > 1 else float("nan")
    counts = pd.crosstab(pd.Series(ids, name="given"), pd.Series(learned, name="learned"))
    counts = counts.reindex(index=sorted(names), columns=range(model.k), fill_value=0)
    raw = counts.copy()
    table = suppress_counts(counts, suppression_k, margins=True)
    table.index = [f"{j}: {names[j]}" if j in names else str(j) for j in counts.index] + ["Total"]
    table.columns = [f"learned {j}" for j in range(model.k)] + ["Total"]
    table.index.name, table.columns.name = "given segment", None
    best = []
    for j in counts.index:
        n = int(raw.loc[j].sum())
        if j in (exclude or []) or n < suppression_k or not np.isfinite(table.iloc[list(counts.index).index(j)].iloc[:-1].max()):
            continue
        top = int(raw.loc[j].idxmax())
        best.append({"segment": int(j), "segment_name": names[j], "learned": top,
                     "learned_name": model.segment_names_[top], "share": float(raw.loc[j, top] / n)})
    best = pd.DataFrame(best, columns=["segment", "segment_name", "learned", "learned_name", "share"])
    strength = ("closely" if ari >= 0.8 else "partly" if ari >= 0.4 else "weakly" if ari >= 0.1 else "hardly")
    text = (f"A {model.method} segmentation learned from the same inputs ({model.k} segments; "
            + re.split(r"\.\s", reason)[0].rstrip(".") + f") agrees {strength} with the given segments: adjusted "
            f"Rand index {ari:.2f}, adjusted mutual information {ami:.2f} (1 = the same partition, 0 = no more "
            "agreement than chance), over labelled customers.")
    if len(best):
        whole = best[best["share"] >= 0.9]
        text += (f" {len(whole)} of the {len(best)} given segments large enough to show lie (90% or more) within one "
                 "learned segment")
        text += ": the learned segmentation draws coarser or similar lines there." if len(whole) else "."
    text += " Learned segments: " + "; ".join(f"{j}: {n}" for j, n in model.segment_names_.items()) + "."
    return {"method": model.method, "k": int(model.k), "k_reason": reason, "ari": ari, "ami": ami,
            "learned_names": dict(model.segment_names_), "crosstab": table, "best_match": best, "text": text,
            "model": model}


def audit_run(run: Run) -> SegmentationResult:
    """Stage 02 in audit mode: profile and name segments given as labels, without fitting them.

    Runs when the dataset carries external segment labels (``run.roles.segment``; a ``labels:`` file
    or a ``segment:`` column in the config). The labels become stable integer segment ids
    (:func:`given_segment_ids`), with ``segment_name`` = the label; customers without a label form the
    segment "unlabelled". Profiles are small-cell suppressed, and segments below
    ``segmentation.min_segment_size`` customers are marked "insufficient evidence". A learned
    segmentation of the same customers is fitted only for comparison (``segmentation.compare_learned``,
    :func:`compare_with_learned`); it is not saved as the run's model, so no
    ``segments/model.joblib`` is written: later stages explain and audit the given labels.

    Artifacts: ``segments/assignments.parquet``, ``segments/features.parquet``,
    ``segments/segments.json`` (``method`` "external labels"), ``segments/profiles.parquet``,
    ``segments/inputs.parquet``, ``segments/comparison.parquet`` and, with transactions,
    ``segments/rfm.parquet``.
    """
    settings = run.settings("segmentation", DEFAULTS)
    fsettings = {**feat.DEFAULTS, **(settings.get("features") or {})}
    customers, transactions, roles = run.customers(), run.transactions(), run.roles
    prep = run.read_json("data/prepare.json")
    sup_k = int(prep.get("suppression_k", 10))
    min_size = int(settings.get("min_segment_size") or sup_k)
    seed = run.seed
    features, plan, X, value = _segmentation_inputs(customers, transactions, roles, fsettings)
    given = customers[["customer_id", roles.segment]].rename(columns={roles.segment: "label"})
    given = features[["customer_id"]].merge(given, on="customer_id", how="left", validate="1:1")
    labels = given["label"].astype(object).where(given["label"].notna(), UNLABELLED).astype(str).to_numpy()
    ids, names, value_order = given_segment_ids(labels, features[value] if value else None)
    k = len(names)
    unlabelled_id = next((j for j, n in names.items() if n == UNLABELLED), None)

    # profile the given segments in the same model space a learned segmentation would use
    space = SegmentationModel(
        k=2, transforms=settings.get("transforms") or None, scaler=settings["scaler"],
        winsorize=settings["winsorize"], random_state=seed,
    )
    rows = space._sample(len(X), settings["fit_sample"])
    space.fit_preprocessor(X.iloc[rows])
    space.method = "external labels"
    space.k = k
    Z = space.transform(X)
    z = segment_z(space, Z, ids)
    description = name_segments(z)
    space.segment_names_ = names
    outcome = customers.set_index("customer_id")[roles.outcome].reindex(features["customer_id"]).to_numpy() \
        if roles.outcome and roles.outcome in customers else None
    profile = profile_segments(features, ids, names, outcome=None if outcome is None else pd.Series(outcome),
                               value=value, suppression_k=sup_k)
    sizes = np.bincount(ids, minlength=k)
    small = [j for j in range(k) if sizes[j] < min_size]
    evidence = {j: (f"insufficient evidence (fewer than {min_size} customers)" if j in small else "sufficient")
                for j in range(k)}
    profile["evidence"] = profile["segment"].map(lambda j: evidence.get(int(j), "") if j >= 0 else "")
    profile["description"] = profile["segment"].map(
        lambda j: "" if j < 0 or (j == unlabelled_id) or j in small else description.get(int(j), ""))
    assignments = pd.DataFrame({"customer_id": features["customer_id"], "segment": ids.astype(int),
                                "segment_name": [names[int(j)] for j in ids]})
    if roles.assigned_at and roles.assigned_at in customers:
        when = customers.set_index("customer_id")[roles.assigned_at].reindex(features["customer_id"])
        assignments["assigned_at"] = pd.to_datetime(when).to_numpy()

    comparison = None
    if settings.get("compare_learned", True) and len(X) > 2:
        comparison = compare_with_learned(features, ids, names, settings, seed,
                                          exclude=[] if unlabelled_id is None else [unlabelled_id],
                                          suppression_k=sup_k, value=value)
    rfm_table, groups = _rfm_tables(run, customers, transactions, sup_k)
    truth_ari = None
    truth_path = run.path / "data" / "truth.parquet"
    if truth_path.exists():
        truth = pd.read_parquet(truth_path)
        planted = features[["customer_id"]].merge(truth[["customer_id", "segment"]], on="customer_id", how="left")
        keep = planted["segment"].notna().to_numpy() & (ids != (-1 if unlabelled_id is None else unlabelled_id))
        if keep.sum() > 1:
            truth_ari = float(adjusted_rand_score(planted["segment"][keep], ids[keep]))

    inputs = plan.copy()
    inputs["transform"] = [space.transforms_.get(f, t) if u else t
                           for f, t, u in zip(inputs["feature"], inputs["transform"], inputs["used"])]
    inputs["reason"] = inputs["reason"].replace({"input": "profiles and explains the given segments"})
    run.write_table("segments/features.parquet", features)
    run.write_table("segments/assignments.parquet", assignments)
    run.write_table("segments/inputs.parquet", inputs)
    run.write_table("segments/profiles.parquet", profile)
    if comparison is not None:
        cross = comparison["crosstab"].reset_index()
        cross.columns = [str(c) for c in cross.columns]
        run.write_table("segments/comparison.parquet", cross)
    stale_model = run.path / "artifacts" / "segments" / "model.joblib"
    if stale_model.exists():  # a model from an earlier, non-audit run in this folder would mislead
        stale_model.unlink()
    counts = prep.get("labels") or {}
    suppressed = [int(j) for j in profile.loc[(profile["segment"] >= 0) & profile["suppressed"].astype(bool), "segment"]]
    source = Path(str(run.config.get("dataset", {}).get("labels") or "")).name or "a column of the customer table"
    audit_info = {
        "source": source,
        "label_counts": counts,
        "unlabelled_segment": unlabelled_id,
        "min_segment_size": min_size,
        "insufficient_evidence": small,
        "suppressed": suppressed,
        "has_assigned_at": bool(roles.assigned_at),
        "comparison": None if comparison is None else {
            "method": comparison["method"], "k": comparison["k"], "ari": comparison["ari"], "ami": comparison["ami"],
            "learned_names": comparison["learned_names"],
        },
    }
    reason = (f"the {k} segments were given as labels ({source}); nothing was fitted, so no number of "
              "segments was chosen.")
    run.write_json("artifacts/segments/segments.json", {
        "method": "external labels",
        "k": k,
        "names": names,
        "inputs": list(space.feature_names_in_),
        "value_order": value_order,
        "value_feature": value,
        "transforms": space.transforms_,
        "model_inputs": space.input_names_,
        "sensitive_inputs": [],
        "excluded": inputs.loc[~inputs["used"], ["feature", "reason"]].to_dict(orient="records"),
        "k_reason": reason,
        "audit": audit_info,
    })
    shares = profile[profile["segment"] >= 0].set_index("segment")["share"]
    n_unl = int(counts.get("customers_unlabelled", 0))
    n_unknown = int(counts.get("labels_for_unknown_customers", 0))
    headline = [f"Audit of {k} given segments (external labels from {source}); nothing was fitted."]
    headline.append(
        f"Label problems: {n_unl:,} customers without a label (audited as \u201c{UNLABELLED}\u201d); "
        f"{n_unknown:,} labels for customers not in the customer table (dropped)."
    )
    if small:
        headline.append(
            f"{len(small)} given segment(s) have fewer than {min_size} customers: insufficient evidence "
            f"({'; '.join(names[j] for j in small)})."
        )
    if comparison is not None:
        headline.append(
            f"A learned {comparison['method']} segmentation of the same customers ({comparison['k']} segments) "
            f"agrees with the given one at adjusted Rand index {comparison['ari']:.2f}."
        )
    if truth_ari is not None:
        headline.append(f"Agreement of the given labels with the planted segments: adjusted Rand index {truth_ari:.3f}.")
    results = dict(
        method="external labels", k=k, k_reason=reason, names=names, shares=shares, n_inputs=len(space.feature_names_in_),
        sensitive_inputs=[], labels=counts, unlabelled_share=(float(sizes[unlabelled_id] / len(ids))
                                                             if unlabelled_id is not None and sizes[unlabelled_id] >= sup_k
                                                             else (0.0 if unlabelled_id is None else None)),
        insufficient_evidence=[names[j] for j in small], min_segment_size=min_size, headline=headline,
    )
    if comparison is not None:
        results["comparison"] = {"method": comparison["method"], "k": comparison["k"],
                                 "ari": round(comparison["ari"], 4), "ami": round(comparison["ami"], 4)}
    if truth_ari is not None:
        results["truth_ari"] = round(truth_ari, 4)
    if groups is not None:
        results["rfm_groups"] = {g: (None if pd.isna(n) else int(n)) for g, n in zip(groups["group"], groups["n"])}
    run.summarise("02_segmentation", **results)
    audit = {**audit_info, "unlabelled": UNLABELLED, "n_customers": int(len(ids)),
             "comparison": comparison, "description": description}
    return SegmentationResult(model=space, features=features, assignments=assignments, plan=inputs, card=None,
                              k=k, reason=reason, profile=profile, z=z, rfm=rfm_table, rfm_groups=groups,
                              truth_ari=truth_ari, info={"value_feature": value, "suppression_k": sup_k},
                              audit=audit)


# -- assigning new customers ------------------------------------------------------------------------


def assign_new(run_dir, table: pd.DataFrame, id_column: str | None = None) -> tuple[pd.DataFrame, str]:
    """Assign new customers to the segments of a finished run, with pseudonymous ids.

    Parameters
    ----------
    run_dir : path
        A run directory holding ``artifacts/segments/model.joblib``.
    table : DataFrame
        New customers: an id column plus the model's raw input columns (original units, as in
        ``segments/features.parquet``); extra columns are ignored, missing values are imputed.
    id_column : str, optional
        The id column (default: the id role of the run's config, else ``customer_id``).

    Returns
    -------
    (DataFrame, str)
        ``customer_id`` (keyed pseudonym, as :func:`workbench.privacy.pseudonymise` makes it under the
        key :func:`workbench.privacy.resolve_key` finds from the run's ``privacy`` settings),
        ``segment`` and ``segment_name``; and the key origin ("env:NAME", "file" or "random").
    """
    from . import privacy
    from .data import InputError, section

    run = Run(run_dir)
    path = run.path / "artifacts" / "segments" / "model.joblib"
    info_path = run.path / "artifacts" / "segments" / "segments.json"
    if not path.exists() and info_path.exists() and run.read_json("artifacts/segments/segments.json").get(
            "method") == "external labels":
        raise InputError(
            f"{run.path} audits segments given as labels: there is no fitted model to assign new customers with. "
            "Their segment comes from the system that assigned the labels."
        )
    if not path.exists():
        raise InputError(f"{run.path} holds no fitted segmentation model ({path}); run notebook 02 first.")
    model: SegmentationModel = joblib.load(path)
    config = run.config
    if id_column is None:
        roles = ((config.get("dataset") or {}).get("roles") or {}).get("customers") or {}
        id_column = roles.get("id") or "customer_id"
    if id_column not in table.columns:
        raise InputError(f"The new-customer table has no id column '{id_column}' (use --id-column).")
    missing = [c for c in model.feature_names_in_ if c not in table.columns]
    if missing:
        raise InputError(
            f"The new-customer table lacks the model's input column(s) {missing}. It needs "
            f"'{id_column}' and: {', '.join(model.feature_names_in_)}."
        )
    X = table[model.feature_names_in_].copy()
    for col in model.feature_names_in_:
        if model.transforms_[col] != "onehot":
            X[col] = pd.to_numeric(X[col], errors="coerce")
    settings = section(config, "privacy", privacy.DEFAULTS)
    key = privacy.resolve_key(settings)
    labels = model.predict(X)
    out = pd.DataFrame({
        "customer_id": privacy.pseudonymise(table[id_column].astype(str), key).to_numpy(),
        "segment": labels.astype(int),
        "segment_name": [model.segment_names_[int(j)] for j in labels],
    })
    return out, key.origin
