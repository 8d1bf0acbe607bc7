"""Feasible counterfactuals: purchases a customer could make next, re-scored at the period's end.

A counterfactual is something a customer can still do: *additional purchases in the next period*
(:data:`PERIOD_DAYS` days after the run's ``as_of``): how many, of what basket size, and optionally
in which category and/or through which channel. The past is never relabelled: a customer cannot
change what they bought, only what they buy next. The customer's transactions plus the added ones go
through the run's feature computation (:func:`workbench.features.transaction_features`, the
aggregation :func:`~workbench.features.build_features` runs, with the run's category and channel
levels) *at the end of the period*, so frequency, spend, average order value, shares, recency and
tenure move together as they would by then, including the clock. Clock features are never suggested;
customer-table attributes (demographics, geography, survey scores, engagement) are never changed.
Every candidate is scored by the model, and so is doing nothing: a segment the customer would reach
without any action is not a suggestion. The result is the nearest segment some candidate reaches
(distance: standardised change of the features, ties: fewer purchases).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

#: The bounded grammar: purchases added in the next period and basket sizes (x the typical basket).
ADD_PURCHASES = (1, 2, 3, 5, 8, 12)
BASKETS = (0.5, 1.0, 2.0)
PERIOD_DAYS = 90
_LEVEL_COLUMNS = ("category", "channel")


@dataclass
class Action:
    """Additional purchases in the next period: ``n`` of ``amount`` each, in ``levels`` ({column: level}) or as usual."""

    kind: str
    n: int = 0
    basket: float = 1.0
    amount: float = 0.0
    levels: dict = field(default_factory=dict)
    text: str = field(default="", compare=False)


@dataclass
class FeatureContext:
    """What the run's feature computation needs: ``as_of``, feature settings, levels, typical basket."""

    as_of: pd.Timestamp
    settings: dict
    levels: dict
    typical_basket: float
    columns: list

    @property
    def period_end(self) -> pd.Timestamp:
        """Where a counterfactual is re-scored: the end of the next period."""
        return pd.Timestamp(self.as_of) + pd.Timedelta(days=PERIOD_DAYS)


def run_levels(transactions: pd.DataFrame, max_levels: int) -> dict[str, list[str]]:
    """The category/channel levels the run's share features were computed for (as ``_levels`` picks them)."""
    out = {}
    for col in _LEVEL_COLUMNS:
        if col in transactions:
            counts = transactions[col].dropna().astype(str).value_counts()
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max_levels]
            out[col] = sorted(v for v, _ in ranked)
    return out


def _where(levels: dict) -> str:
    parts = []
    if "category" in levels:
        parts.append(f" in category \u201c{levels['category']}\u201d")
    if "channel" in levels:
        parts.append(f" through channel \u201c{levels['channel']}\u201d")
    return "".join(parts)


def _level_choices(purchases: pd.DataFrame, ctx: FeatureContext) -> list[dict]:
    """As usual, each category, each channel, and each category through each channel."""
    cols = [c for c in _LEVEL_COLUMNS if c in ctx.levels and c in purchases]
    choices = [{}]
    for col in cols:
        choices += [{col: v} for v in ctx.levels[col]]
    if len(cols) == 2:
        choices += [{cols[0]: a, cols[1]: b} for a in ctx.levels[cols[0]] for b in ctx.levels[cols[1]]]
    return choices


def candidate_actions(tx: pd.DataFrame, ctx: FeatureContext) -> list[list[Action]]:
    """Every action of the grammar for one customer: n more purchases of a basket size, as usual or in a level."""
    purchases = tx[tx["amount"] > 0]
    basket = float(purchases["amount"].median()) if len(purchases) else ctx.typical_basket
    out = []
    for levels in _level_choices(purchases, ctx):
        for n in ADD_PURCHASES:
            for b in BASKETS:
                a = Action("add", n=n, basket=b, amount=round(b * basket, 2), levels=dict(levels))
                size = "your typical basket" if b == 1.0 else f"{b:g} times your typical basket"
                a.text = (f"{n} more purchase{'s' if n > 1 else ''} of {size} (about {a.amount:,.2f} each)"
                          f"{_where(levels)} in the next {PERIOD_DAYS} days")
                out.append([a])
    return out


