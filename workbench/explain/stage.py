"""Stage 03: explain segment membership for a run, and one customer's explanation, from the run directory.

The only module of :mod:`workbench.explain` that reads or writes the run directory.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import engine
from ..rundir import Run, register_stage, to_jsonable
from . import views
from ._counterfactual import FeatureContext, _numeric_scales, run_levels
from ._customer import customer_explanation
from ._defaults import DEFAULTS
from ._grouping import _label, group_columns
from ._importance import contributions_table, global_importance, original_importance
from ._linear import centroid_explainer, has_centroids
from ._profiles import profiles
from ._surrogate import explain_labels

IMPORTANCE_COLUMNS = ["segment", "feature", "mean_abs_shap", "mean_shap_members", "trustworthy"]

#: The ``report`` config section: individual customers appear in reports only when asked for.
REPORT_DEFAULTS = {"individual_examples": False}


# -- the stage ----------------------------------------------------------------------------------
@register_stage("explain/importance.parquet")
def explain_run(run: Run) -> dict:
    """Stage 03: explain segment membership for the whole run; write ``artifacts/explain/``.

    Parameters
    ----------
    run : Run
        A run with stage 02's artifacts (produced first if missing).

    Returns
    -------
    dict
        ``method`` ("exact" or "surrogate"), ``importance``, ``fidelity`` (surrogate), ``trustworthy``,
        ``reason``, ``result`` (for the plots), ``X`` (raw features), ``names``, ``profiles`` and
        ``agreement``; in audit mode also ``audit`` and ``shown``.
    """
    settings = run.settings("explain", DEFAULTS)
    frame, X, labels, names = _inputs(run)
    suppression_k = int(run.read_json("data/prepare.json").get("suppression_k", 10))
    model = _load_model(run)
    roles = run.roles
    audit = _audit_info(run)
    if audit is not None:  # segments given as labels: no model, explained by the surrogate only
        return _explain_given(run, settings, X, labels, names, audit, suppression_k)
    if len(np.unique(labels)) < 2:  # k = 1: no segment structure, so no membership decision
        return _nothing_to_explain(run, X, labels, names, suppression_k, ONE_LEARNED, audit=False)

    exact = has_centroids(model) and settings.get("one_vs_rest") is None
    fit = _fit_exact(run, settings, model, frame, X, labels) if exact else _fit_surrogate(run, settings, X, labels)
    explainer, result = fit["explainer"], fit["result"]
    fidelity, trustworthy, reason, agreement = fit["fidelity"], fit["trustworthy"], fit["reason"], fit["agreement"]

    # original features: sum dummy columns of the same feature (features.parquet may hold dummies)
    originals = group_columns(list(result["features"]), list(roles.feature_columns))
    importance = _mark_trust(original_importance(result, originals), fidelity, trustworthy,
                             settings["fidelity_threshold"])
    run.write_table("explain/importance.parquet", importance[IMPORTANCE_COLUMNS])
    prof = profiles(X, labels, names, k=suppression_k)
    run.write_table("explain/profiles.parquet", prof)
    cf_model = _counterfactual_model(run, model, X, labels)
    _save_state(run, settings, explainer, names, X, result, originals, trustworthy, reason, fidelity,
                cf_model, model if cf_model == "segmentation model" else None)
    meta = {
        "method": explainer.kind, "explained": "margin between the assigned segment and the runner-up",
        "trustworthy": trustworthy, "reason": reason, "fidelity": fidelity,
        "agreement_with_assignments": agreement, "features": list(X.columns),
        "counterfactual_model": cf_model,
        "n_customers": int(len(X)), "one_vs_rest": settings.get("one_vs_rest"),
        "base_values": _base_values(result, explainer),
    }
    run.write_json("artifacts/explain/explain.json", meta)
    _summarise(run, explainer, importance, names, fidelity, trustworthy, reason, exact, agreement)
    return {"method": explainer.kind, "importance": importance, "fidelity": fidelity, "trustworthy": trustworthy,
            "reason": reason, "result": result, "X": fit["X_plot"], "names": names, "profiles": prof,
            "agreement": agreement}


def _inputs(run: Run) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, dict]:
    """Stage 02's features joined to the assignments: the frame, raw features, labels and segment names."""
    assignments = run.read_table("segments/assignments.parquet")
    features = run.read_table("segments/features.parquet")
    frame = features.merge(assignments[["customer_id", "segment"]], on="customer_id", how="inner", validate="1:1")
    X = frame.drop(columns=["customer_id", "segment"])
    labels = frame["segment"].to_numpy()
    return frame, X, labels, _names(run, assignments)


