"""The surrogate path: a fidelity-gated gradient-boosted model of any segmentation, explained by SHAP."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._defaults import DEFAULTS
from ._grouping import _label
from ._importance import global_importance
from ._linear import _batch_result, _position

class SurrogateExplainer:
    """A compact gradient-boosted surrogate of any segmentation, with fidelity, explained by SHAP.

    Parameters
    ----------
    segment : int or str, optional
        Explain only this segment against the rest (a binary surrogate). Default: all segments.
    threshold : float, default 0.9
        Held-out accuracy the surrogate needs to be shown (``trustworthy_``).
    n_estimators, num_leaves, learning_rate, min_child_samples, reg_lambda
        LightGBM settings (a compact model: few leaves; L2 regularised so that multiclass boosting
        does not diverge on cleanly separable segments).
    max_fit : int, default 100_000
        The surrogate is fitted on at most this many customers (a seeded sample).
    test_size : float, default 0.25
        Share of the fitting sample held out to measure fidelity.
    random_state : int, default 0

    Attributes
    ----------
    model_ : lightgbm.LGBMClassifier
    classes_ : ndarray
        Segment labels, in the surrogate's output order (``[segment, "rest"]`` one-vs-rest).
    fidelity_ : dict
        ``accuracy``, ``f1`` {segment: F1}, ``n_test``, ``threshold``, ``trustworthy``, ``reason``.
    trustworthy_ : bool
    features_ : list of str
    """

    kind = "surrogate"

    def __init__(self, segment=None, threshold: float = 0.9, n_estimators: int = 200, num_leaves: int = 15,
                 learning_rate: float = 0.1, min_child_samples: int = 10, reg_lambda: float = 1.0,
                 max_fit: int = 100_000,
                 test_size: float = 0.25, random_state: int = 0):
        self.segment = segment
        self.threshold = threshold
        self.n_estimators = n_estimators
        self.num_leaves = num_leaves
        self.learning_rate = learning_rate
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.max_fit = max_fit
        self.test_size = test_size
        self.random_state = random_state

    # features -> what LightGBM sees: numbers as float, everything else categorical
    def _prepare(self, X: pd.DataFrame) -> pd.DataFrame:
        out = {}
        for col in self.features_:
            if col in self.categories_:
                out[col] = pd.Categorical(X[col].astype("string").astype(object), categories=self.categories_[col])
            else:
                out[col] = pd.to_numeric(X[col], errors="coerce").astype(float)
        return pd.DataFrame(out, index=X.index)

    def fit(self, X: pd.DataFrame, labels) -> "SurrogateExplainer":
        """Fit the surrogate on a seeded sample of ``(X, labels)`` and measure its held-out fidelity.

        Parameters
        ----------
        X : DataFrame
            Raw features, one row per customer (numbers, booleans, categories).
        labels : array-like of shape (n,)
            The segment of each customer.

        Returns
        -------
        self
        """
        from sklearn.model_selection import train_test_split

        labels = np.asarray(labels)
        if len(labels) != len(X):
            raise ValueError(f"{len(X)} customers but {len(labels)} labels.")
        self.features_ = list(X.columns)
        self.categories_ = {
            c: sorted(X[c].dropna().astype(str).unique().tolist())
            for c in X.columns
            if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))
        }
        rows = self._fit_rows(len(X))
        target = self._target(labels[rows])
        counts = np.bincount(target)
        stratify = target if counts.min() >= 2 else None
        train, test = train_test_split(
            np.arange(len(rows)), test_size=self.test_size, random_state=self.random_state, stratify=stratify
        )
        Xs = self._prepare(X.iloc[rows])
        self.model_ = self._boosting_model()
        self.model_.fit(Xs.iloc[train], target[train])
        self._measure_fidelity(target[test], self.model_.predict(Xs.iloc[test]), n_fit=len(train))
        return self

    def _fit_rows(self, n: int) -> np.ndarray:
        """Positions of the customers the surrogate is fitted on: all, or a seeded sample of ``max_fit``."""
        rng = np.random.default_rng(self.random_state)
        rows = np.arange(n)
        if len(rows) > self.max_fit:
            rows = np.sort(rng.choice(len(rows), self.max_fit, replace=False))
        return rows

    def _target(self, labels: np.ndarray) -> np.ndarray:
        """Class index of every label; sets ``classes_`` (``[segment, "rest"]`` one-vs-rest)."""
        if self.segment is not None:
            target = np.where(labels == self.segment, 0, 1)
            self.classes_ = np.array([self.segment, "rest"], dtype=object)
        else:
            self.classes_, target = np.unique(labels, return_inverse=True)
        return target

    def _boosting_model(self):
        import lightgbm as lgb

        return lgb.LGBMClassifier(
            n_estimators=self.n_estimators, num_leaves=self.num_leaves, learning_rate=self.learning_rate,
            min_child_samples=self.min_child_samples, reg_lambda=self.reg_lambda, random_state=self.random_state, n_jobs=1,
            deterministic=True, force_row_wise=True, verbose=-1,
        )

    def _measure_fidelity(self, truth: np.ndarray, pred: np.ndarray, n_fit: int) -> None:
        """Held-out accuracy and per-segment F1; sets ``trustworthy_`` and ``fidelity_`` (with its reason)."""
        from sklearn.metrics import accuracy_score, f1_score

        accuracy = float(accuracy_score(truth, pred))
        f1 = f1_score(truth, pred, labels=np.arange(len(self.classes_)), average=None, zero_division=0)
        f1_by = {_label(c): float(v) for c, v in zip(self.classes_, f1)}
        low = {c: v for c, v in f1_by.items() if v < self.threshold and c != "rest"}
        self.trustworthy_ = bool(accuracy >= self.threshold)
        self.fidelity_ = {
            "accuracy": accuracy, "f1": f1_by, "n_test": int(len(truth)), "n_fit": int(n_fit),
            "threshold": self.threshold, "trustworthy": self.trustworthy_,
            "reason": _fidelity_reason(accuracy, low, self.threshold, self.trustworthy_),
        }

    def _explainer(self):
        import shap

        if getattr(self, "_tree", None) is None:
            self._tree = shap.TreeExplainer(self.model_)
        return self._tree

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_tree", None)
        return state

    @property
    def _binary(self) -> bool:
        """A two-class LightGBM model: one raw score, the log-odds of class 1 against class 0."""
        return len(self.classes_) == 2

    def scores(self, X: pd.DataFrame) -> np.ndarray:
        """Raw scores, one column per class; differences of two columns are log-odds.

        A binary model has one raw score (log-odds of class 1 against class 0); it is returned as
        ``[0, raw]`` for two segments, and as the segment's log-odds ``-raw`` (one column) one-vs-rest.
        """
        raw = np.asarray(self.model_.predict(self._prepare(X), raw_score=True), dtype=float)
        if raw.ndim == 2 and raw.shape[1] > 1:
            return raw
        raw = raw.reshape(len(raw))
        if self.segment is not None:
            return -raw[:, None]
        return np.column_stack([np.zeros_like(raw), raw])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[self.model_.predict(self._prepare(X))]

    def shap_values(self, X: pd.DataFrame) -> np.ndarray:
        """SHAP of the raw scores (:meth:`scores`), shape (n, p, columns of :meth:`scores`)."""
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "binary classifier output has changed"
            phi = self._explainer().shap_values(self._prepare(X))
        if isinstance(phi, list):  # older shap: one array per class; binary ones are (-phi, phi)
            phi = phi[-1] if len(phi) == 2 else np.stack(phi, axis=-1)
        phi = np.asarray(phi, dtype=float)
        if phi.ndim == 3 and not self._binary:
            return phi
        if phi.ndim == 3:  # (n, p, 2) with the two classes' values opposite
            phi = phi[:, :, -1]
        if self.segment is not None:  # log-odds of class 1 ("rest"): flip to the segment's
            return -phi[:, :, None]
        return np.stack([np.zeros_like(phi), phi], axis=-1)

    @property
    def base_values_(self) -> np.ndarray:
        base = np.atleast_1d(np.asarray(self._explainer().expected_value, dtype=float))
        if not self._binary:
            return base
        if self.segment is not None:
            return -base[-1:]
        return np.array([0.0, base[-1]])

    def explain(self, X: pd.DataFrame, labels=None, versus=None) -> dict:
        """Like :meth:`LinearScoreExplainer.explain`: SHAP of the log-odds of the assigned segment
        against the runner-up (difference of the two classes' raw scores, so exact for the surrogate).

        With ``labels`` (the real segments), the explained segment is the real one and the
        runner-up the surrogate's best other segment; otherwise the surrogate's prediction. ``versus``
        names the other segment instead of the runner-up. One-vs-rest the margin is the log-odds of
        the segment against the rest (for the segment's members; its negative for the rest).
        """
        phi = np.ascontiguousarray(self.shap_values(X).transpose(0, 2, 1))  # (n, k, p)
        base = self.base_values_
        scores = self.scores(X)
        if self.segment is not None:
            member = scores[:, 0] > 0 if labels is None else np.asarray(labels).astype(str) == str(self.segment)
            sign = np.where(member, 1.0, -1.0)
            n = len(scores)
            seg = np.where(member, self.segment, "rest").astype(object)
            return {"segment": seg, "runner_up": np.where(member, "rest", self.segment).astype(object),
                    "scores": scores, "shap": phi.transpose(0, 2, 1), "shap_nkp": phi,
                    "margin": phi[:, 0, :] * sign[:, None], "base_margin": base[0] * sign,
                    "top_index": np.zeros(n, dtype=int), "runner_index": np.zeros(n, dtype=int)}
        other = None if versus is None else _position(self.classes_, versus)
        top = None
        if labels is not None:
            index = {str(c): i for i, c in enumerate(self.classes_.tolist())}
            top = np.array([index.get(str(v), -1) for v in np.asarray(labels).tolist()])
            if (top < 0).any():
                raise ValueError("labels contain segments the surrogate was not fitted on")
        return _batch_result(scores, phi, base, self.classes_, other, top)


def _fidelity_reason(accuracy: float, low: dict, threshold: float, trustworthy: bool) -> str:
    """Why the surrogate is (not) trustworthy, naming the segments it reproduces least well."""
    if trustworthy:
        reason = (f"the surrogate reproduces the segments of {accuracy:.1%} of held-out customers "
                  f"(threshold {threshold:.0%})")
        if low:
            reason += "; less reliable for " + ", ".join(f"segment {c} (F1 {v:.2f})" for c, v in low.items())
    else:
        reason = (f"the surrogate reproduces the segments of only {accuracy:.1%} of held-out customers, "
                  f"below the threshold of {threshold:.0%}")
        if low:
            reason += "; worst: " + ", ".join(f"segment {c} (F1 {v:.2f})" for c, v in
                                              sorted(low.items(), key=lambda kv: kv[1])[:3])
        reason += ". An explanation of such a surrogate could describe a different segmentation"
    return reason


def explain_labels(features: pd.DataFrame, labels, settings: dict | None = None, seed: int = 0,
                   segment=None) -> tuple[SurrogateExplainer, dict]:
    """Explain any segmentation given as ``(features, labels)`` with a fidelity-gated surrogate.

    Returns the fitted :class:`SurrogateExplainer` and the :func:`global_importance` result on a
    seeded sample of ``settings['sample_size']`` customers.
    """
    settings = {**DEFAULTS, **(settings or {})}
    sur = {**DEFAULTS["surrogate"], **(settings.get("surrogate") or {})}
    X = features.drop(columns=["customer_id"], errors="ignore")
    explainer = SurrogateExplainer(
        segment=segment if segment is not None else settings.get("one_vs_rest"),
        threshold=settings["fidelity_threshold"], random_state=seed, **sur,
    ).fit(X, labels)
    rng = np.random.default_rng(seed + 1)
    n_s = min(settings["sample_size"], len(X))
    rows = np.sort(rng.choice(len(X), n_s, replace=False))
    Xs = X.iloc[rows].reset_index(drop=True)
    plot_rows = np.arange(min(settings["plot_sample"], n_s))
    result = global_importance(explainer, Xs, batch_size=settings["batch_size"], sample=plot_rows,
                               labels=np.asarray(labels)[rows])
    result["X_sample"] = Xs
    return explainer, result
