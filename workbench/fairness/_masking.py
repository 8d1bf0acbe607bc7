"""Masking what is derived from a suppressed table of counts: rates, shares, ratios, intervals.

Each published count table is suppressed once (:func:`workbench.privacy.suppress_counts`, with
margins); every figure derived from it is masked where a cell it depends on is hidden, so a hidden
cell can never be recovered as rate x n, share x N or from an interval. Every figure shown is then
recomputed from the table's counts as given (:mod:`._restate`): the stage passes the table as printed
(perturbed), so no rate differs between two runs by one customer's exact contribution (issue 24).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..engine import crosstab
from ._rates import compare_counts
from ._restate import restate_rates, restate_share

#: Columns of :func:`rate_by_group` derived from one group's counts.
RATE_COLUMNS = ["n", "events", "rate", "rate_low", "rate_high", "p_value", "p_adjusted"]
#: Columns derived from a group's counts and the reference group's.
PAIR_COLUMNS = ["ratio", "ratio_low", "ratio_high", "difference", "difference_low", "difference_high",
                "p_value", "p_adjusted"]
TOTAL = "Total"


def event_counts(table: pd.DataFrame, yes: str = "selected", no: str = "not selected") -> pd.DataFrame:
    """The (group x event) count table behind a :func:`rate_by_group` table, groups as rows."""
    counts = pd.DataFrame({yes: table["events"].to_numpy(), no: (table["n"] - table["events"]).to_numpy()},
                          index=pd.Index(table["group"].astype(str), name="group"))
    counts.columns.name = "event"
    return counts


def mask_rates(table: pd.DataFrame, suppressed: pd.DataFrame, yes: str = "selected", *, alpha: float = 0.05,
               thresholds: dict | None = None, correction: str | None = "holm") -> pd.DataFrame:
    """A :func:`rate_by_group` table masked by its suppressed count table (with margins).

    A group whose event, non-event or total cell is hidden gets ``masked=True`` and NaN in every
    column derived from its counts; its ``n`` and ``events`` are the published cells (NaN where
    hidden). When the reference group is masked, every ratio and difference is masked too (each
    would give its rate away). Every other rate, interval, ratio and p-value is recomputed from the
    published ``n`` and ``events`` (:func:`._restate.restate_rates` with ``alpha``, ``thresholds`` and
    ``correction``, those the exact table was computed with).
    """
    out = table.copy()
    sup = suppressed.drop(index=TOTAL, errors="ignore")
    hidden = sup.isna().any(axis=1).reindex(out["group"].astype(str)).fillna(True).to_numpy()
    out["masked"] = hidden
    out["n"] = sup[TOTAL].reindex(out["group"].astype(str)).to_numpy() if TOTAL in sup else out["n"]
    out["events"] = sup[yes].reindex(out["group"].astype(str)).to_numpy()
    cols = [c for c in dict.fromkeys(RATE_COLUMNS + PAIR_COLUMNS) if c in out.columns and c not in ("n", "events")]
    out[cols] = out[cols].astype(float)
    out.loc[hidden, cols] = np.nan
    if "is_reference" in out.columns and hidden[out["is_reference"].to_numpy(bool)].any():
        out[[c for c in PAIR_COLUMNS if c in out.columns]] = np.nan
    return restate_rates(out, alpha=alpha, thresholds=thresholds, correction=correction)


def mask_composition(long: pd.DataFrame, suppressed: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """The :func:`composition` table masked by the suppressed (segment x group) counts with margins.

    A share needs its cell and its segment total; a population share its group total and the grand
    total; a representation ratio all four. Each is recomputed from those published cells: the share
    with its Wilson interval at ``alpha``, the representation ratio's interval that of the share over
    the published population share (the bootstrap interval of the exact table is not shown).
    """
    out = long.copy()
    seg = out["segment"].astype(str).to_numpy()
    grp = out["group"].astype(str).to_numpy()
    sup = suppressed.copy()
    sup.index = sup.index.astype(str)
    sup.columns = sup.columns.astype(str)

    def cell(rows, cols):
        return np.array([sup.at[r, c] if r in sup.index and c in sup.columns else np.nan for r, c in zip(rows, cols)])

    n = cell(seg, grp)
    seg_total = cell(seg, [TOTAL] * len(seg))
    grp_total = cell([TOTAL] * len(grp), grp)
    grand = float(sup.at[TOTAL, TOTAL]) if TOTAL in sup.index and TOTAL in sup.columns else np.nan
    share_ok = np.isfinite(n) & np.isfinite(seg_total)
    pop_ok = np.isfinite(grp_total) & np.isfinite(grand)
    out["n"] = n
    out["masked"] = ~share_ok
    share = restate_share(n, seg_total, alpha)
    population = restate_share(grp_total, np.full(len(grp_total), grand), alpha)[0]
    out["share"], out["share_low"], out["share_high"] = share
    out["population_share"] = population
    with np.errstate(divide="ignore", invalid="ignore"):
        for c, values in zip(("representation_ratio", "rr_low", "rr_high"), share):
            out[c] = np.where(population > 0, values / population, np.nan)
    return out


#: Columns of the (group x outcome x selected) count table behind :func:`outcome_rates_by_group`.
OUTCOME_CELLS = ["positive, selected", "positive, not selected", "negative, selected", "negative, not selected"]


def outcome_counts(selected, y, codes: np.ndarray, labels: list[str]) -> pd.DataFrame:
    """Customers per group and (outcome, selected) cell: the table TPR and FPR are derived from."""
    sel, y = np.asarray(selected).astype(bool), np.asarray(y).astype(bool)
    cells = crosstab({"y": y, "selected": sel, "group": codes}, (2, 2, len(labels)))  # counted in the engine
    order = [(1, 1), (1, 0), (0, 1), (0, 0)]  # the (outcome, selected) of each of OUTCOME_CELLS
    data = {name: cells[yy, ss] for name, (yy, ss) in zip(OUTCOME_CELLS, order)}
    out = pd.DataFrame(data, index=pd.Index([str(x) for x in labels], name="group"))
    out.columns.name = "outcome"
    return out


def mask_outcome(table: pd.DataFrame, suppressed: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """TPR (needs both positive cells) and FPR (both negative cells) masked where a cell is hidden, and
    recomputed from the published cells (Wilson intervals at ``alpha``; the exact table's bootstrap
    intervals are not shown)."""
    out = table.copy()
    sup = suppressed.reindex(out["group"].astype(str))
    pos = sup[OUTCOME_CELLS[:2]].notna().all(axis=1).to_numpy()
    neg = sup[OUTCOME_CELLS[2:]].notna().all(axis=1).to_numpy()
    out["n"] = sup[TOTAL].to_numpy() if TOTAL in sup.columns else out["n"]
    positives = sup[OUTCOME_CELLS[0]] + sup[OUTCOME_CELLS[1]]  # NaN where either is hidden
    negatives = sup[OUTCOME_CELLS[2]] + sup[OUTCOME_CELLS[3]]
    out["positives"] = positives.to_numpy()
    out["tpr"], out["tpr_low"], out["tpr_high"] = restate_share(sup[OUTCOME_CELLS[0]], positives, alpha)
    out["fpr"], out["fpr_low"], out["fpr_high"] = restate_share(sup[OUTCOME_CELLS[2]], negatives, alpha)
    out["masked"] = ~(pos & neg)
    return out


def equal_opportunity_comparisons(exact: pd.DataFrame, suppressed: pd.DataFrame, **compare) -> pd.DataFrame:
    """Equal opportunity as a rate comparison: per group, the share of its customers *with* the outcome
    that the action reaches (its true-positive rate), compared across groups like a selection rate.

    ``exact`` is :func:`outcome_counts`' table, ``suppressed`` the same table as published. The rate of
    a group is ``positive, selected`` over its positives, so :func:`~workbench.fairness.compare_counts`
    (``compare``: its keyword arguments) gives the intervals, ratios and band p-values, and the verdict
    rule (:func:`~workbench.fairness.verdicts`) applies unchanged. A group is ``masked`` where either of
    its positive cells is hidden: its true-positive rate is then not published (:func:`mask_outcome`).
    """
    pos_sel, pos_not = OUTCOME_CELLS[:2]
    labels = [str(x) for x in exact.index]
    n = (exact[pos_sel] + exact[pos_not]).to_numpy()
    table = compare_counts(labels, n, exact[pos_sel].to_numpy(), **compare)
    shown = suppressed.reindex(labels)[[pos_sel, pos_not]].notna().all(axis=1).to_numpy()
    table["masked"] = ~shown
    return table


def equal_opportunity_printed(table: pd.DataFrame, suppressed: pd.DataFrame, **restate) -> pd.DataFrame:
    """:func:`equal_opportunity_comparisons`' ``table`` with the numbers a sentence may show: each group's
    positives and positive-and-selected as printed in ``suppressed`` (NaN where hidden), every rate,
    interval and comparison recomputed from them (:func:`._restate.restate_rates`, ``restate``: its
    keyword arguments)."""
    pos_sel, pos_not = OUTCOME_CELLS[:2]
    sup = suppressed.reindex(table["group"].astype(str))
    out = table.assign(n=(sup[pos_sel] + sup[pos_not]).to_numpy(), events=sup[pos_sel].to_numpy())
    return restate_rates(out, **restate)
