"""Fairness audit of segments and of segment-based targeting, built on Fairlearn.

The question a compliance reviewer asks: *if we act on these segments (premium offers to one,
retention discounts to another), does that treat people differently by gender, age or another
protected attribute, directly or through proxies such as postcode?*

User guide
----------
:func:`fairness_run` audits a run directory in five steps and ends with a verdict per
(action, attribute):

1. **Groups.** Each sensitive attribute (``fairness.sensitive``, default the dataset's sensitive role)
   becomes a group label per customer: numeric attributes such as age are cut into ``bands``; a
   missing value is the explicit group ``"unknown"`` (Fairlearn's ``MetricFrame`` would drop it
   silently) and its coverage is reported; ``intersections`` combine attributes (gender x age band).
2. **Composition** (:func:`composition`): segment x group counts, each group's share of each segment
   with a confidence interval, the representation ratio (share in the segment / share in the
   population) and a generalised Chierichetti balance per segment (1 = every group represented as
   in the population, 0 = a group absent).
3. **Targeting** (:func:`rate_by_group`, :func:`selection_audit`): the ``policy`` maps actions to
   segments (by id, by name, by a pattern over names, or by value rank from ``segments.json``'s
   ``value_order``). For each
   action and attribute, the selection rate per group is Fairlearn's ``MetricFrame`` value; the
   demographic-parity difference and ratio are Fairlearn's; each group is compared with a reference
   group (``"largest"`` by default) by rate ratio and difference. Confidence intervals come from a
   bootstrap of the *sufficient statistics*: resampling customers with replacement only changes the
   counts per (group, selected) cell, which are multinomial, so drawing those counts is exactly the
   row bootstrap at a cost independent of the number of customers. Each comparison has a
   two-proportion test (Fisher's exact test for small cells); p-values are corrected for the number
   of comparisons in the audit (Holm by default, or Benjamini-Hochberg). Where an outcome exists
   (telco churn), true- and false-positive rates by group give equal-opportunity and
   equalized-odds figures of the targeting rule.
4. **Proxies** (:func:`proxy_scan`): how well the segmentation inputs and the customer-table
   features predict each sensitive attribute, jointly (cross-validated AUC and balanced accuracy of
   a gradient-boosting classifier; high-cardinality categoricals such as postcode are target
   encoded inside the cross-validation) and one by one (mutual information, bias-corrected
   Cramer's V); how well the segment labels predict it; each feature's SHAP weight in segment
   membership (``explain/importance.parquet``) joined to the ranked list.
5. **Mitigation** (:func:`mitigate_correlation_remover`, :func:`mitigate_threshold_optimizer`): the
   same segmentation refitted after Fairlearn's ``CorrelationRemover``, and where an outcome exists
   a ``ThresholdOptimizer`` targeting rule; each with its disparity and its cost (segment quality,
   value reached) before and after: the price of fairness.

**Verdict rule** (:func:`verdicts`). A comparison *breaches* the policy when the rate ratio lies
outside ``thresholds.ratio`` (four-fifths rule: 0.8-1.25) or the absolute difference exceeds
``thresholds.difference``. A group **fails** when it breaches *and* the difference is statistically
significant after correction (as in adverse-impact practice: a ratio test plus a significance
test); a breach that is not significant, or a group (or reference group) smaller than
``min_group_size``, is **insufficient evidence**, never a pass. An (action, attribute) fails if any
group fails, passes only if every group passes, and is insufficient evidence otherwise. The
``unknown`` group is compared like the others when it is large enough; when it is small it is
reported but does not block the verdict.

**Given segments (audit mode).** When the segments were given as labels (a CRM/CDP export, see
:func:`workbench.segment.audit_run`), the same audit runs on them; the policy names label segments,
e.g. ``premium_offer: {match: " premium$"}`` (a regular expression searched in the names), segments
below ``segmentation.min_segment_size`` are marked insufficient evidence in the composition, and
there is no fitted segmentation to refit in mitigation (a).

Every published table of counts goes through :mod:`workbench.privacy` small-cell suppression.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .rundir import Run, register_stage

__all__ = [
    "DEFAULTS",
    "UNKNOWN",
    "FairnessAudit",
    "adjust_pvalues",
    "composition",
    "cramers_v",
    "dp_view",
    "fairness_run",
    "given_markdown",
    "group_labels",
    "mitigate_correlation_remover",
    "mitigate_threshold_optimizer",
    "mitigation_view",
    "outcome_view",
    "outcome_rates_by_group",
    "plot_proxies",
    "plot_representation",
    "plot_selection_rates",
    "proxy_scan",
    "proxy_view",
    "rate_by_group",
    "resolve_policy",
    "selection_audit",
    "selection_view",
    "sensitive_groups",
    "verdict_markdown",
    "verdict_text",
    "verdicts",
]

UNKNOWN = "unknown"

DEFAULTS: dict[str, Any] = {
    # Attributes audited; None = the dataset's sensitive role (run.roles.sensitive).
    "sensitive": None,
    # Band edges for numeric attributes (left-closed); numeric attributes without bands and with more
    # than 12 distinct values are cut into quintiles.
    "bands": {"age": [18, 30, 45, 60, 120]},
    # Display names of groups, e.g. {female: {0: men, 1: women}}.
    "labels": {},
    # Intersections audited like attributes, e.g. [[gender, age]].
    "intersections": [],
    # Reference group: "largest", or per attribute {attribute: group or "largest"}.
    "reference": "largest",
    # Actions -> segments: {segments: [ids]}, {names: [names]}, {match: regex over names},
    # {top_value: n} or {bottom_value: n}.
    "policy": {"premium_offer": {"top_value": 1}, "retention_discount": {"bottom_value": 1}},
    "thresholds": {"ratio": [0.8, 1.25], "difference": 0.1},
    "min_group_size": 30,
    "alpha": 0.05,
    "correction": "holm",  # or "bh" (Benjamini-Hochberg)
    "n_boot": 1000,
    # Value per customer for value ranks and the business KPI: None = monetary, else the first
    # column of the "value" feature family.
    "value_column": None,
    # Proxy scan: rows sampled for the classifiers, CV folds, bins of numeric features, whether to join
    # SHAP weights from notebook 03 (explain/importance.parquet, produced if missing).
    "proxy": {"max_rows": 10000, "cv": 3, "bins": 10, "shap": True},
    "mitigation": {
        "correlation_remover": True,
        "alpha": 1.0,
        "max_fit_rows": 200000,
        "threshold_optimizer": True,
        "constraints": "equalized_odds",
        "objective": "balanced_accuracy_score",
    },
}


# ================================================================================================
# Groups
# ================================================================================================
def _fmt_value(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(int(v))
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _band_labels(edges: list[float]) -> list[str]:
    labels = []
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        last = i == len(edges) - 2
        if not np.isfinite(hi) or (last and hi >= 100):
            labels.append(f"{_fmt_value(lo)}+")
        elif float(lo).is_integer() and float(hi).is_integer():
            labels.append(f"{int(lo)}–{int(hi) - 1}")
        else:
            labels.append(f"{lo:g}–<{hi:g}")
    return labels


def group_labels(
    values: pd.Series,
    bands: list[float] | None = None,
    labels: dict | None = None,
    auto_band: int = 12,
) -> pd.Series:
    """Group label per customer for one sensitive attribute, missing values as ``"unknown"``.

    Parameters
    ----------
    values : pandas.Series
        The attribute's raw values.
    bands : list of float, optional
        Left-closed band edges for a numeric attribute (``[18, 30, 45, 60, 120]``); values outside
        the edges are ``"unknown"``.
    labels : dict, optional
        Display name per raw value (keys compared as strings), e.g. ``{0: "men", 1: "women"}``.
    auto_band : int
        A numeric attribute without bands and with more distinct values than this is cut into
        quintiles.

    Returns
    -------
    pandas.Series
        Ordered categorical of strings; ``"unknown"`` is the last category when present.
    """
    values = pd.Series(values).reset_index(drop=True)
    missing = values.isna().to_numpy()
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and bands is None and values.nunique() > auto_band:
        qs = np.unique(np.nanquantile(values.to_numpy(dtype=float), [0, 0.2, 0.4, 0.6, 0.8]))
        bands = [*qs.tolist(), np.inf]
    if numeric and bands is not None:
        edges = [float(b) for b in bands]
        names = _band_labels(edges)
        cut = pd.cut(values.astype(float), edges, right=False, labels=names)
        out = cut.astype(object)
        order = names
    else:  # format the distinct values only: one factorize for a million rows
        codes, uniq = pd.factorize(values)
        names = np.array([_fmt_value(u) for u in uniq] + [UNKNOWN], dtype=object)
        out = names[codes]  # code -1 (missing) picks the trailing UNKNOWN
        order = sorted(dict.fromkeys(names[:-1]), key=_natural_key)
    out = pd.Series(out, dtype=object)
    out[pd.isna(out).to_numpy() | missing] = UNKNOWN
    mapping = {str(k): str(v) for k, v in (labels or {}).items()}
    if mapping:
        out = out.map(mapping).fillna(out)
        order = [mapping.get(s, s) for s in order]
    present = set(pd.unique(out))
    cats = [c for c in dict.fromkeys(order) if c in present and c != UNKNOWN]
    if UNKNOWN in present:
        cats.append(UNKNOWN)
    return pd.Series(pd.Categorical(out, categories=cats, ordered=True), name=values.name)


def _natural_key(s: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(s))]


def sensitive_groups(customers: pd.DataFrame, attributes: list[str], settings: dict) -> pd.DataFrame:
    """One categorical column of group labels per attribute and per intersection ("a × b")."""
    out = {}
    bands = settings.get("bands") or {}
    labels = settings.get("labels") or {}
    for attr in attributes:
        out[attr] = group_labels(customers[attr], bands.get(attr), labels.get(attr)).array
    frame = pd.DataFrame(out)
    for combo in settings.get("intersections") or []:
        combo = [c for c in combo if c in frame.columns]
        if len(combo) < 2:
            continue
        name = " × ".join(combo)
        joined = frame[combo[0]].astype(str)
        for c in combo[1:]:
            joined = joined + " × " + frame[c].astype(str)
        cats = [" × ".join(p) for p in _product([list(frame[c].cat.categories) for c in combo])]
        present = set(joined)
        frame[name] = pd.Categorical(joined, categories=[c for c in cats if c in present], ordered=True)
    frame.index = customers.index
    return frame


def _product(lists):
    import itertools

    return itertools.product(*lists)


# ================================================================================================
# Rates by group with bootstrap CIs over sufficient statistics
# ================================================================================================
def _codes(groups) -> tuple[np.ndarray, list[str]]:
    """Integer codes and labels of a group vector; missing values become ``"unknown"``.

    Categoricals keep their category order; other values are sorted naturally, ``"unknown"`` last.
    Only the distinct values are formatted, so a million rows cost one ``factorize``.
    """
    if isinstance(groups, pd.Series) and isinstance(groups.dtype, pd.CategoricalDtype):
        cat = pd.Series(groups.cat.remove_unused_categories().values).cat
        codes = cat.codes.to_numpy().astype(np.int64)
        labels = [str(c) for c in cat.categories]
        if (codes < 0).any():
            if UNKNOWN not in labels:
                labels.append(UNKNOWN)
            codes = np.where(codes < 0, labels.index(UNKNOWN), codes)
        return codes, labels
    raw, uniques = pd.factorize(pd.Series(np.asarray(groups, dtype=object) if not isinstance(groups, pd.Series) else groups))
    labs = [_fmt_value(u) for u in uniques]
    if (raw < 0).any():
        raw = np.where(raw < 0, len(labs), raw)
        labs.append(UNKNOWN)
    final = sorted(set(labs) - {UNKNOWN}, key=_natural_key) + ([UNKNOWN] if UNKNOWN in labs else [])
    pos = {lab: i for i, lab in enumerate(final)}
    remap = np.array([pos[lab] for lab in labs], dtype=np.int64)
    return remap[raw], final


def _multinomial(cells: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap draws of a table of counts: (n_boot, *cells.shape).

    Resampling N rows with replacement and counting them per cell is a multinomial draw with the
    observed cell shares as probabilities: the exact row bootstrap of any statistic of the counts.
    """
    flat = np.asarray(cells, dtype=np.int64).ravel()
    total = int(flat.sum())
    if total == 0:
        return np.zeros((n_boot, *np.shape(cells)), dtype=np.int64)
    draws = rng.multinomial(total, flat / total, size=n_boot)
    return draws.reshape(n_boot, *np.shape(cells))


