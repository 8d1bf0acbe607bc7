"""Stage 02, the only module of :mod:`workbench.segment` that reads or writes the run directory.

:func:`segment_run` learns segments (or hands over to :func:`audit_run` when the dataset brings
its own labels); :func:`assign_new` assigns new customers with a finished run's saved model.
"""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from .. import engine, privacy
from ..data import UNLABELLED, InputError, section
from ..features import DEFAULTS as FEATURE_DEFAULTS
from ..rundir import Run, register_stage
from ._choose_k import fit_with_k
from ._defaults import DEFAULTS
from ._inputs import segmentation_inputs
from ._labels import compare_with_learned, given_model_space, given_segment_ids, mark_evidence
from ._model import SegmentationModel
from ._naming import name_segments
from ._profiles import (
    customer_rfm,
    describe_inputs,
    profile_segments,
    projection_sample,
    rfm_group_counts,
    rfm_group_table,
    segment_count_table,
    segment_moments,
    value_order,
)
from .views import SegmentationResult, audit_headline, learned_headline, planted_agreement

# -- steps shared by both paths -------------------------------------------------------------------
def _segments_and_z(model: SegmentationModel, X: pd.DataFrame, config: dict):
    """Segment ids, the z table and the segment centres; with ``engine: spark`` scoring runs as a query there.

    Elsewhere each slice of customers is scored in numpy as it is transformed for the z table
    (:func:`segment_moments`): the driver never holds every customer in model space.
    """
    labels = None
    if engine.engine_settings(config)[0] == "spark" and model.cluster_centers_ is not None:
        with engine.make_engine(config) as eng:
            labels = engine.predict_segments(model, X, eng)
    return segment_moments(model, X, labels)


def _read_inputs(run: Run, extra: tuple = ()):
    """The customer columns the features, outcome (and ``extra`` roles) need, and the transactions left in the engine.

    Only the columns a feature, the plan, an outcome or an audit can use are read from the prepared
    customer table; the transaction log stays a Parquet file the engine scans
    (:class:`~workbench.features.ParquetTransactions`), or ``None`` when the run has no transaction rows.
    """
    import pyarrow.parquet as pq

    from ..features import ParquetTransactions

    roles = run.roles
    path = run.path / "data" / "customers.parquet"
    wanted = ["customer_id", *roles.feature_columns, *roles.sensitive, roles.outcome, *extra]
    present = set(pq.read_schema(path).names)
    columns = [c for c in dict.fromkeys(wanted) if c and c in present]
    customers = pd.read_parquet(path, columns=columns)
    transactions = None
    if run.has_transactions:
        transactions = ParquetTransactions.of(run.path / "data" / "transactions.parquet")
        with engine.using(run.config):
            if transactions.span()[0] == 0:
                transactions = None
    return customers, transactions


def _plot(model: SegmentationModel, X: pd.DataFrame, labels: np.ndarray, centres: np.ndarray) -> dict:
    """What the projection figure needs: a seeded sample in model space and the non-empty segments' centres."""
    present = set(np.unique(labels).tolist())
    return dict(n_customers=len(X), plot_sample=projection_sample(model, X, labels),
                centres={j: centres[j] for j in range(len(centres)) if j in present})


def _settings(run: Run) -> tuple[dict, dict]:
    """The ``segmentation`` section and, merged over the feature defaults, its ``features`` part."""
    settings = run.settings("segmentation", DEFAULTS)
    return settings, {**FEATURE_DEFAULTS, **(settings.get("features") or {})}


def _rfm_tables(run: Run, customers: pd.DataFrame, transactions, sup_k: int) -> pd.DataFrame | None:
    """RFM scores per customer (written to ``segments/rfm.parquet``, not kept) and the suppressed group table.

    The recency, frequency and monetary triple is one query on the run's engine over the transaction
    file; the scores (quintile ranks) are computed on the driver.
    """
    if transactions is None:
        return None
    with engine.using(run.config):
        rfm_table = customer_rfm(customers[["customer_id"]], transactions)
    run.write_table("segments/rfm.parquet", rfm_table)
    counts = rfm_group_counts(rfm_table, sup_k, suppress=lambda exact: privacy.suppress_and_publish(
        run, "rfm_groups", exact, "rfm_group", "customers", sup_k, sizes_only=True))
    return rfm_group_table(rfm_table, sup_k, counts=counts)


