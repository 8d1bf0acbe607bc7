"""The global view: every customer explained in batches, mean |SHAP| per segment and original feature."""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import pandas as pd

from ._grouping import _label


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
    one_vs_rest = explainer.kind == "surrogate" and explainer.segment is not None
    segments = explainer.classes_ if explainer.kind == "surrogate" else explainer.segments
    if one_vs_rest:
        segments = np.array([explainer.segment])
    segments = np.asarray(segments)
    totals = _Totals(segments, len(features), len(X), top_n, sample, one_vs_rest)
    for sl in _iter_batches(len(X), batch_size):
        batch = X.iloc[sl]
        if explainer.kind == "surrogate":
            res = explainer.explain(batch, None if labels is None or one_vs_rest else np.asarray(labels)[sl])
        else:
            res = explainer.explain(batch)
        members = None
        if one_vs_rest:
            members = (np.asarray(labels)[sl] == explainer.segment) if labels is not None else \
                (res["segment"] == explainer.segment)
        totals.add(sl, res, members)
        if on_batch is not None:
            on_batch(sl, res)
    return {"importance": totals.importance(features), "segment": totals.seg_out, "runner_up": totals.run_out,
            "top": totals.top, "sample_shap": totals.sample_shap, "sample_rows": totals.sample,
            "segments": segments, "features": features}


class _Totals:
    """What :func:`global_importance` accumulates over the batches."""

    def __init__(self, segments: np.ndarray, p: int, n: int, top_n: int, sample, one_vs_rest: bool):
        k = len(segments)
        self.segments, self.n, self.p, self.top_n = segments, n, p, top_n
        self.abs_sum = np.zeros((k, p))
        self.member_sum = np.zeros((k, p))
        self.member_n = np.zeros(k)
        self.seg_out = np.empty(n, dtype=object if one_vs_rest else segments.dtype)  # one-vs-rest: segment or "rest"
        self.run_out = np.empty(n, dtype=object if one_vs_rest else segments.dtype)
        self.top = {"feature": np.zeros((n, top_n), dtype=np.int32), "own": np.zeros((n, top_n)),
                    "versus": np.zeros((n, top_n))} if top_n else None
        self.sample = np.asarray([] if sample is None else sample, dtype=int)
        self.sample_shap = np.zeros((len(self.sample), p, k))

    def add(self, sl: slice, res: dict, members: np.ndarray | None) -> None:
        """One batch's explanation; ``members`` (one-vs-rest only) marks the explained segment's members."""
        phi = res["shap_nkp"]  # (b, k, p)
        self.abs_sum += np.abs(phi).sum(axis=0)
        if members is not None:
            self.member_sum[0] += phi[members, 0, :].sum(axis=0)
            self.member_n[0] += members.sum()
        else:
            b = sl.stop - sl.start
            onehot = np.zeros((b, len(self.segments)))
            onehot[np.arange(b), res["top_index"]] = 1.0
            self.member_sum += np.einsum("bk,bkp->kp", onehot, phi, optimize=True)
            self.member_n += onehot.sum(axis=0)
        self.seg_out[sl] = res["segment"]
        self.run_out[sl] = res["runner_up"]
        if self.top_n:
            self._add_top(sl, res)
        in_batch = (self.sample >= sl.start) & (self.sample < sl.stop)
        if in_batch.any():
            self.sample_shap[in_batch] = res["shap"][self.sample[in_batch] - sl.start]

    def _add_top(self, sl: slice, res: dict) -> None:
        own = res["own"]
        m = min(self.top_n, self.p)
        order = np.argsort(-np.abs(own), axis=1, kind="stable")[:, :m]
        self.top["feature"][sl, :m] = order
        self.top["own"][sl, :m] = np.take_along_axis(own, order, axis=1)
        self.top["versus"][sl, :m] = np.take_along_axis(res["versus"], order, axis=1)

    def importance(self, features: list[str]) -> pd.DataFrame:
        rows = []
        for j, seg in enumerate(self.segments):
            for i, feat in enumerate(features):
                rows.append({
                    "segment": _label(seg), "feature": feat, "mean_abs_shap": self.abs_sum[j, i] / max(self.n, 1),
                    "mean_shap_members": self.member_sum[j, i] / self.member_n[j] if self.member_n[j] else np.nan,
                    "n_members": int(self.member_n[j]),
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
    """Exact path: every customer's ``top_n`` contributions (feature, own score, versus the runner-up)."""
    top = result["top"]
    feats = np.array(features, dtype=object)
    m = min(top_n, len(feats))
    table = {"customer_id": customer_id, "segment": segment, "runner_up": result["runner_up"].astype(int)}
    for r in range(m):
        table[f"feature_{r + 1}"] = pd.Categorical(feats[top["feature"][:, r]], categories=features)
        table[f"own_{r + 1}"] = top["own"][:, r]
        table[f"versus_{r + 1}"] = top["versus"][:, r]
    return pd.DataFrame(table)