def _quantiles(samples: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    if samples.shape[0] == 0:  # no resamples: no interval
        nan = np.full(samples.shape[1:], np.nan)
        return nan, nan.copy()
    with np.errstate(invalid="ignore"):
        samples = np.where(np.isinf(samples), np.nan, samples)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, hi = np.nanquantile(samples, [alpha / 2, 1 - alpha / 2], axis=0)
    return lo, hi


def _two_proportion_p(s1: int, n1: int, s2: int, n2: int) -> float:
    """Two-sided p-value for equal proportions: pooled z-test, Fisher's exact test for small cells."""
    if n1 == 0 or n2 == 0:
        return float("nan")
    pooled = (s1 + s2) / (n1 + n2)
    if pooled in (0.0, 1.0):
        return 1.0
    expected = min(n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled))
    if expected < 5:
        return float(stats.fisher_exact([[s1, n1 - s1], [s2, n2 - s2]]).pvalue)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (s1 / n1 - s2 / n2) / se
    return float(2 * stats.norm.sf(abs(z)))


def adjust_pvalues(p: np.ndarray, method: str = "holm") -> np.ndarray:
    """Correct p-values for multiple comparisons: ``"holm"`` (family-wise) or ``"bh"`` (FDR).

    NaN p-values are left as NaN and do not count as comparisons.
    """
    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    ranked = p[order]
    if method == "holm":
        adj = np.maximum.accumulate((m - np.arange(m)) * ranked)
    elif method in ("bh", "fdr_bh", "benjamini-hochberg"):
        adj = np.minimum.accumulate((m / np.arange(m, 0, -1)) * ranked[::-1])[::-1]
    elif method in (None, "none"):
        adj = ranked
    else:
        raise ValueError(f"Unknown correction '{method}': use 'holm' or 'bh'.")
    out[order] = np.minimum(adj, 1.0)
    return out


def _reference_index(labels: list[str], n: np.ndarray, reference: str | None) -> int:
    if reference not in (None, "largest"):
        ref = str(reference)
        if ref not in labels:
            raise ValueError(f"Reference group '{ref}' not found; groups are {labels}.")
        return labels.index(ref)
    known = [i for i, lab in enumerate(labels) if lab != UNKNOWN] or list(range(len(labels)))
    return max(known, key=lambda i: (n[i], -i))


