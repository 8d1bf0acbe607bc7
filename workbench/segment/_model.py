"""The segmentation estimator: raw customer features in, stable segment ids out."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from threadpoolctl import threadpool_limits

from ..features import is_numeric, suggest_transform
from ._clusterers import METHODS, cluster, nearest_centre
from ._naming import name_segments
from ._profiles import segment_z
from ._transforms import IMPUTE, ONEHOT_WEIGHT, categorical_pipeline, numeric_pipeline


def _segment_means(Z: np.ndarray, labels: np.ndarray, fallback: np.ndarray, k: int) -> np.ndarray:
    """Mean of each segment's rows; an empty segment keeps its row of ``fallback``."""
    return np.vstack([Z[labels == j].mean(axis=0) if (labels == j).any() else fallback[j] for j in range(k)])


class SegmentationModel(BaseEstimator):
    """Feature pipeline plus clusterer: raw customer features in, stable segment ids out.

    Parameters
    ----------
    method : {"kmeans", "gmm", "ward"}, default "kmeans"
    k : int, default 5
        Number of segments.
    transforms : dict, optional
        Per-feature transform (``"log"``, ``"none"`` or ``"onehot"``) overriding the suggestion of
        :func:`workbench.features.suggest_transform` (counts and money: log; categories: one-hot).
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
        if not isinstance(self.k, (int, np.integer)) or self.k < 1:
            raise ValueError(f"k must be an integer >= 1 (1: one segment, no structure), got {self.k!r}")
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

    def _choose_transforms(self, X: pd.DataFrame) -> dict:
        """Each raw feature's transform: the override, else the suggestion; non-numeric is one-hot."""
        overrides = self.transforms or {}
        transforms = {}
        for col in self.feature_names_in_:
            t = overrides.get(col) or suggest_transform(col, X[col], None)
            if t == "onehot" or not is_numeric(X[col]):
                t = "onehot"
            transforms[col] = t
        return transforms

    def _build_preprocessor(self, transforms: dict) -> ColumnTransformer:
        groups = []
        for col, t in transforms.items():
            if t == "onehot":
                groups.append((col, categorical_pipeline(self.onehot_weight), [col]))
            else:
                groups.append((col, numeric_pipeline(t == "log", IMPUTE.get(col), self.scaler, self.winsorize), [col]))
        return ColumnTransformer(groups, remainder="drop", verbose_feature_names_out=False)

    def _model_inputs(self) -> tuple[list[str], list[str]]:
        """Model-space column names and, for each, the raw feature it came from."""
        names, origin = [], []
        for col, t in self.transforms_.items():
            if t == "onehot":
                enc = self.preprocessor_.named_transformers_[col].named_steps["onehot"]
                for level in enc.categories_[0]:
                    names.append(f"{col}={level}")
                    origin.append(col)
            else:
                names.append(col)
                origin.append(col)
        return names, origin

    def fit_preprocessor(self, X: pd.DataFrame) -> "SegmentationModel":
        """Fit only the feature pipeline (transforms, imputation, winsorising, scaling)."""
        X = self._validate(X)
        self.feature_names_in_ = list(X.columns)
        self.n_features_in_ = len(self.feature_names_in_)
        self.transforms_ = self._choose_transforms(X)
        self.preprocessor_ = self._build_preprocessor(self.transforms_)
        self.preprocessor_.fit(X[self.feature_names_in_])
        self.input_names_, self.input_feature_ = self._model_inputs()
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
            labels, centers, estimator = cluster(Z, self.method, int(self.k), self.random_state, self.n_init, self.ward_sample)
        self.estimator_ = estimator
        self._order = np.arange(self.k)
        self._centers_raw = centers
        self._relabel(self._value_order(Z, labels, centers))
        self.labels_ = self._predict_z(Z)
        self.means_ = _segment_means(Z, self.labels_, self._centers(), self.k)
        self.segment_names_ = name_segments(segment_z(self, Z, self.labels_))
        return self

    def _value_order(self, Z: np.ndarray, labels: np.ndarray, centers: np.ndarray) -> np.ndarray:
        """Canonical ids: ascending mean value (0 = lowest value segment); new id i <- old id order[i]."""
        key = _segment_means(Z, labels, centers, self.k)[:, self._value_column()]
        return np.lexsort((np.arange(self.k), key))

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
        return nearest_centre(Z, self._centers()).astype(int)

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
