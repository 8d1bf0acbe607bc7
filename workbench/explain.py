"""Why is a customer in this segment? SHAP explanations of segment membership.

User guide
----------
Two paths, chosen by what the segmentation model allows:

*Exact* (k-means and any model that assigns by comparing scores linear in its inputs). For
centroids ``c_j`` in the model's input space ``z = model.transform(X)``, the customer goes to the
segment with the highest score ``s_j(z) = 2 z.c_j - ||c_j||^2`` (the shared ``||z||^2`` cancels, so
this is the nearest centroid). :class:`LinearScoreExplainer` explains every score with
``shap.LinearExplainer`` (interventional, a background sample of customers), in batches, so a
million customers take seconds and bounded memory. "Why segment j rather than the runner-up k" is the
SHAP of ``s_j - s_k`` = the difference of the two explanations (SHAP is linear). Model columns that
come from the same original feature (log-transformed and scaled, or one-hot) are summed, so every
contribution belongs to one original feature. Contributions add up exactly: base value + sum =
score.

*Surrogate* (Gaussian mixture, Ward, rule segments, labels given from outside: any
``(features, labels)`` pair). :class:`SurrogateExplainer` fits a compact gradient-boosted model
(LightGBM) from the features to the segment and reports its fidelity on held-out customers
(accuracy and per-segment F1). Its SHAP values (``shap.TreeExplainer``, on the surrogate's raw
per-segment scores) are shown only when the held-out accuracy reaches ``explain.fidelity_threshold``
(default 0.9); otherwise the report says the explanation is not trustworthy and why. With
``explain.one_vs_rest: <segment id>`` a binary surrogate explains that one segment against the rest
(cost and memory do not grow with the number of segments).

*Given labels* (audit mode, segments from a CRM/CDP export; stage 02 ran :func:`workbench.segment.audit_run`):
the labels have no centroids, so the surrogate path explains them, fitted on labelled customers only
(customers without a label are not explained: no rule assigned them). Segments below the minimum
segment size, and segments the surrogate reproduces with an F1 below the threshold, have their
explanations withheld (:func:`withheld_table`); ``workbench explain`` works the same way on such a run.

Per customer, :func:`explain_customer` gives the features that contributed most with the customer's
value, the typical member's value and the population median, a plain-language paragraph and a
counterfactual: the nearest other segment and a small change in *actionable* features (config
``explain.actionable``; by default every input except demographic and geographic ones and
``tenure``) that moves the customer there. ``workbench explain --run DIR --customer PSEUDONYM``
prints it (``--json``, ``--html FILE`` for a self-contained page answering an access request).

Artifacts (``artifacts/explain/``): ``importance.parquet`` (segment, feature, mean_abs_shap,
mean_shap_members, trustworthy), ``contributions.parquet`` (exact path: every customer's top
contributions), ``profiles.parquet`` (typical values per segment, small-cell suppressed),
``explainer.joblib`` (what ``workbench explain`` needs) and ``explain.json`` (method, fidelity).
"""

from __future__ import annotations

import html as _html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

from .rundir import Run, register_stage, to_jsonable

__all__ = [
    "DEFAULTS",
    "LinearScoreExplainer",
    "SurrogateExplainer",
    "centroid_explainer",
    "counterfactual",
    "explain_customer",
    "explain_labels",
    "explain_run",
    "global_importance",
    "group_columns",
    "load_state",
    "plot_beeswarm",
    "plot_importance",
    "profiles",
    "render_html",
    "shown_segments",
    "withheld_table",
    "render_text",
]

DEFAULTS = {
    "fidelity_threshold": 0.9,   # held-out accuracy the surrogate needs before it is shown
    "background_size": 200,      # customers in the SHAP background sample
    "batch_size": 50_000,        # customers explained at once (memory stays bounded)
    "top_n": 5,                  # contributions kept per customer (exact path)
    "sample_size": 5_000,        # customers explained by the surrogate for the global view
    "plot_sample": 2_000,        # points per segment in the beeswarm plots
    "one_vs_rest": None,         # surrogate path: explain only this segment id against the rest
    "actionable": None,          # features a counterfactual may change; None = the default rule
    "not_actionable_families": ["demographic", "geographic"],
    "not_actionable": ["tenure"],
    "surrogate": {
        "n_estimators": 200,
        "num_leaves": 15,
        "learning_rate": 0.1,
        "min_child_samples": 10,
        "reg_lambda": 1.0,       # L2 on leaf values: without it multiclass boosting can diverge on
                                 # cleanly separable (rule-based) segments
        "max_fit": 100_000,      # customers the surrogate is fitted on (a seeded sample)
        "test_size": 0.25,
    },
}


# -- feature bookkeeping ------------------------------------------------------------------------
def group_columns(columns: list[str], originals: list[str] | None = None) -> list[str]:
    """The original feature each column comes from.

    A column equal to an original name maps to it; ``name_level`` columns (one-hot dummies) map to
    the longest original ``name`` they start with; anything else is its own original feature.
    """
    originals = sorted(originals or [], key=len, reverse=True)
    out = []
    for col in columns:
        match = next((o for o in originals if col == o or col.startswith(o + "_")), col)
        out.append(match)
    return out


def _unique(seq) -> list:
    return list(dict.fromkeys(seq))


def _aggregation_matrix(input_feature: list[str], features: list[str]) -> np.ndarray:
    """(d, p) 0/1 matrix summing model columns into original features."""
    index = {f: i for i, f in enumerate(features)}
    agg = np.zeros((len(input_feature), len(features)))
    for col, feat in enumerate(input_feature):
        agg[col, index[feat]] = 1.0
    return agg


# -- exact path ---------------------------------------------------------------------------------
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


