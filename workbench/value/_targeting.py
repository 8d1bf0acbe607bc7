"""A value-targeting policy selected by historical value against predicted value, by group."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..fairness import UNKNOWN, rate_by_group, restate_rates
from ..privacy import suppress_counts

__all__ = ["OVERLAP_COLUMNS", "overlap_counts", "targeting_rates"]

#: The four ways a customer can fare under the two policies: every group's row sums to its size.
OVERLAP_COLUMNS = ["both", "historical only", "predicted only", "neither"]


def _labels(groups) -> np.ndarray:
    g = pd.Series(groups, dtype=object)
    return g.where(g.notna(), UNKNOWN).astype(str).to_numpy()


def overlap_counts(by_history, by_prediction, groups, k: int = 10, suppress=None) -> pd.DataFrame:
    """Customers per group selected by both policies, by one only, or by neither; suppressed, with totals.

    One table is the disclosure unit: each policy's selection count, each group's size and "who is
    left out under each" are sums of its cells, so suppressing it once (with margins) hides the same
    cell everywhere it would appear. ``suppress`` does it (exact counts in, published table out;
    default :func:`workbench.privacy.suppress_counts` with margins): the stage suppresses jointly with
    the other attributes' tables, which share the selection totals.
    """
    h = np.asarray(by_history, dtype=bool)
    p = np.asarray(by_prediction, dtype=bool)
    labels = _labels(groups)
    cell = np.select([h & p, h & ~p, ~h & p], OVERLAP_COLUMNS[:3], default=OVERLAP_COLUMNS[3])
    table = pd.crosstab(pd.Series(labels, name="group"), pd.Series(cell, name="selection"))
    table = table.reindex(columns=OVERLAP_COLUMNS, fill_value=0)
    return suppress(table) if suppress else suppress_counts(table, k=k, margins=True)


_POLICIES = {"historical value": "historical only", "predicted value": "predicted only"}


def _restated(rates: pd.DataFrame, overlap: pd.DataFrame, policy: str, alpha: float,
              thresholds: dict | None) -> pd.DataFrame:
    """``n`` and ``selected`` of the published ``overlap`` (NaN where hidden), every rate recomputed from them."""
    body = overlap.drop(index="Total", errors="ignore").reindex(rates["group"].astype(str))
    rates["n"] = np.where(rates["n"].notna(), body["Total"].to_numpy(float), np.nan)
    printed = (body["both"] + body[_POLICIES[policy]]).to_numpy(float)
    rates["selected"] = np.where(rates["selected"].notna(), printed, np.nan)
    return restate_rates(rates, alpha=alpha, thresholds=thresholds, events="selected")


def _visible(overlap: pd.DataFrame, policy: str) -> pd.DataFrame:
    """Per group: is its size published, and is the policy's selected count (both + one-only) published?"""
    body = overlap.drop(index="Total", errors="ignore")
    return pd.DataFrame({"n": body["Total"].notna(),
                         "selected": body["both"].notna() & body[_POLICIES[policy]].notna()})


def targeting_rates(by_history, by_prediction, groups, overlap: pd.DataFrame, *, alpha: float = 0.05,
                    min_group_size: int = 30, reference: str = "most favoured",
                    thresholds: dict | None = None) -> pd.DataFrame:
    """Selection rate per group under each policy, with score intervals, side by side.

    Rates come from :func:`workbench.fairness.rate_by_group` under the fairness verdict's rule:
    Wilson score intervals at level ``1 - alpha``, and each group compared with the comparison group
    (``reference``; default the most favoured group of at least ``min_group_size`` customers) by a
    Koopman ratio interval and the p-value of "the ratio lies inside ``thresholds``", Holm-corrected
    over the groups of one policy (over every pair of them when the comparison group is chosen for
    its rate). Everything shown is derived from the suppressed ``overlap``
    table: a group's size only where its total is published, its rate and interval only where the
    policy's selected count (``both`` + the policy's one-only cell) is, and its comparison with the
    reference group only where the reference's rate is shown too; and every number is recomputed from
    those published counts (:func:`workbench.fairness.restate_rates`: the stage passes the table as
    printed, perturbed, so no rate moves between two runs by one customer's exact contribution).

    Returns
    -------
    DataFrame
        ``policy`` ("historical value" / "predicted value"), ``group``, ``n``, ``selected``, ``rate``,
        ``rate_low``, ``rate_high``, ``ratio``, ``p_adjusted``, ``sufficient``, ``suppressed`` (the
        rate is hidden).
    """
    labels = _labels(groups)
    parts = []
    for policy, selected in (("historical value", by_history), ("predicted value", by_prediction)):
        rates = rate_by_group(np.asarray(selected, dtype=bool), labels, alpha=alpha, min_group_size=min_group_size,
                              reference=reference, thresholds=thresholds).rename(columns={"events": "selected"})
        for c in ("n", "selected", "rate", "rate_low", "rate_high", "ratio", "p_adjusted"):
            rates[c] = rates[c].astype(float)
        vis = _visible(overlap, policy).reindex(rates["group"]).fillna(False).to_numpy(dtype=bool)
        shown = vis[:, 0] & vis[:, 1]
        reference_shown = bool(shown[rates["is_reference"].to_numpy(dtype=bool)].all())
        rates.loc[~vis[:, 0], "n"] = np.nan
        rates.loc[~shown, ["selected", "rate", "rate_low", "rate_high"]] = np.nan
        rates.loc[~shown | (not reference_shown), ["ratio", "p_adjusted"]] = np.nan
        rates = _restated(rates, overlap, policy, alpha, thresholds)
        rates["sufficient"] = rates["sufficient"].astype(bool) & shown
        rates["suppressed"] = ~shown
        rates.insert(0, "policy", policy)
        parts.append(rates)
    keep = ["policy", "group", "n", "selected", "rate", "rate_low", "rate_high", "ratio", "p_adjusted",
            "sufficient", "suppressed"]
    return pd.concat(parts, ignore_index=True)[keep]
