"""Choosing k: the report card (internal indices, bootstrap stability, the k = 1 test) and the recommended k."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, calinski_harabasz_score, davies_bouldin_score, silhouette_score
from threadpoolctl import threadpool_limits

from ._clusterers import cluster, nearest_centre
from ._model import SegmentationModel
from ._structure import structure_test


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
    n_bootstrap: int = 12,
    silhouette_sample: int = 3_000,
    n_init: int = 8,
    ward_sample: int = 5_000,
    random_state: int = 0,
    n_threads: int | None = 1,
    refit_n_init: int | None = None,
    structure: dict | None = None,
) -> pd.DataFrame:
    """Report card of k: internal indices and bootstrap stability, one row per k.

    Each k is fitted once on all of ``Z`` (the reference) and refitted on ``n_bootstrap``
    bootstrap resamples; every refit labels all of ``Z`` and is compared with the reference: the
    adjusted Rand index, and per segment the Jaccard of its members with the matched refit segment
    (Hungarian matching). A segment that "dissolves" under resampling (Hennig 2007) has a low mean
    Jaccard. :func:`k_verdicts` judges stability per refit (the share of refits in which every
    segment reproduces), and ``bench/bench_choose_k.py`` measures how many refits that needs.

    Parameters
    ----------
    Z : ndarray (n, d)
        Customers in model-input space (``SegmentationModel.transform``), e.g. a sample.
    k_range : (int, int)
        Inclusive range of k.
    method : str
        Clusterer, as in :class:`SegmentationModel`.
    n_bootstrap : int
        Refits on bootstrap resamples per k.
    n_init : int
        Restarts of the reference fit; ``refit_n_init`` restarts of each refit (fewer, for speed;
        ``None`` uses ``n_init``).
    n_threads : int or None
        BLAS/OpenMP threads (see :class:`SegmentationModel`).
    structure : dict or None
        Keyword arguments of :func:`~workbench.segment._structure.structure_test` (``n_reference``,
        ``sample``, ``alpha``); ``False`` leaves k = 1 out of the card.

    Returns
    -------
    DataFrame
        First a k = 1 row ("one segment": no stability columns; ``structure_statistic`` and
        ``structure_p``, the gap test of "no k beats one segment"), then per k of ``k_range``:
        ``k``, ``silhouette`` (sampled), ``calinski_harabasz``, ``davies_bouldin``,
        ``stability_ari`` (mean over refits), ``min_jaccard`` (the least stable segment's mean
        Jaccard), ``min_jaccard_se`` (its standard error over refits), ``jaccard`` (list, per
        segment, ids of the reference fit), ``smallest_share``, ``refit_ari`` and
        ``refit_min_jaccard`` (lists, one value per refit, for checking the card by hand). Every row
        has ``gap`` and ``gap_se``, the gap statistic of that k.
    """
    with threadpool_limits(n_threads):
        card = _choose_k(Z, k_range, method, n_bootstrap, silhouette_sample, n_init, ward_sample, random_state,
                         n_init if refit_n_init is None else refit_n_init)
    if structure is False:
        return card
    test = structure_test(Z, k_max=int(k_range[1]), random_state=random_state, **(structure or {}))
    return _with_structure(card, test)


def _with_structure(card: pd.DataFrame, test) -> pd.DataFrame:
    """The card with the gap statistic per k and a first row for k = 1 carrying the test's outcome."""
    one = {"k": 1, "smallest_share": 1.0, "jaccard": [], "refit_ari": [], "refit_min_jaccard": [],
           "structure_statistic": test.statistic, "structure_p": test.p_value}
    out = pd.concat([pd.DataFrame([one]), card], ignore_index=True)
    gaps = test.gaps.set_index("k")
    out["gap"] = out["k"].map(gaps["gap"])
    out["gap_se"] = out["k"].map(gaps["gap_se"])
    return out


def _card_row(Z, k, method, boot, sil_rows, n_init, refit_n_init, ward_sample, random_state) -> dict:
    """One k: the reference fit, its bootstrap refits compared with it, and the internal indices."""
    labels, centers, est = cluster(Z, method, k, random_state, n_init, ward_sample)
    aris, jacs = [], []
    for b, idx in enumerate(boot):
        lb, cb, eb = cluster(Z[idx], method, k, random_state + 1 + b, refit_n_init, ward_sample)
        pred = eb.predict(Z) if method == "gmm" else nearest_centre(Z, cb)
        aris.append(adjusted_rand_score(labels, pred))
        jacs.append(_jaccard_matched(labels, pred, k))
    jacs = np.array(jacs) if jacs else np.full((1, k), np.nan)
    jac = jacs.mean(axis=0)
    weakest = int(np.argmin(jac))
    se = float(jacs[:, weakest].std(ddof=1) / np.sqrt(len(jacs))) if len(jacs) > 1 else np.nan
    distinct = len(np.unique(labels[sil_rows])) > 1
    return {
        "k": k,
        "silhouette": silhouette_score(Z[sil_rows], labels[sil_rows]) if distinct else np.nan,
        "calinski_harabasz": calinski_harabasz_score(Z, labels),
        "davies_bouldin": davies_bouldin_score(Z, labels),
        "stability_ari": float(np.mean(aris)) if aris else np.nan,
        "min_jaccard": float(jac.min()),
        "min_jaccard_se": se,
        "jaccard": [round(float(j), 4) for j in jac],
        "smallest_share": float(np.bincount(labels, minlength=k).min() / len(Z)),
        "refit_ari": [round(float(a), 4) for a in aris],
        "refit_min_jaccard": [round(float(j), 4) for j in jacs.min(axis=1)],
    }