# -- surrogate path -----------------------------------------------------------------------------
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
        import lightgbm as lgb
        from sklearn.metrics import accuracy_score, f1_score
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
        rng = np.random.default_rng(self.random_state)
        rows = np.arange(len(X))
        if len(rows) > self.max_fit:
            rows = np.sort(rng.choice(len(rows), self.max_fit, replace=False))
        if self.segment is not None:
            target = np.where(labels[rows] == self.segment, 0, 1)
            self.classes_ = np.array([self.segment, "rest"], dtype=object)
        else:
            self.classes_, target = np.unique(labels[rows], return_inverse=True)
        counts = np.bincount(target)
        stratify = target if counts.min() >= 2 else None
        train, test = train_test_split(
            np.arange(len(rows)), test_size=self.test_size, random_state=self.random_state, stratify=stratify
        )
        Xs = self._prepare(X.iloc[rows])
        self.model_ = lgb.LGBMClassifier(
            n_estimators=self.n_estimators, num_leaves=self.num_leaves, learning_rate=self.learning_rate,
            min_child_samples=self.min_child_samples, reg_lambda=self.reg_lambda, random_state=self.random_state, n_jobs=1,
            deterministic=True, force_row_wise=True, verbose=-1,
        )
        self.model_.fit(Xs.iloc[train], target[train])
        pred = self.model_.predict(Xs.iloc[test])
        accuracy = float(accuracy_score(target[test], pred))
        f1 = f1_score(target[test], pred, labels=np.arange(len(self.classes_)), average=None, zero_division=0)
        f1_by = {_label(c): float(v) for c, v in zip(self.classes_, f1)}
        low = {c: v for c, v in f1_by.items() if v < self.threshold and c != "rest"}
        self.trustworthy_ = bool(accuracy >= self.threshold)
        if self.trustworthy_:
            reason = (f"the surrogate reproduces the segments of {accuracy:.1%} of held-out customers "
                      f"(threshold {self.threshold:.0%})")
            if low:
                reason += "; less reliable for " + ", ".join(f"segment {c} (F1 {v:.2f})" for c, v in low.items())
        else:
            reason = (f"the surrogate reproduces the segments of only {accuracy:.1%} of held-out customers, "
                      f"below the threshold of {self.threshold:.0%}")
            if low:
                reason += "; worst: " + ", ".join(f"segment {c} (F1 {v:.2f})" for c, v in
                                                  sorted(low.items(), key=lambda kv: kv[1])[:3])
            reason += ". An explanation of such a surrogate could describe a different segmentation"
        self.fidelity_ = {
            "accuracy": accuracy, "f1": f1_by, "n_test": int(len(test)), "n_fit": int(len(train)),
            "threshold": self.threshold, "trustworthy": self.trustworthy_, "reason": reason,
        }
        return self

    def _explainer(self):
        import shap

        if getattr(self, "_tree", None) is None:
            self._tree = shap.TreeExplainer(self.model_)
        return self._tree

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_tree", None)
        return state

    def scores(self, X: pd.DataFrame) -> np.ndarray:
        raw = self.model_.predict(self._prepare(X), raw_score=True)
        return raw[:, None] if raw.ndim == 1 else raw

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[self.model_.predict(self._prepare(X))]

    def shap_values(self, X: pd.DataFrame) -> np.ndarray:
        """SHAP of the surrogate's raw scores, (n, p, k); one-vs-rest: (n, p, 1), log-odds of the segment."""
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "binary classifier output has changed"
            phi = self._explainer().shap_values(self._prepare(X))
        if isinstance(phi, list):
            phi = np.stack(phi, axis=-1)[:, :, 1:] if len(phi) == 2 else np.stack(phi, axis=-1)
        phi = np.asarray(phi)
        if phi.ndim == 2:  # binary: log-odds of class 1 ("rest"); flip to the segment's log-odds
            phi = -phi[:, :, None]
        return phi

    @property
    def base_values_(self) -> np.ndarray:
        base = np.atleast_1d(np.asarray(self._explainer().expected_value, dtype=float))
        return -base[:1] if self.segment is not None else base

    def explain(self, X: pd.DataFrame, labels=None) -> dict:
        """Like :meth:`LinearScoreExplainer.explain`, for the surrogate's raw scores.

        With ``labels`` (the real segments), the explained segment is the real one and the
        runner-up the surrogate's best other segment; otherwise the surrogate's prediction.
        """
        phi = self.shap_values(X)
        base = self.base_values_
        if self.segment is not None:
            scores = -self.scores(X)  # log-odds of the segment
            n = len(X)
            own = phi[:, :, 0]
            seg = np.empty(n, dtype=object)
            seg[:] = "rest"
            seg[scores[:, 0] > 0] = self.segment
            return {"segment": seg, "runner_up": np.full(n, "rest", dtype=object), "scores": scores, "shap": phi,
                    "shap_nkp": phi.transpose(0, 2, 1),
                    "own": own, "versus": own, "base_own": np.full(n, base[0]), "base_versus": np.full(n, base[0]),
                    "top_index": np.zeros(n, dtype=int), "runner_index": np.zeros(n, dtype=int)}
        scores = self.scores(X)
        if labels is not None:
            index = {c: i for i, c in enumerate(self.classes_.tolist())}
            top = np.array([index.get(v, -1) for v in np.asarray(labels).tolist()])
            if (top < 0).any():
                raise ValueError("labels contain segments the surrogate was not fitted on")
            masked = scores.copy()
            masked[np.arange(len(top)), top] = -np.inf
            second = np.argmax(masked, axis=1) if scores.shape[1] > 1 else top
            rows = np.arange(len(top))
            own = phi[rows, :, top]
            return {"segment": self.classes_[top], "runner_up": self.classes_[second], "scores": scores,
                    "shap": phi, "shap_nkp": phi.transpose(0, 2, 1), "own": own, "versus": own - phi[rows, :, second], "base_own": base[top],
                    "base_versus": base[top] - base[second], "top_index": top, "runner_index": second}
        return _batch_result(scores, np.ascontiguousarray(phi.transpose(0, 2, 1)), base, self.classes_)


def _label(value):
    return int(value) if isinstance(value, (int, np.integer)) else str(value)


# -- global view --------------------------------------------------------------------------------
def _iter_batches(n: int, batch_size: int) -> Iterator[slice]:
    for start in range(0, n, batch_size):
        yield slice(start, min(n, start + batch_size))


def global_importance(explainer, X: pd.DataFrame, batch_size: int = 50_000, top_n: int = 0,
                      sample: np.ndarray | None = None, labels=None, on_batch: Callable | None = None) -> dict:
    """Explain every row of ``X`` in batches; accumulate mean |SHAP| per segment and feature.

    Parameters
    ----------
    explainer : LinearScoreExplainer or SurrogateExplainer (fitted)
    X : DataFrame of raw features
    batch_size : int
        Rows explained at once; memory is O(batch_size x features x segments).
    top_n : int
        Keep each row's ``top_n`` features by |own-score contribution| (0: keep none).
    sample : array of row positions, optional
        Rows whose full SHAP values are kept (for the beeswarm plots).
    labels : array, optional
        Real segments (surrogate path).
    on_batch : callable, optional
        Called with each batch's result dict (e.g. to write it out).

    Returns
    -------
    dict
        ``importance`` (DataFrame: segment, feature, mean_abs_shap, mean_shap_members, n_members),
        ``segment``, ``runner_up`` (per row), ``top`` (dict of arrays: feature index, own, versus),
        ``sample_shap`` (len(sample), p, k), ``sample_rows``.
    """
    features = list(explainer.features_)
    segments = explainer.classes_ if explainer.kind == "surrogate" else explainer.segments
    if explainer.kind == "surrogate" and explainer.segment is not None:
        segments = np.array([explainer.segment])
    segments = np.asarray(segments)
    k, p, n = len(segments), len(features), len(X)
    abs_sum = np.zeros((k, p))
    member_sum = np.zeros((k, p))
    member_n = np.zeros(k)
    one_vs_rest = explainer.kind == "surrogate" and explainer.segment is not None
    seg_out = np.empty(n, dtype=object if one_vs_rest else segments.dtype)  # one-vs-rest: segment or "rest"
    run_out = np.empty(n, dtype=object if one_vs_rest else segments.dtype)
    top = {"feature": np.zeros((n, top_n), dtype=np.int32), "own": np.zeros((n, top_n)),
           "versus": np.zeros((n, top_n))} if top_n else None
    sample = np.asarray([] if sample is None else sample, dtype=int)
    sample_shap = np.zeros((len(sample), p, k))
    for sl in _iter_batches(n, batch_size):
        batch = X.iloc[sl]
        if explainer.kind == "surrogate":
            res = explainer.explain(batch, None if labels is None or one_vs_rest else np.asarray(labels)[sl])
        else:
            res = explainer.explain(batch)
        phi = res["shap_nkp"]  # (b, k, p)
        abs_sum += np.abs(phi).sum(axis=0)
        if one_vs_rest:
            members = (np.asarray(labels)[sl] == explainer.segment) if labels is not None else \
                (res["segment"] == explainer.segment)
            member_sum[0] += phi[members, 0, :].sum(axis=0)
            member_n[0] += members.sum()
        else:
            onehot = np.zeros((len(batch), k))
            onehot[np.arange(len(batch)), res["top_index"]] = 1.0
            member_sum += np.einsum("bk,bkp->kp", onehot, phi, optimize=True)
            member_n += onehot.sum(axis=0)
        seg_out[sl] = res["segment"]
        run_out[sl] = res["runner_up"]
        if top_n:
            own = res["own"]
            m = min(top_n, p)
            order = np.argsort(-np.abs(own), axis=1, kind="stable")[:, :m]
            top["feature"][sl, :m] = order
            top["own"][sl, :m] = np.take_along_axis(own, order, axis=1)
            top["versus"][sl, :m] = np.take_along_axis(res["versus"], order, axis=1)
        in_batch = (sample >= sl.start) & (sample < sl.stop)
        if in_batch.any():
            sample_shap[in_batch] = res["shap"][sample[in_batch] - sl.start]
        if on_batch is not None:
            on_batch(sl, res)
    rows = []
    for j, seg in enumerate(segments):
        for i, feat in enumerate(features):
            rows.append({
                "segment": _label(seg), "feature": feat, "mean_abs_shap": abs_sum[j, i] / max(n, 1),
                "mean_shap_members": member_sum[j, i] / member_n[j] if member_n[j] else np.nan,
                "n_members": int(member_n[j]),
            })
    importance = pd.DataFrame(rows)
    return {"importance": importance, "segment": seg_out, "runner_up": run_out, "top": top,
            "sample_shap": sample_shap, "sample_rows": sample, "segments": segments, "features": features}


