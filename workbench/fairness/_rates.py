"""Rates of a yes/no event by group: intervals, comparison with a reference, p-values against the band."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..engine import crosstab
from ._bootstrap import _generator, _multinomial, _quantiles
from ._groups import _codes, _is_unknown
from ._intervals import band_pvalue, difference_interval, ratio_interval, wilson_interval

#: The policy band a comparison is tested against when none is given: the fairness stage's default.
DEFAULT_BAND = {"ratio": [0.8, 1.25], "difference": 0.1}
#: Reference rules that choose the comparison group by its rate (so every pair could have been compared).
BY_RATE = (None, "most favoured", "most_favoured")


def adjust_pvalues(p: np.ndarray, method: str = "holm", family: int | None = None) -> np.ndarray:
    """Correct p-values for multiple comparisons: ``"holm"`` (family-wise) or ``"bh"`` (FDR).

    NaN p-values are left as NaN and do not count as comparisons. ``family`` (at least the number of
    p-values) is the size of the family they were drawn from when only some of its comparisons are
    examined: Holm's step ``j`` then multiplies by ``family - j + 1``. Examining only the comparisons
    with a group chosen for its rate, among all ``G (G - 1) / 2`` pairs, keeps the family-wise error
    rate: the first true null hypothesis rejected has at most ``j - 1`` false ones before it, so its
    multiplier is at least the number of true nulls among all pairs (Holm's argument).
    """
    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if m == 0:
        return out
    big_m = max(m, int(family or 0))
    order = ok[np.argsort(p[ok], kind="stable")]
    ranked = p[order]
    if method == "holm":
        adj = np.maximum.accumulate((big_m - np.arange(m)) * ranked)
    elif method in ("bh", "fdr_bh", "benjamini-hochberg"):
        adj = np.minimum.accumulate((big_m / np.arange(m, 0, -1)) * ranked[::-1])[::-1]
    elif method in (None, "none"):
        adj = ranked
    else:
        raise ValueError(f"Unknown correction '{method}': use 'holm' or 'bh'.")
    out[order] = np.minimum(adj, 1.0)
    return out


def family_size(compared: int, reference_by_rate: bool) -> int:
    """Comparisons a verdict is corrected over: ``compared`` against a fixed comparison group, or every
    pair of the ``compared + 1`` groups when the comparison group was chosen for its rate."""
    return compared * (compared + 1) // 2 if reference_by_rate else compared


def reference_for(reference: str | dict | None, attr: str, labels: dict | None = None) -> str:
    """The comparison-group setting (``fairness.reference``) for ``attr``: a rule (``"most favoured"``,
    ``"largest"``) or a named group, given by its value or display label (``labels[attr]`` maps values
    to labels; groups carry labels when they are given)."""
    if not isinstance(reference, dict):
        return "most favoured" if reference is None else reference
    rule = str(reference.get(attr, "most favoured"))
    if rule in ("largest", "most favoured", "most_favoured"):
        return rule
    return {str(k): str(v) for k, v in ((labels or {}).get(attr) or {}).items()}.get(rule, rule)


def _reference_index(labels: list[str], n: np.ndarray, s: np.ndarray, reference: str | None,
                     favourable: bool = True, min_group_size: int = 0) -> int:
    """The comparison group: a named group, the largest known group, or (default) the most favoured.

    The most favoured group is the sufficiently large known group with the highest rate of a
    favourable action (the lowest of an adverse one); ties go to the larger group. Without any
    sufficiently large known group, the largest known group is the reference.
    """
    if reference not in (None, "largest", "most favoured", "most_favoured"):
        ref = str(reference)
        if ref not in labels:
            raise ValueError(f"Reference group '{ref}' not found; groups are {labels}.")
        return labels.index(ref)
    known = [i for i, lab in enumerate(labels) if not _is_unknown(lab)] or list(range(len(labels)))
    largest = max(known, key=lambda i: (n[i], -i))
    if reference == "largest":
        return largest
    big = [i for i in known if n[i] >= min_group_size and n[i] > 0]
    if not big:
        return largest
    sign = 1.0 if favourable else -1.0
    return max(big, key=lambda i: (sign * s[i] / n[i], n[i], -i))


def rate_by_group(
    selected,
    groups,
    *,
    reference: str | None = "most favoured",
    favourable: bool = True,
    interval: str = "score",
    n_boot: int = 1000,
    alpha: float = 0.05,
    min_group_size: int = 30,
    correction: str | None = "holm",
    seed: int | np.random.Generator = 0,
    thresholds: dict | None = None,
) -> pd.DataFrame:
    """Rate of a yes/no event per group, with confidence intervals and a comparison with a reference.

    A generic building block: selection for an offer, a downgrade between periods, churn. Point
    estimates equal Fairlearn's ``MetricFrame`` with ``selection_rate``. Intervals are score-based
    by default (Wilson for rates, Koopman for ratios, Newcombe for differences; see
    :mod:`workbench.fairness._intervals`): they keep their coverage in small groups and at zero
    events. ``interval="bootstrap"`` resamples customers instead, computed exactly and cheaply by
    drawing the (group x event) counts from a multinomial.

    Parameters
    ----------
    selected : array-like of bool or 0/1
        The event per customer.
    groups : array-like
        Group per customer; missing values become the explicit group ``"unknown"``.
    reference : str, "most favoured" or "largest"
        Group the others are compared with. ``"most favoured"``: the known group of at least
        ``min_group_size`` customers with the highest rate (lowest when ``favourable`` is False);
        it is chosen by its rate, so the correction counts every pair of groups (:func:`family_size`).
        ``"largest"`` or a named group is fixed before the rates are seen.
    favourable : bool
        Whether the event is good for the customer (an offer) or adverse (a price rise).
    interval : {"score", "bootstrap"}
    n_boot : int
        Bootstrap resamples (``interval="bootstrap"`` only).
    alpha : float
        1 - confidence level of the intervals (0.05: 95% intervals).
    min_group_size : int
        Groups smaller than this are flagged ``sufficient=False``.
    correction : {"holm", "bh", None}
        Multiple-comparison correction of the p-values within this table.
    seed : int or numpy.random.Generator
    thresholds : dict, optional
        The band (``{"ratio": [low, high], "difference": d or None}``; default :data:`DEFAULT_BAND`)
        each comparison is tested against: ``p_value`` is that of "the ratio (and difference) lies
        inside the band" (:func:`workbench.fairness.band_pvalue`), not of "the rates are equal".

    Returns
    -------
    pandas.DataFrame
        One row per group: ``group, n, events, rate, rate_low, rate_high, is_reference, ratio,
        ratio_low, ratio_high, difference, difference_low, difference_high, p_value, p_adjusted,
        sufficient, reference_by_rate``. ``ratio`` and ``difference`` are the group's rate over /
        minus the reference's; ``reference_by_rate`` says the reference was chosen for its rate.
    """
    sel = np.asarray(selected).astype(bool).ravel()
    codes, labels = _codes(groups)
    if len(codes) != len(sel):
        raise ValueError(f"selected has {len(sel)} rows but groups has {len(codes)}")
    cells = crosstab({"group": codes, "event": sel}, (len(labels), 2))  # counted in the engine
    n, s = cells.sum(axis=1), cells[:, 1]
    return compare_counts(labels, n, s, reference=reference, favourable=favourable, interval=interval,
                          n_boot=n_boot, alpha=alpha, min_group_size=min_group_size, correction=correction,
                          seed=seed, thresholds=thresholds)


def compare_counts(
    labels: list[str],
    n,
    events,
    *,
    reference: str | None = "most favoured",
    favourable: bool = True,
    interval: str = "score",
    n_boot: int = 1000,
    alpha: float = 0.05,
    min_group_size: int = 30,
    correction: str | None = "holm",
    seed: int | np.random.Generator = 0,
    thresholds: dict | None = None,
) -> pd.DataFrame:
    """:func:`rate_by_group` from a table of counts: customers ``n`` and events per group.

    The verdict rule needs nothing else, so tests and reviewers can check a verdict by hand from
    the published counts.
    """
    labels = [str(x) for x in labels]
    n = np.asarray(n, dtype=np.int64)
    s = np.asarray(events, dtype=np.int64)
    if len(n) != len(labels) or len(s) != len(labels) or (s > n).any() or (s < 0).any():
        raise ValueError("compare_counts needs one n and one event count (0 <= events <= n) per group")
    ref = _reference_index(labels, n, s, reference, favourable, min_group_size)
    if interval == "score":
        estimates = _score_estimates(s, n, ref, alpha)
    elif interval == "bootstrap":
        boot = _multinomial(np.stack([s, n - s]), n_boot, _generator(seed))  # (B, 2, G)
        estimates = _estimates_against_reference(s, n, boot, ref, alpha)
    else:
        raise ValueError(f"Unknown interval '{interval}': use 'score' or 'bootstrap'.")
    p = band_pvalue(s, n, s[ref], n[ref], DEFAULT_BAND if thresholds is None else thresholds)
    p[ref] = np.nan
    by_rate = reference in BY_RATE
    table = pd.DataFrame(
        {
            "group": labels,
            "n": n,
            "events": s,
            **estimates,
            "p_value": p,
            "p_adjusted": adjust_pvalues(p, correction or "none", family_size(int(np.isfinite(p).sum()), by_rate)),
            "sufficient": n >= min_group_size,
            "reference_by_rate": by_rate,
        }
    )
    table.loc[table["is_reference"], ["ratio_low", "ratio_high", "difference_low", "difference_high"]] = np.nan
    return table


def _score_estimates(s: np.ndarray, n: np.ndarray, ref: int, alpha: float) -> dict:
    """Rates with Wilson intervals; ratio (Koopman) and difference (Newcombe) to the reference."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = s / n
        ratio = rate / rate[ref]
    r_lo, r_hi = wilson_interval(s, n, alpha)
    q_lo, q_hi = ratio_interval(s, n, s[ref], n[ref], alpha)
    d_lo, d_hi = difference_interval(s, n, s[ref], n[ref], alpha)
    return {
        "rate": rate, "rate_low": r_lo, "rate_high": r_hi, "is_reference": np.arange(len(n)) == ref,
        "ratio": ratio, "ratio_low": q_lo, "ratio_high": q_hi,
        "difference": rate - rate[ref], "difference_low": d_lo, "difference_high": d_hi,
    }


def _estimates_against_reference(s: np.ndarray, n: np.ndarray, boot: np.ndarray, ref: int, alpha: float) -> dict:
    """Rate per group, its ratio to and difference from the reference's, each with its interval."""
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
    return {
        "rate": rate,
        "rate_low": r_lo,
        "rate_high": r_hi,
        "is_reference": np.arange(len(n)) == ref,
        "ratio": ratio,
        "ratio_low": q_lo,
        "ratio_high": q_hi,
        "difference": diff,
        "difference_low": d_lo,
        "difference_high": d_hi,
    }


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
    cells = crosstab({"y": y, "selected": sel, "group": codes}, (2, 2, len(labels)))  # counted in the engine
    rng = _generator(seed)
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
