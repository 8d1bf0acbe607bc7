"""The global view: every customer explained in batches, mean |margin SHAP| per segment and original feature."""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import pandas as pd

from ..engine import active_config, make_engine, margin_importance_query, margin_weights
from ._grouping import _label


def _iter_batches(n: int, batch_size: int) -> Iterator[slice]:
    for start in range(0, n, batch_size):
        yield slice(start, min(n, start + batch_size))


def global_importance(explainer, X: pd.DataFrame, batch_size: int = 50_000, top_n: int = 0,
                      sample: np.ndarray | None = None, labels=None, on_batch: Callable | None = None,
                      model=None) -> dict:
    """Explain every row of ``X`` in batches; mean |margin SHAP| per segment and feature.

    The explained quantity is each customer's margin between the assigned segment and the runner-up
    (:meth:`LinearScoreExplainer.explain`), so a segment's importance is what separates its own
    members from the segment closest to them: the mean over the customers *assigned* to the segment.

    Parameters
    ----------
    explainer : LinearScoreExplainer or SurrogateExplainer (fitted)
    X : DataFrame of raw features
    batch_size : int
        Rows explained at once; memory is O(batch_size x features x segments).
    top_n : int
        Keep each row's ``top_n`` features by |margin SHAP| (0: keep none).
    sample : array of row positions, optional
        Rows whose margin SHAP values are kept (for the distribution plots).
    labels : array, optional
        Real segments (surrogate path).
    on_batch : callable, optional
        Called with each batch's slice and result dict (e.g. to write it out).
    model : SegmentationModel, optional
        The nearest-centre model ``explainer`` explains (:func:`centroid_explainer` of it): the
        importance table is then computed in the engine over every customer
        (:func:`margin_importance`); the batches give only the per-row outputs.

    Returns
    -------
    dict
        ``importance`` (DataFrame: segment, feature, mean_abs_shap, mean_shap_members, n_members),
        ``segment``, ``runner_up`` (per row), ``top`` (dict of arrays: feature index, margin),
        ``sample_margin`` (len(sample), p), ``sample_segment``, ``sample_rows``.
    """
    features = list(explainer.features_)
    one_vs_rest = explainer.kind == "surrogate" and explainer.segment is not None
    segments = explainer.classes_ if explainer.kind == "surrogate" else explainer.segments
    if one_vs_rest:
        segments = np.array([explainer.segment])
    segments = np.asarray(segments)
    in_engine = model is not None and explainer.kind == "exact"
    totals = _Totals(segments, len(features), len(X), top_n, sample, one_vs_rest, accumulate=not in_engine)
    for sl in _iter_batches(len(X), batch_size):
        batch = X.iloc[sl]
        if explainer.kind == "surrogate":
            res = explainer.explain(batch, None if labels is None else np.asarray(labels)[sl])
        else:
            res = explainer.explain(batch)
        members = res["segment"].astype(str) == str(explainer.segment) if one_vs_rest else None
        totals.add(sl, res, members)
        if on_batch is not None:
            on_batch(sl, res)
    importance = margin_importance(explainer, model, X) if in_engine else totals.importance(features)
    return {"importance": importance, "segment": totals.seg_out, "runner_up": totals.run_out,
            "top": totals.top, "sample_margin": totals.sample_margin, "sample_segment": totals.sample_segment,
            "sample_rows": totals.sample, "segments": segments, "features": features}