def plot_importance(importance: pd.DataFrame, names: dict | None = None, top: int = 8):
    """Bar charts of mean |SHAP| per segment (one panel per segment), matplotlib."""
    import matplotlib.pyplot as plt

    segs = list(dict.fromkeys(importance["segment"].tolist()))
    ncols = min(3, len(segs))
    nrows = math.ceil(len(segs) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 0.35 * top * nrows + 1.2 * nrows), squeeze=False)
    for ax, seg in zip(axes.ravel(), segs):
        part = importance[importance["segment"] == seg].nlargest(top, "mean_abs_shap").iloc[::-1]
        signed = part["mean_shap_members"].fillna(0)
        colors = np.where(signed >= 0, "#c0392b", "#2e86c1")
        ax.barh(part["feature"], part["mean_abs_shap"], color=colors)
        ax.set_title(_segment_title(seg, names), fontsize=10)
        ax.tick_params(labelsize=8)
        ax.set_xlabel("mean |SHAP| (score units)", fontsize=8)
    for ax in axes.ravel()[len(segs):]:
        ax.axis("off")
    fig.suptitle("Features that drive each segment's score (red: pushes members in, blue: out)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_beeswarm(result: dict, X: pd.DataFrame, segment, names: dict | None = None, top: int = 8):
    """Beeswarm-like plot of one segment's SHAP values over the sampled customers (matplotlib).

    Each dot is a customer; x is the feature's contribution to the segment's score; colour is the
    customer's value of the feature (low blue, high red; grey for categories).
    """
    import matplotlib.pyplot as plt

    segments = [_label(s) for s in result["segments"]]
    j = segments.index(_label(segment))
    phi = result["sample_shap"][:, :, j]
    values = X.iloc[result["sample_rows"]]
    features = result["features"]
    order = np.argsort(-np.abs(phi).mean(axis=0))[:top][::-1]
    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(order) + 1.2))
    for row, i in enumerate(order):
        col = values[features[i]] if features[i] in values.columns else None
        if col is not None and (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
            v = pd.to_numeric(col, errors="coerce").astype(float).to_numpy()
            ranks = pd.Series(v).rank(pct=True).to_numpy()
            color = plt.cm.coolwarm(np.nan_to_num(ranks, nan=0.5))
        else:
            color = "#888888"
        jitter = rng.normal(0, 0.08, len(phi))
        ax.scatter(phi[:, i], row + jitter, s=4, c=color, alpha=0.6, linewidths=0)
    ax.axvline(0, color="black", lw=0.6)
    ax.set_yticks(range(len(order)), [features[i] for i in order], fontsize=8)
    ax.set_xlabel("contribution to the segment's score (SHAP)", fontsize=8)
    ax.set_title(f"{_segment_title(segment, names)}: contributions per customer (colour: low to high value)",
                 fontsize=9)
    fig.tight_layout()
    return fig


def _segment_title(seg, names: dict | None) -> str:
    if names and str(seg) in names:
        return f"{seg}: {names[str(seg)]}"
    return f"segment {seg}"


# -- profiles -----------------------------------------------------------------------------------
def _typical(values: pd.Series):
    if pd.api.types.is_bool_dtype(values):
        return float(values.astype(float).mean() >= 0.5)
    if pd.api.types.is_numeric_dtype(values):
        return float(values.median()) if values.notna().any() else np.nan
    mode = values.dropna().astype(str).mode()
    return mode.iloc[0] if len(mode) else None


def profiles(X: pd.DataFrame, labels, names: dict | None = None, k: int = 10) -> pd.DataFrame:
    """Typical value of every feature per segment (median; mode for categories) plus the population.

    One row per segment (``segment``, ``segment_name``, ``n``) and a last row ``segment = "all"``
    (population medians). Segments with fewer than ``k`` customers are suppressed
    (:func:`workbench.privacy.suppress_rows`).
    """
    from .privacy import suppress_rows

    labels = pd.Series(np.asarray(labels), index=X.index)
    rows = []
    for seg in sorted(labels.unique().tolist(), key=lambda s: (str(type(s)), s)):
        part = X[labels == seg]
        row = {"segment": str(_label(seg)), "segment_name": (names or {}).get(str(_label(seg)), f"Segment {seg}"),
               "n": int(len(part))}
        row.update({c: _typical(part[c]) for c in X.columns})
        rows.append(row)
    table = pd.DataFrame(rows)
    stats_cols = [c for c in table.columns if c not in ("segment", "segment_name")]
    for c in stats_cols:
        if table[c].dtype == object:
            table[c] = table[c].astype(object)
    table = suppress_rows(table, "n", k, keep=["segment", "segment_name"])
    population = {"segment": "all", "segment_name": "All customers", "n": int(len(X)), "suppressed": False}
    population.update({c: _typical(X[c]) for c in X.columns})
    table = pd.concat([table, pd.DataFrame([population])], ignore_index=True)
    for c in X.columns:  # one type per column, for Parquet
        if not pd.api.types.is_numeric_dtype(table[c]):
            table[c] = table[c].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    return table


# -- actionable features and counterfactuals -----------------------------------------------------
def actionable_features(features: list[str], settings: dict, roles=None) -> list[str]:
    """Features a counterfactual may change: ``settings['actionable']`` or the default rule."""
    if settings.get("actionable") is not None:
        return [f for f in settings["actionable"] if f in features]
    blocked = set(settings.get("not_actionable") or [])
    families = set(settings.get("not_actionable_families") or [])
    out = []
    for f in features:
        family = roles.family_of(f) if roles is not None else None
        if f in blocked or (family in families):
            continue
        out.append(f)
    return out


def counterfactual(x: pd.DataFrame, predict: Callable, target, target_values: dict, actionable: list[str],
                   scale: dict | None = None, integer: set | None = None, steps: int = 40) -> dict | None:
    """A small change in actionable numeric features that moves one customer to ``target``.

    Walks from the customer's values straight toward ``target_values`` (the target segment's typical
    member; beyond it up to three times the distance if needed) and takes the first point that
    ``predict`` assigns to ``target``; then drops every change that is not needed (least useful
    first) and shortens the walk for what remains. Not a global optimum, but every change it reports
    is needed and the result is verified with ``predict``.

    Returns
    -------
    dict or None
        ``{"target": ..., "changes": [{"feature", "from", "to"}], "distance": standardised size}``,
        or None when no change in actionable features alone reaches the target.
    """
    x = x.iloc[[0]].reset_index(drop=True)
    integer = integer or set()
    scale = scale or {}
    movable = [f for f in actionable if f in target_values and target_values[f] is not None
               and pd.api.types.is_numeric_dtype(x[f]) and not pd.api.types.is_bool_dtype(x[f])
               and np.isfinite(float(target_values[f])) and np.isfinite(float(x[f].iloc[0]))
               and float(target_values[f]) != float(x[f].iloc[0])]
    if not movable:
        return None
    start = {f: float(x[f].iloc[0]) for f in movable}
    delta = {f: float(target_values[f]) - start[f] for f in movable}

    def candidates(active: list[str], ts: np.ndarray) -> pd.DataFrame:
        rows = pd.concat([x] * len(ts), ignore_index=True)
        for f in active:
            vals = start[f] + ts * delta[f]
            if f in integer:
                vals = np.where(delta[f] > 0, np.ceil(vals - 1e-9), np.floor(vals + 1e-9))
            rows[f] = vals.astype(rows[f].dtype) if f in integer and pd.api.types.is_integer_dtype(rows[f]) else vals
        return rows

    def first_hit(active: list[str], ts: np.ndarray):
        pred = np.asarray(predict(candidates(active, ts)))
        hit = np.flatnonzero(pred == target)
        return None if len(hit) == 0 else float(ts[hit[0]])

    ts = np.linspace(0, 3, 3 * steps + 1)[1:]
    t = first_hit(movable, ts)
    if t is None:
        return None
    active = list(movable)
    # drop changes that are not needed, smallest standardised change first
    size = {f: abs(delta[f]) / (scale.get(f) or 1.0) for f in movable}
    for f in sorted(movable, key=lambda f: size[f]):
        if len(active) == 1:
            break
        trial = [g for g in active if g != f]
        t_trial = first_hit(trial, ts)
        if t_trial is not None:
            active, t = trial, t_trial
    # refine t between the last miss and the hit
    lo = max(0.0, t - 3.0 / (3 * steps))
    fine = np.linspace(lo, t, 21)[1:]
    t = first_hit(active, fine) or t
    final = candidates(active, np.array([t]))
    if np.asarray(predict(final))[0] != target:
        return None
    changes = [{"feature": f, "from": start[f], "to": float(final[f].iloc[0])} for f in active]
    distance = float(np.sqrt(sum(((c["to"] - c["from"]) / (scale.get(c["feature"]) or 1.0)) ** 2 for c in changes)))
    return {"target": target, "changes": changes, "distance": distance}


# -- the stage ----------------------------------------------------------------------------------
def _load_model(run: Run):
    if not run.has("segments/model.joblib"):
        return None
    import joblib

    try:
        return joblib.load(run.artifact("segments/model.joblib"))
    except Exception:  # an unreadable model: fall back to the surrogate
        return None


def _has_centroids(model) -> bool:
    if model is None:
        return False
    if getattr(model, "cluster_centers_", None) is not None and hasattr(model, "transform"):
        return True
    steps = getattr(model, "steps", None)  # a scikit-learn pipeline ending in k-means
    return bool(steps) and getattr(steps[-1][1], "cluster_centers_", None) is not None


def _names(run: Run, assignments: pd.DataFrame) -> dict:
    names = {}
    if run.has("segments/segments.json"):
        names = {str(k): v for k, v in (run.read_json("artifacts/segments/segments.json").get("names") or {}).items()}
    pairs = assignments[["segment", "segment_name"]].drop_duplicates()
    for s, n in zip(pairs["segment"], pairs["segment_name"]):
        names.setdefault(str(_label(s)), str(n))
    return names


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


# -- audit mode: segments given as labels -------------------------------------------------------
def _audit_info(run: Run) -> dict | None:
    """``segments.json``'s audit section when the segments were given as labels, else None."""
    if not run.has("segments/segments.json"):
        return None
    info = run.read_json("artifacts/segments/segments.json")
    if info.get("method") != "external labels":
        return None
    return {**(info.get("audit") or {}), "k": info.get("k")}

def _numeric_scales(X: pd.DataFrame) -> tuple[dict[str, float], list[str]]:
    """Standard deviation of each numeric feature, and which of them hold whole numbers only."""
    scale = {c: float(pd.to_numeric(X[c], errors="coerce").std()) for c in X.columns
             if pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c])}
    integer = [c for c in scale if pd.api.types.is_integer_dtype(X[c]) or
               bool(np.all(np.mod(pd.to_numeric(X[c], errors="coerce").dropna().to_numpy()[:5000], 1) == 0))]
    return scale, integer



