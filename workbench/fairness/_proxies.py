"""Proxy detection: how well features, and segment labels, predict a sensitive attribute."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from ._groups import UNKNOWN
from ._models import _booster, _model_frame, _one_thread, _target_encoder


def cramers_v(x, y) -> float:
    """Bias-corrected Cramer's V (Bergsma 2013) between two categorical vectors."""
    tab = pd.crosstab(pd.Series(np.asarray(x)), pd.Series(np.asarray(y))).to_numpy(dtype=float)
    n = tab.sum()
    r, k = tab.shape
    if n < 2 or r < 2 or k < 2:
        return 0.0
    chi2 = stats.chi2_contingency(tab, correction=False)[0]
    phi2 = chi2 / n
    phi2c = max(0.0, phi2 - (k - 1) * (r - 1) / (n - 1))
    rc = r - (r - 1) ** 2 / (n - 1)
    kc = k - (k - 1) ** 2 / (n - 1)
    denom = min(kc - 1, rc - 1)
    return float(math.sqrt(phi2c / denom)) if denom > 0 else 0.0


def _mi_corrected(y: np.ndarray, x: np.ndarray) -> float:
    """Mutual information (nats) minus its Miller-Madow small-sample bias (R-1)(C-1)/(2N), floored at 0:
    without it a high-cardinality feature (400 postcodes) looks informative by chance alone."""
    from sklearn.metrics import mutual_info_score

    r, c, n = len(np.unique(y)), len(np.unique(x)), len(y)
    return max(0.0, float(mutual_info_score(y, x)) - (r - 1) * (c - 1) / (2 * n))


def _discretise(col: pd.Series, bins: int) -> np.ndarray:
    """Categorical codes of a feature: quantile bins for numbers (NaN its own bin), levels otherwise."""
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col) and col.nunique() > bins:
        ranks = col.rank(method="average", pct=True)
        codes = np.floor(ranks.to_numpy() * bins).clip(0, bins - 1)
        codes = np.where(np.isnan(codes), -1, codes)
        return codes.astype(int)
    return pd.factorize(col.astype(object).where(col.notna(), "__nan__"))[0]


def _label_predictability(labels: np.ndarray, y: np.ndarray, cv: int, seed: int) -> dict:
    """Cross-validated AUC and balanced accuracy of predicting ``y`` from a single label (the segment):
    the prediction is the group mix of the label's customers in the training folds."""
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    classes, y_codes = np.unique(y, return_inverse=True)
    if len(classes) < 2 or np.bincount(y_codes).min() < cv:
        return {"auc": np.nan, "balanced_accuracy": np.nan}
    lab_codes = np.unique(np.asarray(labels), return_inverse=True)[1]
    L, C = lab_codes.max() + 1, len(classes)
    proba = np.zeros((len(y_codes), C))
    for tr, te in StratifiedKFold(cv, shuffle=True, random_state=seed).split(lab_codes, y_codes):
        tab = np.ones((L, C))  # add-one smoothing
        np.add.at(tab, (lab_codes[tr], y_codes[tr]), 1)
        proba[te] = (tab / tab.sum(axis=1, keepdims=True))[lab_codes[te]]
    # Balanced accuracy: predict the class most over-represented relative to its base rate.
    prior = np.bincount(y_codes) / len(y_codes)
    pred = (proba / prior).argmax(axis=1)
    auc = roc_auc_score(y_codes, proba[:, 1]) if C == 2 else roc_auc_score(
        y_codes, proba, multi_class="ovr", average="weighted")
    return {"auc": float(auc), "balanced_accuracy": float(balanced_accuracy_score(y_codes, pred))}


