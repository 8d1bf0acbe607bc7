"""A value-targeting policy selected by historical value against predicted value, by group."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..fairness import UNKNOWN, rate_by_group
from ..privacy import suppress_counts

__all__ = ["OVERLAP_COLUMNS", "overlap_counts", "targeting_rates"]

#: The four ways a customer can fare under the two policies: every group's row sums to its size.
OVERLAP_COLUMNS = ["both", "historical only", "predicted only", "neither"]


def _labels(groups) -> np.ndarray:
    g = pd.Series(groups, dtype=object)
    return g.where(g.notna(), UNKNOWN).astype(str).to_numpy()


def overlap_counts(by_history, by_prediction, groups, k: int = 10) -> pd.DataFrame:
    """Customers per group selected by both policies, by one only, or by neither; suppressed, with totals.

    One table is the disclosure unit: each policy's selection count, each group's size and "who is
    left out under each" are sums of its cells, so suppressing it once (with margins) hides the same
    cell everywhere it would appear.
    """
    h = np.asarray(by_history, dtype=bool)
    p = np.asarray(by_prediction, dtype=bool)
    labels = _labels(groups)
    cell = np.select([h & p, h & ~p, ~h & p], OVERLAP_COLUMNS[:3], default=OVERLAP_COLUMNS[3])
    table = pd.crosstab(pd.Series(labels, name="group"), pd.Series(cell, name="selection"))
    table = table.reindex(columns=OVERLAP_COLUMNS, fill_value=0)
    return suppress_counts(table, k=k, margins=True)


def targeting_rates(by_history, by_prediction, groups, overlap: pd.DataFrame, *, n_boot: int = 1000,
                    seed: int = 0, min_group_size: int = 30) -> pd.DataFrame:
    """Selection rate per group under each policy, with bootstrap intervals, side by side.

    Rates come from :func:`workbench.fairness.rate_by_group` (count bootstrap, Holm-corrected
    comparison with the largest group). A group whose row of the suppressed ``overlap`` table has a
    hidden cell shows no rate: every rate is derived from that table's cells.

    Returns
    -------
    DataFrame
        ``policy`` ("historical value" / "predicted value"), ``group``, ``n``, ``selected``, ``rate``,
        ``rate_low``, ``rate_high``, ``ratio``, ``p_adjusted``, ``sufficient``, ``suppressed``.
    """
    labels = _labels(groups)
    hidden = overlap.drop(index="Total", errors="ignore").isna().any(axis=1)
    parts = []
    for policy, selected in (("historical value", by_history), ("predicted value", by_prediction)):
        rates = rate_by_group(np.asarray(selected, dtype=bool), labels, n_boot=n_boot, seed=seed,
                              min_group_size=min_group_size)
        rates = rates.rename(columns={"events": "selected"})
        rates.insert(0, "policy", policy)
        parts.append(rates)
    out = pd.concat(parts, ignore_index=True)
    out["suppressed"] = out["group"].map(hidden).fillna(False).astype(bool)
    stats = [c for c in out.columns if c not in ("policy", "group", "suppressed", "is_reference", "sufficient")]
    out[stats] = out[stats].astype(float)
    out.loc[out["suppressed"], stats] = np.nan
    out.loc[out["suppressed"], "sufficient"] = False
    keep = ["policy", "group", "n", "selected", "rate", "rate_low", "rate_high", "ratio", "p_adjusted",
            "sufficient", "suppressed"]
    return out[keep]
