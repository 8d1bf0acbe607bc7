"""One customer's explanation: margin contributions next to typical values, the runner-up, a feasible counterfactual."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._counterfactual import PERIOD_DAYS, feasible_counterfactual
from ._grouping import _label


def customer_explanation(state: dict, customer_id: str, X: pd.DataFrame, assigned_segment, assigned_name: str,
                         prof: pd.DataFrame, top: int = 5, versus=None, transactions: pd.DataFrame | None = None
                         ) -> tuple[dict, bool]:
    """Explain one customer's segment from the explainer state of a run.

    The explained quantity is the margin between the assigned segment and the runner-up (or the
    segment named by ``versus``): a positive contribution pushes the customer towards the assigned
    segment, a negative one towards the other.

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
    versus : segment id, optional
        Explain against this segment instead of the runner-up.
    transactions : DataFrame, optional
        The customer's transactions (for a feasible counterfactual); None: no counterfactual.

    Returns
    -------
    (dict, bool)
        The explanation without its paragraph (``customer_id``, ``segment``, ``segment_name``, ``method``,
        ``trustworthy``, ``reason``, ``contributions``, ``runner_up``, ``counterfactual``, ...), and
        whether there was a membership to explain (False for a customer without a given label).
    """
    names = state["names"]
    segment = _label(assigned_segment)
    out = {
        "customer_id": customer_id, "segment": segment,
        "segment_name": names.get(str(segment), assigned_name),
        "method": state["kind"], "trustworthy": bool(state["trustworthy"]), "reason": state["reason"],
        "contributions": [], "runner_up": None, "counterfactual": None,
    }
    if state["kind"] == "none":
        return out, False
    given = state.get("audit")
    if given is not None:  # audit mode: a label nobody explained, or a segment too small to explain
        if segment in set(given.get("unexplained") or []):
            out.update(trustworthy=False, reason=given["unexplained_reason"])
            return out, False
        why = (given.get("untrusted") or {}).get(str(segment))
        if why:
            out.update(trustworthy=False, reason=why)
    res, model_segment = _explain_row(state, X, assigned_segment, versus)
    runner = _label(res["runner_up"][0])
    out["model_agrees"] = bool(str(model_segment) == str(segment))
    groups = state.get("feature_groups") or {}
    feats = list(state["explainer"].features_)
    margin = pd.Series(res["margin"][0], index=feats).groupby(lambda f: groups.get(f, f), sort=False).sum()
    out["base_value"] = float(res["base_margin"][0])
    out["margin"] = float(res["base_margin"][0] + margin.sum())
    out["versus_requested"] = versus is not None
    out["runner_up"] = {"segment": runner, "segment_name": names.get(str(runner), str(runner))}
    for feat in margin.sort_values(key=np.abs, ascending=False).index[:top]:
        out["contributions"].append({
            "feature": feat, "value": _value_of(X, groups, feat), "typical": _typical(prof, segment, feat),
            "typical_runner_up": _typical(prof, runner, feat), "population_median": prof.loc["all"].get(feat),
            "contribution": float(margin[feat]),
        })
    if state["trustworthy"] and out["trustworthy"]:
        out["counterfactual"] = _counterfactual(state, X, transactions, model_segment)
    return out, True


def _explain_row(state: dict, X: pd.DataFrame, assigned_segment, versus) -> tuple[dict, object]:
    """The explainer's margin explanation of the customer, and the segment the explainer predicts."""
    explainer = state["explainer"]
    if state["kind"] == "exact":
        res = explainer.explain(X, versus=versus)
    elif explainer.segment is not None:
        res = explainer.explain(X, labels=[assigned_segment])
    else:
        res = explainer.explain(X, labels=[assigned_segment], versus=versus)
    return res, _label(explainer.predict(X)[0])


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


def _counterfactual(state: dict, X: pd.DataFrame, transactions: pd.DataFrame | None, model_segment) -> dict:
    """A feasible counterfactual (:func:`feasible_counterfactual`), or why there is none."""
    ctx = state.get("feature_context")
    if ctx is None or transactions is None:
        return {"found": False, "why": "the run has no transaction history, so no change in purchasing behaviour "
                                       "can be computed; attributes such as demographics, geography or survey "
                                       "answers are never suggested"}
    predict = state["model"].predict if state.get("model") is not None else state["explainer"].predict
    cf = feasible_counterfactual(X, transactions, predict, model_segment, ctx, state["scale"])
    cf.pop("features", None)
    cf.pop("action_sets", None)
    if not cf["found"]:
        cf["why"] = (f"none of the {cf['searched']:,} sets of additional purchases searched (more purchases in the "
                     f"next {PERIOD_DAYS} days, as usual or in a category or channel) moves you to another segment "
                     "than the one you would be in anyway")
        return cf
    cf["target"] = _label(cf["target"])
    cf["target_name"] = state["names"].get(str(cf["target"]), str(cf["target"]))
    cf["reachable"] = [_label(s) for s in cf["reachable"]]
    cf["without_action"] = _label(cf["without_action"])
    return cf
