"""Fairness of movement: downgrade and lapse rates between two windows by sensitive group."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import fairness, privacy
from ..engine import crosstab
from ._transitions import grade_labels


MOVES = ("downgraded", "same or upgraded", "inactive")


def _grades_and_groups(states, customers, before, after, value_order, attr, bands, labels):
    a = states[before].to_numpy()
    b = states[after].to_numpy()
    grade = grade_labels(a, b, value_order)
    values = customers.set_index("customer_id")[attr].reindex(states["customer_id"]).reset_index(drop=True)
    groups = fairness.group_labels(values, (bands or {}).get(attr), (labels or {}).get(attr))
    return a, b, grade, groups


def movement_population(before: str) -> str:
    """What a movement table counts (its population for the whole-run disclosure check)."""
    return f"customers in a segment in {before}"


def movement_table(states, customers, before, after, value_order, attr, bands=None, labels=None,
                   k: int = 10, suppress=None) -> pd.DataFrame:
    """Customers in a segment in ``before``, by group of ``attr`` and move: the one published table.

    Columns ``downgraded``, ``same or upgraded``, ``inactive`` (state in ``after``), rows the groups;
    suppressed once with ``suppress`` (the exact counts in, the published table with margins out;
    default :func:`workbench.privacy.suppress_counts` with ``margins=True``: the stage passes
    :func:`workbench.privacy.suppress_and_publish`, since the tables of every attribute share their
    move totals). Every rate of :func:`movement_fairness` for ``attr`` is derived from it.
    """
    a, _, grade, groups = _grades_and_groups(states, customers, before, after, value_order, attr, bands, labels)
    base = a >= 0
    move = pd.Series(np.select([grade == "down", grade == "inactive"], ["downgraded", "inactive"],
                               "same or upgraded"))[base]
    names, g = np.unique(groups[base].astype(str).to_numpy(), return_inverse=True)  # rows sorted, as crosstab
    m = pd.Index(list(MOVES)).get_indexer(move.to_numpy())
    cells = crosstab({"group": g, "move": m}, (len(names), len(MOVES)))  # counted in the engine
    table = pd.DataFrame(cells, index=pd.Index(names), columns=list(MOVES))
    table.index.name, table.columns.name = attr, f"move {before}→{after}"
    return suppress(table) if suppress else privacy.suppress_counts(table, k, margins=True)


def movement_fairness(
    states: pd.DataFrame,
    customers: pd.DataFrame,
    before: str,
    after: str,
    value_order: list[int],
    sensitive: list[str],
    bands: dict | None = None,
    labels: dict | None = None,
    alpha: float = 0.05,
    n_boot: int = 1000,
    min_group_size: int = 30,
    seed: int = 0,
    k: int | None = None,
    published: dict[str, pd.DataFrame] | None = None,
    reference: str | dict = "most favoured",
    thresholds: dict | None = None,
) -> pd.DataFrame:
    """Downgrade and lapse rates between two windows by sensitive group, with confidence intervals.

    Among customers in a segment in ``before``: *downgrade* = in a lower-value segment in ``after``
    (denominator: customers active in both windows); *lapse* = inactive in ``after`` (denominator:
    all of them). Groups come from :func:`workbench.fairness.group_labels` (numeric attributes in
    ``bands``, missing values as ``"unknown"``); rates, score intervals and the comparison with the
    comparison group from :func:`workbench.fairness.rate_by_group`, under the fairness verdict's rule:
    both moves are *adverse* (``favourable=False``), so the default comparison group is the one
    downgraded or lapsed least (never the worst-off group) and the correction counts every pair of
    groups; ``reference`` (``fairness.reference``: a rule, or ``{attribute: group}``) can fix it
    instead; each ``p_value`` tests "the ratio lies inside ``thresholds``" (``fairness.thresholds``).

    With ``k``, the group x move counts are published once (:func:`movement_table`) and every
    number here is masked where a cell it derives from is hidden: ``n`` and ``events`` are the
    published counts, a group's rate, interval and test are NaN when its events or denominator is
    hidden, and every group's comparison with the reference is NaN when the reference's rate is.
    ``published`` gives those tables per attribute when the stage has published them already.

    Returns
    -------
    pandas.DataFrame
        ``attribute, outcome`` plus the columns of :func:`workbench.fairness.rate_by_group`.
    """
    frames = []
    for attr in sensitive:
        if attr not in customers.columns:
            continue
        a, b, grade, groups = _grades_and_groups(states, customers, before, after, value_order, attr, bands, labels)
        published_table = (published or {}).get(attr)
        if published_table is None and k:
            published_table = movement_table(states, customers, before, after, value_order, attr, bands, labels, k)
        for outcome, mask, y in [
            ("downgrade", (a >= 0) & (b >= 0), grade == "down"),
            ("lapse", a >= 0, grade == "inactive"),
        ]:
            if not mask.any():
                continue
            res = fairness.rate_by_group(
                y[mask], groups[mask].reset_index(drop=True), n_boot=n_boot, alpha=alpha,
                min_group_size=min_group_size, seed=seed, favourable=False,
                reference=fairness.reference_for(reference, attr, labels), thresholds=thresholds,
            )
            if published_table is not None:
                res = _mask_by_published(res, published_table, outcome, alpha, thresholds)
            res.insert(0, "outcome", outcome)
            res.insert(0, "attribute", attr)
            frames.append(res)
    if not frames:
        return pd.DataFrame(columns=["attribute", "outcome", "group", "n", "events", "rate", "rate_low", "rate_high"])
    return pd.concat(frames, ignore_index=True)


def _mask_by_published(res: pd.DataFrame, published: pd.DataFrame, outcome: str, alpha: float,
                       thresholds: dict | None) -> pd.DataFrame:
    """``n``/``events`` from the published table; everything derived from a hidden cell masked, the rest
    recomputed from the published counts (:func:`workbench.fairness.restate_rates`): the stage passes the
    table as printed, so no rate moves by one customer's exact contribution between runs."""
    res = res.copy()
    body = published.drop(index="Total", errors="ignore")
    if outcome == "downgrade":
        events = body["downgraded"]
        n = body["downgraded"] + body["same or upgraded"]  # NaN if either is hidden
    else:
        events, n = body["inactive"], body["Total"]
    key = res["group"].astype(str)
    res["n"] = key.map(n).to_numpy()
    res["events"] = key.map(events).to_numpy()
    hidden = res["n"].isna() | res["events"].isna()
    numeric = [c for c in res.columns if c not in ("group", "is_reference", "n", "events")
               and pd.api.types.is_numeric_dtype(res[c]) and not pd.api.types.is_bool_dtype(res[c])]
    res.loc[hidden, numeric] = np.nan
    if "is_reference" in res and hidden[res["is_reference"].astype(bool)].any():
        comparison = [c for c in numeric if c.startswith(("ratio", "difference", "p_"))]
        res[comparison] = np.nan
    return fairness.restate_rates(res, alpha=alpha, thresholds=thresholds)