def _load_model(run: Run):
    if not run.has("segments/model.joblib"):
        return None
    import joblib

    try:
        return joblib.load(run.artifact("segments/model.joblib"))
    except Exception:  # an unreadable model: fall back to the surrogate
        return None


def _names(run: Run, assignments: pd.DataFrame) -> dict:
    names = {}
    if run.has("segments/segments.json"):
        names = {str(k): v for k, v in (run.read_json("artifacts/segments/segments.json").get("names") or {}).items()}
    pairs = assignments[["segment", "segment_name"]].drop_duplicates()
    for s, n in zip(pairs["segment"], pairs["segment_name"]):
        names.setdefault(str(_label(s)), str(n))
    return names


def _audit_info(run: Run) -> dict | None:
    """``segments.json``'s audit section when the segments were given as labels, else None."""
    if not run.has("segments/segments.json"):
        return None
    info = run.read_json("artifacts/segments/segments.json")
    if info.get("method") != "external labels":
        return None
    return {**(info.get("audit") or {}), "k": info.get("k")}


def _fit_exact(run: Run, settings: dict, model, frame: pd.DataFrame, X: pd.DataFrame, labels: np.ndarray) -> dict:
    """Exact path: SHAP of the centroid scores for every customer; writes ``contributions.parquet``."""
    plot_rng = np.random.default_rng(run.seed + 2)
    plot_rows = np.sort(plot_rng.choice(len(X), min(settings["plot_sample"], len(X)), replace=False))
    explainer = centroid_explainer(model, X, background_size=settings["background_size"], random_state=run.seed)
    X_model = X[list(getattr(model, "feature_names_in_", X.columns))]
    with engine.using(run.config):  # the importance table in the configured engine, over every customer
        result = global_importance(explainer, X_model, batch_size=settings["batch_size"],
                                   top_n=settings["top_n"], sample=plot_rows, model=_engine_model(model))
    agreement = float(np.mean(result["segment"].astype(int) == labels.astype(int)))
    reason = ("exact: k-means assigns each customer to the highest of linear scores, so SHAP values of "
              "those scores are exact")
    if agreement < 1.0:
        reason += f" (the scores reproduce {agreement:.2%} of the stored assignments)"
    run.write_table("explain/contributions.parquet", contributions_table(
        frame["customer_id"].to_numpy(), labels, result, explainer.features_, settings["top_n"]))
    return {"explainer": explainer, "result": result, "X_plot": X_model, "trustworthy": True, "fidelity": None,
            "reason": reason, "agreement": agreement}


def _engine_model(model):
    """``model`` when its scoring translates to SQL (a :class:`~workbench.segment.SegmentationModel`
    with centroids), so the importance runs in the engine; else None (a scikit-learn pipeline)."""
    return model if getattr(model, "transforms_", None) is not None and hasattr(model, "preprocessor_") else None


def _fit_surrogate(run: Run, settings: dict, X: pd.DataFrame, labels: np.ndarray) -> dict:
    """Surrogate path: a fidelity-gated surrogate of the assignments, explained on a seeded sample."""
    explainer, result = explain_labels(X, labels, settings, seed=run.seed)
    fidelity = explainer.fidelity_
    return {"explainer": explainer, "result": result, "X_plot": result["X_sample"],
            "trustworthy": explainer.trustworthy_, "fidelity": fidelity, "reason": fidelity["reason"],
            "agreement": None}


def _mark_trust(importance: pd.DataFrame, fidelity: dict | None, trustworthy: bool, threshold: float) -> pd.DataFrame:
    """Add ``trustworthy`` per segment (the surrogate's F1 reaches the threshold); sort by segment, importance."""
    seg_trust = {}
    for seg in importance["segment"].unique():
        f1 = (fidelity or {}).get("f1", {}).get(_label(seg)) if fidelity else None
        seg_trust[seg] = bool(trustworthy and (f1 is None or f1 >= threshold))
    importance["trustworthy"] = importance["segment"].map(seg_trust).astype(bool)
    importance["segment"] = importance["segment"].map(lambda s: int(s) if str(s).lstrip("-").isdigit() else s)
    return importance.sort_values(["segment", "mean_abs_shap"], ascending=[True, False],
                                  key=lambda c: c if c.name != "segment" else c.astype(str)).reset_index(drop=True)