def _explain_given(run: Run, settings: dict, frame: pd.DataFrame, X: pd.DataFrame, labels: np.ndarray,
                   names: dict, audit: dict, suppression_k: int) -> dict:
    """Stage 03 for given labels: a fidelity-gated surrogate of the labels (they have no centroids).

    The surrogate (:func:`explain_labels`) is fitted on labelled customers only: customers without a
    label are not assigned by any rule, so there is nothing to explain for them. Segments below the
    minimum size (``segments.json`` audit section) are marked "insufficient evidence" and their
    explanations withheld, like segments the surrogate reproduces with an F1 below the threshold.
    """
    import joblib

    roles = run.roles
    unlabelled = audit.get("unlabelled_segment")
    small = {int(j) for j in audit.get("insufficient_evidence") or []}
    min_size = int(audit.get("min_segment_size") or suppression_k)
    labelled = labels != (-1 if unlabelled is None else unlabelled)
    if labelled.sum() < 2 or len(np.unique(labels[labelled])) < 2:
        raise ValueError("Fewer than two labelled segments: there is no segment membership to explain.")
    X_l = X[labelled].reset_index(drop=True)
    y_l = labels[labelled]
    explainer, result = explain_labels(X_l, y_l, settings, seed=run.seed)
    fidelity = explainer.fidelity_
    trustworthy, reason = explainer.trustworthy_, fidelity["reason"]
    X_plot = result["X_sample"]

    originals = group_columns(list(result["features"]), list(roles.feature_columns))
    importance = result["importance"].assign(
        feature=lambda d: d["feature"].map(dict(zip(result["features"], originals))))
    importance = (importance.groupby(["segment", "feature"], sort=False, as_index=False)
                  .agg(mean_abs_shap=("mean_abs_shap", "sum"), mean_shap_members=("mean_shap_members", "sum"),
                       n_members=("n_members", "first")))
    untrusted: dict[str, str] = {}
    seg_trust = {}
    for seg in importance["segment"].unique():
        f1 = fidelity["f1"].get(_label(seg))
        if int(seg) in small:
            untrusted[str(seg)] = (f"the segment has fewer than {min_size} customers: insufficient evidence for an "
                                   "explanation")
        elif f1 is not None and f1 < settings["fidelity_threshold"]:
            untrusted[str(seg)] = (f"the surrogate reproduces this segment only with F1 {f1:.2f}, below the "
                                   f"threshold of {settings['fidelity_threshold']:.2f}")
        seg_trust[seg] = bool(trustworthy and str(seg) not in untrusted)
    importance["trustworthy"] = importance["segment"].map(seg_trust).astype(bool)
    # members' mean contributions of a segment too small to publish are not shown
    tiny = importance["n_members"] < suppression_k
    importance.loc[tiny, "mean_shap_members"] = np.nan
    importance["segment"] = importance["segment"].astype(int)
    importance = importance.sort_values(["segment", "mean_abs_shap"], ascending=[True, False]).reset_index(drop=True)
    run.write_table("explain/importance.parquet", importance[
        ["segment", "feature", "mean_abs_shap", "mean_shap_members", "trustworthy"]])

    prof = profiles(X, labels, names, k=suppression_k)
    run.write_table("explain/profiles.parquet", prof)
    actionable = actionable_features(list(X.columns), settings, roles)
    scale, integer = _numeric_scales(X)
    unexplained = [] if unlabelled is None or not (labels == unlabelled).any() else [int(unlabelled)]
    given = {
        "unexplained": unexplained,
        "unexplained_reason": "the customer has no segment label in the source system",
        "untrusted": untrusted,
        "insufficient_evidence": sorted(small),
    }
    state = {
        "kind": explainer.kind, "explainer": explainer, "names": names, "features": list(X.columns),
        "feature_groups": dict(zip(result["features"], originals)), "actionable": actionable,
        "scale": scale, "integer": integer, "trustworthy": trustworthy, "reason": reason,
        "fidelity": fidelity, "counterfactual_model": "explainer", "model": None,
        "threshold": settings["fidelity_threshold"], "top_n": settings["top_n"], "audit": given,
    }
    joblib.dump(state, run.artifact("explain/explainer.joblib"))
    n_unlabelled = int((~labelled).sum())
    meta = {
        "method": explainer.kind, "trustworthy": trustworthy, "reason": reason, "fidelity": fidelity,
        "agreement_with_assignments": None, "features": list(X.columns), "actionable": actionable,
        "n_customers": int(len(X)), "n_explained": int(labelled.sum()), "one_vs_rest": settings.get("one_vs_rest"),
        "base_values": {str(_label(s)): float(b) for s, b in zip(result["segments"], explainer.base_values_)},
        "audit": {**given, "unlabelled_customers": n_unlabelled},
    }
    run.write_json("artifacts/explain/explain.json", meta)

    sizes = pd.Series(labels).value_counts()
    shown = [s for s in importance["segment"].unique() if seg_trust.get(s, False) or seg_trust.get(_label(s), False)]
    top_by_segment = {}
    for seg, part in importance.groupby("segment", sort=True):
        if str(seg) in untrusted:
            continue
        top_by_segment[str(seg)] = part.nlargest(3, "mean_abs_shap")["feature"].tolist()
    if trustworthy:
        headline = [f"The given segments are explained by a surrogate model that reproduces {fidelity['accuracy']:.1%} of "
                    "held-out labelled customers' segments (the labels have no centroids)."]
        largest = [str(s) for s in sizes.index if str(s) in top_by_segment][:5]
        headline += [f"{names.get(s, 'Segment ' + s)} is driven mostly by {', '.join(top_by_segment[s])}."
                     for s in largest]
        if untrusted:
            headline.append(f"Explanations withheld for {len(untrusted)} segment(s): too small, or not reproduced "
                            "closely enough by the surrogate.")
    else:
        headline = [f"Membership of the given segments is not explained: {reason}."]
    if n_unlabelled:
        headline.append(f"{n_unlabelled:,} customers without a label are not explained (no rule assigned them).")
    run.summarise(
        "03_explain", method=explainer.kind, trustworthy=trustworthy, audit=True,
        fidelity={"accuracy": round(fidelity["accuracy"], 4), "f1": {k: round(v, 4) for k, v in fidelity["f1"].items()}},
        agreement_with_assignments=None, unexplained_customers=n_unlabelled,
        withheld={k: v for k, v in untrusted.items()},
        top_features=top_by_segment if trustworthy else None, headline=headline,
    )
    return {"method": explainer.kind, "importance": importance, "fidelity": fidelity, "trustworthy": trustworthy,
            "reason": reason, "result": result, "X": X_plot, "names": names, "profiles": prof,
            "agreement": None, "audit": {**given, "unlabelled_customers": n_unlabelled}, "shown": shown}


