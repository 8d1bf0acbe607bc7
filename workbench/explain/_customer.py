"""One customer's explanation: top contributions next to typical values, the runner-up, a counterfactual."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._counterfactual import counterfactual
from ._grouping import _label


def customer_explanation(state: dict, customer_id: str, X: pd.DataFrame, assigned_segment, assigned_name: str,
                         prof: pd.DataFrame, top: int = 5) -> tuple[dict, bool]:
    """Explain one customer's segment from the explainer state of a run.

    Parameters
    ----------
    state : dict
        What the stage saved in ``explain/explainer.joblib`` (explainer, names, feature groups, ...).
    customer_id : str
        The customer's pseudonym (repeated in the result, nowhere else).
    X : DataFrame
        The customer's row of ``segments/features.parquet`` without ``customer_id``.
    assigned_segment, assigned_name
        The customer's stored segment id and name.
    prof : DataFrame
        ``explain/profiles.parquet`` indexed by ``segment`` (``"all"``: the population).
    top : int, default 5
        Contributions listed.

    Returns
    -------
    (dict, bool)
        The explanation without its paragraph (``customer_id``, ``segment``, ``segment_name``, ``method``,
        ``trustworthy``, ``reason``, ``contributions``, ``runner_up``, ``counterfactual``, ...), and
        whether there was a membership to explain (False for a customer without a given label).
    """
    names = state["names"]
    segment = _label(assigned_segment)
    population = prof.loc["all"]
    out = {
        "customer_id": customer_id, "segment": segment,
        "segment_name": names.get(str(segment), assigned_name),
        "method": state["kind"], "trustworthy": bool(state["trustworthy"]), "reason": state["reason"],
        "contributions": [], "runner_up": None, "counterfactual": None,
    }
    given = state.get("audit")
    if given is not None:  # audit mode: a label nobody explained, or a segment too small to explain
        if segment in set(given.get("unexplained") or []):
            out.update(trustworthy=False, reason=given["unexplained_reason"])
            return out, False
        why = (given.get("untrusted") or {}).get(str(segment))
        if why:
            out.update(trustworthy=False, reason=why)
    res, model_segment, runner = _explain_row(state, X, segment, assigned_segment)
    out["model_agrees"] = bool(str(model_segment) == str(segment))
    groups = state.get("feature_groups") or {}
    feats = list(state["explainer"].features_)
    own = pd.Series(res["own"][0], index=feats).groupby(lambda f: groups.get(f, f), sort=False).sum()
    versus = pd.Series(res["versus"][0], index=feats).groupby(lambda f: groups.get(f, f), sort=False).sum()
    out["base_value"] = float(res["base_own"][0])
    out["score"] = float(res["base_own"][0] + own.sum())
    out["runner_up"] = {"segment": runner, "segment_name": names.get(str(runner), str(runner))}
    order = own.sort_values(key=np.abs, ascending=False).index[:top]
    for feat in order:
        out["contributions"].append({
            "feature": feat, "value": _value_of(X, groups, feat), "typical": _typical(prof, segment, feat),
            "typical_runner_up": _typical(prof, runner, feat), "population_median": population.get(feat),
            "contribution": float(own[feat]), "versus_runner_up": float(versus[feat]),
        })
    out["separating"] = [
        {"feature": f, "versus_runner_up": float(versus[f]), "value": _value_of(X, groups, f),
         "typical_runner_up": _typical(prof, runner, f)}
        for f in versus.sort_values(ascending=False).index[:3] if versus[f] > 0
    ]
    if state["trustworthy"] and out["trustworthy"] and runner != "rest":
        out["counterfactual"] = _counterfactual_to(state, X, prof, runner, model_segment)
    out["actionable"] = list(state["actionable"])
    return out, True


def _explain_row(state: dict, X: pd.DataFrame, segment, assigned_segment) -> tuple[dict, object, object]:
    """The explainer's result for the customer, the segment the explainer predicts, and the runner-up."""
    explainer = state["explainer"]
    if state["kind"] == "exact":
        res = explainer.explain(X)
        return res, _label(res["segment"][0]), _label(res["runner_up"][0])
    if explainer.segment is not None:
        res = explainer.explain(X)
        runner = "rest"
        if str(segment) != str(explainer.segment):  # a non-member: explain "rest" against the segment
            res = {**res, "own": -res["own"], "versus": -res["versus"], "base_own": -res["base_own"]}
            runner = _label(explainer.segment)
    else:
        res = explainer.explain(X, labels=[assigned_segment])
        runner = _label(res["runner_up"][0])
    return res, _label(explainer.predict(X)[0]), runner


def _typical(prof: pd.DataFrame, seg, feat):
    """The typical member's value of ``feat`` in ``seg`` (None when unknown or suppressed)."""
    if str(seg) not in prof.index or feat not in prof.columns:
        return None
    v = prof.loc[str(seg), feat]
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else v


def _value_of(X: pd.DataFrame, groups: dict, feat: str):
    """The customer's value of an original feature (the level of a one-hot encoded one)."""
    if feat in X.columns:
        v = X[feat].iloc[0]
        return v.item() if hasattr(v, "item") else v
    dummies = [c for c in X.columns if groups.get(c) == feat and float(X[c].iloc[0] or 0) == 1.0]
    return dummies[0][len(feat) + 1:] if dummies else None


def _counterfactual_to(state: dict, X: pd.DataFrame, prof: pd.DataFrame, runner, model_segment) -> dict | None:
    """Move the customer to the runner-up with a small change in actionable features (None if none does)."""
    predict = state["explainer"].predict
    if state.get("model") is not None:
        predict = state["model"].predict
    target_values = {}
    for f in state["actionable"]:
        v = _typical(prof, runner, f)
        try:
            target_values[f] = float(v) if v is not None else None
        except (TypeError, ValueError):
            target_values[f] = None
    try:
        cf = counterfactual(X, predict, _coerce_like(runner, model_segment), target_values, state["actionable"],
                            scale=state["scale"], integer=set(state["integer"]))
    except Exception:  # a counterfactual is a courtesy, never a failure
        cf = None
    if cf is not None:
        cf["target_name"] = state["names"].get(str(runner), str(runner))
        cf["target"] = runner
    return cf


def _coerce_like(value, like):
    if isinstance(like, (int, np.integer)):
        try:
            return int(value)
        except (TypeError, ValueError):
            return value
    return value
