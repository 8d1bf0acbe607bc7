"""Rates restated from printed counts: every published rate, interval, ratio and p-value of a group.

Issue 24. A rate computed from the exact counts and only *masked* where the printed table hides a cell
still differs, between two runs one erasure apart, by exactly the erased customer's contribution: the
rate of the customer's group moves by about 1/n, every other group's not at all, whatever noise the
printed counts carry. So every number a report shows for a group is recomputed here from the group's
counts **as printed** (suppressed, then perturbed by the cell-key method): it then moves between runs by
the perturbation of those counts, like the counts themselves. Verdicts are still decided on the exact
counts (internal); only their sentences and tables are restated.

Printed counts are perturbed independently, so a printed event count may exceed its printed total by up to
twice the largest perturbation: it is clipped to the total (a rate of at most 1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._intervals import band_pvalue, difference_interval, ratio_interval, wilson_interval
from ._rates import adjust_pvalues, family_size

__all__ = ["printed_gaps", "restate_balance", "restate_rates", "restate_share"]

#: Columns of a :func:`workbench.fairness.rate_by_group` table derived from one group's counts.
_OWN = ["rate", "rate_low", "rate_high"]
#: Columns derived from a group's counts and the comparison group's.
_PAIR = ["ratio", "ratio_low", "ratio_high", "difference", "difference_low", "difference_high",
         "p_value", "p_adjusted"]


def restate_share(part, whole, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``part / whole`` with its Wilson interval, from printed counts (NaN where either is hidden or
    ``whole`` is 0; ``part`` clipped to ``whole``)."""
    part, whole = np.asarray(part, dtype=float), np.asarray(whole, dtype=float)
    shown = np.isfinite(part) & np.isfinite(whole) & (whole > 0)
    n = np.where(shown, whole, 1.0)
    s = np.where(shown, np.clip(part, 0, n), 0.0)
    low, high = wilson_interval(s, n, alpha)
    nan = np.full(len(n), np.nan)
    return np.where(shown, s / n, nan), np.where(shown, low, nan), np.where(shown, high, nan)


def restate_rates(table: pd.DataFrame, *, alpha: float = 0.05, thresholds: dict | None = None,
                  correction: str | None = "holm", events: str = "events") -> pd.DataFrame:
    """A :func:`~workbench.fairness.rate_by_group`-shaped table recomputed from its printed ``n`` and ``events``.

    ``n`` and ``events`` must already be the printed counts (NaN where hidden), e.g. after
    :func:`~workbench.fairness.mask_rates`. The comparison group stays the one the exact table chose
    (``is_reference``). Rates get Wilson intervals, comparisons the Koopman ratio and Newcombe difference
    intervals and the band p-value (``thresholds``), corrected (``correction``) over the rows that were
    compared (``role == "compared"`` where the table has roles, else every row with a p-value) that are
    still shown, with the family size of the exact table. Whatever was NaN stays NaN.

    Returns
    -------
    DataFrame
        ``table`` with every column of :data:`_OWN` and :data:`_PAIR` it has recomputed.
    """
    out = table.copy()
    n_printed = out["n"].to_numpy(float)
    rate, low, high = restate_share(out[events].to_numpy(float), n_printed, alpha)
    shown = np.isfinite(rate)
    n = np.where(shown, n_printed, 1.0).astype(np.int64)
    s = np.where(shown, np.rint(rate * n), 0).astype(np.int64)
    for col, values in zip(_OWN, (rate, low, high)):
        if col in out.columns:
            out[col] = np.where(np.isfinite(table[col].astype(float).to_numpy()), values, np.nan)
    out[[c for c in _PAIR if c in out.columns]] = np.nan  # filled below when the comparison group is shown
    is_ref = out["is_reference"].astype(bool).to_numpy() if "is_reference" in out else np.zeros(len(out), bool)
    if is_ref.sum() != 1 or not shown[is_ref].all():
        return out
    r = int(np.flatnonzero(is_ref)[0])
    pair = _pair_estimates(s, n, r, alpha, thresholds)
    for col, values in pair.items():
        if col in out.columns:
            was = table[col].astype(float).to_numpy()
            out[col] = np.where(np.isfinite(was) & shown, values, np.nan)
    if "p_adjusted" in out.columns:
        compared = (out["role"] == "compared").to_numpy() if "role" in out else np.isfinite(pair["p_value"])
        family = int((compared & ~is_ref).sum())
        rows = compared & shown & ~is_ref
        by_rate = bool(out["reference_by_rate"].iloc[0]) if "reference_by_rate" in out else False
        adjusted = np.full(len(out), np.nan)
        if rows.any():
            adjusted[rows] = adjust_pvalues(pair["p_value"][rows], correction or "none",
                                            family_size(family, by_rate))
        was = table["p_adjusted"].astype(float).to_numpy()
        out["p_adjusted"] = np.where(np.isfinite(was), adjusted, np.nan)
    return out


def _pair_estimates(s: np.ndarray, n: np.ndarray, r: int, alpha: float, thresholds: dict | None) -> dict:
    """Every group against group ``r``: ratio and difference with intervals, the band p-value."""
    rate = s / n
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = rate / rate[r]
    q_lo, q_hi = ratio_interval(s, n, s[r], n[r], alpha)
    d_lo, d_hi = difference_interval(s, n, s[r], n[r], alpha)
    p = band_pvalue(s, n, s[r], n[r], thresholds).astype(float)
    p[r] = np.nan
    return {"ratio": ratio, "ratio_low": q_lo, "ratio_high": q_hi, "difference": rate - rate[r],
            "difference_low": d_lo, "difference_high": d_hi, "p_value": p}


def restate_balance(balance: pd.DataFrame, composition: pd.DataFrame) -> pd.DataFrame:
    """Each segment's balance, ``min(RR, 1/RR)`` of its least represented group, from the representation ratio
    restated from printed counts (:func:`~workbench.fairness.mask_composition`; the group is the exact one's)."""
    out = balance.copy()
    rr = composition.set_index(["segment", "group"])["representation_ratio"]
    printed = np.array([rr.get((int(r.segment), r.least_represented), np.nan) for r in out.itertuples()], float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["balance"] = np.where(printed > 0, np.minimum(printed, 1 / printed), np.where(printed == 0, 0.0, np.nan))
    return out


def printed_gaps(table: pd.DataFrame) -> dict:
    """Equal-opportunity and equalised-odds differences of the TPR and FPR as printed (no interval: the
    bootstrap one resampled the exact counts)."""
    eo = float(table["tpr"].max() - table["tpr"].min())
    return {"equal_opportunity_difference": eo, "equal_opportunity_low": np.nan, "equal_opportunity_high": np.nan,
            "equalized_odds_difference": max(eo, float(table["fpr"].max() - table["fpr"].min())),
            "equalized_odds_low": np.nan, "equalized_odds_high": np.nan}
