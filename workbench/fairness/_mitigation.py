"""Mitigation and its price: Fairlearn's ``CorrelationRemover`` and ``ThresholdOptimizer``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._groups import UNKNOWN
from ._models import _booster, _is_categorical, _model_frame, _one_thread, _target_encoder
from ._policy import _action_text, _value_order, resolve_policy
from ._rates import rate_by_group


def _fallback_model(k: int, seed: int):
    from sklearn.cluster import KMeans
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), KMeans(k, n_init=4, random_state=seed))


def _model_space(model, X: pd.DataFrame) -> np.ndarray:
    """The inputs as the model clusters them: the fitted model's transform (numeric transforms and
    one-hot columns), or the preprocessing steps of a fallback pipeline."""
    if hasattr(model, "transform") and hasattr(model, "preprocessor_"):
        return np.asarray(model.transform(X), dtype=float)
    if hasattr(model, "steps"):
        return np.asarray(model[:-1].transform(X.to_numpy(dtype=float)), dtype=float)
    return X.to_numpy(dtype=float)


def _cluster_like(model, Z: np.ndarray, fit_rows: np.ndarray, seed: int) -> np.ndarray:
    """Cluster ``Z`` with the model's own algorithm and k; segment per row of ``Z``."""
    from sklearn.base import clone

    if hasattr(model, "preprocessor_"):  # a fitted SegmentationModel: its clusterer, settings and k
        from ..segment._clusterers import cluster, nearest_centre  # the clusterer stage 02 fits

        _, centers, estimator = cluster(Z[fit_rows], model.method, int(model.k), seed, model.n_init,
                                        model.ward_sample)
        return np.asarray(estimator.predict(Z) if model.method == "gmm" else nearest_centre(Z, centers)).astype(int)
    last = clone(model.steps[-1][1]) if hasattr(model, "steps") else clone(model)
    last.fit(Z[fit_rows])
    return np.asarray(last.predict(Z)).astype(int)


def _silhouette(Z: np.ndarray, labels: np.ndarray, seed: int, size: int = 3000) -> float:
    from sklearn.metrics import silhouette_score

    if len(np.unique(labels)) < 2:
        return float("nan")
    ok = np.isfinite(Z).all(axis=1)
    Z, labels = Z[ok], labels[ok]
    return float(silhouette_score(Z, labels, sample_size=min(size, len(Z)), random_state=seed))