@register_stage("explain/importance.parquet")
def explain_run(run: Run) -> dict:
    """Stage 03: explain segment membership for the whole run; write ``artifacts/explain/``.

    Returns a dict with ``method`` ("exact" or "surrogate"), ``importance``, ``fidelity`` (surrogate),
    ``trustworthy``, ``reason``, ``result`` (for the plots), ``X`` (raw features) and ``names``.
    """
    import joblib

    settings = run.settings("explain", DEFAULTS)
    assignments = run.read_table("segments/assignments.parquet")
    features = run.read_table("segments/features.parquet")
    frame = features.merge(assignments[["customer_id", "segment"]], on="customer_id", how="inner", validate="1:1")
    X = frame.drop(columns=["customer_id", "segment"])
    labels = frame["segment"].to_numpy()
    names = _names(run, assignments)
    suppression_k = int(run.read_json("data/prepare.json").get("suppression_k", 10))
    model = _load_model(run)
    roles = run.roles
    plot_rng = np.random.default_rng(run.seed + 2)
    plot_rows = np.sort(plot_rng.choice(len(X), min(settings["plot_sample"], len(X)), replace=False))
    audit = _audit_info(run)
    if audit is not None:  # segments given as labels: no model, explained by the surrogate only
        return _explain_given(run, settings, frame, X, labels, names, audit, suppression_k)

    exact = _has_centroids(model) and settings.get("one_vs_rest") is None
    agreement = None
    if exact:
        explainer = centroid_explainer(model, X, background_size=settings["background_size"], random_state=run.seed)
        X_model = X[list(getattr(model, "feature_names_in_", X.columns))]
        result = global_importance(explainer, X_model, batch_size=settings["batch_size"],
                                   top_n=settings["top_n"], sample=plot_rows)
        agreement = float(np.mean(result["segment"].astype(int) == labels.astype(int)))
        trustworthy, fidelity = True, None
        reason = ("exact: k-means assigns each customer to the highest of linear scores, so SHAP values of "
                  "those scores are exact")
        if agreement < 1.0:
            reason += f" (the scores reproduce {agreement:.2%} of the stored assignments)"
        top = result["top"]
        feats = np.array(explainer.features_, dtype=object)
        m = min(settings["top_n"], len(feats))
        table = {"customer_id": frame["customer_id"].to_numpy(), "segment": labels,
                 "runner_up": result["runner_up"].astype(int)}
        for r in range(m):
            table[f"feature_{r + 1}"] = pd.Categorical(feats[top["feature"][:, r]], categories=explainer.features_)
            table[f"own_{r + 1}"] = top["own"][:, r]
            table[f"versus_{r + 1}"] = top["versus"][:, r]
        run.write_table("explain/contributions.parquet", pd.DataFrame(table))
        X_plot = X_model
    else:
        explainer = SurrogateExplainer(
            segment=settings.get("one_vs_rest"), threshold=settings["fidelity_threshold"], random_state=run.seed,
            **{**DEFAULTS["surrogate"], **(settings.get("surrogate") or {})},
        ).fit(X, labels)
        rng = np.random.default_rng(run.seed + 1)
        rows = np.sort(rng.choice(len(X), min(settings["sample_size"], len(X)), replace=False))
        X_plot = X.iloc[rows].reset_index(drop=True)
        result = global_importance(explainer, X_plot, batch_size=settings["batch_size"],
                                   sample=np.arange(min(settings["plot_sample"], len(rows))), labels=labels[rows])
        fidelity = explainer.fidelity_
        trustworthy, reason = explainer.trustworthy_, fidelity["reason"]

    # original features: sum dummy columns of the same feature (features.parquet may hold dummies)
    originals = group_columns(list(result["features"]), list(roles.feature_columns))
    importance = result["importance"].assign(
        feature=lambda d: d["feature"].map(dict(zip(result["features"], originals))))
    importance = (importance.groupby(["segment", "feature"], sort=False, as_index=False)
                  .agg(mean_abs_shap=("mean_abs_shap", "sum"), mean_shap_members=("mean_shap_members", "sum"),
                       n_members=("n_members", "first")))
    seg_trust = {}
    for seg in importance["segment"].unique():
        f1 = (fidelity or {}).get("f1", {}).get(_label(seg)) if fidelity else None
        seg_trust[seg] = bool(trustworthy and (f1 is None or f1 >= settings["fidelity_threshold"]))
    importance["trustworthy"] = importance["segment"].map(seg_trust).astype(bool)
    importance["segment"] = importance["segment"].map(lambda s: int(s) if str(s).lstrip("-").isdigit() else s)
    importance = importance.sort_values(["segment", "mean_abs_shap"], ascending=[True, False],
                                        key=lambda c: c if c.name != "segment" else c.astype(str)).reset_index(drop=True)
    run.write_table("explain/importance.parquet", importance[
        ["segment", "feature", "mean_abs_shap", "mean_shap_members", "trustworthy"]])

    prof = profiles(X, labels, names, k=suppression_k)
    run.write_table("explain/profiles.parquet", prof)
    actionable = actionable_features(list(X.columns), settings, roles)
    scale, integer = _numeric_scales(X)
    cf_model = "explainer"
    if not exact and model is not None and hasattr(model, "predict"):
        try:
            check = np.sort(np.random.default_rng(run.seed + 3).choice(len(X), min(2000, len(X)), replace=False))
            pred = np.asarray(model.predict(X.iloc[check]))
            if np.mean(pred.astype(str) == labels[check].astype(str)) >= 0.999:
                cf_model = "segmentation model"
        except Exception:
            cf_model = "explainer"
    state = {
        "kind": explainer.kind, "explainer": explainer, "names": names, "features": list(X.columns),
        "feature_groups": dict(zip(result["features"], originals)), "actionable": actionable,
        "scale": scale, "integer": integer, "trustworthy": trustworthy, "reason": reason,
        "fidelity": fidelity, "counterfactual_model": cf_model,
        "model": model if cf_model == "segmentation model" else None,
        "threshold": settings["fidelity_threshold"], "top_n": settings["top_n"],
    }
    joblib.dump(state, run.artifact("explain/explainer.joblib"))
    meta = {
        "method": explainer.kind, "trustworthy": trustworthy, "reason": reason, "fidelity": fidelity,
        "agreement_with_assignments": agreement, "features": list(X.columns), "actionable": actionable,
        "n_customers": int(len(X)), "one_vs_rest": settings.get("one_vs_rest"),
        "base_values": {str(_label(s)): float(b) for s, b in zip(result["segments"], explainer.base_values_)},
    }
    run.write_json("artifacts/explain/explain.json", meta)

    top_by_segment = {}
    for seg, part in importance.groupby("segment", sort=False):
        top_by_segment[str(seg)] = part.nlargest(3, "mean_abs_shap")["feature"].tolist()
    if trustworthy:
        headline = [
            ("Membership is explained exactly (linear scores of the centroid model)." if exact else
             f"Membership is explained by a surrogate model that reproduces {fidelity['accuracy']:.0%} of "
             f"held-out assignments.")
        ] + [f"{names.get(s, 'Segment ' + s)} is driven mostly by {', '.join(f)}." for s, f in top_by_segment.items()]
    else:
        headline = [f"Segment membership is not explained: {reason}."]
    run.summarise(
        "03_explain", method=explainer.kind, trustworthy=trustworthy,
        fidelity=None if fidelity is None else {"accuracy": round(fidelity["accuracy"], 4),
                                                  "f1": {k: round(v, 4) for k, v in fidelity["f1"].items()}},
        agreement_with_assignments=agreement,
        top_features=top_by_segment if trustworthy else None, headline=headline,
    )
    return {"method": explainer.kind, "importance": importance, "fidelity": fidelity, "trustworthy": trustworthy,
            "reason": reason, "result": result, "X": X_plot, "names": names, "profiles": prof,
            "agreement": agreement}