def _counterfactual_model(run: Run, model, X: pd.DataFrame, labels: np.ndarray) -> str:
    """Which model counterfactuals are checked with: the segmentation model when it reproduces the stored
    assignments (on a seeded sample), else the explainer."""
    cf_model = "explainer"
    if model is not None and hasattr(model, "predict"):
        try:
            check = np.sort(np.random.default_rng(run.seed + 3).choice(len(X), min(2000, len(X)), replace=False))
            pred = np.asarray(model.predict(X.iloc[check]))
            if np.mean(pred.astype(str) == labels[check].astype(str)) >= 0.999:
                cf_model = "segmentation model"
        except Exception:
            cf_model = "explainer"
    return cf_model


def _save_state(run: Run, settings: dict, explainer, names: dict, X: pd.DataFrame, result: dict,
                originals: list[str], trustworthy: bool, reason: str, fidelity: dict | None,
                cf_model: str, model, **extra) -> None:
    """Write ``explain/explainer.joblib``: what :func:`explain_customer` needs."""
    import joblib

    scale, integer = _numeric_scales(X)
    state = {
        "kind": explainer.kind, "explainer": explainer, "names": names, "features": list(X.columns),
        "feature_groups": dict(zip(result["features"], originals)),
        "feature_context": _feature_context(run, list(X.columns)),
        "scale": scale, "integer": integer, "trustworthy": trustworthy, "reason": reason,
        "fidelity": fidelity, "counterfactual_model": cf_model, "model": model,
        "threshold": settings["fidelity_threshold"], "top_n": settings["top_n"], **extra,
    }
    joblib.dump(state, run.artifact("explain/explainer.joblib"))


def _feature_context(run: Run, columns: list[str]) -> FeatureContext | None:
    """The run's transaction feature computation (``as_of``, settings, levels) for counterfactuals."""
    from ..features import DEFAULTS as FEATURE_DEFAULTS
    from ..features import default_as_of

    transactions = run.transactions()
    if transactions is None or not len(transactions):
        return None
    fsettings = {**FEATURE_DEFAULTS, **((run.config.get("segmentation") or {}).get("features") or {})}
    purchases = transactions.loc[transactions["amount"] > 0, "amount"]
    return FeatureContext(as_of=default_as_of(transactions), settings=fsettings,
                          levels=run_levels(transactions, int(fsettings["max_levels"])),
                          typical_basket=float(purchases.median()) if len(purchases) else 1.0, columns=columns)


def _base_values(result: dict, explainer) -> dict:
    return {str(_label(s)): float(b) for s, b in zip(result["segments"], explainer.base_values_)}


def _rounded(fidelity: dict) -> dict:
    return {"accuracy": round(fidelity["accuracy"], 4), "f1": {k: round(v, 4) for k, v in fidelity["f1"].items()}}


def _summarise(run: Run, explainer, importance: pd.DataFrame, names: dict, fidelity: dict | None,
               trustworthy: bool, reason: str, exact: bool, agreement: float | None) -> None:
    """The ``03_explain`` summary: method, fidelity, top features per segment and the headline."""
    top_by_segment = {}
    for seg, part in importance.groupby("segment", sort=False):
        top_by_segment[str(seg)] = part.nlargest(3, "mean_abs_shap")["feature"].tolist()
    if trustworthy:
        headline = [
            ("Membership is explained exactly (linear scores of the centroid model)." if exact else
             f"Membership is explained by a surrogate model that reproduces {fidelity['accuracy']:.0%} of "
             f"held-out assignments.")
        ] + [f"{names.get(s, 'Segment ' + s)} is told apart from its runner-up mostly by {', '.join(f)}."
             for s, f in top_by_segment.items()]
    else:
        headline = [f"Segment membership is not explained: {reason}."]
    run.summarise(
        "03_explain", method=explainer.kind, trustworthy=trustworthy,
        fidelity=None if fidelity is None else _rounded(fidelity),
        agreement_with_assignments=agreement,
        top_features=top_by_segment if trustworthy else None, headline=headline,
    )


