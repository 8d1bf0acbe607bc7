"""Feasible counterfactuals: changes in purchasing behaviour, applied to transactions, verified by the model.

A counterfactual is a small set of *actions* a customer could take -- more purchases of a typical
basket in a quarter, moving part of their purchases from one category (or channel) to another --
applied to the customer's own transactions. The changed transactions go through the run's feature
computation (:func:`workbench.features.transaction_features`, the aggregation
:func:`~workbench.features.build_features` runs, at the run's ``as_of`` and with its category and
channel levels), so frequency, spend, average order value, shares, recency and tenure move together
as they would. Clock features (recency, tenure) change only as a consequence of dated purchases and
are never suggested; customer-table attributes (demographics, geography, survey scores, engagement)
are never changed. Every candidate is scored by the model; the result is the nearest segment that
some candidate reaches (distance: standardised change of the features, ties: fewer actions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

#: The bounded grammar: purchases added in a quarter, basket sizes (x the typical basket), shares moved.
ADD_PURCHASES = (1, 2, 3, 5, 8, 12)
BASKETS = (0.5, 1.0, 2.0)
MOVE_FRACTIONS = (0.25, 0.5, 1.0)
QUARTER_DAYS = 90
_LEVEL_COLUMNS = ("category", "channel")


@dataclass
class Action:
    """One change in behaviour: ``add`` purchases, or ``move`` purchases between levels of a column."""

    kind: str
    n: int = 0
    basket: float = 1.0
    column: str = ""
    source: str = ""
    target: str = ""
    fraction: float = 0.0
    amount: float = 0.0
    moved: int = 0
    of: int = 0
    text: str = field(default="", compare=False)


@dataclass
class FeatureContext:
    """What the run's feature computation needs: ``as_of``, feature settings, levels, typical basket."""

    as_of: pd.Timestamp
    settings: dict
    levels: dict
    typical_basket: float
    columns: list


def run_levels(transactions: pd.DataFrame, max_levels: int) -> dict[str, list[str]]:
    """The category/channel levels the run's share features were computed for (as ``_levels`` picks them)."""
    out = {}
    for col in _LEVEL_COLUMNS:
        if col in transactions:
            counts = transactions[col].dropna().astype(str).value_counts()
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max_levels]
            out[col] = sorted(v for v, _ in ranked)
    return out


def candidate_actions(tx: pd.DataFrame, ctx: FeatureContext) -> list[list[Action]]:
    """Every action set of the grammar for one customer's transactions: single actions and add + move pairs."""
    purchases = tx[tx["amount"] > 0]
    basket = float(purchases["amount"].median()) if len(purchases) else ctx.typical_basket
    adds = [Action("add", n=n, basket=b, amount=round(b * basket, 2)) for n in ADD_PURCHASES for b in BASKETS]
    for a in adds:
        size = "your typical basket" if a.basket == 1.0 else f"{a.basket:g} times your typical basket"
        a.text = (f"{a.n} more purchase{'s' if a.n > 1 else ''} of {size} (about {a.amount:,.2f} each) "
                  f"in a quarter")
    moves = []
    for col, levels in ctx.levels.items():
        if col not in purchases:
            continue
        have = purchases[col].astype(str).value_counts()
        for src in sorted(have.index):
            if src not in levels:
                continue
            for dst in levels:
                if dst == src:
                    continue
                for f in MOVE_FRACTIONS:
                    m = max(1, math.ceil(f * have[src]))
                    moves.append(Action("move", column=col, source=src, target=dst, fraction=f, moved=m,
                                        of=int(have[src]), text=f"moving {m} of your {int(have[src])} purchases in {col} "
                                        f"\u201c{src}\u201d ({m / have[src]:.0%}) to \u201c{dst}\u201d"))
    singles = [[a] for a in adds + moves]
    return singles + [[a, m] for a in adds for m in moves]


def apply_actions(tx: pd.DataFrame, actions: list[Action], as_of: pd.Timestamp) -> pd.DataFrame:
    """The customer's transactions after ``actions`` (added purchases fall in the quarter before ``as_of``).

    Moves apply to the customer's existing purchases (the most recent ones of the source level), then
    added purchases are appended; they copy the customer's most common category and channel, so only a
    ``move`` changes shares.
    """
    out = _as_object(tx)
    for a in actions:
        if a.kind == "move":
            out = _moved(out, a)
    added = [_added_purchases(out, a, as_of) for a in actions if a.kind == "add"]
    return pd.concat([out, *added], ignore_index=True) if added else out.reset_index(drop=True)


def _as_object(tx: pd.DataFrame) -> pd.DataFrame:
    out = tx.copy()
    for col in _LEVEL_COLUMNS:
        if col in out:
            out[col] = out[col].astype(object)
    return out


