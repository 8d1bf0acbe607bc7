"""Choosing k: the report card (internal indices, bootstrap stability) and the recommended k."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, calinski_harabasz_score, davies_bouldin_score, silhouette_score
from threadpoolctl import threadpool_limits

from ._clusterers import cluster, nearest_centre
from ._model import SegmentationModel


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


def _card_row(Z, k, method, boot, sil_rows, n_init, ward_sample, random_state) -> dict:
    """One k: the reference fit, its bootstrap refits compared with it, and the internal indices."""
    labels, centers, est = cluster(Z, method, k, random_state, n_init, ward_sample)
    aris, jacs = [], []
    for b, idx in enumerate(boot):
        lb, cb, eb = cluster(Z[idx], method, k, random_state + 1 + b, n_init, ward_sample)
        pred = eb.predict(Z) if method == "gmm" else nearest_centre(Z, cb)
        aris.append(adjusted_rand_score(labels, pred))
        jacs.append(_jaccard_matched(labels, pred, k))
    jac = np.mean(jacs, axis=0) if jacs else np.full(k, np.nan)
    distinct = len(np.unique(labels[sil_rows])) > 1
    return {
        "k": k,
        "silhouette": silhouette_score(Z[sil_rows], labels[sil_rows]) if distinct else np.nan,
        "calinski_harabasz": calinski_harabasz_score(Z, labels),
        "davies_bouldin": davies_bouldin_score(Z, labels),
        "stability_ari": float(np.mean(aris)) if aris else np.nan,
        "min_jaccard": float(jac.min()),
        "jaccard": [round(float(j), 4) for j in jac],
        "smallest_share": float(np.bincount(labels, minlength=k).min() / len(Z)),
    }


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
        rows.append(_card_row(Z, k, method, boot, sil_rows, n_init, ward_sample, random_state))
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


def fit_with_k(X: pd.DataFrame, settings: dict, value: str | None, seed: int):
    """Fit a :class:`SegmentationModel` with the configured k, choosing it first when k is "auto".

    Parameters
    ----------
    X : DataFrame
        Raw features (original units), no ``customer_id``.
    settings : dict
        The ``segmentation`` config section (every key of :data:`DEFAULTS`).
    value : str or None
        The value feature that orders segment ids.
    seed : int
        Random state of the sample, the selection and the fit.

    Returns
    -------
    (SegmentationModel, DataFrame or None, str)
        The fitted model, the k report card (``None`` when k was set) and the reason for k in words.
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