# -- per customer -------------------------------------------------------------------------------
def load_state(run: Run) -> dict:
    """What :func:`explain_customer` needs, produced by :func:`explain_run` if missing."""
    import joblib

    run.require("explain/importance.parquet")
    return joblib.load(run.artifact("explain/explainer.joblib"))


def _read_customer(run: Run, relative: str, customer_id: str) -> pd.DataFrame:
    import pyarrow.parquet as pq

    table = pq.read_table(run.require(relative), filters=[("customer_id", "==", customer_id)])
    return table.to_pandas()


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if v.is_integer():
            return f"{int(v):,}"
        if abs(v) >= 100:
            return f"{v:,.0f}"
        if abs(v) >= 1:
            return f"{v:,.1f}"
        return f"{v:.2f}"
    return str(value)


def _readable(feature: str) -> str:
    return feature.replace("_", " ")


def explain_customer(run: Run, customer_id: str, top: int = 5) -> dict:
    """Explain one customer's segment, looked up by pseudonym.

    Returns
    -------
    dict
        ``customer_id`` (the pseudonym), ``segment``, ``segment_name``, ``method``, ``trustworthy``,
        ``reason``, ``contributions`` (top features: value, typical member, population median,
        contribution, versus runner-up), ``runner_up``, ``counterfactual`` and ``paragraph``.

    Raises
    ------
    KeyError
        When the pseudonym is not in the run (the message repeats only the pseudonym).
    """
    state = load_state(run)
    row = _read_customer(run, "segments/features.parquet", customer_id)
    assigned = _read_customer(run, "segments/assignments.parquet", customer_id)
    if len(row) != 1 or len(assigned) != 1:
        raise KeyError(f"No customer with pseudonym {customer_id} in this run.")
    explainer = state["explainer"]
    names = state["names"]
    segment = _label(assigned["segment"].iloc[0])
    X = row.drop(columns=["customer_id"])
    prof = run.read_table("explain/profiles.parquet").set_index("segment")
    population = prof.loc["all"]

    def typical(seg, feat):
        if str(seg) not in prof.index or feat not in prof.columns:
            return None
        v = prof.loc[str(seg), feat]
        return None if v is None or (isinstance(v, float) and np.isnan(v)) else v

    out = {
        "customer_id": customer_id, "segment": segment,
        "segment_name": names.get(str(segment), str(assigned["segment_name"].iloc[0])),
        "method": state["kind"], "trustworthy": bool(state["trustworthy"]), "reason": state["reason"],
        "contributions": [], "runner_up": None, "counterfactual": None,
    }
    given = state.get("audit")
    if given is not None:  # audit mode: a label nobody explained, or a segment too small to explain
        if segment in set(given.get("unexplained") or []):
            out.update(trustworthy=False, reason=given["unexplained_reason"])
            out["paragraph"] = (f"You have no segment label in the source system, so you are counted in the group "
                                f"\u201c{out['segment_name']}\u201d. There is no assignment to explain.")
            return to_jsonable(out)
        why = (given.get("untrusted") or {}).get(str(segment))
        if why:
            out.update(trustworthy=False, reason=why)
    if state["kind"] == "exact":
        res = explainer.explain(X)
        model_segment = _label(res["segment"][0])
        runner = _label(res["runner_up"][0])
    else:
        if explainer.segment is not None:
            res = explainer.explain(X)
            runner = "rest"
            if str(segment) != str(explainer.segment):  # a non-member: explain "rest" against the segment
                res = {**res, "own": -res["own"], "versus": -res["versus"], "base_own": -res["base_own"]}
                runner = _label(explainer.segment)
        else:
            res = explainer.explain(X, labels=[assigned["segment"].iloc[0]])
            runner = _label(res["runner_up"][0])
        model_segment = _label(explainer.predict(X)[0])
    out["model_agrees"] = bool(str(model_segment) == str(segment))
    groups = state.get("feature_groups") or {}
    feats = list(explainer.features_)
    own = pd.Series(res["own"][0], index=feats).groupby(lambda f: groups.get(f, f), sort=False).sum()
    versus = pd.Series(res["versus"][0], index=feats).groupby(lambda f: groups.get(f, f), sort=False).sum()
    out["base_value"] = float(res["base_own"][0])
    out["score"] = float(res["base_own"][0] + own.sum())
    out["runner_up"] = {"segment": runner, "segment_name": names.get(str(runner), str(runner))}

    def value_of(feat):
        if feat in X.columns:
            v = X[feat].iloc[0]
            return v.item() if hasattr(v, "item") else v
        dummies = [c for c in X.columns if groups.get(c) == feat and float(X[c].iloc[0] or 0) == 1.0]
        return dummies[0][len(feat) + 1:] if dummies else None

    order = own.sort_values(key=np.abs, ascending=False).index[:top]
    for feat in order:
        out["contributions"].append({
            "feature": feat, "value": value_of(feat), "typical": typical(segment, feat),
            "typical_runner_up": typical(runner, feat), "population_median": population.get(feat),
            "contribution": float(own[feat]), "versus_runner_up": float(versus[feat]),
        })
    out["separating"] = [
        {"feature": f, "versus_runner_up": float(versus[f]), "value": value_of(f),
         "typical_runner_up": typical(runner, f)}
        for f in versus.sort_values(ascending=False).index[:3] if versus[f] > 0
    ]
    # counterfactual: move to the runner-up with a small change in actionable features
    if state["trustworthy"] and out["trustworthy"] and runner != "rest":
        predict = explainer.predict
        if state.get("model") is not None:
            predict = state["model"].predict
        target_values = {}
        for f in state["actionable"]:
            v = typical(runner, f)
            try:
                target_values[f] = float(v) if v is not None else None
            except (TypeError, ValueError):
                target_values[f] = None
        try:
            cf = counterfactual(X, predict, _coerce_like(runner, model_segment), target_values, state["actionable"],
                                scale=state["scale"], integer=set(state["integer"]))
        except Exception:  # a counterfactual is a courtesy, never a failure
            cf = None
        if cf is not None:
            cf["target_name"] = names.get(str(runner), str(runner))
            cf["target"] = runner
        out["counterfactual"] = cf
    out["actionable"] = list(state["actionable"])
    out["paragraph"] = _paragraph(out)
    return to_jsonable(out)