def _published_profile(run: Run, features, labels, names, outcome, value, sup_k) -> pd.DataFrame:
    """Segment sizes (x outcome) suppressed once and registered; the profile derived from that table."""
    labels = np.asarray(labels)
    seg_ids = sorted(set(range(int(labels.max()) + 1)) | set(names or {})) if len(labels) else []
    outcome_dim = run.roles.outcome or "outcome"
    if outcome is None:
        counts = segment_count_table(labels, seg_ids, None, sup_k, suppress=lambda exact: privacy.suppress_and_publish(
            run, "segment_sizes", exact, "segment", outcome_dim, sup_k, sizes_only=True))
    else:
        counts = segment_count_table(
            labels, seg_ids, outcome, sup_k,
            suppress=lambda exact: privacy.suppress_and_publish(run, "segment_sizes", exact, "segment", outcome_dim),
        )
    return profile_segments(features, labels, names, outcome=outcome, value=value, suppression_k=sup_k,
                            counts=counts, value_sums=_printed_value_sums(run, features, labels, seg_ids, value,
                                                                          outcome_dim))


def _printed_value_sums(run: Run, features, labels, seg_ids, value, column_dim) -> dict | None:
    """The value (clipped at 0) per segment and in all, as printed (the cell-key method for magnitudes):
    the profile's revenue shares derive from these, not from exact sums."""
    if not value or value not in features:
        return None
    spend, rows = features[value].clip(lower=0).to_numpy(dtype=float), [*seg_ids, privacy.TOTAL]
    parts = [spend[labels == j] for j in seg_ids] + [spend]
    printed = privacy.publish_magnitudes(run, f"{value} clipped at 0", [p.sum() for p in parts],
                                         [p.max() if len(p) else 0.0 for p in parts], "segment", rows, column_dim)
    return dict(zip(rows, printed))


def _planted_segments(run: Run, features: pd.DataFrame) -> pd.Series | None:
    """Synthetic data only: each customer's planted segment (``data/truth.parquet``), else ``None``."""
    truth_path = run.path / "data" / "truth.parquet"
    if not truth_path.exists():
        return None
    truth = pd.read_parquet(truth_path, columns=["customer_id", "segment"])
    planted = features[["customer_id"]].merge(truth, on="customer_id", how="left")
    return planted["segment"]


def _assignments(features: pd.DataFrame, labels: np.ndarray, names: dict[int, str]) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": features["customer_id"], "segment": labels.astype(int),
                         "segment_name": [names[int(j)] for j in labels]})


def _segments_info(method, model, names, order, value, sensitive, inputs, reason) -> dict:
    """The content of ``segments/segments.json`` that later stages rely on."""
    return {
        "method": method,
        "k": model.k,
        "names": names,
        "inputs": list(model.feature_names_in_),
        "value_order": order,
        "value_feature": value,
        "transforms": model.transforms_,
        "model_inputs": model.input_names_,
        "sensitive_inputs": sensitive,
        "excluded": inputs.loc[~inputs["used"], ["feature", "reason"]].to_dict(orient="records"),
        "k_reason": reason,
    }


def _rfm_summary(groups: pd.DataFrame) -> dict:
    return {g: (None if pd.isna(n) else int(n)) for g, n in zip(groups["group"], groups["n"])}


# -- learned segments -----------------------------------------------------------------------------


def _align_to_reference(model: SegmentationModel, reference_run, X: pd.DataFrame) -> None:
    ref = joblib.load(Run(reference_run).artifact("segments/model.joblib"))
    model.align_to(ref, X)


def _write_learned(run: Run, features, assignments, inputs, profile, card, model) -> None:
    run.write_table("segments/features.parquet", features)
    run.write_table("segments/assignments.parquet", assignments)
    run.write_table("segments/inputs.parquet", inputs)
    run.write_table("segments/profiles.parquet", profile)
    if card is not None:
        run.write_table("segments/k_selection.parquet",
                        card.assign(**{c: card[c].map(str) for c in ("jaccard", "refit_ari", "refit_min_jaccard")}))
    joblib.dump(model, run.artifact("segments/model.joblib"))