# -- audit mode: segments given as labels -------------------------------------------------------
def _explain_given(run: Run, settings: dict, X: pd.DataFrame, labels: np.ndarray, names: dict, audit: dict,
                   suppression_k: int) -> dict:
    """Stage 03 for given labels: a fidelity-gated surrogate of the labels (they have no centroids).

    The surrogate (:func:`explain_labels`) is fitted on labelled customers only: customers without a
    label are not assigned by any rule, so there is nothing to explain for them. Segments below the
    minimum size (``segments.json`` audit section) are marked "insufficient evidence" and their
    explanations withheld, like segments the surrogate reproduces with an F1 below the threshold.
    """
    roles = run.roles
    unlabelled = audit.get("unlabelled_segment")
    small = {int(j) for j in audit.get("insufficient_evidence") or []}
    min_size = int(audit.get("min_segment_size") or suppression_k)
    labelled = labels != (-1 if unlabelled is None else unlabelled)
    if labelled.sum() < 2 or len(np.unique(labels[labelled])) < 2:
        return _nothing_to_explain(run, X, labels, names, suppression_k)
    explainer, result = explain_labels(X[labelled].reset_index(drop=True), labels[labelled], settings, seed=run.seed)
    fidelity = explainer.fidelity_
    trustworthy, reason = explainer.trustworthy_, fidelity["reason"]

    originals = group_columns(list(result["features"]), list(roles.feature_columns))
    importance = original_importance(result, originals)
    untrusted, seg_trust = _given_trust(importance, fidelity, trustworthy, small, min_size,
                                        settings["fidelity_threshold"])
    importance = _given_importance(importance, seg_trust, suppression_k)
    run.write_table("explain/importance.parquet", importance[IMPORTANCE_COLUMNS])

    prof = profiles(X, labels, names, k=suppression_k)
    run.write_table("explain/profiles.parquet", prof)
    unexplained = [] if unlabelled is None or not (labels == unlabelled).any() else [int(unlabelled)]
    given = {
        "unexplained": unexplained,
        "unexplained_reason": "the customer has no segment label in the source system",
        "untrusted": untrusted,
        "insufficient_evidence": sorted(small),
    }
    _save_state(run, settings, explainer, names, X, result, originals, trustworthy, reason, fidelity,
                "explainer", None, audit=given)
    n_unlabelled = int((~labelled).sum())
    meta = {
        "method": explainer.kind, "trustworthy": trustworthy, "reason": reason, "fidelity": fidelity,
        "agreement_with_assignments": None, "features": list(X.columns),
        "n_customers": int(len(X)), "n_explained": int(labelled.sum()), "one_vs_rest": settings.get("one_vs_rest"),
        "base_values": _base_values(result, explainer),
        "audit": {**given, "unlabelled_customers": n_unlabelled},
    }
    run.write_json("artifacts/explain/explain.json", meta)
    _summarise_given(run, explainer, importance, names, labels, untrusted, fidelity, trustworthy, reason,
                     n_unlabelled)
    shown = [s for s in importance["segment"].unique() if seg_trust.get(s, False) or seg_trust.get(_label(s), False)]
    return {"method": explainer.kind, "importance": importance, "fidelity": fidelity, "trustworthy": trustworthy,
            "reason": reason, "result": result, "X": result["X_sample"], "names": names, "profiles": prof,
            "agreement": None, "audit": {**given, "unlabelled_customers": n_unlabelled}, "shown": shown}


NOTHING = ("only one segment is given, so no customer was chosen over another segment: there is no "
           "membership decision to explain (the audit covers the segment's composition only)")


ONE_LEARNED = ("no stable segment structure was found, so every customer is in one segment: there is no "
               "membership decision to explain")