def rate_by_group(
    selected,
    groups,
    *,
    reference: str | None = "largest",
    n_boot: int = 1000,
    alpha: float = 0.05,
    min_group_size: int = 30,
    correction: str | None = "holm",
    seed: int | np.random.Generator = 0,
) -> pd.DataFrame:
    """Rate of a yes/no event per group, with bootstrap CIs and a comparison with a reference group.

    A generic building block: selection for an offer, a downgrade between periods, churn. The
    bootstrap resamples customers with replacement, computed exactly and cheaply by drawing the
    (group x event) counts from a multinomial, so 1,000 resamples of a million rows take
    milliseconds. Point estimates equal Fairlearn's ``MetricFrame`` with ``selection_rate``.

    Parameters
    ----------
    selected : array-like of bool or 0/1
        The event per customer.
    groups : array-like
        Group per customer; missing values become the explicit group ``"unknown"``.
    reference : str or "largest"
        Group the others are compared with; ``"largest"`` picks the largest known group.
    n_boot : int
        Bootstrap resamples.
    alpha : float
        1 - confidence level of the intervals (0.05: 95% intervals).
    min_group_size : int
        Groups smaller than this are flagged ``sufficient=False``.
    correction : {"holm", "bh", None}
        Multiple-comparison correction of the p-values within this table.
    seed : int or numpy.random.Generator

    Returns
    -------
    pandas.DataFrame
        One row per group: ``group, n, events, rate, rate_low, rate_high, is_reference, ratio,
        ratio_low, ratio_high, difference, difference_low, difference_high, p_value, p_adjusted,
        sufficient``. ``ratio`` and ``difference`` are the group's rate over / minus the
        reference's.
    """
    sel = np.asarray(selected).astype(bool).ravel()
    codes, labels = _codes(groups)
    if len(codes) != len(sel):
        raise ValueError(f"selected has {len(sel)} rows but groups has {len(codes)}")
    G = len(labels)
    n = np.bincount(codes, minlength=G)
    s = np.bincount(codes[sel], minlength=G)
    ref = _reference_index(labels, n, reference)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    boot = _multinomial(np.stack([s, n - s]), n_boot, rng)  # (B, 2, G)
    bs, bn = boot[:, 0, :], boot[:, 0, :] + boot[:, 1, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = s / n
        brate = bs / bn
        ratio = rate / rate[ref]
        bratio = brate / brate[:, [ref]]
    diff = rate - rate[ref]
    bdiff = brate - brate[:, [ref]]
    r_lo, r_hi = _quantiles(brate, alpha)
    q_lo, q_hi = _quantiles(bratio, alpha)
    d_lo, d_hi = _quantiles(bdiff, alpha)
    p = np.array([np.nan if g == ref else _two_proportion_p(s[g], n[g], s[ref], n[ref]) for g in range(G)])
    table = pd.DataFrame(
        {
            "group": labels,
            "n": n,
            "events": s,
            "rate": rate,
            "rate_low": r_lo,
            "rate_high": r_hi,
            "is_reference": np.arange(G) == ref,
            "ratio": ratio,
            "ratio_low": q_lo,
            "ratio_high": q_hi,
            "difference": diff,
            "difference_low": d_lo,
            "difference_high": d_hi,
            "p_value": p,
            "p_adjusted": adjust_pvalues(p, correction or "none"),
            "sufficient": n >= min_group_size,
        }
    )
    table.loc[table["is_reference"], ["ratio_low", "ratio_high", "difference_low", "difference_high"]] = np.nan
    return table


def outcome_rates_by_group(
    selected,
    y_true,
    groups,
    *,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int | np.random.Generator = 0,
) -> tuple[pd.DataFrame, dict]:
    """True- and false-positive rates of a targeting rule per group, with bootstrap CIs.

    ``selected`` is the rule's decision, ``y_true`` the outcome it should reach (churn). The
    bootstrap draws the (group x outcome x selected) counts from a multinomial.

    Returns
    -------
    table : pandas.DataFrame
        ``group, n, positives, tpr, tpr_low, tpr_high, fpr, fpr_low, fpr_high``.
    summary : dict
        ``equal_opportunity_difference`` (max - min TPR), ``equalized_odds_difference``
        (larger of the TPR and FPR gaps) and their CIs, as Fairlearn defines them.
    """
    sel = np.asarray(selected).astype(bool).ravel()
    y = np.asarray(y_true).astype(bool).ravel()
    codes, labels = _codes(groups)
    G = len(labels)
    cells = np.zeros((2, 2, G), dtype=np.int64)  # [y, selected, group]
    np.add.at(cells, (y.astype(int), sel.astype(int), codes), 1)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    boot = _multinomial(cells, n_boot, rng)

    def rates(c):
        with np.errstate(divide="ignore", invalid="ignore"):
            tpr = c[..., 1, 1, :] / (c[..., 1, 1, :] + c[..., 1, 0, :])
            fpr = c[..., 0, 1, :] / (c[..., 0, 1, :] + c[..., 0, 0, :])
        return tpr, fpr

    tpr, fpr = rates(cells)
    btpr, bfpr = rates(boot)
    t_lo, t_hi = _quantiles(btpr, alpha)
    f_lo, f_hi = _quantiles(bfpr, alpha)
    table = pd.DataFrame(
        {
            "group": labels, "n": cells.sum(axis=(0, 1)), "positives": cells[1].sum(axis=0),
            "tpr": tpr, "tpr_low": t_lo, "tpr_high": t_hi, "fpr": fpr, "fpr_low": f_lo, "fpr_high": f_hi,
        }
    )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        eo = np.nanmax(tpr) - np.nanmin(tpr)
        eodds = max(eo, np.nanmax(fpr) - np.nanmin(fpr))
        b_eo = np.nanmax(btpr, axis=1) - np.nanmin(btpr, axis=1)
        b_eodds = np.maximum(b_eo, np.nanmax(bfpr, axis=1) - np.nanmin(bfpr, axis=1))
    lo1, hi1 = _quantiles(b_eo, alpha)
    lo2, hi2 = _quantiles(b_eodds, alpha)
    summary = {
        "equal_opportunity_difference": float(eo), "equal_opportunity_low": float(lo1),
        "equal_opportunity_high": float(hi1), "equalized_odds_difference": float(eodds),
        "equalized_odds_low": float(lo2), "equalized_odds_high": float(hi2),
    }
    return table, summary


# ================================================================================================
# Policy
# ================================================================================================
def resolve_policy(
    policy: dict, names: dict[int, str], value_order: list[int] | None = None
) -> dict[str, list[int]]:
    """Segments receiving each action.

    Parameters
    ----------
    policy : dict
        ``{action: spec}``; a spec is ``{"segments": [ids]}``, ``{"names": [names]}``,
        ``{"match": regex}`` (every segment whose name contains a match, :func:`re.search`),
        ``{"top_value": n}``, ``{"bottom_value": n}`` or a plain list of ids.
    names : dict
        Segment id -> name.
    value_order : list of int, optional
        Segment ids from lowest to highest value; defaults to id order.
    """
    ids = sorted(int(i) for i in names)
    order = [int(i) for i in (value_order or ids) if int(i) in ids]
    by_name = {str(v): int(k) for k, v in names.items()}
    out = {}
    for action, spec in (policy or {}).items():
        if isinstance(spec, (list, tuple)):
            spec = {"segments": list(spec)}
        spec = dict(spec or {})
        if "segments" in spec:
            chosen = [int(i) for i in spec["segments"]]
            bad = [i for i in chosen if i not in ids]
            if bad:
                raise ValueError(f"Policy '{action}': segment ids {bad} do not exist (ids: {ids}).")
        elif "names" in spec:
            bad = [nm for nm in spec["names"] if str(nm) not in by_name]
            if bad:
                raise ValueError(f"Policy '{action}': segment names {bad} do not exist ({sorted(by_name)}).")
            chosen = [by_name[str(nm)] for nm in spec["names"]]
        elif "match" in spec:
            try:
                pattern = re.compile(str(spec["match"]))
            except re.error as exc:
                raise ValueError(f"Policy '{action}': match {spec['match']!r} is not a regular expression: {exc}.")
            chosen = [i for i in ids if pattern.search(str(names[i]))]
            if not chosen:
                raise ValueError(f"Policy '{action}': no segment name matches {spec['match']!r} ({sorted(by_name)}).")
        elif "top_value" in spec:
            chosen = order[::-1][: int(spec["top_value"])]
        elif "bottom_value" in spec:
            chosen = order[: int(spec["bottom_value"])]
        else:
            raise ValueError(
                f"Policy '{action}': give segments: [ids], names: [names], match: regex, top_value: n or "
                "bottom_value: n."
            )
        out[str(action)] = sorted(set(chosen))
    return out


def _action_text(action: str) -> str:
    return "the " + action.replace("_", " ")


# ================================================================================================
# Composition
# ================================================================================================
def composition(
    segments,
    groups,
    *,
    segment_names: dict[int, str] | None = None,
    n_boot: int = 1000,
    alpha: float = 0.05,
    min_group_size: int = 30,
    seed: int | np.random.Generator = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Segment x group counts, shares with CIs, representation ratios and generalised balance.

    Returns
    -------
    long : pandas.DataFrame
        One row per (segment, group): ``segment, segment_name, group, n, share, share_low,
        share_high, population_share, representation_ratio, rr_low, rr_high``. ``share`` is the
        group's share of the segment; the representation ratio divides it by the group's share of
        the population.
    balance : pandas.DataFrame
        One row per segment: ``segment, segment_name, balance, least_represented``. The balance
        of a segment (Chierichetti et al. 2017, generalised beyond two groups as in Bera et al.
        2019) is the minimum over groups of ``min(RR, 1/RR)``; groups smaller than
        ``min_group_size`` and ``"unknown"`` are left out of it.
    """
    seg = np.asarray(segments).astype(np.int64)
    codes, labels = _codes(groups)
    seg_ids = np.unique(seg)
    seg_pos = np.searchsorted(seg_ids, seg)
    S, G = len(seg_ids), len(labels)
    table = np.zeros((S, G), dtype=np.int64)
    np.add.at(table, (seg_pos, codes), 1)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    boot = _multinomial(table, n_boot, rng)  # (B, S, G)

    def shares(t):
        with np.errstate(divide="ignore", invalid="ignore"):
            within = t / t.sum(axis=-1, keepdims=True)
            pop = t.sum(axis=-2, keepdims=True) / t.sum(axis=(-2, -1), keepdims=True)
            return within, pop, within / pop

    share, pop, rr = shares(table.astype(float))
    b_share, _, b_rr = shares(boot.astype(float))
    s_lo, s_hi = _quantiles(b_share, alpha)
    rr_lo, rr_hi = _quantiles(b_rr, alpha)
    names = segment_names or {}
    rows = []
    for i, sid in enumerate(seg_ids):
        for g, lab in enumerate(labels):
            rows.append({
                "segment": int(sid), "segment_name": str(names.get(int(sid), f"Segment {sid}")),
                "group": lab, "n": int(table[i, g]), "share": share[i, g], "share_low": s_lo[i, g],
                "share_high": s_hi[i, g], "population_share": pop[0, g], "representation_ratio": rr[i, g],
                "rr_low": rr_lo[i, g], "rr_high": rr_hi[i, g],
            })
    long = pd.DataFrame(rows)
    counted = table.sum(axis=0) >= min_group_size
    eligible = [g for g in range(G) if counted[g] and labels[g] != UNKNOWN]
    bal = []
    for i, sid in enumerate(seg_ids):
        vals = {labels[g]: min(rr[i, g], 1 / rr[i, g]) if rr[i, g] > 0 else 0.0 for g in eligible}
        worst = min(vals, key=vals.get) if vals else None
        bal.append({
            "segment": int(sid), "segment_name": str(names.get(int(sid), f"Segment {sid}")),
            "balance": vals[worst] if worst else np.nan, "least_represented": worst,
        })
    return long, pd.DataFrame(bal)


# ================================================================================================
# Targeting audit: MetricFrame point estimates, bootstrap CIs, DP figures
# ================================================================================================
def _metricframe_rates(selected: np.ndarray, groups: pd.Series) -> pd.Series:
    from fairlearn.metrics import MetricFrame, selection_rate

    mf = MetricFrame(
        metrics=selection_rate, y_true=selected.astype(int), y_pred=selected.astype(int),
        sensitive_features=pd.Series(np.asarray(groups.astype(str)), name="group"),
    )
    return mf.by_group


def selection_audit(
    selected: np.ndarray,
    groups: pd.Series,
    *,
    reference: str | None = "largest",
    n_boot: int = 1000,
    alpha: float = 0.05,
    min_group_size: int = 30,
    seed: int | np.random.Generator = 0,
) -> tuple[pd.DataFrame, dict]:
    """Selection rate per group for one action and attribute, checked against Fairlearn.

    The table is :func:`rate_by_group`'s, with ``rate`` replaced by ``MetricFrame.by_group`` (the
    two agree to rounding; the difference is asserted below 1e-9). The dict holds Fairlearn's
    demographic-parity difference (max - min rate) and ratio (min / max) over all groups, the
    four-fifths check on that ratio, and the CIs of both from the same bootstrap.
    """
    from fairlearn.metrics import demographic_parity_difference, demographic_parity_ratio

    sel = np.asarray(selected).astype(bool)
    table = rate_by_group(
        sel, groups, reference=reference, n_boot=n_boot, alpha=alpha, min_group_size=min_group_size,
        correction=None, seed=seed,
    )
    mf = _metricframe_rates(sel, groups)
    mf_rates = mf.reindex(table["group"]).to_numpy(dtype=float)
    gap = np.nanmax(np.abs(mf_rates - table["rate"].to_numpy()))
    if not gap < 1e-9:
        raise AssertionError(f"selection rates differ from MetricFrame by {gap}")
    table["rate"] = mf_rates
    sf = np.asarray(groups.astype(str))
    dp_diff = float(demographic_parity_difference(sel.astype(int), sel.astype(int), sensitive_features=sf))
    dp_ratio = float(demographic_parity_ratio(sel.astype(int), sel.astype(int), sensitive_features=sf))
    # CIs of the DP figures from a multinomial bootstrap of the (selected, group) counts.
    codes, labels = _codes(groups)
    G = len(labels)
    n = np.bincount(codes, minlength=G)
    s = np.bincount(codes[sel], minlength=G)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    boot = _multinomial(np.stack([s, n - s]), n_boot, rng)
    import warnings

    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        br = boot[:, 0, :] / (boot[:, 0, :] + boot[:, 1, :])
        bd = np.nanmax(br, axis=1) - np.nanmin(br, axis=1)
        bq = np.nanmin(br, axis=1) / np.nanmax(br, axis=1)
    d_lo, d_hi = _quantiles(bd, alpha)
    q_lo, q_hi = _quantiles(bq, alpha)
    summary = {
        "dp_difference": dp_diff, "dp_difference_low": float(d_lo), "dp_difference_high": float(d_hi),
        "dp_ratio": dp_ratio, "dp_ratio_low": float(q_lo), "dp_ratio_high": float(q_hi),
        "four_fifths": bool(dp_ratio >= 0.8),
    }
    return table, summary


# ================================================================================================
# Verdicts
# ================================================================================================
def _group_phrase(attribute: str, group: str, labelled: bool, first: bool = True) -> str:
    if " × " in attribute:
        return f"customers in group '{group}'" + (f" ({attribute})" if first else "")
    if labelled:
        return group
    return f"customers with {attribute} = {group}"


def verdicts(
    comparisons: pd.DataFrame,
    *,
    thresholds: dict,
    min_group_size: int,
    alpha: float,
    correction: str = "holm",
    labelled: set[str] | None = None,
) -> pd.DataFrame:
    """Pass / fail / insufficient evidence per (action, attribute), with one sentence each.

    ``comparisons`` is the long table of :func:`rate_by_group` rows with ``action`` and
    ``attribute`` columns and audit-wide ``p_adjusted``. See the module docstring for the rule.
    """
    lo_t, hi_t = (float(x) for x in thresholds.get("ratio", [0.8, 1.25]))
    d_t = float(thresholds.get("difference", 0.1))
    labelled = labelled or set()
    conf = int(round(100 * (1 - alpha)))
    corr_name = {"holm": "Holm", "bh": "Benjamini–Hochberg"}.get(correction, str(correction))
    rows = []
    for (action, attribute), part in comparisons.groupby(["action", "attribute"], sort=False):
        ref = part.loc[part["is_reference"]].iloc[0]
        is_lab = attribute in labelled
        ref_name = _group_phrase(attribute, ref["group"], is_lab, first=False)
        status = {}
        for _, r in part.loc[~part["is_reference"]].iterrows():
            small = r["n"] < min_group_size or ref["n"] < min_group_size
            if r["group"] == UNKNOWN and r["n"] < min_group_size:
                status[r["group"]] = "ignored"
                continue
            ratio = r["ratio"]
            breach_ratio = bool(np.isfinite(ratio) and not lo_t <= ratio <= hi_t) or (
                not np.isfinite(ratio) and r["rate"] > 0
            )
            breach_diff = bool(abs(r["difference"]) > d_t)
            if small:
                status[r["group"]] = "small"
            elif breach_ratio or breach_diff:
                status[r["group"]] = "fail" if r["p_adjusted"] < alpha else "not significant"
            else:
                status[r["group"]] = "pass"
        act = _action_text(action)
        others = part.loc[~part["is_reference"] & part["group"].map(lambda g: status.get(g) != "ignored")]
        with np.errstate(divide="ignore", invalid="ignore"):
            dist = np.abs(np.log(others["ratio"].astype(float).clip(lower=1e-12))).fillna(0.0)
        if ref["n"] < min_group_size:
            verdict = "insufficient evidence"
            sentence = (
                f"The largest group for {attribute} has fewer than {min_group_size} customers: "
                f"insufficient evidence about {act}."
            )
        elif others.empty:
            verdict = "insufficient evidence"
            sentence = f"Only one group of {attribute} is present: no comparison is possible for {act}."
        else:
            failing = [g for g, st in status.items() if st == "fail"]
            if failing:
                verdict = "fail"
                cand = others.loc[others["group"].isin(failing)]
                worst = cand.loc[dist.loc[cand.index].idxmax()]
            elif any(st in ("small", "not significant") for st in status.values()):
                verdict = "insufficient evidence"
                cand = others.loc[others["group"].map(lambda g: status.get(g) in ("small", "not significant"))]
                worst = cand.iloc[0]
                ns = cand.loc[cand["group"].map(lambda g: status[g] == "not significant")]
                if len(ns):
                    worst = ns.loc[dist.loc[ns.index].idxmax()]
            else:
                verdict = "pass"
                worst = others.loc[dist.idxmax()]
            g_name = _group_phrase(attribute, worst["group"], is_lab)
            g_name = g_name[0].upper() + g_name[1:]
            st = status[worst["group"]]
            if st == "small":
                smalls = [g for g, s_ in status.items() if s_ == "small"]
                who = ", ".join(f"'{g}'" for g in smalls)
                sentence = (
                    f"Groups of {attribute} with fewer than {min_group_size} customers ({who}) "
                    f"cannot be assessed for {act}: insufficient evidence."
                )
            else:
                ci = f"{conf}% CI {_f(worst['ratio_low'])}–{_f(worst['ratio_high'])}"
                shown = _f(worst["ratio"])
                if shown in (f"{lo_t:.2f}", f"{hi_t:.2f}"):  # 1.2502 must not read as "1.25 ... above 1.25"
                    shown = f"{worst['ratio']:.3f}"
                base = (
                    f"{g_name} were selected for {act} at {shown} times the rate of "
                    f"{ref_name} ({ci}; {_pct(worst['rate'])} vs {_pct(ref['rate'])})"
                )
                ratio = worst["ratio"]
                if np.isfinite(ratio) and ratio < lo_t:
                    where = f"below the {lo_t:g} threshold"
                elif np.isfinite(ratio) and ratio > hi_t:
                    where = f"above the {hi_t:g} threshold"
                elif abs(worst["difference"]) > d_t:
                    where = f"a gap of {abs(worst['difference']):.2f}, beyond the {d_t:g} threshold"
                else:
                    where = f"within {lo_t:g}–{hi_t:g}"
                if st == "fail":
                    sentence = f"{base}; {where}: fail."
                elif st == "not significant":
                    sentence = (
                        f"{base}; {where} but not statistically significant after {corr_name} "
                        f"correction (p = {worst['p_adjusted']:.2g}): insufficient evidence."
                    )
                else:
                    sentence = f"{base}, the largest gap by {attribute}; {where}: pass."
        rows.append({
            "action": action, "attribute": attribute, "verdict": verdict, "sentence": sentence,
            "groups": {g: s_ for g, s_ in status.items()},
        })
    return pd.DataFrame(rows)


def _f(x) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.2f}"


def _pct(x) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:.1f}%"


# ================================================================================================
# Proxy detection
# ================================================================================================
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


def _is_categorical(col: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)


def _target_encoder(seed: int, target_type: str = "auto"):
    """Target encoding for high-cardinality categoricals (postcode), cross-fitted with a seeded split."""
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import TargetEncoder

    return TargetEncoder(target_type=target_type, cv=StratifiedKFold(5, shuffle=True, random_state=seed))


def _one_thread():
    """Gradient boosting on small samples: one OpenMP thread. On a busy machine, OpenMP threads
    waiting for each other made a 0.3 s fit take 10 s."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


def _booster(seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=40, learning_rate=0.2, max_leaf_nodes=15, early_stopping=False, random_state=seed
    )


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
    cats = [c for c in X.columns if _is_categorical(X[c])]
    nums = [c for c in X.columns if c not in cats]
    X = X.copy()
    for c in cats:
        X[c] = X[c].astype(object).where(X[c].notna(), "__nan__").astype(str)
    for c in nums:
        X[c] = X[c].astype(float)
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
        ``explain/importance.parquet`` (``segment, feature, mean_abs_shap``); the mean over segments
        is joined to each feature as ``shap_weight``.

    Returns
    -------
    joint : pandas.DataFrame
        Per attribute: cross-validated AUC and balanced accuracy from all candidates, from the
        segment labels alone, and Cramer's V between segment and attribute.
    per_feature : pandas.DataFrame
        Per (attribute, feature): mutual information (nats), bias-corrected Cramer's V, rank by V,
        whether it is a segmentation input, and its SHAP weight.
    """
    rng = np.random.default_rng(seed)
    n = len(groups)
    seg = np.asarray(segments)
    inputs = set(inputs or [])
    shap_weight = None
    if importance is not None and len(importance):
        shap_weight = importance.groupby("feature")["mean_abs_shap"].mean()
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
        y_all = np.asarray(groups[attr].astype(str))
        known = y_all != UNKNOWN
        sub = rows[known[rows]]
        y = y_all[sub]
        joint = _predictability(candidates.iloc[sub].reset_index(drop=True), y, cv, seed)
        seg_pred = _label_predictability(seg_f[sub], y, cv, seed)
        joint_rows.append({
            "attribute": attr, "n_used": len(sub), "features_auc": joint["auc"],
            "features_balanced_accuracy": joint["balanced_accuracy"], "segments_auc": seg_pred["auc"],
            "segments_balanced_accuracy": seg_pred["balanced_accuracy"],
            "segments_cramers_v": cramers_v(seg_f[known], y_all[known]),
        })
        for c in candidates.columns:
            x = disc[c][known]
            feat_rows.append({
                "attribute": attr, "feature": c,
                "mutual_information": _mi_corrected(y_all[known], x),
                "cramers_v": cramers_v(x, y_all[known]),
                "segmentation_input": c in inputs,
                "shap_weight": float(shap_weight.get(c, np.nan)) if shap_weight is not None else np.nan,
            })
    per = pd.DataFrame(feat_rows)
    per = per.sort_values(["attribute", "cramers_v"], ascending=[True, False], kind="stable")
    per["rank"] = per.groupby("attribute").cumcount() + 1
    order = list(groups.columns)
    per["_o"] = per["attribute"].map(order.index)
    per = per.sort_values(["_o", "rank"]).drop(columns="_o").reset_index(drop=True)
    return pd.DataFrame(joint_rows), per


# ================================================================================================
# Mitigation
# ================================================================================================
def _fallback_model(k: int, seed: int):
    from sklearn.cluster import KMeans
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), KMeans(k, n_init=4, random_state=seed))


def _model_space(model, X: pd.DataFrame) -> np.ndarray:
    if hasattr(model, "transform") and hasattr(model, "preprocessor_"):
        return np.asarray(model.transform(X), dtype=float)
    if hasattr(model, "steps"):
        return np.asarray(model[:-1].transform(X.to_numpy(dtype=float)), dtype=float)
    return X.to_numpy(dtype=float)


def _fit_predict(model, X: pd.DataFrame, fit_rows: np.ndarray) -> np.ndarray:
    from sklearn.base import clone

    m = clone(model)
    if hasattr(m, "preprocessor_") or type(m).__name__ == "SegmentationModel":
        m.fit(X.iloc[fit_rows].reset_index(drop=True))
        return m, np.asarray(m.predict(X)).astype(int)
    m.fit(X.iloc[fit_rows].to_numpy(dtype=float))
    return m, np.asarray(m.predict(X.to_numpy(dtype=float))).astype(int)


def _silhouette(Z: np.ndarray, labels: np.ndarray, seed: int, size: int = 3000) -> float:
    from sklearn.metrics import silhouette_score

    if len(np.unique(labels)) < 2:
        return float("nan")
    ok = np.isfinite(Z).all(axis=1)
    Z, labels = Z[ok], labels[ok]
    return float(silhouette_score(Z, labels, sample_size=min(size, len(Z)), random_state=seed))


def _value_order(labels: np.ndarray, value: np.ndarray | None) -> list[int]:
    ids = np.unique(labels)
    if value is None:
        return [int(i) for i in ids]
    means = pd.Series(value).groupby(labels).mean()
    return [int(i) for i in means.sort_values(kind="stable").index]


def mitigate_correlation_remover(
    features: pd.DataFrame,
    groups: pd.DataFrame,
    model,
    *,
    alpha: float = 1.0,
    seed: int = 0,
    max_fit_rows: int = 200000,
) -> tuple[np.ndarray, Any, pd.DataFrame]:
    """Refit the segmentation on inputs from which Fairlearn's ``CorrelationRemover`` took out the
    linear correlation with the sensitive attributes.

    Numeric inputs are decorrelated from the one-hot encoded groups of every attribute (missing
    numbers imputed by the median first); categorical inputs are kept as they are. The model is
    cloned (same settings) and refitted.

    Returns
    -------
    labels : numpy.ndarray
        Segment per customer after mitigation.
    fitted : estimator
        The refitted model.
    X_mitigated : pandas.DataFrame
        The decorrelated inputs.
    """
    from fairlearn.preprocessing import CorrelationRemover

    X = features.reset_index(drop=True)
    nums = [c for c in X.columns if not _is_categorical(X[c])]
    Z = X[nums].astype(float)
    Z = Z.fillna(Z.median())
    S = pd.get_dummies(groups.reset_index(drop=True).astype(str), drop_first=True, dtype=float)
    S.columns = [f"__s{i}" for i in range(S.shape[1])]
    S = S.loc[:, S.std() > 0]
    if S.shape[1]:
        cr = CorrelationRemover(sensitive_feature_ids=list(S.columns), alpha=alpha)
        Zt = cr.fit_transform(pd.concat([Z, S], axis=1))
    else:
        Zt = Z.to_numpy()
    Xm = X.copy()
    for j, c in enumerate(nums):
        Xm[c] = Zt[:, j]
    rng = np.random.default_rng(seed)
    fit_rows = np.sort(rng.choice(len(Xm), max_fit_rows, replace=False)) if len(Xm) > max_fit_rows else np.arange(len(Xm))
    fitted, labels = _fit_predict(model, Xm, fit_rows)
    return labels, fitted, Xm


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

    X = features.reset_index(drop=True).copy()
    cats = [c for c in X.columns if _is_categorical(X[c])]
    for c in cats:
        X[c] = X[c].astype(object).where(X[c].notna(), "__nan__").astype(str)
    for c in X.columns:
        if c not in cats:
            X[c] = X[c].astype(float)
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


# ================================================================================================
# Privacy helpers (small-cell suppression), with a local fallback until workbench.privacy has them
# ================================================================================================
def _suppress_rows(df: pd.DataFrame, count_column: str, k: int) -> pd.DataFrame:
    try:
        from .privacy import suppress_rows
    except ImportError:
        suppress_rows = _fallback_suppress_rows
    return suppress_rows(df, count_column, k)


def _suppress_by(df: pd.DataFrame, by: list[str], count_column: str, k: int) -> pd.DataFrame:
    """:func:`_suppress_rows` within each table of a long frame (complements stay in their table)."""
    parts = [_suppress_rows(part, count_column, k) for _, part in df.groupby(by, sort=False)]
    return pd.concat(parts).loc[df.index] if parts else df


def _suppress_counts(table: pd.DataFrame, k: int) -> pd.DataFrame:
    try:
        from .privacy import suppress_counts
    except ImportError:
        suppress_counts = _fallback_suppress_counts
    return suppress_counts(table, k)


def _fallback_suppress_rows(df: pd.DataFrame, count_column: str, k: int) -> pd.DataFrame:
    out = df.copy()
    small = (out[count_column] > 0) & (out[count_column] < k)
    if small.sum() == 1 and len(out) > 1:
        rest = out.loc[~small, count_column]
        small.loc[rest.idxmin()] = True
    stat_cols = [c for c in out.columns if pd.api.types.is_numeric_dtype(out[c]) and not pd.api.types.is_bool_dtype(out[c])]
    out[stat_cols] = out[stat_cols].astype(float)
    out.loc[small, stat_cols] = np.nan
    return out


def _fallback_suppress_counts(table: pd.DataFrame, k: int) -> pd.DataFrame:
    out = table.astype(float).copy()
    mask = (out > 0) & (out < k)
    for _ in range(10):
        changed = False
        for axis in (0, 1):
            frame = mask if axis == 1 else mask.T
            vals = out if axis == 1 else out.T
            for idx in frame.index:
                if frame.loc[idx].sum() == 1:
                    cand = vals.loc[idx].where(~frame.loc[idx] & (vals.loc[idx] > 0))
                    if cand.notna().any():
                        col = cand.idxmin()
                        if axis == 1:
                            mask.loc[idx, col] = True
                        else:
                            mask.loc[col, idx] = True
                        changed = True
        if not changed:
            break
    return out.mask(mask)


# ================================================================================================
# The stage
# ================================================================================================
@dataclass
class FairnessAudit:
    """Everything :func:`fairness_run` found; tables are already small-cell suppressed."""

    applicable: bool
    reason: str = ""
    attributes: list[str] = field(default_factory=list)
    coverage: pd.DataFrame | None = None
    policy: pd.DataFrame | None = None
    verdicts: pd.DataFrame | None = None
    selection: pd.DataFrame | None = None
    dp: pd.DataFrame | None = None
    outcome: pd.DataFrame | None = None
    outcome_summary: pd.DataFrame | None = None
    composition: pd.DataFrame | None = None
    counts: dict[str, pd.DataFrame] = field(default_factory=dict)
    balance: pd.DataFrame | None = None
    proxy_joint: pd.DataFrame | None = None
    proxies: pd.DataFrame | None = None
    shap_note: str = ""
    mitigation: pd.DataFrame | None = None
    mitigation_note: str = ""
    threshold: pd.DataFrame | None = None
    threshold_note: str = ""
    headline: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    given: dict | None = None  # audit of given segments (labels): source, insufficient-evidence segments


def _customer_value(features: pd.DataFrame, customers: pd.DataFrame, roles, column: str | None) -> tuple[np.ndarray | None, str | None]:
    if column:
        src = features if column in features.columns else customers
        return pd.to_numeric(src[column], errors="coerce").to_numpy(dtype=float), column
    if "monetary" in features.columns:
        return features["monetary"].to_numpy(dtype=float), "monetary"
    for c in (roles.features or {}).get("value", []):
        if c in customers.columns:
            return pd.to_numeric(customers[c], errors="coerce").to_numpy(dtype=float), c
    return None, None


@register_stage("fairness/verdicts.parquet")
def fairness_run(run: Run) -> FairnessAudit:
    """Audit the run's segments and targeting policy; write ``artifacts/fairness/`` and the summary.

    Artifacts: ``verdicts.parquet`` (action, attribute, verdict, sentence), ``selection.parquet``,
    ``dp.parquet``, ``composition.parquet``, ``balance.parquet``, ``proxies.parquet``,
    ``proxy_joint.parquet``, ``mitigation.parquet`` and, with an outcome, ``outcome.parquet`` and
    ``threshold_optimizer.parquet``. Summary ``04_fairness``: ``verdicts``, ``headline`` and key
    figures.
    """
    import warnings

    settings = run.settings("fairness", DEFAULTS)
    # A configured policy replaces the default one (merging would keep the default actions).
    configured = (run.config.get("fairness") or {}).get("policy")
    if configured is not None:
        settings["policy"] = configured
    roles = run.roles
    k_supp = int(run.read_json("data/prepare.json").get("suppression_k", 10))
    attributes = [a for a in (settings["sensitive"] or roles.sensitive)]
    customers_all = run.customers()
    attributes = [a for a in attributes if a in customers_all.columns]
    if not attributes:
        audit = FairnessAudit(
            applicable=False,
            reason="the dataset declares no sensitive attribute (no gender, age, ethnicity or similar "
            "column), so there is no group to compare",
        )
        for name in ("verdicts",):
            run.write_table(f"fairness/{name}.parquet", pd.DataFrame(columns=["action", "attribute", "verdict", "sentence"]))
        run.summarise("04_fairness", applicable=False, verdicts=[], headline=[
            f"Fairness audit not applicable: {audit.reason}."
        ])
        return audit

    seed = run.seed
    n_boot = int(settings["n_boot"])
    alpha = float(settings["alpha"])
    min_n = int(settings["min_group_size"])
    correction = settings["correction"]
    assignments = run.read_table("segments/assignments.parquet")
    seginfo_path = run.path / "artifacts" / "segments" / "segments.json"
    seginfo = run.read_json("artifacts/segments/segments.json") if seginfo_path.exists() else {}
    features = run.read_table("segments/features.parquet")
    df = assignments[["customer_id", "segment"]].merge(customers_all, on="customer_id", how="left")
    feats = df[["customer_id"]].merge(features, on="customer_id", how="left").drop(columns="customer_id")
    segs = df["segment"].to_numpy().astype(int)
    names = {int(k): str(v) for k, v in (seginfo.get("names") or {}).items()}
    if not names:
        names = dict(zip(assignments["segment"].astype(int), assignments["segment_name"].astype(str)))
    for sid in np.unique(segs):
        names.setdefault(int(sid), f"Segment {sid}")
    value_col = settings.get("value_column") or seginfo.get("value_feature")
    value, value_name = _customer_value(feats, df, roles, value_col)
    value_order = seginfo.get("value_order")
    order_source = "segments.json value_order"
    if not value_order:
        value_order = _value_order(segs, value)
        order_source = f"mean {value_name} per segment" if value is not None else "segment id (no value measure)"
    actions = resolve_policy(settings["policy"], names, value_order)
    selections = {a: np.isin(segs, ids) for a, ids in actions.items()}
    groups = sensitive_groups(df, attributes, settings)
    audited = list(groups.columns)
    labelled = {a for a in attributes if (settings.get("labels") or {}).get(a)}
    refs = settings["reference"]

    def ref_of(attr):
        if isinstance(refs, dict):
            r = refs.get(attr, "largest")
            lab = (settings.get("labels") or {}).get(attr) or {}
            return {str(k): str(v) for k, v in lab.items()}.get(str(r), str(r)) if r != "largest" else r
        return refs

    audit = FairnessAudit(applicable=True, attributes=audited)
    n_total = len(df)
    audit.coverage = pd.DataFrame([
        {"attribute": a, "groups": int(groups[a].nunique()),
         "known": int((groups[a] != UNKNOWN).sum()), "unknown": int((groups[a] == UNKNOWN).sum()),
         "coverage": float((groups[a] != UNKNOWN).mean())}
        for a in audited
    ])
    # A handful of unknowns is itself a small cell: show "fewer than k" instead of the count.
    small_unknown = audit.coverage["unknown"].between(1, k_supp - 1)
    if small_unknown.any():
        audit.coverage["unknown"] = audit.coverage["unknown"].astype(object)
        audit.coverage.loc[small_unknown, "unknown"] = f"<{k_supp}"
        audit.coverage["known"] = audit.coverage["known"].astype(object)
        audit.coverage.loc[small_unknown, "known"] = "suppressed"
    audit.policy = pd.DataFrame([
        {"action": a, "segments": ", ".join(names[i] for i in ids), "segment_ids": ids,
         "customers_selected_share": float(selections[a].mean()), "chosen_by": _spec_text(settings["policy"][a], order_source)}
        for a, ids in actions.items()
    ])

    # -- composition ---------------------------------------------------------------------------------
    comp_parts, bal_parts = [], []
    for i, attr in enumerate(audited):
        long, bal = composition(segs, groups[attr], segment_names=names, n_boot=n_boot, alpha=alpha,
                                min_group_size=min_n, seed=np.random.default_rng([seed, 1, i]))
        comp_parts.append(long.assign(attribute=attr))
        bal_parts.append(bal.assign(attribute=attr))
        counts = long.pivot(index="segment_name", columns="group", values="n")
        counts = counts[[c for c in groups[attr].cat.categories if c in counts.columns]]
        audit.counts[attr] = _suppress_counts(counts, k_supp)
    comp = pd.concat(comp_parts, ignore_index=True)
    comp = comp[["attribute", *[c for c in comp.columns if c != "attribute"]]]
    audit.composition = _suppress_by(comp, ["attribute", "segment"], "n", k_supp)
    audit.balance = pd.concat(bal_parts, ignore_index=True)[["attribute", "segment", "segment_name", "balance", "least_represented"]]
    given = seginfo.get("audit") if seginfo.get("method") == "external labels" else None
    if given is not None:
        small = [int(j) for j in given.get("insufficient_evidence") or []]
        min_seg = int(given.get("min_segment_size") or min_n)
        audit.given = {"source": given.get("source"), "insufficient_evidence": small, "min_segment_size": min_seg,
                       "unlabelled_segment": given.get("unlabelled_segment")}
        weak = audit.balance["segment"].astype(int).isin(small)
        audit.balance["evidence"] = np.where(weak, f"insufficient evidence (fewer than {min_seg} customers)", "sufficient")
        audit.balance.loc[weak, ["balance", "least_represented"]] = [np.nan, None]

    # -- targeting -----------------------------------------------------------------------------------
    sel_parts, dp_rows = [], []
    for a_i, (action, selected) in enumerate(selections.items()):
        for j, attr in enumerate(audited):
            table, dp = selection_audit(
                selected, groups[attr], reference=ref_of(attr), n_boot=n_boot, alpha=alpha,
                min_group_size=min_n, seed=np.random.default_rng([seed, 2, a_i, j]),
            )
            sel_parts.append(table.assign(action=action, attribute=attr))
            dp_rows.append({"action": action, "attribute": attr, **dp})
    selection = pd.concat(sel_parts, ignore_index=True)
    selection["p_adjusted"] = adjust_pvalues(selection["p_value"].to_numpy(), correction)
    selection = selection[["action", "attribute", *[c for c in selection.columns if c not in ("action", "attribute")]]]
    verdict_table = verdicts(selection, thresholds=settings["thresholds"], min_group_size=min_n, alpha=alpha,
                             correction=correction, labelled=labelled)
    audit.verdicts = verdict_table
    audit.selection = _suppress_by(selection, ["action", "attribute"], "n", k_supp)
    audit.dp = pd.DataFrame(dp_rows)

    # -- outcome-based metrics ---------------------------------------------------------------------------
    outcome_col = roles.outcome if roles.outcome and roles.outcome in df.columns else None
    if outcome_col:
        y = pd.to_numeric(df[outcome_col], errors="coerce")
        ok = y.notna().to_numpy()
        out_parts, out_sum = [], []
        for a_i, (action, selected) in enumerate(selections.items()):
            for j, attr in enumerate(audited):
                tab, summ = outcome_rates_by_group(
                    selected[ok], y[ok].to_numpy(), groups[attr][ok].reset_index(drop=True), n_boot=n_boot,
                    alpha=alpha, seed=np.random.default_rng([seed, 3, a_i, j]),
                )
                out_parts.append(tab.assign(action=action, attribute=attr))
                out_sum.append({"action": action, "attribute": attr, **summ})
        outcome = pd.concat(out_parts, ignore_index=True)
        audit.outcome = _suppress_by(outcome[["action", "attribute", *tab.columns]], ["action", "attribute"], "n", k_supp)
        audit.outcome_summary = pd.DataFrame(out_sum)

    # -- proxies ----------------------------------------------------------------------------------------
    p_set = settings["proxy"]
    sensitive_all = set(roles.sensitive) | set(attributes)
    inputs = [c for c in (seginfo.get("inputs") or list(feats.columns)) if c in feats.columns]
    cand = feats[[c for c in feats.columns if c not in sensitive_all]].copy()
    for c in roles.feature_columns:
        if c not in cand.columns and c not in sensitive_all and c in df.columns:
            cand[c] = df[c].to_numpy()
    importance = None
    if not p_set.get("shap", True):
        audit.shap_note = "SHAP weights were not requested (fairness.proxy.shap: false)."
    else:
        importance, audit.shap_note = _read_importance(run)
    joint, per = proxy_scan(
        cand, groups[attributes], segs, inputs=inputs, importance=importance, bins=int(p_set["bins"]),
        cv=int(p_set["cv"]), max_rows=int(p_set["max_rows"]), seed=seed,
    )
    audit.proxy_joint = joint
    audit.proxies = per

    # -- mitigation -------------------------------------------------------------------------------------
    m_set = settings["mitigation"]
    if roles.segment:
        audit.mitigation_note = (
            "the segments are given labels (an existing segmentation), not a fitted model, so there is no "
            "segmentation to refit on decorrelated inputs"
        )
    elif m_set.get("correlation_remover", True):
        with _one_thread():
            audit.mitigation, audit.mitigation_note = _mitigation_a(
                run, feats[inputs] if inputs else feats, groups, attributes, segs, selections, actions,
                settings, value, names, order_source, seed,
            )
    if outcome_col and m_set.get("threshold_optimizer", True):
        ok = pd.to_numeric(df[outcome_col], errors="coerce").notna().to_numpy()
        parts = []
        for attr in attributes:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parts.append(mitigate_threshold_optimizer(
                    feats.loc[ok, inputs] if inputs else feats.loc[ok],
                    df.loc[ok, outcome_col].to_numpy(), groups.loc[ok, attr].rename(attr),
                    {a: s[ok] for a, s in selections.items()}, constraints=m_set["constraints"],
                    objective=m_set["objective"], seed=seed,
                ))
        audit.threshold = pd.concat(parts, ignore_index=True)
        audit.threshold_note = (
            f"Outcome '{outcome_col}'. The outcome model (gradient boosting on the segmentation inputs) "
            "learns on 40% of the customers, ThresholdOptimizer chooses its per-group thresholds on 30%, "
            "and every rule is evaluated on the remaining 30%."
        )
    elif not outcome_col:
        audit.threshold_note = "the dataset has no outcome column (such as churn), so no rule can be judged by who it should reach"

    # -- artifacts and summary --------------------------------------------------------------------------
    verdict_out = verdict_table[["action", "attribute", "verdict", "sentence"]]
    run.write_table("fairness/verdicts.parquet", verdict_out)
    run.write_table("fairness/selection.parquet", _plain(audit.selection))
    run.write_table("fairness/dp.parquet", audit.dp)
    run.write_table("fairness/composition.parquet", _plain(audit.composition))
    run.write_table("fairness/balance.parquet", _plain(audit.balance))
    run.write_table("fairness/proxies.parquet", audit.proxies)
    run.write_table("fairness/proxy_joint.parquet", audit.proxy_joint)
    if audit.mitigation is not None:
        run.write_table("fairness/mitigation.parquet", audit.mitigation)
    if audit.outcome is not None:
        run.write_table("fairness/outcome.parquet", _plain(audit.outcome))
        run.write_table("fairness/outcome_summary.parquet", audit.outcome_summary)
    if audit.threshold is not None:
        run.write_table("fairness/threshold_optimizer.parquet", audit.threshold)

    n_fail = int((verdict_out["verdict"] == "fail").sum())
    n_ins = int((verdict_out["verdict"] == "insufficient evidence").sum())
    heads = [
        f"Fairness: {n_fail} of {len(verdict_out)} (action, attribute) verdicts fail, {n_ins} insufficient evidence "
        f"(policy: " + "; ".join(f"{a} -> {', '.join(names[i] for i in ids)}" for a, ids in actions.items()) + ")."
    ]
    if audit.given is not None:
        heads[0] = (f"Fairness of the given segments (labels from {audit.given['source']}): {n_fail} of "
                    f"{len(verdict_out)} (action, attribute) verdicts fail, {n_ins} insufficient evidence (policy: "
                    + "; ".join(f"{a} -> {len(ids)} segment(s) ({_spec_text(settings['policy'][a], order_source)})"
                                for a, ids in actions.items()) + ").")
        if audit.given["insufficient_evidence"]:
            heads.append(f"{len(audit.given['insufficient_evidence'])} given segment(s) below "
                         f"{audit.given['min_segment_size']} customers: composition is insufficient evidence there.")
    top = {}
    for attr in attributes:
        sub = per.loc[per["attribute"] == attr]
        if len(sub):
            r = sub.iloc[0]
            jr = joint.loc[joint["attribute"] == attr].iloc[0]
            top[attr] = {"feature": r["feature"], "cramers_v": r["cramers_v"], "features_auc": jr["features_auc"],
                         "segments_auc": jr["segments_auc"]}
            used = sub.loc[sub["segmentation_input"]]
            extra = ""
            if not r["segmentation_input"]:
                extra = ", not a segmentation input"
                if len(used):
                    u = used.iloc[0]
                    shap = "" if not np.isfinite(u["shap_weight"]) else f", SHAP weight {u['shap_weight']:.2f}"
                    extra += f"; strongest among the inputs: {u['feature']} ({u['cramers_v']:.2f}{shap})"
                    top[attr]["strongest_input"] = u["feature"]
            tail = (f"all features predict {attr} with AUC {jr['features_auc']:.2f}, segment labels alone "
                    f"{jr['segments_auc']:.2f}.")
            if r["cramers_v"] >= 0.1:
                heads.append(f"Strongest proxy for {attr}: {r['feature']} (Cramér's V {r['cramers_v']:.2f}"
                             f"{extra}); {tail}")
            else:
                heads.append(f"No notable proxy for {attr}: the strongest, {r['feature']}, has Cramér's V "
                             f"{r['cramers_v']:.2f}; {tail}")
    audit.headline = heads
    run.summarise(
        "04_fairness",
        applicable=True,
        verdicts=verdict_out.to_dict(orient="records"),
        headline=heads,
        policy={a: [names[i] for i in ids] for a, ids in actions.items()},
        **({"given_segments": {"source": audit.given["source"],
                               "insufficient_evidence": [names[j] for j in audit.given["insufficient_evidence"]]}}
           if audit.given is not None else {}),
        dp={f"{r['action']} / {r['attribute']}": {"difference": r["dp_difference"], "ratio": r["dp_ratio"]}
            for r in dp_rows},
        top_proxies=top,
    )
    return audit


def _read_importance(run: Run) -> tuple[pd.DataFrame | None, str]:
    """SHAP importance from notebook 03, or None with a note saying why it is missing."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            importance = pd.read_parquet(run.require("explain/importance.parquet"))
        if not {"feature", "mean_abs_shap"} <= set(importance.columns):
            return None, "SHAP weights are not available (explain/importance.parquet lacks feature, mean_abs_shap)."
        return importance, (
            "SHAP weight: mean |SHAP| of the feature in segment membership, averaged over segments (notebook 03)."
        )
    except Exception as exc:  # the explanation stage may be missing or failing: show the list without it
        return None, (
            "SHAP weights are not available (explain/importance.parquet could not be produced: "
            f"{type(exc).__name__}: {str(exc)[:120]}); the proxy list is shown without them."
        )


def _spec_text(spec, order_source: str) -> str:
    if isinstance(spec, (list, tuple)):
        return "segment ids"
    if "top_value" in spec:
        return f"top {spec['top_value']} by value ({order_source})"
    if "bottom_value" in spec:
        return f"bottom {spec['bottom_value']} by value ({order_source})"
    if "match" in spec:
        return f"segment names matching {spec['match']!r}"
    return "segment names" if "names" in spec else "segment ids"


def _plain(df: pd.DataFrame | None) -> pd.DataFrame | None:
    """Parquet-safe copy (object columns of dicts or lists as strings)."""
    if df is None:
        return None
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object and out[c].map(lambda v: isinstance(v, (dict, list))).any():
            out[c] = out[c].map(str)
    return out


def _mitigation_a(run, X, groups, attributes, segs, selections, actions, settings, value, names, order_source, seed):
    """Disparity and cost of the segmentation before and after CorrelationRemover."""
    import joblib

    m_set = settings["mitigation"]
    model, note = None, ""
    try:
        path = run.artifact("segments/model.joblib")
        if path.exists():
            model = joblib.load(path)
    except Exception:  # an unreadable model falls back below
        model = None
    if model is None:
        k = len(np.unique(segs))
        model = _fallback_model(k, seed)
        note = (f"segments/model.joblib is not available: a k-means with k={k} on standardised inputs "
                "stands in for the segmentation model. ")
        X = X[[c for c in X.columns if not _is_categorical(X[c])]]
    labels, fitted, Xm = mitigate_correlation_remover(
        X, groups[attributes], model, alpha=float(m_set["alpha"]), seed=seed, max_fit_rows=int(m_set["max_fit_rows"])
    )
    # Actions on the new segments: value ranks are recomputed; id/name policies follow the old segment
    # that shares most customers with each new one.
    new_order = _value_order(labels, value)
    new_names = {int(i): f"Segment {i}" for i in np.unique(labels)}
    overlap = pd.crosstab(labels, segs)
    match = {int(i): int(overlap.loc[i].idxmax()) for i in overlap.index}
    new_actions = {}
    for action, spec in settings["policy"].items():
        if isinstance(spec, dict) and ("top_value" in spec or "bottom_value" in spec):
            new_actions[action] = resolve_policy({action: spec}, new_names, new_order)[action]
        else:
            new_actions[action] = [i for i, old in match.items() if old in actions[action]]
    # Model space of each segmentation, for silhouette.
    try:
        Z0 = _model_space(_loaded_or_refit(run, model, X, segs, seed), X)
    except Exception:
        Z0 = None
    Z1 = _model_space(fitted, Xm)
    sil0 = _silhouette(Z0, segs, seed) if Z0 is not None else np.nan
    sil1 = _silhouette(Z1, labels, seed)
    total_value = np.nansum(value) if value is not None else np.nan
    rows = []
    for variant, lab, acts, sil in (("as segmented", segs, actions, sil0),
                                    ("after CorrelationRemover", labels, new_actions, sil1)):
        for action in acts:
            sel = np.isin(lab, acts[action])
            for attr in groups.columns:
                t = rate_by_group(sel, groups[attr], n_boot=0, min_group_size=int(settings["min_group_size"]))
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
    note += (
        f"CorrelationRemover (alpha={m_set['alpha']}) removed the linear correlation of the numeric inputs with "
        f"{', '.join(attributes)}; the segmentation was refitted with the same settings. It equalises each "
        "input's mean across groups, not its whole distribution: where a segment is defined by the tail (the "
        "highest spenders), membership may barely change. Value share: the share of total customer value "
        "held by the customers an action reaches. Silhouette is measured in each segmentation's own model "
        "space (sample of 3,000)."
    )
    return pd.DataFrame(rows), note


def _loaded_or_refit(run, model, X, segs, seed):
    """The fitted original model when it can transform ``X``; otherwise refit it (fallback model)."""
    if hasattr(model, "preprocessor_"):
        return model
    try:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(model)
        return model
    except Exception:
        m = __import__("sklearn.base", fromlist=["clone"]).clone(model)
        return m.fit(X.to_numpy(dtype=float))


# ================================================================================================
# Plots (matplotlib)
# ================================================================================================
def plot_selection_rates(audit: FairnessAudit, action: str, ax=None):
    """Selection rate per group with its CI, one panel per attribute, for one action."""
    import matplotlib.pyplot as plt

    sub = audit.selection.loc[audit.selection["action"] == action]
    attrs = list(dict.fromkeys(sub["attribute"]))
    fig, axes = plt.subplots(1, len(attrs), figsize=(3.6 * len(attrs), 3.2), squeeze=False, sharey=True)
    for ax_, attr in zip(axes[0], attrs):
        t = sub.loc[sub["attribute"] == attr]
        isref = (t["is_reference"] == True).to_numpy()  # noqa: E712 (suppressed rows hold None)
        x = np.arange(len(t))
        rate = t["rate"].to_numpy(dtype=float)
        err = np.vstack([rate - t["rate_low"].to_numpy(dtype=float), t["rate_high"].to_numpy(dtype=float) - rate])
        colors = ["#555" if r else "#3b6ea8" for r in isref]
        ax_.bar(x, rate, color=colors, alpha=0.8)
        ax_.errorbar(x, rate, yerr=np.nan_to_num(err), fmt="none", ecolor="black", capsize=3)
        ref = t.loc[isref, "rate"]
        if len(ref) and np.isfinite(ref.iloc[0]):
            ax_.axhline(0.8 * ref.iloc[0], color="#b00020", lw=0.8, ls="--")
        ax_.set_xticks(x, t["group"], rotation=45, ha="right", fontsize=8)
        ax_.set_title(attr, fontsize=10)
    axes[0][0].set_ylabel(f"selected for {action.replace('_', ' ')}")
    fig.suptitle("Selection rate by group (grey: reference; dashed: 0.8 x reference)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_representation(audit: FairnessAudit, attribute: str):
    """Heat map of representation ratios (group share in segment / in population)."""
    import matplotlib.pyplot as plt

    t = audit.composition.loc[audit.composition["attribute"] == attribute]
    piv = t.pivot(index="segment_name", columns="group", values="representation_ratio")
    piv = piv[[c for c in dict.fromkeys(t["group"]) if c in piv.columns]]
    short = lambda s, n: s if len(s) <= n else s[: n - 1] + "…"  # noqa: E731
    rows = [short(str(i), 40) for i in piv.index]
    cols = [short(str(c), 30) for c in piv.columns]
    vals = piv.to_numpy(dtype=float)
    width = 3.0 + 0.065 * max(len(r) for r in rows) + 0.75 * len(cols)
    fig, ax = plt.subplots(figsize=(min(width, 14), 1.6 + 0.42 * len(rows)))
    with np.errstate(divide="ignore", invalid="ignore"):
        im = ax.imshow(np.log2(vals), cmap="RdBu", vmin=-1.5, vmax=1.5, aspect="auto")
    for (i, j), v in np.ndenumerate(vals):
        dark = np.isfinite(v) and (v <= 0 or abs(np.log2(v)) > 1)
        ax.text(j, i, "–" if not np.isfinite(v) else f"{v:.2f}", ha="center", va="center", fontsize=8,
                color="white" if dark else "black")
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set_title(f"Representation ratio by {attribute} (1 = as in the population)", fontsize=10)
    fig.colorbar(im, ax=ax, label="log2 ratio", fraction=0.04, pad=0.02)
    fig.tight_layout()
    return fig


def plot_proxies(audit: FairnessAudit, top: int = 8):
    """Bias-corrected Cramer's V of the strongest proxies per attribute."""
    import matplotlib.pyplot as plt

    attrs = list(dict.fromkeys(audit.proxies["attribute"]))
    fig, axes = plt.subplots(1, len(attrs), figsize=(3.8 * len(attrs), 3.2), squeeze=False)
    for ax, attr in zip(axes[0], attrs):
        t = audit.proxies.loc[audit.proxies["attribute"] == attr].head(top)[::-1]
        ax.barh(t["feature"], t["cramers_v"], color=["#b00020" if s else "#3b6ea8" for s in t["segmentation_input"]])
        ax.set_xlim(0, 1)
        ax.set_title(f"proxies for {attr}", fontsize=10)
        ax.tick_params(labelsize=8)
    fig.suptitle("Cramér's V with the attribute (red: segmentation input)", fontsize=10)
    fig.tight_layout()
    return fig


# ================================================================================================
# Report views (what notebook 04 shows)
# ================================================================================================
_VERDICT_MARK = {"pass": "✅ pass", "fail": "❌ fail", "insufficient evidence": "⚠️ insufficient evidence"}


def verdict_markdown(audit: FairnessAudit) -> str:
    """The verdicts as a Markdown table: action, attribute, verdict, the plain-language sentence."""
    rows = ["| action | attribute | verdict | why |", "|---|---|---|---|"]
    for r in audit.verdicts.itertuples():
        rows.append(f"| {r.action.replace('_', ' ')} | {r.attribute} | {_VERDICT_MARK.get(r.verdict, r.verdict)} | {r.sentence} |")
    return "\n".join(rows)


def given_markdown(audit: FairnessAudit) -> str | None:
    """Audit of given segments: where they come from, the policy over their labels, and which are too
    small to judge (Markdown); None for segments learned in this run."""
    if audit.given is None or not audit.applicable:
        return None
    g = audit.given
    text = (f"**Audit of given segments.** The segments were given as labels ({g['source']}), not fitted here; "
            "the targeting policy names those labels: ")
    text += "; ".join(f"{r.action.replace('_', ' ')} \u2192 {len(r.segment_ids)} segment(s), chosen by {r.chosen_by}"
                      for r in audit.policy.itertuples()) + "."
    small = g.get("insufficient_evidence") or []
    if small:
        names = dict(zip(audit.balance["segment"].astype(int), audit.balance["segment_name"]))
        text += (f" {len(small)} segment(s) have fewer than {g['min_segment_size']} customers and are "
                 "insufficient evidence: their composition is shown (small cells suppressed) but their balance is "
                 "not judged (" + "; ".join(str(names.get(j, j)) for j in small) + ").")
    if g.get("unlabelled_segment") is not None:
        text += " Customers without a label are audited as the segment \u201cunlabelled\u201d."
    return text


def verdict_text(audit: FairnessAudit) -> str:
    """One deterministic line per verdict (for nbval)."""
    if not audit.applicable:
        return "not applicable"
    return "\n".join(f"{r.action} / {r.attribute}: {r.verdict}" for r in audit.verdicts.itertuples())


def _ci(x, lo, hi, digits=2, pct=False) -> str:
    if x is None or not np.isfinite(x):
        return "–"
    f = (lambda v: f"{100 * v:.1f}%") if pct else (lambda v: f"{v:.{digits}f}")
    if lo is None or not np.isfinite(lo) or not np.isfinite(hi):
        return f(x)
    return f"{f(x)} ({f(lo)}–{f(hi)})"


def selection_view(audit: FairnessAudit, action: str) -> pd.DataFrame:
    """Selection rate per group with CIs, ratio to the reference, corrected p-value, status."""
    t = audit.selection.loc[audit.selection["action"] == action]
    status = {}
    for r in audit.verdicts.loc[audit.verdicts["action"] == action].itertuples():
        for g, st in r.groups.items():
            status[(r.attribute, g)] = st
    rows = []
    for r in t.itertuples():
        is_ref = r.is_reference == True  # noqa: E712 (suppressed rows hold None)
        rows.append({
            "attribute": r.attribute, "group": r.group,
            "customers": "suppressed" if not np.isfinite(r.n) else int(r.n),
            "selection rate (CI)": _ci(r.rate, r.rate_low, r.rate_high, pct=True),
            "ratio to reference (CI)": "reference" if is_ref else _ci(r.ratio, r.ratio_low, r.ratio_high),
            "p (corrected)": "" if is_ref or not np.isfinite(r.p_adjusted) else f"{r.p_adjusted:.2g}",
            "status": "" if is_ref else status.get((r.attribute, r.group), ""),
        })
    return pd.DataFrame(rows).set_index(["attribute", "group"])


def dp_view(audit: FairnessAudit) -> pd.DataFrame:
    """Fairlearn's demographic-parity difference and ratio per (action, attribute), with CIs."""
    d = audit.dp
    return pd.DataFrame({
        "action": d["action"], "attribute": d["attribute"],
        "DP difference (CI)": [_ci(*v) for v in zip(d["dp_difference"], d["dp_difference_low"], d["dp_difference_high"])],
        "DP ratio (CI)": [_ci(*v) for v in zip(d["dp_ratio"], d["dp_ratio_low"], d["dp_ratio_high"])],
        "four-fifths rule": np.where(d["four_fifths"], "met", "not met"),
    }).set_index(["action", "attribute"])


def outcome_view(audit: FairnessAudit) -> pd.DataFrame:
    """Equal-opportunity and equalized-odds differences of each targeting rule, with CIs."""
    d = audit.outcome_summary
    return pd.DataFrame({
        "action": d["action"], "attribute": d["attribute"],
        "equal opportunity difference (CI)": [_ci(*v) for v in zip(
            d["equal_opportunity_difference"], d["equal_opportunity_low"], d["equal_opportunity_high"])],
        "equalized odds difference (CI)": [_ci(*v) for v in zip(
            d["equalized_odds_difference"], d["equalized_odds_low"], d["equalized_odds_high"])],
    }).set_index(["action", "attribute"])


def proxy_view(audit: FairnessAudit, top: int = 6) -> pd.DataFrame:
    """The ranked proxy list per attribute with each feature's SHAP weight."""
    t = audit.proxies.groupby("attribute", sort=False).head(top)
    out = t[["attribute", "rank", "feature", "cramers_v", "mutual_information", "segmentation_input", "shap_weight"]].copy()
    out.columns = ["attribute", "rank", "feature", "Cramér's V", "mutual information (nats)", "segmentation input", "SHAP weight"]
    if out["SHAP weight"].isna().all():
        out = out.drop(columns="SHAP weight")
    return out.set_index(["attribute", "rank"]).round(3)


def mitigation_view(audit: FairnessAudit) -> pd.DataFrame:
    """Disparity and cost before and after CorrelationRemover, side by side."""
    m = audit.mitigation
    piv = m.pivot_table(index=["action", "attribute"], columns="variant",
                        values=["worst_ratio", "dp_difference"], sort=False)
    piv.columns = [f"{a.replace('_', ' ')}: {b}" for a, b in piv.columns]
    cost = m.groupby("variant", sort=False)[["silhouette"]].first().T
    return piv.round(3), cost.round(3), m.groupby(["variant", "action"], sort=False)[["selected_share", "value_share"]].first().round(3)