def _learned_results(model, card, reason, names, shares, used_sensitive, headline, truth_ari, groups) -> dict:
    """The ``02_segmentation`` summary of learned segments (key order is the summary's)."""
    results = dict(method=model.method, k=model.k, k_reason=reason, names=names, shares=shares,
                   n_inputs=len(model.feature_names_in_), sensitive_inputs=used_sensitive, headline=headline)
    if card is not None:
        results["k_card"] = card[["k", "silhouette", "stability_ari", "min_jaccard", "min_jaccard_se",
                                  "smallest_share"]].round(4)
    if truth_ari is not None:
        results["truth_ari"] = round(truth_ari, 4)
    if groups is not None:
        results["rfm_groups"] = _rfm_summary(groups)
    return results


def _structure_alpha(settings: dict) -> float:
    """The level of the k = 1 test (``segmentation.structure.alpha``)."""
    return float((settings.get("structure") or {}).get("alpha", DEFAULTS["structure"]["alpha"]))


@register_stage("segments/assignments.parquet")
def segment_run(run: Run) -> SegmentationResult:
    """Stage 02: features, k selection, the fitted model, profiles, names, RFM groups; writes artifacts.

    With external segment labels (``run.roles.segment``) this is an audit instead: see :func:`audit_run`.

    Artifacts: ``segments/assignments.parquet`` (customer_id, segment, segment_name),
    ``segments/features.parquet``, ``segments/model.joblib``, ``segments/segments.json``,
    ``segments/k_selection.parquet``, ``segments/profiles.parquet``, ``segments/inputs.parquet``
    and, with transactions, ``segments/rfm.parquet``.
    """
    if run.roles.segment:
        return audit_run(run)
    settings, fsettings = _settings(run)
    customers, transactions = _read_inputs(run)
    roles = run.roles
    sup_k = int(run.read_json("data/prepare.json").get("suppression_k", 10))
    seed = run.seed
    with engine.using(run.config):  # transaction features on the configured engine
        features, plan, X, value = segmentation_inputs(customers, transactions, roles, fsettings)
    features, plan, X = _with_predicted_value(run, fsettings, features, plan, X)  # issue 18
    model, card, reason = fit_with_k(X, settings, value, seed)
    if settings.get("reference_run"):
        _align_to_reference(model, settings["reference_run"], X)
    labels, z, centres = _segments_and_z(model, X, run.config)
    names = name_segments(z)
    model.segment_names_ = names
    outcome = customers[roles.outcome] if roles.outcome and roles.outcome in customers else None
    profile = _published_profile(run, features, labels, names, outcome, value, sup_k)
    order = (_predicted_value_order(run, settings, features, labels, model.k)  # issue 18
             or value_order(features, labels, value, model.k))
    groups = _rfm_tables(run, customers, transactions, sup_k)
    planted = _planted_segments(run, features)
    truth_ari = None if planted is None else planted_agreement(planted, labels)

    inputs = describe_inputs(plan, model)
    _write_learned(run, features, _assignments(features, labels, names), inputs, profile, card, model)
    used_sensitive = [f for f in model.feature_names_in_ if f in roles.sensitive]
    run.write_json("artifacts/segments/segments.json",
                   _segments_info(model.method, model, names, order, value, used_sensitive, inputs, reason))
    shares = profile[profile["segment"] >= 0].set_index("segment")["share"]
    headline = learned_headline(model, reason, names, shares, used_sensitive, truth_ari)
    run.summarise("02_segmentation", **_learned_results(model, card, reason, names, shares, used_sensitive,
                                                        headline, truth_ari, groups))
    stability = {**settings["stability"], "min_share": settings["min_segment_share"],
                 "alpha": _structure_alpha(settings)}
    return SegmentationResult(model=model, plan=inputs, card=card, k=model.k, reason=reason, profile=profile, z=z,
                              rfm_groups=groups, truth_ari=truth_ari, **_plot(model, X, labels, centres),
                              info={"value_feature": value, "suppression_k": sup_k, "stability": stability})


# -- the predicted-value family (issue 18): read from the value stage's artifact, no import ----------
_PREDICTED = "value/predicted.parquet"  # written by workbench.value (found through the stage registry)
_PREDICTED_COLUMNS = ("clv", "p_alive", "expected_purchases", "expected_spend")


def _predicted(run: Run, columns: list[str]) -> pd.DataFrame:
    """``customer_id`` and ``columns`` of the value stage's predictions (not its every column)."""
    return pd.read_parquet(run.require(_PREDICTED), columns=["customer_id", *columns])