def apply_actions(tx: pd.DataFrame, actions: list[Action], as_of: pd.Timestamp) -> pd.DataFrame:
    """The customer's transactions with the actions' purchases added in the period after ``as_of``.

    Past transactions are kept as they are. Added purchases fall evenly in ``(as_of, as_of +
    PERIOD_DAYS)``; their category and channel are the action's, else the customer's most common.
    """
    out = _as_object(tx)
    added = [_added_purchases(out, a, as_of) for a in actions if a.kind == "add"]
    return pd.concat([out, *added], ignore_index=True) if added else out.reset_index(drop=True)


def _as_object(tx: pd.DataFrame) -> pd.DataFrame:
    out = tx.copy()
    for col in _LEVEL_COLUMNS:
        if col in out:
            out[col] = out[col].astype(object)
    return out


def _added_purchases(tx: pd.DataFrame, a: Action, as_of: pd.Timestamp) -> pd.DataFrame:
    step = PERIOD_DAYS / a.n
    days = [step * (i + 0.5) for i in range(a.n)]  # evenly over the next period
    rows = pd.DataFrame({"timestamp": [pd.Timestamp(as_of) + pd.Timedelta(days=d) for d in days], "amount": a.amount})
    for col in tx.columns:
        if col in rows:
            continue
        if col in a.levels:
            rows[col] = a.levels[col]
            continue
        values = tx.loc[tx["amount"] > 0, col] if "amount" in tx else tx[col]
        mode = values.astype(object).mode()
        rows[col] = mode.iloc[0] if len(mode) else (tx[col].iloc[0] if len(tx) else None)
    return rows[list(tx.columns)]


def candidate_features(row: pd.DataFrame, tx: pd.DataFrame, candidates: list[list[Action]],
                       ctx: FeatureContext) -> pd.DataFrame:
    """Feature rows of every candidate at the period's end: the stored ``row`` with its transaction features recomputed.

    Each candidate's transactions (as :func:`apply_actions` makes them) are the history plus blocks of
    added purchases, and all candidates go through one
    :func:`~workbench.features.transaction_features` query at ``ctx.period_end``; one anchor purchase
    per run level (under an id outside the output) keeps every share column the run had. An empty
    action list is "doing nothing" until the period's end.
    """
    from ..features import transaction_features

    base = _as_object(tx).reset_index(drop=True)
    pieces = [base] + [_added_purchases(base, a, ctx.as_of).reset_index(drop=True)
                       for actions in candidates for a in actions]
    parts, j = [], 1
    for actions in candidates:
        parts.append([0, *range(j, j + len(actions))])
        j += len(actions)
    offsets = np.cumsum([0] + [len(p) for p in pieces])
    pool = pd.concat(pieces, ignore_index=True)
    take = [np.concatenate([np.arange(offsets[k], offsets[k + 1]) for k in part]) for part in parts]
    ids = np.array([f"cf{i}" for i in range(len(candidates))], dtype=object)
    all_tx = pool.iloc[np.concatenate(take)].reset_index(drop=True)
    all_tx["customer_id"] = np.repeat(ids, [len(t) for t in take])
    all_tx = pd.concat([all_tx, _anchors(tx, ctx)], ignore_index=True)
    agg = transaction_features(all_tx, as_of=ctx.period_end, settings=ctx.settings, customer_ids=pd.Series(ids))
    out = pd.concat([row.iloc[[0]]] * len(candidates), ignore_index=True)
    for col in ctx.columns:
        if col in agg:
            out[col] = agg[col].to_numpy()
    # as build_features finishes them: no purchases = frequency 0, monetary 0, trend 0
    for col, fill in (("frequency", 0), ("monetary", 0.0), ("trend", 0.0)):
        if col in out and col in ctx.columns:
            out[col] = out[col].fillna(fill)
    if "frequency" in out and "frequency" in ctx.columns:
        out["frequency"] = out["frequency"].astype(row["frequency"].dtype)
    return out


def _anchors(tx: pd.DataFrame, ctx: FeatureContext) -> pd.DataFrame:
    rows = []
    for col, levels in ctx.levels.items():
        for level in levels:
            rec = {c: (tx[c].iloc[0] if len(tx) else None) for c in tx.columns}
            rec.update({"customer_id": "__levels__", "timestamp": ctx.as_of - pd.Timedelta(days=1),
                        "amount": 1.0, col: level})
            rows.append(rec)
    frame = pd.DataFrame(rows, columns=list(tx.columns)) if rows else tx.iloc[:0].copy()
    for col in _LEVEL_COLUMNS:
        if col in frame:
            frame[col] = frame[col].astype(object)
    return frame