def _choose_k(Z, k_range, method, n_bootstrap, silhouette_sample, n_init, ward_sample, random_state, refit_n_init):
    rng = np.random.default_rng(random_state)
    n = len(Z)
    sil_rows = np.sort(rng.choice(n, min(n, silhouette_sample), replace=False))
    boot = [rng.choice(n, n, replace=True) for _ in range(n_bootstrap)]
    rows = []
    lo, hi = max(2, int(k_range[0])), int(k_range[1])  # k = 1 has no stability: the gap test decides it
    for k in range(lo, hi + 1):
        if k >= n:
            break
        rows.append(_card_row(Z, k, method, boot, sil_rows, n_init, refit_n_init, ward_sample, random_state))
    return pd.DataFrame(rows)


def _reproduction(card: pd.DataFrame, jaccard: float) -> pd.Series:
    """Share of refits in which every segment reproduces (its Jaccard with the matched refit segment >= ``jaccard``)."""
    if "refit_min_jaccard" not in card:
        return (card["min_jaccard"] >= jaccard).astype(float)
    return card["refit_min_jaccard"].map(lambda v: float(np.mean(np.asarray(v) >= jaccard)) if len(v) else np.nan)


def _median_ari(card: pd.DataFrame) -> pd.Series:
    if "refit_ari" not in card:
        return card["stability_ari"]
    return card["refit_ari"].map(lambda v: float(np.median(v)) if len(v) else np.nan)


def k_verdicts(card: pd.DataFrame, ari: float = 0.8, jaccard: float = 0.85, reproduce: float = 0.8,
               clear: float = 0.9, min_share: float = 0.02, alpha: float = 0.05) -> pd.DataFrame:
    """Each k of the report card judged: segment share, stability, and whether the stability is clear.

    Refits of k-means occasionally land in a poor local optimum, which pulls a *mean* Jaccard down
    although the segments reproduce in almost every refit; so stability is judged per refit.
    A k is *eligible* when its smallest segment holds at least ``min_share`` of customers (a segment
    of 1% cannot carry a campaign and is often a split-off of outliers); *stable* when the median
    ARI of refits against the reference fit is at least ``ari`` and every segment reproduces (Jaccard
    with its matched refit segment >= ``jaccard``, Hennig 2007) in at least ``reproduce`` of the
    refits; *clearly stable* when that share is at least ``clear``. The k = 1 row (when the card has
    one) is judged by the gap test instead: it is "stable" (the recommendation) when no k beats one
    segment at level ``alpha``.

    Returns
    -------
    DataFrame
        ``k``, ``reproduced`` (share of refits), ``eligible``, ``stable``, ``clearly_stable``,
        ``silhouette`` and ``why`` (a phrase).
    """
    if (card["k"] == 1).any():
        return pd.concat([_one_segment_verdict(card, alpha),
                          k_verdicts(card[card["k"] != 1], ari, jaccard, reproduce, clear, min_share)],
                         ignore_index=True)
    card = card.reset_index(drop=True)
    rate, med_ari = _reproduction(card, jaccard), _median_ari(card)
    eligible = card["smallest_share"] >= min_share
    stable = eligible & (med_ari >= ari) & (rate >= reproduce)
    clearly = stable & (rate >= clear)
    why = np.select(
        [~eligible, med_ari < ari, rate < reproduce, ~clearly],
        [
            [f"smallest segment {s:.1%} < {min_share:.0%}" for s in card["smallest_share"]],
            [f"refits disagree (median ARI {a:.2f} < {ari})" for a in med_ari],
            [f"a segment dissolves (every segment reproduced in {r:.0%} of refits < {reproduce:.0%})" for r in rate],
            [f"stable, but only marginally (every segment reproduced in {r:.0%} of refits)" for r in rate],
        ],
        default="clearly stable",
    )
    return pd.DataFrame({"k": card["k"].astype(int), "reproduced": rate, "eligible": eligible, "stable": stable,
                         "clearly_stable": clearly, "silhouette": card["silhouette"], "why": why})