def _moved(tx: pd.DataFrame, a: Action) -> pd.DataFrame:
    out = tx.copy()
    idx = out[(out["amount"] > 0) & (out[a.column].astype(str) == a.source)]
    idx = idx.sort_values("timestamp", kind="stable").index[-a.moved:]
    out.loc[idx, a.column] = a.target
    return out


def _added_purchases(tx: pd.DataFrame, a: Action, as_of: pd.Timestamp) -> pd.DataFrame:
    step = QUARTER_DAYS / a.n
    days = [QUARTER_DAYS - step * (i + 0.5) for i in range(a.n)]  # evenly over the last quarter
    rows = pd.DataFrame({"timestamp": [as_of - pd.Timedelta(days=d) for d in days], "amount": a.amount})
    for col in tx.columns:
        if col in rows:
            continue
        values = tx.loc[tx["amount"] > 0, col] if "amount" in tx else tx[col]
        mode = values.astype(object).mode()
        rows[col] = mode.iloc[0] if len(mode) else (tx[col].iloc[0] if len(tx) else None)
    return rows[list(tx.columns)]


def candidate_features(row: pd.DataFrame, tx: pd.DataFrame, candidates: list[list[Action]],
                       ctx: FeatureContext) -> pd.DataFrame:
    """Feature rows of every candidate: the stored ``row`` with its transaction features recomputed.

    Each candidate's transactions (as :func:`apply_actions` makes them) are assembled from a pool of
    pieces (the moved variants of the history, the blocks of added purchases), and all candidates go
    through one :func:`~workbench.features.transaction_features` query; one anchor purchase per run
    level (under an id outside the output) keeps every share column the run had.
    """
    from ..features import transaction_features

    base = _as_object(tx).reset_index(drop=True)
    pieces, where = [base], {}

    def piece(key, make):
        if key not in where:
            where[key] = len(pieces)
            pieces.append(make().reset_index(drop=True))
        return where[key]

    parts = []
    for actions in candidates:
        moves = [a for a in actions if a.kind == "move"]
        history = 0 if not moves else piece(("move", *map(id, moves)), lambda: apply_actions(base, moves, ctx.as_of))
        hist_frame = pieces[history]
        parts.append([history] + [piece(("add", id(a), history), lambda a=a, h=hist_frame: _added_purchases(
            h, a, ctx.as_of)) for a in actions if a.kind == "add"])
    offsets = np.cumsum([0] + [len(p) for p in pieces])
    pool = pd.concat(pieces, ignore_index=True)
    take = [np.concatenate([np.arange(offsets[j], offsets[j + 1]) for j in part]) for part in parts]
    ids = np.array([f"cf{i}" for i in range(len(candidates))], dtype=object)
    all_tx = pool.iloc[np.concatenate(take)].reset_index(drop=True)
    all_tx["customer_id"] = np.repeat(ids, [len(t) for t in take])
    all_tx = pd.concat([all_tx, _anchors(tx, ctx)], ignore_index=True)
    agg = transaction_features(all_tx, as_of=ctx.as_of, settings=ctx.settings, customer_ids=pd.Series(ids))
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
        ``found`` (bool), ``searched`` (candidates tried), and when found ``target``, ``actions``
        (texts), ``action_sets`` (:class:`Action` lists, for checks), ``changes`` (every feature that
        moves: ``feature``, ``from``, ``to``), ``distance``, ``reachable`` (other segments reached, nearest first).
    """
    candidates = candidate_actions(tx, ctx)[:max_candidates]
    if not candidates:
        return {"found": False, "searched": 0}
    feats = candidate_features(row, tx, candidates, ctx)
    pred = np.asarray(predict(feats))
    cols = [c for c in ctx.columns if c in row and pd.api.types.is_numeric_dtype(feats[c])]
    dist = _distances(row, feats, cols, scale)
    n_actions = np.array([len(c) for c in candidates])
    other = pred.astype(str) != str(current)
    if not other.any():
        return {"found": False, "searched": len(candidates)}
    best = {}  # per reachable segment: the nearest candidate (ties: fewer actions, then grammar order)
    for i in np.lexsort((np.arange(len(pred)), n_actions, dist)):
        if other[i] and pred[i] not in best:
            best[pred[i]] = i
    order = sorted(best, key=lambda s_: (dist[best[s_]], n_actions[best[s_]], best[s_]))
    i = best[order[0]]
    base = row.iloc[0]
    changes = [{"feature": c, "from": _plain(base[c]), "to": _plain(feats.iloc[i][c])} for c in cols
               if not _same(base[c], feats.iloc[i][c])]
    return {"found": True, "searched": len(candidates), "target": pred[i], "actions": [a.text for a in candidates[i]],
            "action_sets": candidates[i], "changes": changes, "distance": float(dist[i]),
            "features": feats.iloc[[i]].reset_index(drop=True), "reachable": list(order[1:])}


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