def _with_predicted_value(run: Run, fsettings: dict, features, plan, X):
    """Add the ``value`` family: the columns ``segmentation.features.predicted_value`` lists.

    Predicted CLV, P(alive), expected purchases and expected spend per purchase come from
    ``value/predicted.parquet`` (stage 07, produced on demand); customers without a purchase have
    NaN there, which the model imputes like any other missing value.
    """
    cols = list(fsettings.get("predicted_value") or [])
    unknown = [c for c in cols if c not in _PREDICTED_COLUMNS]
    if unknown:
        raise ValueError(f"segmentation.features.predicted_value: unknown {unknown}; choose from {list(_PREDICTED_COLUMNS)}")
    if not cols:
        return features, plan, X
    predicted = features[["customer_id"]].merge(_predicted(run, cols), on="customer_id", how="left")
    rows = []
    for col in cols:
        features[col] = X[col] = predicted[col].to_numpy()
        rows.append(dict(feature=col, family="value (predicted)", source="value model", kind="numeric",
                         transform="none", used=True, reason="input"))
    return features, pd.concat([plan, pd.DataFrame(rows)], ignore_index=True), X


def _predicted_value_order(run: Run, settings: dict, features, labels, k: int) -> list[int] | None:
    """Segment ids ordered by mean predicted CLV when ``segmentation.value_order_by`` is ``predicted_clv``."""
    by = settings.get("value_order_by")
    if by in (None, "historical"):
        return None
    if by != "predicted_clv":
        raise ValueError(f"segmentation.value_order_by must be 'historical' or 'predicted_clv', got {by!r}")
    predicted = features[["customer_id"]].merge(_predicted(run, ["clv"]), on="customer_id", how="left")
    return value_order(predicted, labels, "clv", k)


# -- audit mode: segments given as labels -----------------------------------------------------------


def _given_ids(customers: pd.DataFrame, features: pd.DataFrame, label_column: str, value: str | None):
    """Each customer's given label (missing: "unlabelled") as stable ids, their names and value order."""
    given = customers[["customer_id", label_column]].rename(columns={label_column: "label"})
    given = features[["customer_id"]].merge(given, on="customer_id", how="left", validate="1:1")
    labels = given["label"].astype(object).where(given["label"].notna(), UNLABELLED).astype(str).to_numpy()
    return given_segment_ids(labels, features[value] if value else None)


def _write_audit(run: Run, features, assignments, inputs, profile, comparison) -> None:
    """The audit's tables; a model from an earlier, non-audit run in this folder would mislead: removed."""
    run.write_table("segments/features.parquet", features)
    run.write_table("segments/assignments.parquet", assignments)
    run.write_table("segments/inputs.parquet", inputs)
    run.write_table("segments/profiles.parquet", profile)
    if comparison is not None:
        cross = comparison["crosstab"].reset_index()
        cross.columns = [str(c) for c in cross.columns]
        run.write_table("segments/comparison.parquet", cross)
    stale_model = run.path / "artifacts" / "segments" / "model.joblib"
    if stale_model.exists():
        stale_model.unlink()


def _audit_info(run: Run, counts, profile, unlabelled_id, min_size, small, roles, comparison) -> dict:
    """The ``audit`` part of ``segments.json``: label source and counts, small and suppressed segments."""
    suppressed = [int(j) for j in profile.loc[(profile["segment"] >= 0) & profile["suppressed"].astype(bool), "segment"]]
    source = Path(str(run.config.get("dataset", {}).get("labels") or "")).name or "a column of the customer table"
    return {
        "source": source,
        "label_counts": counts,
        "unlabelled_segment": unlabelled_id,
        "min_segment_size": min_size,
        "insufficient_evidence": small,
        "suppressed": suppressed,
        "has_assigned_at": bool(roles.assigned_at),
        "comparison": None if comparison is None else {
            "method": comparison["method"], "k": comparison["k"], "ari": comparison["ari"], "ami": comparison["ami"],
            "learned_names": comparison["learned_names"],
        },
    }