def _coerce_like(value, like):
    if isinstance(like, (int, np.integer)):
        try:
            return int(value)
        except (TypeError, ValueError):
            return value
    return value


def _level(value, median) -> str:
    try:
        v, m = float(value), float(median)
    except (TypeError, ValueError):
        return ""
    if not (np.isfinite(v) and np.isfinite(m)):
        return ""
    if v > m:
        return "high"
    if v < m:
        return "low"
    return "typical"


def _paragraph(out: dict) -> str:
    name = out["segment_name"]
    if not out["trustworthy"]:
        return (f"You are in the segment \u201c{name}\u201d. We cannot give a reliable explanation of why: "
                f"{out['reason']}. The table shows your values next to the typical member of your segment "
                "and all customers, for comparison only.")
    parts = []
    for c in out["contributions"]:
        if c["contribution"] <= 0:
            continue
        level = _level(c["value"], c["population_median"])
        value = _fmt(c["value"])
        typ = _fmt(c["typical"])
        med = _fmt(c["population_median"])
        desc = f"your {_readable(c['feature'])}"
        desc += f", which is {level}" if level and level != "typical" else ""
        desc += f" ({value}; typical member of this segment: {typ}; all customers: {med})"
        parts.append(desc)
    if not parts:
        parts = [f"your {_readable(c['feature'])} ({_fmt(c['value'])})" for c in out["contributions"][:3]]
    text = f"You are in the segment \u201c{name}\u201d mainly because of " + _join(parts[:4]) + "."
    against = [c for c in out["contributions"] if c["contribution"] < 0][:2]
    if against:
        text += (" Pointing away from it: " + _join([f"your {_readable(c['feature'])} ({_fmt(c['value'])})"
                                                  for c in against]) + ".")
    runner = out.get("runner_up") or {}
    if runner.get("segment") not in (None, "rest"):
        sep = out.get("separating") or []
        if sep:
            text += (f" The closest other segment is \u201c{runner['segment_name']}\u201d; what separates you from it "
                     f"most is your {_join([_readable(s['feature']) for s in sep])}.")
        cf = out.get("counterfactual")
        if cf:
            changes = _join([f"{_readable(c['feature'])} were {_fmt(c['to'])} instead of {_fmt(c['from'])}"
                             for c in cf["changes"]])
            text += f" If your {changes}, you would be in \u201c{cf['target_name']}\u201d."
        elif out.get("actionable") is not None and out["trustworthy"]:
            text += f" No change in the features you can influence alone would move you to \u201c{runner['segment_name']}\u201d."
    if out["method"] == "surrogate":
        text += (" This explanation describes a surrogate model that reproduces the segments closely "
                 f"({out['reason']}).")
        if not out.get("model_agrees", True):
            text += " For you, the surrogate predicts a different segment, so treat this explanation with care."
    return text