class _Totals:
    """What :func:`global_importance` accumulates over the batches."""

    def __init__(self, segments: np.ndarray, p: int, n: int, top_n: int, sample, one_vs_rest: bool,
                 accumulate: bool = True):
        k = len(segments)
        self.segments, self.n, self.p, self.top_n, self.accumulate = segments, n, p, top_n, accumulate
        self.abs_sum = np.zeros((k, p))
        self.member_sum = np.zeros((k, p))
        self.member_n = np.zeros(k)
        self.seg_out = np.empty(n, dtype=object if one_vs_rest else segments.dtype)  # one-vs-rest: segment or "rest"
        self.run_out = np.empty(n, dtype=object if one_vs_rest else segments.dtype)
        self.top = {"feature": np.zeros((n, top_n), dtype=np.int32), "margin": np.zeros((n, top_n))} if top_n else None
        self.sample = np.asarray([] if sample is None else sample, dtype=int)
        self.sample_margin = np.zeros((len(self.sample), p))
        self.sample_segment = np.empty(len(self.sample), dtype=object)

    def add(self, sl: slice, res: dict, members: np.ndarray | None) -> None:
        """One batch; ``members`` (one-vs-rest only) marks the explained segment's members."""
        margin = res["margin"]  # (b, p)
        if self.accumulate:  # else the importance is computed in the engine (margin_importance)
            if members is not None:
                onehot = members.astype(float)[:, None]
            else:
                onehot = np.zeros((len(margin), len(self.segments)))
                onehot[np.arange(len(margin)), res["top_index"]] = 1.0
            self.abs_sum += onehot.T @ np.abs(margin)
            self.member_sum += onehot.T @ margin
            self.member_n += onehot.sum(axis=0)
        self.seg_out[sl] = res["segment"]
        self.run_out[sl] = res["runner_up"]
        if self.top_n:
            m = min(self.top_n, self.p)
            order = np.argsort(-np.abs(margin), axis=1, kind="stable")[:, :m]
            self.top["feature"][sl, :m] = order
            self.top["margin"][sl, :m] = np.take_along_axis(margin, order, axis=1)
        in_batch = (self.sample >= sl.start) & (self.sample < sl.stop)
        if in_batch.any():
            self.sample_margin[in_batch] = margin[self.sample[in_batch] - sl.start]
            self.sample_segment[in_batch] = np.asarray(res["segment"])[self.sample[in_batch] - sl.start]

    def importance(self, features: list[str]) -> pd.DataFrame:
        rows = []
        for j, seg in enumerate(self.segments):
            n_j = self.member_n[j]
            for i, feat in enumerate(features):
                rows.append({
                    "segment": _label(seg), "feature": feat,
                    "mean_abs_shap": self.abs_sum[j, i] / n_j if n_j else 0.0,
                    "mean_shap_members": self.member_sum[j, i] / n_j if n_j else np.nan,
                    "n_members": int(n_j),
                })
        return pd.DataFrame(rows)


def margin_importance(explainer, model, X: pd.DataFrame) -> pd.DataFrame:
    """Mean |margin SHAP| and mean margin SHAP per assigned segment and feature, in the engine.

    For the exact (linear-score) explainer of a nearest-centre ``model``: every customer of ``X``
    (raw features) is scored, assigned, paired with its runner-up and explained in one query
    (:func:`workbench.engine.margin_importance_query`) on the engine of the innermost
    :func:`workbench.engine.using` block; one row per segment comes back. The same table as
    :func:`global_importance` accumulates from the batches (a test checks it within 1e-9).

    Returns
    -------
    DataFrame
        ``segment, feature, mean_abs_shap, mean_shap_members, n_members``.
    """
    features = list(explainer.features_)
    groups = [np.flatnonzero(explainer.aggregate_[:, p]).tolist() for p in range(len(features))]
    mean = np.asarray(explainer.explainer_.mean, dtype=float)
    query = margin_importance_query(model, "importance_in", mean, explainer.coef, explainer.intercept, groups)
    with make_engine(active_config()) as eng:
        eng.register_rows("importance_in", X[list(model.feature_names_in_)])
        eng.register("margin_w", margin_weights(explainer.coef))
        out = eng.sql(query).set_index("top")
    rows = []
    for j, seg in enumerate(explainer.segments):
        n_j = int(out.at[j, "n"]) if j in out.index else 0
        for p, feat in enumerate(features):
            rows.append({
                "segment": _label(seg), "feature": feat,
                "mean_abs_shap": float(out.at[j, f"abs_{p}"]) / n_j if n_j else 0.0,
                "mean_shap_members": float(out.at[j, f"sum_{p}"]) / n_j if n_j else np.nan,
                "n_members": n_j,
            })
    return pd.DataFrame(rows)


def original_importance(result: dict, originals: list[str]) -> pd.DataFrame:
    """:func:`global_importance`'s table with dummy columns of one original feature summed.

    ``originals`` names the original feature of each of ``result["features"]``
    (:func:`~workbench.explain.group_columns`); ``n_members`` is per segment, so it is kept, not summed.
    """
    importance = result["importance"].assign(
        feature=lambda d: d["feature"].map(dict(zip(result["features"], originals))))
    return (importance.groupby(["segment", "feature"], sort=False, as_index=False)
            .agg(mean_abs_shap=("mean_abs_shap", "sum"), mean_shap_members=("mean_shap_members", "sum"),
                 n_members=("n_members", "first")))


def contributions_table(customer_id, segment, result: dict, features: list[str], top_n: int) -> pd.DataFrame:
    """Exact path: every customer's ``top_n`` contributions to the margin over the runner-up."""
    top = result["top"]
    feats = np.array(features, dtype=object)
    m = min(top_n, len(feats))
    table = {"customer_id": customer_id, "segment": segment, "runner_up": result["runner_up"].astype(int)}
    for r in range(m):
        table[f"feature_{r + 1}"] = pd.Categorical(feats[top["feature"][:, r]], categories=features)
        table[f"margin_{r + 1}"] = top["margin"][:, r]
    return pd.DataFrame(table)