def feasible_counterfactual(row: pd.DataFrame, tx: pd.DataFrame, predict: Callable, current, ctx: FeatureContext,
                            scale: dict, max_candidates: int = 4000) -> dict:
    """The nearest segment reachable by a change in behaviour, with the actions and their verified effect.

    Parameters
    ----------
    row : DataFrame
        The customer's stored feature row (one row, model input columns).
    tx : DataFrame
        The customer's transactions (prepared, before ``as_of``).
    predict : callable
        The model's assignment of feature rows (every candidate is verified with it).
    current
        The customer's segment: candidates reaching it are no change.
    ctx : FeatureContext
    scale : dict
        Standard deviation of each numeric feature (distance in standardised units).
    max_candidates : int, default 4000
        Bound of the search (action sets beyond it are not tried).

    Returns
    -------
    dict
        ``found`` (bool), ``searched`` (candidates tried), ``without_action`` (the segment at the
        period's end if the customer buys nothing more), and when found ``target``, ``actions``
        (texts), ``action_sets`` (:class:`Action` lists, for checks), ``changes`` (every feature that
        moves by the period's end: ``feature``, ``from``, ``to``), ``distance``, ``reachable`` (other
        segments reached, nearest first).
    """
    candidates = candidate_actions(tx, ctx)[:max_candidates]
    if not candidates:
        return {"found": False, "searched": 0}
    feats = candidate_features(row, tx, [[]] + candidates, ctx)  # first: no action until the period's end
    pred = np.asarray(predict(feats))
    idle, pred, feats = pred[0], pred[1:], feats.iloc[1:].reset_index(drop=True)
    cols = [c for c in ctx.columns if c in row and pd.api.types.is_numeric_dtype(feats[c])]
    dist = _distances(row, feats, cols, scale)
    purchases = np.array([sum(a.n for a in c) for c in candidates])
    # a suggestion reaches a segment that neither today's nor doing nothing reaches
    other = (pred.astype(str) != str(current)) & (pred.astype(str) != str(idle))
    if not other.any():
        return {"found": False, "searched": len(candidates), "without_action": idle}
    best = {}  # per reachable segment: the nearest candidate (ties: fewer purchases, then grammar order)
    for i in np.lexsort((np.arange(len(pred)), purchases, dist)):
        if other[i] and pred[i] not in best:
            best[pred[i]] = i
    order = sorted(best, key=lambda s_: (dist[best[s_]], purchases[best[s_]], best[s_]))
    i = best[order[0]]
    base = row.iloc[0]
    changes = [{"feature": c, "from": _plain(base[c]), "to": _plain(feats.iloc[i][c])} for c in cols
               if not _same(base[c], feats.iloc[i][c])]
    return {"found": True, "searched": len(candidates), "target": pred[i], "actions": [a.text for a in candidates[i]],
            "action_sets": candidates[i], "changes": changes, "distance": float(dist[i]),
            "features": feats.iloc[[i]].reset_index(drop=True), "reachable": list(order[1:]),
            "without_action": idle}


def _distances(row: pd.DataFrame, feats: pd.DataFrame, cols: list[str], scale: dict) -> np.ndarray:
    """Standardised Euclidean distance of every candidate row from ``row`` (a feature that appears or
    disappears, e.g. the first purchase's recency, counts one standard deviation)."""
    if not cols:
        return np.zeros(len(feats))
    x = row[cols].astype(float).to_numpy()[0]
    y = feats[cols].astype(float).to_numpy()
    s = np.array([scale.get(c) or 1.0 for c in cols])
    d = (y - x) / s
    one_missing = np.isnan(x)[None, :] ^ np.isnan(y)
    d = np.where(one_missing, 1.0, np.nan_to_num(d, nan=0.0))
    return np.sqrt((d ** 2).sum(axis=1))


def _same(x, y) -> bool:
    if pd.isna(x) and pd.isna(y):
        return True
    if pd.isna(x) or pd.isna(y):
        return False
    return abs(float(x) - float(y)) <= 1e-9 * max(1.0, abs(float(x)))


def _plain(v):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return v.item() if hasattr(v, "item") else v


def _numeric_scales(X: pd.DataFrame) -> tuple[dict[str, float], list[str]]:
    """Standard deviation of each numeric feature, and which of them hold whole numbers only."""
    scale = {c: float(pd.to_numeric(X[c], errors="coerce").std()) for c in X.columns
             if pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c])}
    integer = [c for c in scale if pd.api.types.is_integer_dtype(X[c]) or
               bool(np.all(np.mod(pd.to_numeric(X[c], errors="coerce").dropna().to_numpy()[:5000], 1) == 0))]
    return scale, integer
