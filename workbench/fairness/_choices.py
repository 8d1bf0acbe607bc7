"""What the customer choices register holds back from automated targeting.

A customer's objection to an action means they are never selected for it; a contest awaiting review
keeps the customer out of every automated selection until it is resolved; a declared segment replaces
the model's assignment for targeting when ``choices.declared_overrides_model`` is true. The register
(``data/choices.parquet``, keyed by pseudonym) is joined to the assignments in the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import engine
from ._intervals import wilson_interval


@dataclass
class ChoiceHolds:
    """Per customer (in the order given): ``contested``, ``objects`` per action, ``declared`` segment id
    (-1: none, or a name no segment has) and how many declarations named no segment of this run."""

    contested: np.ndarray
    objects: dict[str, np.ndarray]
    declared: np.ndarray
    declared_unknown: int


def choice_holds(customer_ids: pd.Series, register: pd.DataFrame, actions: list[str],
                 names: dict[int, str]) -> ChoiceHolds:
    """Join the register to the customers in the engine of :func:`workbench.engine.using`.

    Parameters
    ----------
    customer_ids : Series
        Pseudonyms of the customers targeting decides on, in their order.
    register : DataFrame
        The prepared register (``customer_id``, ``kind``, ``target``, ``segment``, ``recorded_at``).
    actions : list of str
        The policy's actions.
    names : dict
        Segment id -> name: declarations are matched by name.
    """
    customers = pd.DataFrame({"customer_id": customer_ids.astype(str).to_numpy(),
                              "_row": np.arange(len(customer_ids))})
    with engine.make_engine(engine.active_config()) as eng:
        eng.register_rows("fa_choice_customers", customers)
        eng.register_rows("fa_choices", register[["customer_id", "kind", "target", "segment"]].astype("string"))
        rows = eng.fetch_rows(engine.choice_holds_query("fa_choice_customers", "fa_choices", actions))
    rows = rows.sort_values("_row").reset_index(drop=True)
    by_name = {str(v): int(k) for k, v in names.items()}
    declared_names = rows["declared"].astype(object)
    declared = declared_names.map(lambda v: by_name.get(str(v), -1) if isinstance(v, str) else -1).to_numpy(int)
    return ChoiceHolds(
        contested=rows["contested"].to_numpy() == 1,
        objects={a: rows[f"objects_{a}"].to_numpy() == 1 for a in actions},
        declared=declared,
        declared_unknown=int((declared_names.notna() & (declared < 0)).sum()),
    )


def held_selections(segments: np.ndarray, actions: dict[str, list[int]], consented: dict[str, np.ndarray],
                    holds: ChoiceHolds | None, declared_overrides: bool) -> dict[str, np.ndarray]:
    """Each action's selection: the customer's segment (declared, where configured and named) receives it,
    consent is given, and the register holds nothing back (no objection to it, no contest pending)."""
    if holds is not None and declared_overrides:
        segments = np.where(holds.declared >= 0, holds.declared, segments)
    out = {}
    for action, ids in actions.items():
        selected = np.isin(segments, ids) & consented.get(action, True)
        if holds is not None:
            selected = selected & ~holds.objects[action] & ~holds.contested
        out[action] = selected
    return out


def targeting_check(targeting: pd.DataFrame, register: pd.DataFrame | None) -> dict:
    """The register's promise checked on what targeting wrote, not on what it meant to do.

    Parameters
    ----------
    targeting : DataFrame
        ``customer_id`` and one boolean column per action (``fairness/targeting.parquet``).
    register : DataFrame or None
        The prepared register (``data/choices.parquet``).

    Returns
    -------
    dict
        ``objecting`` (customers objecting to an action of the policy), ``objecting_selected`` (of them,
        selected for an action they objected to), ``contested`` (assignments awaiting review),
        ``contested_selected`` (of them, in any selection) and ``declared`` (customers who declared a segment).
    """
    actions = [c for c in targeting.columns if c != "customer_id"]
    if register is None or not actions:
        return {"objecting": 0, "objecting_selected": 0, "contested": 0, "contested_selected": 0, "declared": 0}
    selected = targeting.melt(id_vars="customer_id", value_vars=actions, var_name="target", value_name="selected")
    objections = register.loc[(register["kind"] == "object_action") & register["target"].isin(actions),
                              ["customer_id", "target"]]
    objected = objections.merge(selected, on=["customer_id", "target"], how="inner")
    any_selected = targeting.set_index("customer_id")[actions].any(axis=1)
    contested = register.loc[register["kind"] == "contest", "customer_id"].drop_duplicates()
    contested = contested[contested.isin(any_selected.index)]
    return {
        "objecting": int(objections["customer_id"].isin(any_selected.index).groupby(objections["customer_id"]).any().sum()),
        "objecting_selected": int(objected.loc[objected["selected"], "customer_id"].nunique()),
        "contested": int(len(contested)),
        "contested_selected": int(any_selected.reindex(contested).sum()),
        "declared": int((register["kind"] == "declare_segment").sum()),
    }


def event_counts_by(labels, events: np.ndarray) -> pd.DataFrame:
    """Exact counts, rows = ``labels`` values, columns ``event`` / ``no event``: the table to publish."""
    table = pd.crosstab(pd.Series(np.asarray(labels), name="row"),
                        pd.Series(np.where(events, "event", "no event"), name="col"))
    return table.reindex(columns=["event", "no event"], fill_value=0).rename_axis(index=None, columns=None)


def rates_above_rest(counts: pd.DataFrame, published: pd.DataFrame, alpha: float = 0.05,
                     correction: str = "holm") -> pd.DataFrame:
    """Each row's event rate with its Wilson interval, and whether it is significantly above the rest.

    Decided on the exact ``counts`` (a one-sided pooled z-test of the row against all other rows,
    corrected over the rows with ``correction``); the rate and interval shown come from the
    ``published`` (suppressed, with margins) table and are NaN where a cell it needs is hidden.

    Returns
    -------
    DataFrame
        Index: the rows; columns ``customers``, ``events``, ``rate``, ``low``, ``high`` (published),
        ``p_adjusted``, ``flagged``.
    """
    from scipy import stats

    from ._rates import adjust_pvalues

    s, n = counts["event"].to_numpy(float), counts.sum(axis=1).to_numpy(float)
    rest_s, rest_n = s.sum() - s, n.sum() - n
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (s + rest_s) / (n + rest_n)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n + 1 / rest_n))
        z = np.where(se > 0, (s / n - rest_s / rest_n) / se, 0.0)
    p = np.where((n > 0) & (rest_n > 0), stats.norm.sf(z), 1.0)
    adjusted = adjust_pvalues(p, correction)
    shown_s = published.loc[counts.index, "event"].to_numpy(float)
    shown_n = published.loc[counts.index, "Total"].to_numpy(float)
    low, high = wilson_interval(np.nan_to_num(shown_s), np.nan_to_num(shown_n, nan=0.0), alpha)
    hidden = np.isnan(shown_s) | np.isnan(shown_n)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(hidden, np.nan, shown_s / shown_n)
    return pd.DataFrame({
        "customers": shown_n, "events": shown_s, "rate": rate,
        "low": np.where(hidden, np.nan, low), "high": np.where(hidden, np.nan, high),
        "p_adjusted": adjusted, "flagged": adjusted < alpha,
    }, index=counts.index)