def _audit_results(k, reason, names, shares, space, counts, ids, unlabelled_id, sup_k, small, min_size,
                   headline, comparison, truth_ari, groups) -> dict:
    """The ``02_segmentation`` summary of an audit (key order is the summary's)."""
    sizes = np.bincount(ids, minlength=k)
    results = dict(
        method="external labels", k=k, k_reason=reason, names=names, shares=shares, n_inputs=len(space.feature_names_in_),
        sensitive_inputs=[], labels=counts, unlabelled_share=(float(sizes[unlabelled_id] / len(ids))
                                                             if unlabelled_id is not None and sizes[unlabelled_id] >= sup_k
                                                             else (0.0 if unlabelled_id is None else None)),
        insufficient_evidence=[names[j] for j in small], min_segment_size=min_size, headline=headline,
    )
    if comparison is not None:
        results["comparison"] = {"method": comparison["method"], "k": comparison["k"],
                                 "ari": round(comparison["ari"], 4), "ami": round(comparison["ami"], 4)}
    if truth_ari is not None:
        results["truth_ari"] = round(truth_ari, 4)
    if groups is not None:
        results["rfm_groups"] = _rfm_summary(groups)
    return results


def audit_run(run: Run) -> SegmentationResult:
    """Stage 02 in audit mode: profile and name segments given as labels, without fitting them.

    Runs when the dataset carries external segment labels (``run.roles.segment``; a ``labels:`` file
    or a ``segment:`` column in the config). The labels become stable integer segment ids
    (:func:`given_segment_ids`), with ``segment_name`` = the label; customers without a label form the
    segment "unlabelled". Profiles are small-cell suppressed, and segments below
    ``segmentation.min_segment_size`` customers are marked "insufficient evidence". A learned
    segmentation of the same customers is fitted only for comparison (``segmentation.compare_learned``,
    :func:`compare_with_learned`); it is not saved as the run's model, so no
    ``segments/model.joblib`` is written: later stages explain and audit the given labels.

    Artifacts: ``segments/assignments.parquet``, ``segments/features.parquet``,
    ``segments/segments.json`` (``method`` "external labels"), ``segments/profiles.parquet``,
    ``segments/inputs.parquet``, ``segments/comparison.parquet`` and, with transactions,
    ``segments/rfm.parquet``.
    """
    settings, fsettings = _settings(run)
    roles = run.roles
    customers, transactions = _read_inputs(run, (roles.segment, roles.assigned_at))
    prep = run.read_json("data/prepare.json")
    sup_k = int(prep.get("suppression_k", 10))
    min_size = int(settings.get("min_segment_size") or sup_k)
    seed = run.seed
    with engine.using(run.config):
        features, plan, X, value = segmentation_inputs(customers, transactions, roles, fsettings)
    ids, names, order = _given_ids(customers, features, roles.segment, value)
    k = len(names)
    unlabelled_id = next((j for j, n in names.items() if n == UNLABELLED), None)

    # profile the given segments in the same model space a learned segmentation would use
    space, z, description = given_model_space(X, ids, names, settings, seed)
    outcome = customers.set_index("customer_id")[roles.outcome].reindex(features["customer_id"]).to_numpy() \
        if roles.outcome and roles.outcome in customers else None
    profile = _published_profile(run, features, ids, names, None if outcome is None else pd.Series(outcome),
                                 value, sup_k)
    profile, small = mark_evidence(profile, ids, k, min_size, description, unlabelled_id)
    assignments = _assignments(features, ids, names)
    if roles.assigned_at and roles.assigned_at in customers:
        when = customers.set_index("customer_id")[roles.assigned_at].reindex(features["customer_id"])
        assignments["assigned_at"] = pd.to_datetime(when).to_numpy()

    comparison = None
    if settings.get("compare_learned", True) and len(X) > 2:
        comparison = compare_with_learned(features, ids, names, settings, seed,
                                          exclude=[] if unlabelled_id is None else [unlabelled_id],
                                          suppression_k=sup_k, value=value,
                                          suppress=lambda exact: privacy.suppress_and_publish(
                                              run, "given_vs_learned", exact, "segment", "learned_segment", sup_k))
    groups = _rfm_tables(run, customers, transactions, sup_k)
    planted = _planted_segments(run, features)
    truth_ari = None if planted is None else planted_agreement(
        planted, ids, exclude=-1 if unlabelled_id is None else unlabelled_id)
    plot = _plot(space, X, ids, segment_moments(space, X, ids)[2])

    inputs = describe_inputs(plan, space)
    inputs["reason"] = inputs["reason"].replace({"input": "profiles and explains the given segments"})
    _write_audit(run, features, assignments, inputs, profile, comparison)
    counts = prep.get("labels") or {}
    audit_info = _audit_info(run, counts, profile, unlabelled_id, min_size, small, roles, comparison)
    source = audit_info["source"]
    reason = (f"the {k} segments were given as labels ({source}); nothing was fitted, so no number of "
              "segments was chosen.")
    info = _segments_info("external labels", space, names, order, value, [], inputs, reason)
    run.write_json("artifacts/segments/segments.json", {**info, "audit": audit_info})
    shares = profile[profile["segment"] >= 0].set_index("segment")["share"]
    headline = audit_headline(k, source, counts, small, min_size, names, comparison, truth_ari)
    run.summarise("02_segmentation", **_audit_results(k, reason, names, shares, space, counts, ids, unlabelled_id,
                                                      sup_k, small, min_size, headline, comparison, truth_ari, groups))
    audit = {**audit_info, "unlabelled": UNLABELLED, "n_customers": int(len(ids)),
             "comparison": comparison, "description": description}
    return SegmentationResult(model=space, plan=inputs, card=None, k=k, reason=reason, profile=profile, z=z,
                              rfm_groups=groups, truth_ari=truth_ari, **plot,
                              info={"value_feature": value, "suppression_k": sup_k}, audit=audit)


