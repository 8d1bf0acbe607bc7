"""Counterfactuals: the small change in actionable features that moves one customer to another segment."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd


def actionable_features(features: list[str], settings: dict, roles=None) -> list[str]:
    """Features a counterfactual may change: ``settings['actionable']`` or the default rule."""
    if settings.get("actionable") is not None:
        return [f for f in settings["actionable"] if f in features]
    blocked = set(settings.get("not_actionable") or [])
    families = set(settings.get("not_actionable_families") or [])
    out = []
    for f in features:
        family = roles.family_of(f) if roles is not None else None
        if f in blocked or (family in families):
            continue
        out.append(f)
    return out


def counterfactual(x: pd.DataFrame, predict: Callable, target, target_values: dict, actionable: list[str],
                   scale: dict | None = None, integer: set | None = None, steps: int = 40) -> dict | None:
    """A small change in actionable numeric features that moves one customer to ``target``.

    Walks from the customer's values straight toward ``target_values`` (the target segment's typical
    member; beyond it up to three times the distance if needed) and takes the first point that
    ``predict`` assigns to ``target``; then drops every change that is not needed (least useful
    first) and shortens the walk for what remains. Not a global optimum, but every change it reports
    is needed and the result is verified with ``predict``.

    Returns
    -------
    dict or None
        ``{"target": ..., "changes": [{"feature", "from", "to"}], "distance": standardised size}``,
        or None when no change in actionable features alone reaches the target.
    """
    x = x.iloc[[0]].reset_index(drop=True)
    integer = integer or set()
    scale = scale or {}
    movable = [f for f in actionable if f in target_values and target_values[f] is not None
               and pd.api.types.is_numeric_dtype(x[f]) and not pd.api.types.is_bool_dtype(x[f])
               and np.isfinite(float(target_values[f])) and np.isfinite(float(x[f].iloc[0]))
               and float(target_values[f]) != float(x[f].iloc[0])]
    if not movable:
        return None
    start = {f: float(x[f].iloc[0]) for f in movable}
    delta = {f: float(target_values[f]) - start[f] for f in movable}

    def candidates(active: list[str], ts: np.ndarray) -> pd.DataFrame:
        rows = pd.concat([x] * len(ts), ignore_index=True)
        for f in active:
            vals = start[f] + ts * delta[f]
            if f in integer:
                vals = np.where(delta[f] > 0, np.ceil(vals - 1e-9), np.floor(vals + 1e-9))
            rows[f] = vals.astype(rows[f].dtype) if f in integer and pd.api.types.is_integer_dtype(rows[f]) else vals
        return rows

    def first_hit(active: list[str], ts: np.ndarray):
        pred = np.asarray(predict(candidates(active, ts)))
        hit = np.flatnonzero(pred == target)
        return None if len(hit) == 0 else float(ts[hit[0]])

    ts = np.linspace(0, 3, 3 * steps + 1)[1:]
    t = first_hit(movable, ts)
    if t is None:
        return None
    active = list(movable)
    # drop changes that are not needed, smallest standardised change first
    size = {f: abs(delta[f]) / (scale.get(f) or 1.0) for f in movable}
    for f in sorted(movable, key=lambda f: size[f]):
        if len(active) == 1:
            break
        trial = [g for g in active if g != f]
        t_trial = first_hit(trial, ts)
        if t_trial is not None:
            active, t = trial, t_trial
    # refine t between the last miss and the hit
    lo = max(0.0, t - 3.0 / (3 * steps))
    fine = np.linspace(lo, t, 21)[1:]
    t = first_hit(active, fine) or t
    final = candidates(active, np.array([t]))
    if np.asarray(predict(final))[0] != target:
        return None
    changes = [{"feature": f, "from": start[f], "to": float(final[f].iloc[0])} for f in active]
    distance = float(np.sqrt(sum(((c["to"] - c["from"]) / (scale.get(c["feature"]) or 1.0)) ** 2 for c in changes)))
    return {"target": target, "changes": changes, "distance": distance}



def _numeric_scales(X: pd.DataFrame) -> tuple[dict[str, float], list[str]]:
    """Standard deviation of each numeric feature, and which of them hold whole numbers only."""
    scale = {c: float(pd.to_numeric(X[c], errors="coerce").std()) for c in X.columns
             if pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c])}
    integer = [c for c in scale if pd.api.types.is_integer_dtype(X[c]) or
               bool(np.all(np.mod(pd.to_numeric(X[c], errors="coerce").dropna().to_numpy()[:5000], 1) == 0))]
    return scale, integer