def _join(items: list[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def render_text(exp: dict) -> str:
    """Plain text of :func:`explain_customer`'s result (what ``workbench explain`` prints)."""
    lines = [f"Customer {exp['customer_id']}: segment {exp['segment']} \u201c{exp['segment_name']}\u201d",
             f"Method: {'exact SHAP of the centroid scores' if exp['method'] == 'exact' else 'surrogate model'}"
             + ("" if exp["trustworthy"] else " (not trustworthy)"), ""]
    lines += _wrap(exp["paragraph"]) + [""]
    header = f"{'feature':<24} {'your value':>12} {'typical':>12} {'all (median)':>12} {'contribution':>13}"
    lines += [header, "-" * len(header)]
    for c in exp["contributions"]:
        contrib = f"{c['contribution']:+.3f}" if exp["trustworthy"] else "-"
        lines.append(f"{c['feature'][:24]:<24} {_fmt(c['value'])[:12]:>12} {_fmt(c['typical'])[:12]:>12} "
                     f"{_fmt(c['population_median'])[:12]:>12} {contrib:>13}")
    cf = exp.get("counterfactual")
    if cf:
        lines += ["", f"Counterfactual: to be in \u201c{cf['target_name']}\u201d:"]
        lines += [f"  {c['feature']}: {_fmt(c['from'])} -> {_fmt(c['to'])}" for c in cf["changes"]]
    return "\n".join(lines)


def _wrap(text: str, width: int = 100) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width)


def render_html(exp: dict) -> str:
    """A self-contained HTML page of one customer's explanation (no scripts, no external links)."""
    e = _html.escape
    rows = []
    max_abs = max([abs(c["contribution"]) for c in exp["contributions"]] + [1e-12])
    for c in exp["contributions"]:
        width = int(120 * abs(c["contribution"]) / max_abs)
        color = "#c0392b" if c["contribution"] > 0 else "#2e86c1"
        bar = (f'<svg width="130" height="12" role="img" aria-label="contribution">'
               f'<rect x="0" y="1" width="{width}" height="10" fill="{color}"/></svg>') if exp["trustworthy"] else ""
        rows.append(
            f"<tr><td>{e(_readable(c['feature']))}</td><td>{e(_fmt(c['value']))}</td><td>{e(_fmt(c['typical']))}</td>"
            f"<td>{e(_fmt(c['population_median']))}</td><td>{bar}</td></tr>"
        )
    cf = exp.get("counterfactual")
    cf_html = ""
    if cf:
        items = "".join(f"<li>{e(_readable(c['feature']))}: {e(_fmt(c['from']))} &rarr; {e(_fmt(c['to']))}</li>"
                        for c in cf["changes"])
        cf_html = (f"<h2>What would change the segment?</h2><p>The closest other segment is "
                   f"&ldquo;{e(cf['target_name'])}&rdquo;. These changes would move you there:</p><ul>{items}</ul>"
                   f"<p class=note>Only features you can influence were considered: "
                   f"{e(', '.join(_readable(f) for f in exp.get('actionable') or []))}.</p>")
    method = ("an exact decomposition of the segment scores (SHAP values of a linear score)"
              if exp["method"] == "exact" else "a surrogate model of the segmentation, explained with SHAP values")
    trust = "" if exp["trustworthy"] else f"<p class=warn>Not trustworthy: {e(exp['reason'])}.</p>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Segment explanation for {e(exp['customer_id'])}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 46em; margin: 2em auto; color: #222; line-height: 1.45; }}
table {{ border-collapse: collapse; margin: 1em 0; }} td, th {{ padding: 0.3em 0.8em; border-bottom: 1px solid #ddd; text-align: left; }}
.note {{ color: #555; font-size: 0.9em; }} .warn {{ color: #a00; font-weight: bold; }}
</style></head>
<body>
<h1>Why are you in the segment &ldquo;{e(exp['segment_name'])}&rdquo;?</h1>
<p class=note>Reference: {e(exp['customer_id'])} (pseudonymous identifier). Method: {e(method)}.</p>
{trust}
<p>{e(exp['paragraph'])}</p>
<h2>The features that mattered most</h2>
<table><tr><th>feature</th><th>your value</th><th>typical member of your segment</th><th>all customers (median)</th>
<th>weight in the decision</th></tr>
{''.join(rows)}
</table>
<p class=note>Red bars pushed you into the segment, blue bars away from it. Typical values are medians
(most common value for categories); figures for groups of fewer customers than the publication threshold
are not shown.</p>
{cf_html}
</body></html>
"""


# -- notebook helpers ---------------------------------------------------------------------------
def describe(result: dict) -> str:
    """Markdown: which path explained membership and whether the explanation can be trusted."""
    if result["method"] == "exact":
        text = ("**Exact explanation.** The segmentation assigns each customer to the nearest centre, i.e. to the "
                "highest of scores that are linear in the model inputs, so the SHAP values below are exact: "
                "for every customer, base value plus contributions equals the score.")
        if result.get("agreement") is not None:
            text += f" The scores reproduce {result['agreement']:.2%} of the stored assignments."
        return text
    fid = result["fidelity"]
    f1 = ", ".join(f"{s}: {v:.2f}" for s, v in fid["f1"].items())
    if result.get("audit") is not None:
        given = result["audit"]
        text = ("**Surrogate explanation of the given segments.** The segments were given as labels (an existing "
                "segmentation), so there are no centroids to decompose: a compact gradient-boosted surrogate was "
                "fitted from the customers' features to their labels")
        text += f"; {fid['reason']}." if result["trustworthy"] else (
            f". **Not trustworthy: explanations are withheld.** {fid['reason'][0].upper() + fid['reason'][1:]}.")
        text += f" Per-segment F1 on held-out customers: {f1}."
        if given.get("unlabelled_customers"):
            text += (f" {given['unlabelled_customers']:,} customers without a label are not explained: no rule "
                     "assigned them, so there is no membership to explain.")
        if given.get("untrusted"):
            text += (f" Explanations are withheld for {len(given['untrusted'])} segment(s) that are too small "
                     "(insufficient evidence) or that the surrogate does not reproduce closely enough.")
        return text
    if result["trustworthy"]:
        return (f"**Surrogate explanation.** The segmentation is not linear in its inputs, so a compact "
                f"gradient-boosted surrogate was fitted to it; {fid['reason']}. Per-segment F1: {f1}.")
    return (f"**Not trustworthy: explanations are withheld.** {fid['reason'][0].upper() + fid['reason'][1:]}. "
            f"Per-segment F1: {f1}.")


def shown_segments(result: dict, limit: int | None = None) -> list:
    """Segments whose explanation the notebook plots: every explained segment of a normal run; in an
    audit of given labels the trustworthy ones, largest first, at most ``limit``."""
    segments = [_label(s) for s in result["result"]["segments"]]
    if result.get("audit") is None:
        return segments
    imp = result["importance"]
    trusted = set(imp.loc[imp["trustworthy"], "segment"].map(_label))
    sizes = imp.drop_duplicates("segment").set_index("segment")["n_members"] if "n_members" in imp else None
    out = [s for s in segments if s in trusted]
    if sizes is not None:
        out = sorted(out, key=lambda s: -float(sizes.get(s, 0)))
    return out[:limit] if limit else out


def withheld_table(result: dict) -> pd.DataFrame | None:
    """Audit of given labels: the segments whose explanation is withheld, and why (None if none)."""
    given = result.get("audit")
    if not given or not given.get("untrusted"):
        return None
    rows = [{"segment": _label(s), "name": (result.get("names") or {}).get(str(s), str(s)), "why withheld": why}
            for s, why in given["untrusted"].items()]
    return pd.DataFrame(rows).set_index("segment")


def top_features(importance: pd.DataFrame, names: dict | None = None, n: int = 3) -> pd.DataFrame:
    """The ``n`` features with the largest mean |SHAP| per segment, one row per segment."""
    rows = []
    for seg, part in importance.groupby("segment", sort=True):
        part = part.nlargest(n, "mean_abs_shap")
        rows.append({"segment": seg, "name": (names or {}).get(str(seg), str(seg)),
                     **{f"feature_{i + 1}": f for i, f in enumerate(part["feature"])},
                     "trustworthy": bool(part["trustworthy"].all())})
    return pd.DataFrame(rows)


def compare_with_truth(run: Run, importance: pd.DataFrame, n: int = 5) -> pd.DataFrame | None:
    """Synthetic runs: does each segment's explanation name what its planted segment differs on?

    For every segment, the planted segment most of its members come from, the features that planted
    segment was built to differ on, the ``n`` most important explained features, and the overlap.
    Segments of fewer than ``suppression_k`` customers are left out. None without planted truth.
    """
    truth_path = run.path / "data" / "truth.parquet"
    if not truth_path.exists():
        return None
    truth = pd.read_parquet(truth_path)
    differs = run.read_json("data/truth.json")["differs_on"]
    k_min = int(run.read_json("data/prepare.json").get("suppression_k", 10))
    assignments = run.read_table("segments/assignments.parquet").merge(truth, on="customer_id",
                                                                       suffixes=("", "_planted"))
    rows = []
    for seg, part in assignments.groupby("segment"):
        if len(part) < k_min:
            continue
        planted = part["segment_planted"].value_counts()
        top = importance[importance["segment"] == seg].nlargest(n, "mean_abs_shap")["feature"].tolist()
        want = differs.get(planted.index[0], [])
        rows.append({"segment": seg, "planted": planted.index[0], "purity": planted.iloc[0] / len(part),
                     "planted_differs_on": ", ".join(want), "explained_top": ", ".join(top),
                     "named": len(set(want) & set(top)), "of": len(want)})
    return pd.DataFrame(rows)


def example_customer(run: Run, seed: int | None = None) -> str:
    """A randomly drawn customer's explanation as text, with the pseudonym replaced (for reports)."""
    assignments = run.read_table("segments/assignments.parquet")
    rng = np.random.default_rng(run.seed if seed is None else seed)
    pid = assignments["customer_id"].iloc[int(rng.integers(len(assignments)))]
    text = render_text(explain_customer(run, pid))
    return text.replace(pid, "<an example customer>")