def _one_segment_verdict(card: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """The k = 1 row judged by the gap test: no stability, the reference distribution decides."""
    row = card.loc[card["k"] == 1].iloc[0]
    p = float(row["structure_p"])
    none = not p <= alpha
    why = (f"no k beats one segment (gap test p = {p:.3f} > {alpha:g}): no stable segment structure" if none
           else f"segment structure found (gap test p = {p:.3f} <= {alpha:g})")
    return pd.DataFrame({"k": [1], "reproduced": [np.nan], "eligible": [True], "stable": [none],
                         "clearly_stable": [none], "silhouette": [np.nan], "why": [why]})


def recommend_k(card: pd.DataFrame, ari: float = 0.8, jaccard: float = 0.85, reproduce: float = 0.8,
                clear: float = 0.9, min_share: float = 0.02, alpha: float = 0.05) -> tuple[int, str]:
    """The recommended k and why, in words.

    The rule, in order (see :func:`k_verdicts` for the terms):

    0. k = 1 ("no stable segment structure") when the card has a k = 1 row and its gap test finds
       no k that beats one segment at level ``alpha``: k-means cuts a structureless cloud into slabs
       that reproduce under resampling, so stability alone would find segments that do not exist;
    1. the largest *stable* k: the finest segmentation whose every segment reproduces under
       resampling and whose smallest segment holds at least ``min_share`` of customers;
    2. when that k is stable only marginally and the next smaller k is clearly stable, stability
       cannot tell them apart, and the silhouette breaks the tie (the higher wins);
    3. when no k is stable, the k with the highest stability ARI among eligible k (all k if none
       is eligible), with a warning.
    """
    if (card["k"] == 1).any():
        k, reason = recommend_k(card[card["k"] != 1], ari, jaccard, reproduce, clear, min_share)
        one = _one_segment_verdict(card, alpha).iloc[0]
        if one["stable"]:
            return 1, (f"k = 1: {one['why']}. The customers do not fall into groups that are more separated than "
                       f"cuts of one structureless cloud; the stability rule alone would have chosen k = {k}, "
                       f"but such cuts reproduce under resampling too. The learned segments are one group.")
        return k, f"{reason} Segments exist at all: {one['why']}."
    card = card.reset_index(drop=True)
    judged = k_verdicts(card, ari, jaccard, reproduce, clear, min_share)
    stable = judged[judged["stable"]]
    if stable.empty:
        pool = card[judged["eligible"]] if judged["eligible"].any() else card
        row = pool.loc[pool["stability_ari"].idxmax()]
        k = int(row["k"])
        return k, (
            f"No k in {int(card['k'].min())}-{int(card['k'].max())} is stable with segments of at least "
            f"{min_share:.0%} (every segment reproduced in {reproduce:.0%} of refits, median ARI >= {ari}); "
            f"k = {k} has the highest stability (mean ARI {row['stability_ari']:.2f}, least stable segment's "
            f"mean Jaccard {row['min_jaccard']:.2f}). Treat the segments with caution."
        )
    top = stable.iloc[-1]
    k, rule = int(top["k"]), "the largest k whose every segment reproduces in bootstrap refits"
    below = judged[(judged["k"] == k - 1) & judged["clearly_stable"]]
    if not top["clearly_stable"] and len(below):
        other = below.iloc[0]
        if pd.notna(other["silhouette"]) and (pd.isna(top["silhouette"]) or other["silhouette"] > top["silhouette"]):
            k, rule = int(other["k"]), (f"k = {int(top['k'])} is stable only marginally, and the silhouette "
                                        "prefers the clearly stable k below it")
    return k, _reason(card, judged, k, rule, ari, jaccard, min_share)


def _reason(card, judged, k, rule, ari, jaccard, min_share) -> str:
    """The recommendation in words a reviewer can check against the card."""
    row = card.loc[card["k"] == k].iloc[0]
    rate = judged.loc[judged["k"] == k, "reproduced"].iloc[0]
    text = (f"k = {k}: {rule} (every segment reproduced with Jaccard >= {jaccard} in {rate:.0%} of refits, "
            f"mean ARI {row['stability_ari']:.2f}, least stable segment's mean Jaccard {row['min_jaccard']:.2f}, "
            f"smallest segment {row['smallest_share']:.1%} >= {min_share:.0%}).")
    rejected = judged[(judged["k"] > k) & (judged["why"] != "clearly stable")]
    if len(rejected):
        text += " Larger k: " + "; ".join(f"k = {r.k}: {r.why}" for r in rejected.itertuples()) + "."
    coarser = [str(v) for v in judged.loc[judged["stable"] & (judged["k"] < k), "k"]]
    if coarser:
        text += f" Coarser stable choices: k = {', '.join(coarser)}."
    if card["silhouette"].notna().any():
        best = card.loc[card["silhouette"].idxmax()]
        text += f" Silhouette at k = {k} is {row['silhouette']:.2f} (highest {best['silhouette']:.2f} at k = {int(best['k'])})."
    return text


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
            settings["refit_n_init"], settings.get("structure") or {},
        )
        k, reason = recommend_k(card, **settings["stability"], min_share=settings["min_segment_share"],
                                alpha=(settings.get("structure") or {}).get("alpha", 0.05))
    else:
        k = int(k)
        reason = f"k = {k} was set in the config (segmentation.k)."
    return SegmentationModel(k=int(k), **params).fit(X), card, reason
