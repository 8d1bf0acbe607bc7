"""The audit's headline sentences for ``summary.json`` and the index page, and its top proxies."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._policy import _spec_text


def _headline(audit, verdict_out: pd.DataFrame, actions: dict, names: dict, policy: dict, order_source: str,
              attributes: list[str]) -> tuple[list[str], dict]:
    """Headline sentences (verdict counts, then the strongest proxy per attribute) and the top proxies."""
    n_fail = int((verdict_out["verdict"] == "fail").sum())
    n_ins = int((verdict_out["verdict"] == "insufficient evidence").sum())
    heads = [
        f"Fairness: {n_fail} of {len(verdict_out)} (action, attribute) verdicts fail, {n_ins} insufficient evidence "
        f"(policy: " + "; ".join(f"{a} -> {', '.join(names[i] for i in ids)}" for a, ids in actions.items()) + ")."
    ]
    if audit.given is not None:
        heads[0] = (f"Fairness of the given segments (labels from {audit.given['source']}): {n_fail} of "
                    f"{len(verdict_out)} (action, attribute) verdicts fail, {n_ins} insufficient evidence (policy: "
                    + "; ".join(f"{a} -> {len(ids)} segment(s) ({_spec_text(policy[a], order_source)})"
                                for a, ids in actions.items()) + ").")
        if audit.given["insufficient_evidence"]:
            heads.append(f"{len(audit.given['insufficient_evidence'])} given segment(s) below "
                         f"{audit.given['min_segment_size']} customers: composition is insufficient evidence there.")
    top = {}
    for attr in attributes:
        sub = audit.proxies.loc[audit.proxies["attribute"] == attr]
        if len(sub):
            jr = audit.proxy_joint.loc[audit.proxy_joint["attribute"] == attr].iloc[0]
            top[attr], sentence = _proxy_headline(attr, sub, jr)
            heads.append(sentence)
    return heads, top


def _auc(value: float) -> str:
    """An AUC for a sentence; NaN (too few customers of a group for cross-validation, or no inputs) in words."""
    return f"{value:.2f}" if np.isfinite(value) else "not computable (too few customers in a group, or nothing to predict from)"


def _proxy_headline(attr: str, sub: pd.DataFrame, jr: pd.Series) -> tuple[dict, str]:
    """The strongest proxy of one attribute (and the strongest segmentation input), as a dict and a sentence."""
    r = sub.iloc[0]
    top = {"feature": r["feature"], "cramers_v": r["cramers_v"], "inputs_auc": jr["inputs_auc"],
           "features_auc": jr["features_auc"],
           "segments_auc": jr["segments_auc"]}
    used = sub.loc[sub["segmentation_input"]]
    extra = ""
    if not r["segmentation_input"]:
        extra = ", not a segmentation input"
        if len(used):
            u = used.iloc[0]
            shap = "" if not np.isfinite(u["shap_weight"]) else f", SHAP weight in a targeted segment {u['shap_weight']:.2f}"
            extra += f"; strongest among the inputs: {u['feature']} ({u['cramers_v']:.2f}{shap})"
            top["strongest_input"] = u["feature"]
    tail = (f"the segmentation inputs predict {attr} with AUC {_auc(jr['inputs_auc'])}, all customer columns "
            f"{_auc(jr['features_auc'])}, segment labels alone {_auc(jr['segments_auc'])}.")
    if r["cramers_v"] >= 0.1:
        return top, (f"Strongest proxy for {attr}: {r['feature']} (Cramér's V {r['cramers_v']:.2f}"
                     f"{extra}); {tail}")
    return top, (f"No notable proxy for {attr}: the strongest, {r['feature']}, has Cramér's V "
                 f"{r['cramers_v']:.2f}; {tail}")