# -- assigning new customers ------------------------------------------------------------------------


def _load_model(run: Run) -> SegmentationModel:
    path = run.path / "artifacts" / "segments" / "model.joblib"
    info_path = run.path / "artifacts" / "segments" / "segments.json"
    if not path.exists() and info_path.exists() and run.read_json("artifacts/segments/segments.json").get(
            "method") == "external labels":
        raise InputError(
            f"{run.path} audits segments given as labels: there is no fitted model to assign new customers with. "
            "Their segment comes from the system that assigned the labels."
        )
    if not path.exists():
        raise InputError(f"{run.path} holds no fitted segmentation model ({path}); run notebook 02 first.")
    return joblib.load(path)


def assign_new(run_dir, table: pd.DataFrame, id_column: str | None = None) -> tuple[pd.DataFrame, str]:
    """Assign new customers to the segments of a finished run, with pseudonymous ids.

    Parameters
    ----------
    run_dir : path
        A run directory holding ``artifacts/segments/model.joblib``.
    table : DataFrame
        New customers: an id column plus the model's raw input columns (original units, as in
        ``segments/features.parquet``); extra columns are ignored, missing values are imputed.
    id_column : str, optional
        The id column (default: the id role of the run's config, else ``customer_id``).

    Returns
    -------
    (DataFrame, str)
        ``customer_id`` (keyed pseudonym, as :func:`workbench.privacy.pseudonymise` makes it under the
        key :func:`workbench.privacy.resolve_key` finds from the run's ``privacy`` settings),
        ``segment`` and ``segment_name``; and the key origin ("env:NAME", "file" or "random").
    """
    run = Run(run_dir)
    model = _load_model(run)
    config = run.config
    if id_column is None:
        roles = ((config.get("dataset") or {}).get("roles") or {}).get("customers") or {}
        id_column = roles.get("id") or "customer_id"
    if id_column not in table.columns:
        raise InputError(f"The new-customer table has no id column '{id_column}' (use --id-column).")
    missing = [c for c in model.feature_names_in_ if c not in table.columns]
    if missing:
        raise InputError(
            f"The new-customer table lacks the model's input column(s) {missing}. It needs "
            f"'{id_column}' and: {', '.join(model.feature_names_in_)}."
        )
    X = table[model.feature_names_in_].copy()
    for col in model.feature_names_in_:
        if model.transforms_[col] != "onehot":
            X[col] = pd.to_numeric(X[col], errors="coerce")
    settings = section(config, "privacy", privacy.DEFAULTS)
    key = privacy.resolve_key(settings)
    labels = model.predict(X)
    out = pd.DataFrame({
        "customer_id": privacy.pseudonymise(table[id_column].astype(str), key).to_numpy(),
        "segment": labels.astype(int),
        "segment_name": [model.segment_names_[int(j)] for j in labels],
    })
    return out, key.origin