def _predictability(X: pd.DataFrame, y: np.ndarray, cv: int, seed: int) -> dict:
    """Cross-validated AUC and balanced accuracy of a classifier predicting ``y`` from ``X``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline

    classes, y_codes = np.unique(y, return_inverse=True)
    counts = np.bincount(y_codes)
    if len(classes) < 2 or counts.min() < cv:
        keep = np.isin(y_codes, np.flatnonzero(counts >= cv))
        X, y_codes = X.loc[keep], np.unique(y_codes[keep], return_inverse=True)[1]
        if len(np.unique(y_codes)) < 2:
            return {"auc": np.nan, "balanced_accuracy": np.nan}
    X, cats = _model_frame(X)
    target_type = "binary" if len(np.unique(y_codes)) == 2 else "multiclass"
    pre = ColumnTransformer(
        [("cat", _target_encoder(seed, target_type), cats)] if cats else [],
        remainder="passthrough",
    )
    model = make_pipeline(pre, _booster(seed))
    folds = StratifiedKFold(cv, shuffle=True, random_state=seed)
    with _one_thread():
        proba = cross_val_predict(model, X, y_codes, cv=folds, method="predict_proba")
    pred = proba.argmax(axis=1)
    if proba.shape[1] == 2:
        auc = roc_auc_score(y_codes, proba[:, 1])
    else:
        auc = roc_auc_score(y_codes, proba, multi_class="ovr", average="weighted")
    return {"auc": float(auc), "balanced_accuracy": float(balanced_accuracy_score(y_codes, pred))}


def proxy_scan(
    candidates: pd.DataFrame,
    groups: pd.DataFrame,
    segments,
    *,
    inputs: list[str] | None = None,
    importance: pd.DataFrame | None = None,
    targeted: dict[int, str] | None = None,
    bins: int = 10,
    cv: int = 3,
    max_rows: int = 20000,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """How well the features, and the segment labels, predict each sensitive attribute.

    Parameters
    ----------
    candidates : pandas.DataFrame
        One column per candidate proxy (segmentation inputs and customer-table features, never a
        sensitive attribute), rows aligned with ``groups``.
    groups : pandas.DataFrame
        One group-label column per sensitive attribute (from :func:`sensitive_groups`).
    segments : array-like
        Segment id per customer.
    inputs : list of str, optional
        The segmentation inputs, to flag which candidates the segmentation used.
    importance : pandas.DataFrame, optional
        ``explain/importance.parquet`` (``segment, feature, mean_abs_shap``: mean |SHAP| of the
        margin, own score minus runner-up, over the segment's customers).
    targeted : dict, optional
        ``{segment id: label}`` of the segments an action targets: each feature gets one column
        ``shap_<label>`` with its row of ``importance`` for that segment (the weight of the feature
        in the decision that put customers into the targeted segment), and ``shap_weight``, the
        largest of them. Without it ``shap_weight`` is NaN: an average over all segments would
        explain no decision that was made.

    Returns
    -------
    joint : pandas.DataFrame
        Per attribute, side by side: cross-validated AUC and balanced accuracy from the
        segmentation inputs alone (``inputs_auc``; what the segmentation itself could learn of the
        attribute), from all candidate columns (``features_auc``; e.g. with postcode), from the
        segment labels alone, and Cramer's V between segment and attribute.
    per_feature : pandas.DataFrame
        Per (attribute, feature): mutual information (nats), bias-corrected Cramer's V, rank by V,
        whether it is a segmentation input, and its SHAP weight.
    """
    rng = np.random.default_rng(seed)
    n = len(groups)
    seg = np.asarray(segments)
    input_list = [c for c in (inputs or []) if c in candidates.columns]
    inputs = set(input_list)
    shap_weight = _targeted_shap(importance, targeted)
    # Per-feature association on up to 200,000 customers (the classifiers use ``max_rows``).
    frows = np.sort(rng.choice(n, 200_000, replace=False)) if n > 200_000 else np.arange(n)
    candidates, groups, seg_f = (
        candidates.iloc[frows].reset_index(drop=True), groups.iloc[frows].reset_index(drop=True), seg[frows]
    )
    m = len(frows)
    rows = np.sort(rng.choice(m, max_rows, replace=False)) if m > max_rows else np.arange(m)
    disc = {c: _discretise(candidates[c], bins) for c in candidates.columns}
    joint_rows, feat_rows = [], []
    for attr in groups.columns:
        joint, feats = _scan_attribute(attr, groups[attr], candidates, disc, seg_f, rows, input_list, shap_weight, cv,
                                       seed)
        joint_rows.append(joint)
        feat_rows.extend(feats)
    per = pd.DataFrame(feat_rows)
    per = per.sort_values(["attribute", "cramers_v"], ascending=[True, False], kind="stable")
    per["rank"] = per.groupby("attribute").cumcount() + 1
    order = list(groups.columns)
    per["_o"] = per["attribute"].map(order.index)
    per = per.sort_values(["_o", "rank"]).drop(columns="_o").reset_index(drop=True)
    return pd.DataFrame(joint_rows), per


def _targeted_shap(importance: pd.DataFrame | None, targeted: dict[int, str] | None) -> pd.DataFrame | None:
    """Feature x targeted segment table of ``mean_abs_shap`` (None when either is missing)."""
    if importance is None or not len(importance) or not targeted:
        return None
    imp = importance.assign(segment=pd.to_numeric(importance["segment"], errors="coerce"))
    imp = imp.loc[imp["segment"].isin([int(s) for s in targeted])]
    if imp.empty:
        return None
    wide = imp.pivot_table(index="feature", columns="segment", values="mean_abs_shap", aggfunc="first")
    return wide.rename(columns={int(s): lab for s, lab in targeted.items()})


def _scan_attribute(attr, group_col, candidates, disc, seg_f, rows, inputs, shap_weight, cv, seed):
    """One attribute: the joint predictability row and one association row per candidate."""
    y_all = np.asarray(group_col.astype(str))
    known = y_all != UNKNOWN
    if len(np.unique(y_all[known])) < 2:  # no value known, or one group: nothing can be predicted
        return _nothing_to_scan(attr, int(known.sum()), candidates.columns, inputs, shap_weight)
    sub = rows[known[rows]]
    y = y_all[sub]
    joint = _predictability(candidates.iloc[sub].reset_index(drop=True), y, cv, seed)
    own = (_predictability(candidates.iloc[sub][inputs].reset_index(drop=True), y, cv, seed) if inputs
           else {"auc": np.nan, "balanced_accuracy": np.nan})
    seg_pred = _label_predictability(seg_f[sub], y, cv, seed)
    joint_row = {
        "attribute": attr, "n_used": len(sub), "inputs_auc": own["auc"],
        "inputs_balanced_accuracy": own["balanced_accuracy"], "features_auc": joint["auc"],
        "features_balanced_accuracy": joint["balanced_accuracy"], "segments_auc": seg_pred["auc"],
        "segments_balanced_accuracy": seg_pred["balanced_accuracy"],
        "segments_cramers_v": cramers_v(seg_f[known], y_all[known]),
    }
    feat_rows = []
    for c in candidates.columns:
        x = disc[c][known]
        feat_rows.append({
            "attribute": attr, "feature": c,
            "mutual_information": _mi_corrected(y_all[known], x),
            "cramers_v": cramers_v(x, y_all[known]),
            "segmentation_input": c in set(inputs),
            **({f"shap_{lab}": float(shap_weight.at[c, lab]) if c in shap_weight.index else np.nan
                for lab in shap_weight.columns} if shap_weight is not None else {}),
        })
        row = feat_rows[-1]
        row["shap_weight"] = (float(np.nanmax([row[f"shap_{lab}"] for lab in shap_weight.columns]))
                              if shap_weight is not None and c in shap_weight.index else np.nan)
    return joint_row, feat_rows


def _nothing_to_scan(attr, n_known, columns, inputs, shap_weight):
    """Rows of an attribute with fewer than two known groups: every measure is undefined (NaN)."""
    nan = float("nan")
    joint_row = {
        "attribute": attr, "n_used": n_known, "inputs_auc": nan, "inputs_balanced_accuracy": nan,
        "features_auc": nan, "features_balanced_accuracy": nan, "segments_auc": nan,
        "segments_balanced_accuracy": nan, "segments_cramers_v": nan,
    }
    labels = list(shap_weight.columns) if shap_weight is not None else []
    feat_rows = [{"attribute": attr, "feature": c, "mutual_information": nan, "cramers_v": nan,
                  "segmentation_input": c in set(inputs), **{f"shap_{lab}": nan for lab in labels},
                  "shap_weight": nan} for c in columns]
    return joint_row, feat_rows