def _nothing_to_explain(run: Run, X: pd.DataFrame, labels: np.ndarray, names: dict, suppression_k: int,
                        reason: str = NOTHING, audit: bool = True) -> dict:
    """One segment (given, or learned at k = 1): write empty artifacts that say there is nothing to explain."""
    import joblib

    importance = pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
        IMPORTANCE_COLUMNS, ["int64", "object", "float64", "float64", "bool"])})
    run.write_table("explain/importance.parquet", importance)
    prof = profiles(X, labels, names, k=suppression_k)
    run.write_table("explain/profiles.parquet", prof)
    joblib.dump({"kind": "none", "names": names, "trustworthy": False, "reason": reason},
                run.artifact("explain/explainer.joblib"))
    run.write_json("artifacts/explain/explain.json", {"method": "none", "trustworthy": False, "reason": reason,
                                                        "n_customers": int(len(X))})
    run.summarise("03_explain", method="none", trustworthy=False, audit=audit, fidelity=None,
                  top_features=None, headline=[f"Segment membership is not explained: {reason}."])
    return {"method": "none", "importance": importance, "fidelity": None, "trustworthy": False, "reason": reason,
            "result": None, "X": X, "names": names, "profiles": prof, "agreement": None, "audit": {}, "shown": []}


def _given_trust(importance: pd.DataFrame, fidelity: dict, trustworthy: bool, small: set, min_size: int,
                 threshold: float) -> tuple[dict[str, str], dict]:
    """Segments whose explanation is withheld, and why; and whether each segment's explanation is shown."""
    untrusted: dict[str, str] = {}
    seg_trust = {}
    for seg in importance["segment"].unique():
        f1 = fidelity["f1"].get(_label(seg))
        if int(seg) in small:
            untrusted[str(seg)] = (f"the segment has fewer than {min_size} customers: insufficient evidence for an "
                                   "explanation")
        elif f1 is not None and f1 < threshold:
            untrusted[str(seg)] = (f"the surrogate reproduces this segment only with F1 {f1:.2f}, below the "
                                   f"threshold of {threshold:.2f}")
        seg_trust[seg] = bool(trustworthy and str(seg) not in untrusted)
    return untrusted, seg_trust


def _given_importance(importance: pd.DataFrame, seg_trust: dict, suppression_k: int) -> pd.DataFrame:
    """Mark trust per segment, hide members' means of unpublishable segments, sort by segment, importance."""
    importance["trustworthy"] = importance["segment"].map(seg_trust).astype(bool)
    # members' mean contributions of a segment too small to publish are not shown
    tiny = importance["n_members"] < suppression_k
    importance.loc[tiny, "mean_shap_members"] = np.nan
    importance["segment"] = importance["segment"].astype(int)
    return importance.sort_values(["segment", "mean_abs_shap"], ascending=[True, False]).reset_index(drop=True)


def _summarise_given(run: Run, explainer, importance: pd.DataFrame, names: dict, labels: np.ndarray,
                     untrusted: dict, fidelity: dict, trustworthy: bool, reason: str, n_unlabelled: int) -> None:
    """The ``03_explain`` summary of an audit: fidelity, withheld segments, top features and the headline."""
    sizes = pd.Series(labels).value_counts()
    top_by_segment = {}
    for seg, part in importance.groupby("segment", sort=True):
        if str(seg) in untrusted:
            continue
        top_by_segment[str(seg)] = part.nlargest(3, "mean_abs_shap")["feature"].tolist()
    if trustworthy:
        headline = [f"The given segments are explained by a surrogate model that reproduces {fidelity['accuracy']:.1%} of "
                    "held-out labelled customers' segments (the labels have no centroids)."]
        largest = [str(s) for s in sizes.index if str(s) in top_by_segment][:5]
        headline += [f"{names.get(s, 'Segment ' + s)} is told apart from its runner-up mostly by "
                     f"{', '.join(top_by_segment[s])}." for s in largest]
        if untrusted:
            headline.append(f"Explanations withheld for {len(untrusted)} segment(s): too small, or not reproduced "
                            "closely enough by the surrogate.")
    else:
        headline = [f"Membership of the given segments is not explained: {reason}."]
    if n_unlabelled:
        headline.append(f"{n_unlabelled:,} customers without a label are not explained (no rule assigned them).")
    run.summarise(
        "03_explain", method=explainer.kind, trustworthy=trustworthy, audit=True, fidelity=_rounded(fidelity),
        agreement_with_assignments=None, unexplained_customers=n_unlabelled,
        withheld={k: v for k, v in untrusted.items()},
        top_features=top_by_segment if trustworthy else None, headline=headline,
    )