def mitigate_correlation_remover(
    features: pd.DataFrame,
    groups: pd.DataFrame,
    model,
    *,
    alpha: float = 1.0,
    seed: int = 0,
    max_fit_rows: int = 200000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Recluster after Fairlearn's ``CorrelationRemover`` took out the linear correlation of the
    model's inputs with the sensitive attributes, in the space the model clusters.

    The inputs are first transformed as the fitted model transforms them (``model.transform``: the
    chosen numeric transforms and the one-hot columns of categorical inputs), so a gap removed is
    removed where the clustering sees it (removing it in raw units would reappear after a log
    transform) and categorical inputs are decorrelated too. Then the model's own clusterer, with
    its settings and k, is fitted on the decorrelated matrix. The decorrelated values are a means
    to the new partition, not results: they may fall outside any observable range and are not shown.

    Parameters
    ----------
    features : pandas.DataFrame
        The model's inputs, original units.
    groups : pandas.DataFrame
        One group-label column per sensitive attribute.
    model : SegmentationModel or sklearn Pipeline
        The *fitted* segmentation model (a Pipeline: its steps before the last are the transform).

    Returns
    -------
    labels : numpy.ndarray
        Segment per customer after mitigation.
    Z : numpy.ndarray
        The inputs in the model's space, before mitigation.
    Z_mitigated : numpy.ndarray
        The decorrelated model-space inputs.
    """
    from fairlearn.preprocessing import CorrelationRemover

    X = features.reset_index(drop=True)
    Z = _model_space(model, X)
    S = pd.get_dummies(groups.reset_index(drop=True).astype(str), drop_first=True, dtype=float)
    S.columns = [f"__s{i}" for i in range(S.shape[1])]
    S = S.loc[:, S.std() > 0]
    Zf = pd.DataFrame(Z, columns=[f"z{j}" for j in range(Z.shape[1])])
    Zt = CorrelationRemover(sensitive_feature_ids=list(S.columns), alpha=alpha).fit_transform(
        pd.concat([Zf, S], axis=1)) if S.shape[1] else Z
    rng = np.random.default_rng(seed)
    fit_rows = np.sort(rng.choice(len(X), max_fit_rows, replace=False)) if len(X) > max_fit_rows else np.arange(len(X))
    return _cluster_like(model, np.asarray(Zt, dtype=float), fit_rows, seed), Z, np.asarray(Zt, dtype=float)


def mitigate_threshold_optimizer(
    features: pd.DataFrame,
    y: np.ndarray,
    groups: pd.Series,
    baselines: dict[str, np.ndarray],
    *,
    constraints: str = "equalized_odds",
    objective: str = "balanced_accuracy_score",
    seed: int = 0,
) -> pd.DataFrame:
    """Compare segment-based targeting with an outcome model, unconstrained and under Fairlearn's
    ``ThresholdOptimizer``, on held-out customers (40% train, 30% threshold choice, 30% evaluation).

    Parameters
    ----------
    features : pandas.DataFrame
        Segmentation inputs (the outcome model's features).
    y : numpy.ndarray
        Outcome (1 = the customers the action should reach, e.g. churners).
    groups : pandas.Series
        Sensitive groups of one attribute.
    baselines : dict
        ``{action: selected}``: the segment-based targeting rules, for comparison.

    Returns
    -------
    pandas.DataFrame
        One row per rule: selection share, share of positives reached (TPR), precision,
        demographic-parity and equalized-odds differences (Fairlearn's definitions).
    """
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference
    from fairlearn.postprocessing import ThresholdOptimizer
    from sklearn.compose import ColumnTransformer
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline

    X, cats = _model_frame(features.reset_index(drop=True))
    y = np.asarray(y).astype(int)
    g = np.asarray(groups.astype(str))
    idx = np.arange(len(X))
    # Three parts: the outcome model learns on one, ThresholdOptimizer picks its group thresholds on
    # another (thresholds tuned on the model's own training data do not transfer), all rules are
    # compared on the third.
    tr, rest = train_test_split(idx, test_size=0.6, random_state=seed, stratify=y)
    cal, te = train_test_split(rest, test_size=0.5, random_state=seed, stratify=y[rest])
    pre = ColumnTransformer(
        [("cat", _target_encoder(seed), cats)] if cats else [], remainder="passthrough"
    )
    model = make_pipeline(pre, _booster(seed))
    with _one_thread():
        model.fit(X.iloc[tr], y[tr])
        unconstrained = model.predict(X.iloc[te])
    to = ThresholdOptimizer(
        estimator=model, constraints=constraints, objective=objective, prefit=True,
        predict_method="predict_proba",
    )
    with _one_thread():
        to.fit(X.iloc[cal], y[cal], sensitive_features=g[cal])
    constrained = to.predict(X.iloc[te], sensitive_features=g[te], random_state=seed)
    rules = {f"segment rule: {_action_text(a)[4:]}": np.asarray(s)[te] for a, s in baselines.items()}
    rules["outcome model, unconstrained"] = unconstrained
    rules[f"outcome model + ThresholdOptimizer ({constraints.replace('_', ' ')})"] = constrained
    rows = []
    yt = y[te]
    for name, pred in rules.items():
        pred = np.asarray(pred).astype(int)
        rows.append({
            "rule": name, "attribute": groups.name, "selected_share": pred.mean(),
            "positives_reached": pred[yt == 1].mean() if (yt == 1).any() else np.nan,
            "precision": yt[pred == 1].mean() if pred.any() else np.nan,
            "dp_difference": demographic_parity_difference(yt, pred, sensitive_features=g[te]),
            "equalized_odds_difference": equalized_odds_difference(yt, pred, sensitive_features=g[te]),
        })
    return pd.DataFrame(rows)


def _correlation_remover_audit(model, X, groups, attributes, segs, actions, settings, value, seed):
    """Disparity and cost of the segmentation before and after CorrelationRemover.

    ``model`` is the run's fitted segmentation model, or None: a k-means on the numeric inputs then
    stands in for it. Returns the long table of :func:`workbench.fairness.views.mitigation_view` and
    the note that explains it.
    """
    m_set = settings["mitigation"]
    note = ""
    if model is None:
        k = len(np.unique(segs))
        X = X[[c for c in X.columns if not _is_categorical(X[c])]]
        model = _fallback_model(k, seed).fit(X.to_numpy(dtype=float))
        note = (f"segments/model.joblib is not available: a k-means with k={k} on standardised numeric inputs "
                "stands in for the segmentation model. ")
    labels, Z, _ = mitigate_correlation_remover(
        X, groups[attributes], model, alpha=float(m_set["alpha"]), seed=seed, max_fit_rows=int(m_set["max_fit_rows"])
    )
    new_actions = _actions_after(labels, segs, value, settings["policy"], actions)
    # Both partitions judged in one space: the model's inputs before mitigation.
    sil0, sil1 = _silhouette(Z, segs, seed), _silhouette(Z, labels, seed)
    variants = (("as segmented", segs, actions, sil0), ("after CorrelationRemover", labels, new_actions, sil1))
    rows = _disparity_rows(variants, groups, value, int(settings["min_group_size"]))
    note += (
        f"CorrelationRemover (alpha={m_set['alpha']}) removed the linear correlation with "
        f"{', '.join(attributes)} from the inputs as the model clusters them (after its transforms; one-hot "
        "columns of categorical inputs included), and the model's clusterer was refitted there with the same "
        "settings and k. It equalises each input's mean across groups, not its whole distribution: where a "
        "segment is defined by the tail (the highest spenders), membership may barely change. The decorrelated "
        "values are not shown: they are a means to the new partition, not customer values. Value share: the "
        "share of total customer value (original units) held by the customers an action reaches. Silhouette: "
        "both partitions measured in the same space, the model's inputs before mitigation (sample of 3,000)."
    )
    return pd.DataFrame(rows), note


def _actions_after(labels, segs, value, policy: dict, actions: dict) -> dict[str, list[int]]:
    """Actions on the new segments: value ranks are recomputed; id/name policies follow the old
    segment that shares most customers with each new one."""
    new_order = _value_order(labels, value)
    new_names = {int(i): f"Segment {i}" for i in np.unique(labels)}
    overlap = pd.crosstab(labels, segs)
    match = {int(i): int(overlap.loc[i].idxmax()) for i in overlap.index}
    new_actions = {}
    for action, spec in policy.items():
        if isinstance(spec, dict) and ("top_value" in spec or "bottom_value" in spec):
            new_actions[action] = resolve_policy({action: spec}, new_names, new_order)[action]
        else:
            new_actions[action] = [i for i, old in match.items() if old in actions[action]]
    return new_actions


def _disparity_rows(variants, groups: pd.DataFrame, value, min_group_size: int) -> list[dict]:
    """Worst ratio, DP difference, reach and silhouette per (variant, action, attribute)."""
    total_value = np.nansum(value) if value is not None else np.nan
    rows = []
    for variant, lab, acts, sil in variants:
        for action in acts:
            sel = np.isin(lab, acts[action])
            for attr in groups.columns:
                t = rate_by_group(sel, groups[attr], n_boot=0, min_group_size=min_group_size)
                ok = t.loc[t["sufficient"] & ~t["is_reference"] & (t["group"] != UNKNOWN)]
                worst = ok.loc[np.abs(np.log(ok["ratio"].clip(lower=1e-12))).idxmax()] if len(ok) else None
                rates = t.loc[t["sufficient"], "rate"]
                rows.append({
                    "variant": variant, "action": action, "attribute": attr,
                    "worst_group": worst["group"] if worst is not None else None,
                    "worst_ratio": float(worst["ratio"]) if worst is not None else np.nan,
                    "dp_difference": float(rates.max() - rates.min()) if len(rates) else np.nan,
                    "selected_share": float(sel.mean()),
                    "value_share": float(np.nansum(value[sel]) / total_value) if value is not None and total_value else np.nan,
                    "silhouette": sil,
                })
    return rows