# -- per customer -------------------------------------------------------------------------------
def load_state(run: Run) -> dict:
    """What :func:`explain_customer` needs, produced by :func:`explain_run` if missing.

    Parameters
    ----------
    run : Run

    Returns
    -------
    dict
        The contents of ``explain/explainer.joblib`` (``kind``, ``explainer``, ``names``, ...).
    """
    import joblib

    run.require("explain/importance.parquet")
    return joblib.load(run.artifact("explain/explainer.joblib"))


def _read_customer(run: Run, relative: str, customer_id: str, path=None) -> pd.DataFrame:
    """One customer's rows of an artifact (or of the Parquet file ``path``), read with a filter."""
    import pyarrow.parquet as pq

    table = pq.read_table(path or run.require(relative), filters=[("customer_id", "==", customer_id)])
    return table.to_pandas()


def explain_customer(run: Run, customer_id: str, top: int = 5, versus=None) -> dict:
    """Explain one customer's segment, looked up by pseudonym.

    Parameters
    ----------
    run : Run
    customer_id : str
        The customer's pseudonym.
    top : int, default 5
        Contributions listed.
    versus : segment id, optional
        Explain the margin against this segment instead of the runner-up.

    Returns
    -------
    dict
        ``customer_id`` (the pseudonym), ``segment``, ``segment_name``, ``method``, ``trustworthy``,
        ``reason``, ``contributions`` (top features by |margin SHAP|: value, typical member,
        population median, contribution to the margin), ``runner_up``, ``margin``, ``counterfactual``
        (a change in purchasing verified with the model, or why none was found) and ``paragraph``.

    Raises
    ------
    KeyError
        When the pseudonym is not in the run (the message repeats only the pseudonym).
    """
    state = load_state(run)
    row = _read_customer(run, "segments/features.parquet", customer_id)
    assigned = _read_customer(run, "segments/assignments.parquet", customer_id)
    if len(row) != 1 or len(assigned) != 1:
        raise KeyError(f"No customer with pseudonym {customer_id} in this run.")
    prof = run.read_table("explain/profiles.parquet").set_index("segment")
    tx = None
    if state.get("feature_context") is not None:
        tx = _read_customer(run, "", customer_id, path=run.path / "data" / "transactions.parquet")
    out, explained = customer_explanation(state, customer_id, row.drop(columns=["customer_id"]),
                                          assigned["segment"].iloc[0], str(assigned["segment_name"].iloc[0]),
                                          prof, top, versus=versus, transactions=tx)
    if state["kind"] == "none":
        out["paragraph"] = views.nothing_paragraph(out["segment_name"], state["reason"])
    else:
        out["paragraph"] = views.customer_paragraph(out) if explained else views.unlabelled_paragraph(
            out["segment_name"])
    return to_jsonable(out)


def individual_examples(run: Run) -> bool:
    """Whether the config allows an individual customer in the reports (``report.individual_examples``)."""
    return bool(run.settings("report", REPORT_DEFAULTS).get("individual_examples"))


def example_customer(run: Run, seed: int | None = None) -> str | None:
    """A randomly drawn customer's explanation as text, pseudonym replaced; None unless the config
    sets ``report.individual_examples: true`` (no individual appears in a report by default)."""
    if not individual_examples(run):
        return None
    assignments = run.read_table("segments/assignments.parquet")
    rng = np.random.default_rng(run.seed if seed is None else seed)
    pid = assignments["customer_id"].iloc[int(rng.integers(len(assignments)))]
    text = views.render_text(explain_customer(run, pid))
    return text.replace(pid, "<an example customer>")


def compare_with_truth(run: Run, importance: pd.DataFrame, n: int = 5) -> pd.DataFrame | None:
    """Synthetic runs: does each segment's explanation name what its planted segment differs on?

    Reads the planted truth of the run (``data/truth.parquet``, ``data/truth.json``) and shows it with
    :func:`workbench.explain.views.compare_with_planted`. None without planted truth.
    """
    truth_path = run.path / "data" / "truth.parquet"
    if not truth_path.exists():
        return None
    truth = pd.read_parquet(truth_path)
    differs = run.read_json("data/truth.json")["differs_on"]
    k_min = int(run.read_json("data/prepare.json").get("suppression_k", 10))
    assignments = run.read_table("segments/assignments.parquet")
    return views.compare_with_planted(assignments, truth, differs, importance, k_min, n)
