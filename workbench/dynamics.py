"""Segment dynamics: migration between periods, drift, stale segments.

Customers change; segments that do not follow them produce "fractured identities" (the traveller who
went budget still gets luxury offers). This module shows how customers move between segments over
time and where recorded segment assignments have gone stale.

User guide
----------
The transaction history is cut into consecutive calendar windows (:func:`make_windows`; quarters by
default, as many full ones as the history holds, at most eight). At the end of each window every
customer's features are computed *as of* that date with :func:`workbench.features.build_features`
and scored with the fitted segmentation model from stage 02 (``segments/model.joblib``), so each
customer gets a *state* per window (:func:`segment_states`):

* a segment id, when the customer bought something in the window;
* ``INACTIVE`` (-1), when the customer had bought before but not in this window;
* ``NOT_YET`` (-2), when the customer had not bought anything yet.

From the states follow the transition matrix between two windows (:func:`transition_matrix`, counts
and row rates, small cells suppressed), up- and downgrade rates along the segments' value order
(:func:`grade_changes`), the share of one segment that moved to another (:func:`migration_share`)
and an alluvial flow chart (:func:`flow_chart`). Drift is measured per feature with the population
stability index between consecutive windows (:func:`psi`, :func:`feature_drift`) and per segment by
how far its centroid moved in the model's input space (:func:`centroid_shift`). A recorded assignment
is *stale* when the customer's current behaviour puts them in another segment
(:func:`stale_assignments`); how fast that happens (:func:`staleness_curve`) gives a refresh
recommendation (:func:`refresh_recommendation`). :func:`movement_fairness` compares downgrade rates
between sensitive groups, with confidence intervals.

The share of a segment that moved (:func:`migration_share`, :func:`planted_migration_check`) is
read off the transition matrix: among customers in the source segment in one window who are active
in a later one, the share in the target segment then. On the synthetic world with a planted migration
(``dataset.params.migration``) a behavioural segmentation (transaction features only) recovers the
planted share within 2 percentage points (``tests/test_dynamics.py``). A segmentation that also uses
customer-table attributes (engagement, technographic, survey scores) does not: those attributes are
one snapshot without history, so customers who changed their buying keep the attributes of their old
segment and the model keeps them there. The report says so; it is the "fractured identity" to look for.

Features are computed from all history before each window's end (``lookback_months: null``), exactly
as stage 02 computed them for the fitted model; cumulative features (tenure, frequency) therefore
drift as the customer base ages, which :func:`cohort_shift` separates from what one segment's
members did differently. ``lookback_months: N`` restricts the features to the trailing N months
instead (note that the model was fitted on all-history features).

With ``refit: true`` the model is refitted on every window and the new segment ids are matched to
the previous window's by their centroids (Hungarian matching), which shows how the segmentation
itself would change if it were rebuilt each period.

**Given labels (audit mode).** When the segments were given as labels with the date each was assigned
(``assigned_at``), :func:`label_staleness` judges how stale they are: a fidelity-gated surrogate learns the
labels from each customer's behaviour *as of* their label date (:func:`features_at_labelling`) and is
applied to their current behaviour; a label is stale when today's behaviour puts the customer in another
given segment (share per segment, where the stale ones belong now, label age bands; the surrogate's error
at labelling time is the noise floor). The windows are then scored with that surrogate instead of a
fitted model. Without transactions only the labels' ages are shown.

The stage function :func:`dynamics_run` does all of this for a run directory, writes the artifacts
under ``artifacts/dynamics/`` and the key results to ``summary.json``. Datasets without transactions
have no periods: the stage records "not applicable" instead of failing.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, field
from typing import Any, Callable

import duckdb
import numpy as np
import pandas as pd

from . import fairness, privacy
from .rundir import Run, register_stage

__all__ = [
    "DEFAULTS",
    "INACTIVE",
    "NOT_YET",
    "Dynamics",
    "applicable",
    "centroid_shift",
    "dynamics_run",
    "feature_drift",
    "cohort_flags",
    "cohort_shift",
    "drift_flags",
    "flow_chart",
    "grade_labels",
    "grade_changes",
    "make_windows",
    "match_centroids",
    "migration_share",
    "movement_fairness",
    "planted_migration_check",
    "planted_migration_note",
    "psi",
    "refresh_recommendation",
    "segment_states",
    "LabelStaleness",
    "features_at_labelling",
    "label_age_table",
    "label_staleness",
    "label_staleness_markdown",
    "label_staleness_table",
    "read_label_staleness",
    "stale_assignments",
    "staleness_curve",
    "transition_matrix",
    "plot_drift",
    "plot_movement_fairness",
    "plot_staleness",
    "window_activity",
    "window_summary",
    "window_features",
]

DEFAULTS: dict[str, Any] = {
    "window_months": 3,  # window length in months: 3 = calendar quarters, 1 = months, 12 = years
    "n_windows": None,  # None: as many full windows as the history holds, at most max_windows
    "max_windows": 8,
    "lookback_months": None,  # None: features use all history before each window's end (as_of)
    "refit": False,  # also refit the model per window, ids matched to the previous window by centroid
    "refit_sample": 200_000,  # customers a per-window refit is fitted on (scoring covers everyone)
    "refit_match": "previous",  # refit ids matched to the previous window's refit, or "original" model
    "psi_bins": 10,
    "psi_moderate": 0.1,  # PSI bands: < 0.1 stable, 0.1-0.25 moderate shift, >= 0.25 major shift
    "psi_major": 0.25,
    "stale_tolerance": 0.10,  # refresh before more than this share of assignments is stale
    "refresh_lag": 4,  # windows between the recorded refresh and now, for the stale table
    "sensitive": None,  # attributes for fairness of movement; None: the roles' sensitive attributes
    "ci_level": 0.95,
}

INACTIVE = -1
NOT_YET = -2
STATE_NAMES = {INACTIVE: "inactive", NOT_YET: "not yet a customer"}
_GRACE = pd.Timedelta(days=7)


# -- windows ----------------------------------------------------------------------------------------
def make_windows(
    timestamps: pd.Series,
    months: int = 3,
    n_windows: int | None = None,
    max_windows: int = 8,
) -> pd.DataFrame:
    """Consecutive calendar windows covered by the transaction history.

    Windows are aligned on the calendar (quarters start in January, April, July, October when
    ``months=3``) and a window counts only if the history covers it in full (up to a week's grace at
    either end, for a quiet first or last day). The most recent ones are kept.

    Parameters
    ----------
    timestamps : pandas.Series
        Transaction timestamps.
    months : int
        Window length in months (a divisor of 12 keeps windows aligned on the year).
    n_windows : int, optional
        How many windows; by default as many full windows as the history holds, at most
        ``max_windows``.
    max_windows : int

    Returns
    -------
    pandas.DataFrame
        ``label``, ``start`` (inclusive), ``end`` (exclusive; features are computed as of it), oldest
        first.
    """
    months = int(months)
    if months < 1:
        raise ValueError(f"window_months must be at least 1, got {months}")
    ts = pd.to_datetime(pd.Series(timestamps)).dropna()
    if ts.empty:
        return pd.DataFrame(columns=["label", "start", "end"])
    first, last = ts.min().floor("D"), ts.max().floor("D") + pd.Timedelta(days=1)
    step = months if 12 % months == 0 else 1
    anchor = pd.Timestamp(year=first.year, month=1, day=1)
    start = anchor + pd.DateOffset(months=((first.month - 1) // step) * step)
    while start + _GRACE < first:
        start = start + pd.DateOffset(months=step)
    rows = []
    while start + pd.DateOffset(months=months) <= last + _GRACE:
        end = start + pd.DateOffset(months=months)
        rows.append({"label": _window_label(start, months), "start": start, "end": end})
        start = end
    windows = pd.DataFrame(rows, columns=["label", "start", "end"])
    limit = max_windows if n_windows is None else min(int(n_windows), len(windows))
    return windows.tail(int(limit)).reset_index(drop=True)


def _window_label(start: pd.Timestamp, months: int) -> str:
    if months == 3:
        return f"{start.year}Q{(start.month - 1) // 3 + 1}"
    if months == 12 and start.month == 1:
        return str(start.year)
    if months == 6 and start.month in (1, 7):
        return f"{start.year}H{1 if start.month == 1 else 2}"
    if months == 1:
        return start.strftime("%Y-%m")
    return f"{start:%Y-%m}+{months}m"


# -- activity and features per window ---------------------------------------------------------------
def window_activity(transactions: pd.DataFrame, windows: pd.DataFrame) -> pd.DataFrame:
    """Purchases per customer and window, and whether the customer had bought anything by its end.

    One DuckDB aggregation over the transaction log (portable SQL: ``count(*) FILTER``).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, then for each window ``n_<label>`` (purchases with a positive amount in
        the window) and ``seen_<label>`` (any purchase before the window's end).
    """
    parts, params = [], []
    for w in windows.itertuples():
        parts.append(
            f'count(*) FILTER (WHERE amount > 0 AND timestamp >= CAST(? AS TIMESTAMP) '
            f'AND timestamp < CAST(? AS TIMESTAMP)) AS "n_{w.label}"'
        )
        params += [w.start.to_pydatetime(), w.end.to_pydatetime()]
        parts.append(
            f'count(*) FILTER (WHERE amount > 0 AND timestamp < CAST(? AS TIMESTAMP)) > 0 '
            f'AS "seen_{w.label}"'
        )
        params.append(w.end.to_pydatetime())
    con = duckdb.connect()
    try:
        con.register("tx", transactions[["customer_id", "timestamp", "amount"]])
        return con.execute(
            f"SELECT customer_id, {', '.join(parts)} FROM tx GROUP BY customer_id", params
        ).df()
    finally:
        con.close()


def window_features(
    customers: pd.DataFrame,
    transactions: pd.DataFrame,
    roles,
    as_of: pd.Timestamp,
    lookback_months: int | None = None,
    settings: dict | None = None,
) -> pd.DataFrame:
    """Each customer's features as of a date (via :func:`workbench.features.build_features`).

    Only transactions strictly before ``as_of`` count; with ``lookback_months`` only those of the
    trailing months before it (behaviour *in* the period rather than since the start).
    """
    from . import features as feature_module

    as_of = pd.Timestamp(as_of)
    tx = transactions
    if lookback_months:
        tx = tx[tx["timestamp"] >= as_of - pd.DateOffset(months=int(lookback_months))]
    params = inspect.signature(feature_module.build_features).parameters
    kwargs: dict[str, Any] = {}
    if "settings" in params and settings is not None:
        kwargs["settings"] = settings
    if "as_of" in params:
        kwargs["as_of"] = as_of
    else:  # an older build_features without as_of: cut the log here
        tx = tx[tx["timestamp"] < as_of]
    return feature_module.build_features(customers, tx, roles, **kwargs)


# -- the model ---------------------------------------------------------------------------------------
class _CentroidModel:
    """Nearest-centroid stand-in when stage 02 saved no model: scores new customers by the recorded
    segments' standardised feature means (only used until ``segments/model.joblib`` exists)."""

    method = "nearest-centroid"

    def __init__(self, features: pd.DataFrame, segments: np.ndarray, names: dict[int, str]):
        X = features.drop(columns=["customer_id"]).select_dtypes("number")
        self.feature_names_in_ = list(X.columns)
        self.input_names_ = list(X.columns)
        self.input_feature_ = list(X.columns)
        values = X.to_numpy(dtype=float)
        self._median = np.nanmedian(values, axis=0)
        values = np.where(np.isnan(values), self._median, values)
        self._mean, self._scale = values.mean(axis=0), values.std(axis=0)
        self._scale[self._scale == 0] = 1.0
        z = (values - self._mean) / self._scale
        ids = np.unique(segments)
        self.cluster_centers_ = np.full((int(ids.max()) + 1, z.shape[1]), 1e6)  # absent ids: never nearest
        for j in ids:
            self.cluster_centers_[j] = z[segments == j].mean(axis=0)
        self._ids = ids
        self.segment_names_ = dict(names)

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        values = X[self.feature_names_in_].to_numpy(dtype=float)
        values = np.where(np.isnan(values), self._median, values)
        return (values - self._mean) / self._scale

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        z = self.transform(X)
        c = self.cluster_centers_[self._ids]
        d = (z * z).sum(1)[:, None] - 2 * z @ c.T + (c * c).sum(1)[None, :]
        return self._ids[d.argmin(axis=1)]


def _model_inputs(model, features: pd.DataFrame) -> pd.DataFrame:
    cols = getattr(model, "feature_names_in_", None)
    if cols is None:
        return features.drop(columns=["customer_id"])
    missing = [c for c in cols if c not in features.columns]
    if missing:
        raise ValueError(f"The window features lack model inputs {missing}")
    return features[list(cols)]


def _transform(model, X: pd.DataFrame) -> np.ndarray:
    if hasattr(model, "transform"):
        return np.asarray(model.transform(X), dtype=float)
    return X.to_numpy(dtype=float)


def _predict(model, X: pd.DataFrame, z: np.ndarray) -> np.ndarray:
    """Segments of ``X``; from its model inputs ``z`` when the model assigns the nearest centre.

    For such models (k-means, Ward) the contract says ``predict(X) == argmin_j ||z - c_j||^2``,
    so ``argmax_j 2 z.c_j - ||c_j||^2`` gives the same labels without transforming ``X`` twice.
    """
    centers = getattr(model, "cluster_centers_", None)
    if centers is None or getattr(model, "method", "kmeans") not in ("kmeans", "ward", "nearest-centroid") \
            or z.shape[1] != np.shape(centers)[1]:
        return np.asarray(model.predict(X), dtype=np.int16)
    c = np.asarray(centers, dtype=float)
    out = np.empty(len(z), dtype=np.int16)
    for start in range(0, len(z), 200_000):  # blocks keep the (n, k) score matrix small
        block = z[start:start + 200_000]
        out[start:start + len(block)] = np.argmax(2 * block @ c.T - (c * c).sum(axis=1), axis=1)
    return out


def match_centroids(reference: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Match new centroids to reference centroids (Hungarian assignment on squared distances).

    (The per-window refit uses :meth:`workbench.segment.SegmentationModel.align_to` when the model
    has it; this is the fallback for other models.)

    Returns
    -------
    numpy.ndarray
        ``mapping[j]`` = the reference id given to new centroid ``j``. Extra new centroids (more
        new than reference) get fresh ids after the reference ones.
    """
    from scipy.optimize import linear_sum_assignment

    cost = ((new[:, None, :] - reference[None, :, :]) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    mapping = np.full(len(new), -1, dtype=int)
    mapping[rows] = cols
    spare = iter(range(len(reference), len(reference) + len(new)))
    for j in np.flatnonzero(mapping < 0):
        mapping[j] = next(spare)
    return mapping


def _refit(model, X: pd.DataFrame, z: np.ndarray, reference, seed: int, sample: int):
    """Refit a clone of ``model`` on one window; return its labels in the reference's ids.

    ``reference`` is the previous window's model (or the original one for the first window). When
    the model class offers ``align_to`` (:meth:`workbench.segment.SegmentationModel.align_to`:
    centroids compared in the reference's model space, Hungarian matching), it renumbers the refit;
    otherwise new segments are matched to the reference's centroids here, in the original model's
    input space (``z`` = the original model's transform of ``X``).

    Returns
    -------
    labels : numpy.ndarray
        Segment of each row of ``X`` in the reference's ids.
    reference : model or numpy.ndarray
        What the next window is matched to.
    """
    from sklearn.base import clone

    fresh = clone(model)
    if "random_state" in fresh.get_params():
        fresh.set_params(random_state=seed)
    rng = np.random.default_rng(seed)
    fit_rows = np.sort(rng.choice(len(X), size=min(sample, len(X)), replace=False))
    fresh.fit(X.iloc[fit_rows])
    if hasattr(fresh, "align_to") and not isinstance(reference, np.ndarray):
        fresh.align_to(reference, X.iloc[fit_rows])
        return np.asarray(fresh.predict(X)), fresh
    labels = np.asarray(fresh.predict(X))
    ids = np.unique(labels)
    centers = np.stack([z[labels == j].mean(axis=0) for j in ids])
    mapping = match_centroids(np.asarray(reference), centers)
    lookup = np.zeros(int(ids.max()) + 1, dtype=int)
    lookup[ids] = mapping
    new_ref = np.array(reference, dtype=float, copy=True)
    for j, m in enumerate(mapping):
        if m < len(new_ref):
            new_ref[m] = centers[j]
    return lookup[labels], new_ref


# -- states over windows -----------------------------------------------------------------------------
@dataclass
class Dynamics:
    """Everything :func:`segment_states` computes over the windows.

    Attributes
    ----------
    windows : pandas.DataFrame
        ``label``, ``start``, ``end``.
    states : pandas.DataFrame
        ``customer_id`` plus one int column per window label: a segment id, ``INACTIVE`` or
        ``NOT_YET``. Row order is the customer table's (never sorted by pseudonym).
    segments : pandas.DataFrame
        Same shape: the segment the model gives each customer's features as of the window end,
        active or not (``NOT_YET`` before a first purchase); what a refresh on that date records.
    names : dict
        Segment id -> name.
    value_order : list
        Segment ids from low to high value.
    drift : pandas.DataFrame
        PSI per feature (rows) and consecutive window pair (columns ``"A→B"``).
    centroids : dict
        Window label -> (k, d) array of the mean model input of each segment's customers
        (rows of absent segments are NaN).
    input_names : list
        Model-input names (columns of the centroid arrays).
    refit_states : pandas.DataFrame or None
        States under a per-window refit (ids matched by centroid), when asked for.
    cohort_means : dict
        ``(u, t) -> (per-segment [count, sums of model inputs], overall [count, sums])``: the
        model inputs at window ``t`` of the customers grouped by their segment at window ``u``;
        :func:`cohort_shift` turns them into how each segment's members moved.
    input_feature : list
        The original feature each model input comes from.
    """

    windows: pd.DataFrame
    states: pd.DataFrame
    segments: pd.DataFrame
    names: dict[int, str]
    value_order: list[int]
    drift: pd.DataFrame
    centroids: dict[str, np.ndarray]
    input_names: list[str]
    refit_states: pd.DataFrame | None = None
    cohort_means: dict = field(default_factory=dict)
    input_feature: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return list(self.windows["label"])

    def state_names(self) -> dict[int, str]:
        return {**{int(k): v for k, v in self.names.items()}, **STATE_NAMES}


def segment_states(
    model,
    customers: pd.DataFrame,
    transactions: pd.DataFrame,
    roles,
    windows: pd.DataFrame,
    names: dict[int, str] | None = None,
    value_order: list[int] | None = None,
    lookback_months: int | None = None,
    feature_settings: dict | None = None,
    psi_bins: int = 10,
    refit: bool = False,
    refit_sample: int = 200_000,
    refit_match: str = "previous",
    seed: int = 0,
    features_fn: Callable[[pd.Timestamp], pd.DataFrame] | None = None,
    cohort: bool = True,
) -> Dynamics:
    """Score every customer in every window and collect drift statistics on the way.

    Windows are processed one at a time and only the previous window's features are kept, so memory
    stays at two feature tables whatever the number of windows.

    Parameters
    ----------
    model : fitted segmentation model
        ``predict`` (and ideally ``transform``, ``feature_names_in_``) as in
        :class:`workbench.segment.SegmentationModel`.
    customers, transactions : pandas.DataFrame
        Prepared tables (``customer_id`` pseudonyms).
    roles : workbench.schema.Roles
    windows : pandas.DataFrame
        From :func:`make_windows`.
    names, value_order : optional
        Segment names and value order (ids low -> high); default from the model / ids.
    lookback_months : int, optional
        Trailing months of transactions the features see (default: all history before the end).
    feature_settings : dict, optional
        Passed to ``build_features`` as ``settings``.
    psi_bins : int
    refit : bool
        Also refit the model on every window and match ids by centroid.
    refit_sample : int
    refit_match : {"previous", "original"}
        Match a window's refit segments to the previous window's refit (ids follow the segments as
        they evolve; small mismatches can accumulate over many windows) or to the original model.
    seed : int
    features_fn : callable, optional
        ``as_of -> features`` replacing :func:`window_features` (tests, other feature builders).
    cohort : bool
        Also collect what :func:`cohort_shift` needs (``Dynamics.cohort_means``).
    """
    if refit_match not in ("previous", "original"):
        raise ValueError(f"refit_match must be 'previous' or 'original', got {refit_match!r}")
    if features_fn is None:
        # category / channel as strings once, rather than once per window inside the feature plan
        as_text = {c: transactions[c].astype(str) for c in ("category", "channel")
                   if c in transactions and isinstance(transactions[c].dtype, pd.CategoricalDtype)}
        tx_text = transactions.assign(**as_text) if as_text else transactions

        def features_fn(as_of):
            return window_features(customers, tx_text, roles, as_of, lookback_months, feature_settings)

    labels = list(windows["label"])
    ids = customers["customer_id"].reset_index(drop=True)
    activity = window_activity(transactions, windows)
    activity = pd.DataFrame({"customer_id": ids}).merge(activity, on="customer_id", how="left")
    names = {int(k): str(v) for k, v in (names or getattr(model, "segment_names_", {}) or {}).items()}
    states = {"customer_id": ids}
    segments = {"customer_id": ids}
    refit_states = {"customer_id": ids} if refit else None
    drift: dict[str, pd.Series] = {}
    cohort_means: dict[tuple[str, str], np.ndarray] = {}
    centroids: dict[str, np.ndarray] = {}
    if hasattr(model, "align_to"):
        refit_ref = model
    else:
        centers = getattr(model, "cluster_centers_", None)
        refit_ref = None if centers is None else np.asarray(centers, dtype=float)
    previous = None
    input_names: list[str] = list(getattr(model, "input_names_", []) or [])

    for i, w in enumerate(windows.itertuples()):
        feats = features_fn(w.end)
        if len(feats) != len(ids) or not (feats["customer_id"].to_numpy() == ids.to_numpy()).all():
            feats = pd.DataFrame({"customer_id": ids}).merge(feats, on="customer_id", how="left")
        feats = feats.reset_index(drop=True)
        X = _model_inputs(model, feats)
        seen = activity[f"seen_{w.label}"].fillna(False).to_numpy(dtype=bool)
        active = activity[f"n_{w.label}"].fillna(0).to_numpy() > 0
        seg = np.full(len(ids), NOT_YET, dtype=np.int16)
        rows = np.flatnonzero(seen)
        z = None
        if len(rows):
            Xs = X.iloc[rows]
            z = _transform(model, Xs)
            seg[rows] = _predict(model, Xs, z)
            if not input_names:
                input_names = [f"input_{j}" for j in range(z.shape[1])]
        state = seg.copy()
        state[seen & ~active] = INACTIVE
        segments[w.label] = seg
        states[w.label] = state
        cent: dict[int, np.ndarray] = {}
        if z is not None:
            present = seg[rows]
            for j in np.unique(present):
                cent[int(j)] = z[present == j].mean(axis=0)
        centroids[w.label] = cent
        if cohort and z is not None:
            # mean model input now of the customers of each segment of every earlier window (and of
            # this one): how a segment's members moved, whatever segment they are in now. Customers
            # scored in window u are scored now too (``seen`` only grows), so rows of u are rows now.
            from scipy import sparse

            position = np.full(len(ids), -1)
            position[rows] = np.arange(len(rows))
            for u in labels[: i + 1]:
                seg_u = segments[u]
                members = np.flatnonzero(seg_u >= 0)
                codes = seg_u[members].astype(np.int64)
                n_codes = int(codes.max()) + 1 if len(codes) else 0
                onehot = sparse.csr_matrix(
                    (np.ones(len(members)), (codes, position[members])), shape=(n_codes, len(rows)))
                sums = np.asarray(onehot @ z)
                counts = np.bincount(codes, minlength=n_codes).astype(float)
                cohort_means[(u, w.label)] = (np.column_stack([counts, sums]),
                                              np.concatenate([[len(members)], sums.sum(axis=0)]))
        if refit and len(rows):
            if refit_ref is None:
                n_ref = max(cent) + 1
                refit_ref = np.stack([cent.get(j, np.zeros(z.shape[1])) for j in range(n_ref)])
            relabelled, new_ref = _refit(model, X.iloc[rows], z, refit_ref, seed + i, refit_sample)
            if refit_match == "previous":
                refit_ref = new_ref
            r = np.full(len(ids), NOT_YET, dtype=np.int16)
            r[rows] = relabelled
            r[seen & ~active] = INACTIVE
            refit_states[w.label] = r
        if previous is not None:
            prev_label, prev_feats, prev_seen, _ = previous
            pair = f"{prev_label}→{w.label}"
            drift[pair] = feature_drift(prev_feats.loc[prev_seen], X.loc[seen], bins=psi_bins)
        previous = (w.label, X, seen, seg)

    seen_ids = sorted({j for cent in centroids.values() for j in cent} | set(names))
    n_k = max(seen_ids) + 1 if seen_ids else 0
    width = len(input_names)
    centroid_arrays = {
        lab: np.stack([cent.get(j, np.full(width, np.nan)) for j in range(n_k)]) if n_k else np.zeros((0, width))
        for lab, cent in centroids.items()
    }
    names = {**{j: f"Segment {j}" for j in seen_ids}, **names}
    if not value_order:
        value_order = seen_ids
    return Dynamics(
        windows=windows.reset_index(drop=True),
        states=pd.DataFrame(states),
        segments=pd.DataFrame(segments),
        names=names,
        value_order=[int(v) for v in value_order],
        drift=pd.DataFrame(drift),
        centroids=centroid_arrays,
        input_names=input_names,
        input_feature=list(getattr(model, "input_feature_", None) or input_names),
        refit_states=pd.DataFrame(refit_states) if refit else None,
        cohort_means=cohort_means,
    )


# -- migration ---------------------------------------------------------------------------------------
def _state_label(state: int, names: dict[int, str]) -> str:
    return STATE_NAMES.get(int(state)) or names.get(int(state), f"Segment {state}")


def transition_matrix(
    states: pd.DataFrame,
    before: str,
    after: str,
    names: dict[int, str] | None = None,
    order: list[int] | None = None,
    k: int | None = None,
    drop_empty: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts and row rates of moves from window ``before`` to window ``after``.

    Rows are the state in ``before``, columns the state in ``after``: segments (in ``order``, e.g.
    the value order), ``inactive``; a row ``not yet a customer`` holds newly acquired customers.
    Customers not yet acquired in either window are left out.

    Segments nobody is in, in either window, are dropped unless ``drop_empty=False``.

    With ``k``, counts pass through :func:`workbench.privacy.suppress_counts` (small cells and their
    complements become NaN) and the rates of suppressed cells are NaN too; rates are computed from
    the true row totals.

    Returns
    -------
    counts, rates : pandas.DataFrame
    """
    names = names or {}
    a = states[before].to_numpy()
    b = states[after].to_numpy()
    keep = ~((a == NOT_YET) & (b == NOT_YET))
    a, b = a[keep], b[keep]
    seg_ids = list(order) if order else sorted(int(s) for s in np.union1d(a, b) if s >= 0)
    row_states = [*seg_ids, INACTIVE, NOT_YET]
    col_states = [*seg_ids, INACTIVE]
    counts = pd.crosstab(a, b).reindex(index=row_states, columns=col_states, fill_value=0)
    if counts.loc[NOT_YET].sum() == 0:
        counts = counts.drop(index=NOT_YET)
    if drop_empty:  # segments nobody is in, in either window
        empty = [s for s in seg_ids if counts.loc[s].sum() == 0 and counts[s].sum() == 0]
        counts = counts.drop(index=empty, columns=empty)
    counts.index = pd.Index([_state_label(s, names) for s in counts.index], name=f"from {before}")
    counts.columns = pd.Index([_state_label(s, names) for s in counts.columns], name=f"to {after}")
    totals = counts.sum(axis=1)
    rates = counts.div(totals.where(totals > 0), axis=0)
    if k:
        counts = privacy.suppress_counts(counts, k)
        rates = rates.where(counts.notna())
    return counts, rates


def migration_share(
    states: pd.DataFrame,
    source: int,
    target: int,
    before: str,
    after: str,
    after_states: pd.DataFrame | None = None,
) -> dict:
    """Share of a segment that moved to another between two windows.

    Definition: the denominator is the customers in segment ``source`` in window ``before``
    (``states``: so they were active then). With ``after_states=None`` only those also active in
    ``after`` count, and the numerator is those in segment ``target`` in ``after`` (a row of the
    transition matrix restricted to active customers). Pass ``after_states=Dynamics.segments`` to
    judge everyone by the segment the model gives their features at the end of ``after``, whether
    or not they bought in that window: this avoids conditioning on activity, which would favour
    segments that buy more often (the share among customers active in both windows over-represents
    frequent buyers).

    Returns
    -------
    dict
        ``n_source`` (the denominator), ``n_moved`` and ``share``.
    """
    a = states[before].to_numpy()
    if after_states is None:
        b = states[after].to_numpy()
        base = (a == source) & (b >= 0)
    else:
        order = states[["customer_id"]].merge(after_states[["customer_id", after]], on="customer_id", how="left")
        b = order[after].fillna(NOT_YET).to_numpy()
        base = a == source
    moved = base & (b == target)
    n = int(base.sum())
    return {"n_source": n, "n_moved": int(moved.sum()), "share": moved.sum() / n if n else float("nan")}


def grade_changes(
    states: pd.DataFrame,
    before: str,
    after: str,
    value_order: list[int],
    names: dict[int, str] | None = None,
) -> pd.DataFrame:
    """Up- and downgrades along the segments' value order, per segment of origin.

    A customer active in ``before`` is *upgraded* when in ``after`` they are in a segment ranked
    higher in ``value_order`` (ids low -> high value), *downgraded* when ranked lower, *same* when in
    the same segment and *inactive* when they bought nothing in ``after``.

    Returns
    -------
    pandas.DataFrame
        One row per segment of origin (low -> high value) plus ``all``: ``n`` and the four rates.
    """
    names = names or {}
    rank = {int(s): r for r, s in enumerate(value_order)}
    a = states[before].to_numpy()
    b = states[after].to_numpy()
    rows = []
    for label, mask in [*((names.get(s, f"Segment {s}"), a == s) for s in value_order), ("all", a >= 0)]:
        ra = np.array([rank.get(int(s), -1) for s in a[mask]])
        bb = b[mask]
        rb = np.array([rank.get(int(s), -1) for s in bb])
        n = int(mask.sum())
        active_after = bb >= 0
        rows.append(
            {
                "segment": label,
                "n": n,
                "upgraded": float(np.mean(active_after & (rb > ra))) if n else np.nan,
                "same": float(np.mean(active_after & (rb == ra))) if n else np.nan,
                "downgraded": float(np.mean(active_after & (rb < ra))) if n else np.nan,
                "inactive": float(np.mean(~active_after)) if n else np.nan,
            }
        )
    return pd.DataFrame(rows)


def grade_labels(a: np.ndarray, b: np.ndarray, value_order: list[int]) -> np.ndarray:
    """Per customer: "up", "same", "down", "inactive" (after) or "" (not in a segment before)."""
    lookup = np.full(max([*value_order, 0]) + 3, -1)
    for r, s in enumerate(value_order):
        lookup[int(s)] = r
    ra = np.where(a >= 0, lookup[np.clip(a, 0, None)], -1)
    rb = np.where(b >= 0, lookup[np.clip(b, 0, None)], -1)
    out = np.full(len(a), "", dtype=object)
    base = a >= 0
    out[base & (b < 0)] = "inactive"
    act = base & (b >= 0)
    out[act & (rb > ra)] = "up"
    out[act & (rb == ra)] = "same"
    out[act & (rb < ra)] = "down"
    return out


# -- flow chart --------------------------------------------------------------------------------------
def flow_chart(
    states: pd.DataFrame,
    labels: list[str],
    names: dict[int, str],
    value_order: list[int],
    k: int = 10,
    ax=None,
    title: str | None = None,
):
    """Alluvial chart of movements between consecutive windows (matplotlib patches).

    One column of stacked bars per window (segments from high value at the top to low value, then
    ``inactive``), and a band between consecutive columns for every move, its width proportional
    to the number of customers. Moves of fewer than ``k`` customers are not drawn (small cells).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import PathPatch, Rectangle
    from matplotlib.path import Path as MplPath

    order = [*reversed(list(value_order)), INACTIVE]
    tab10, tab20 = plt.get_cmap("tab10"), plt.get_cmap("tab20")
    palette = [tab10(i) for i in (0, 1, 2, 3, 4, 5, 6, 8, 9)] + [tab20(i) for i in (1, 3, 5, 7, 9, 11, 13, 17, 19)]
    colour = {s: palette[i % len(palette)] for i, s in enumerate(value_order)}  # grey is for inactive
    colour[INACTIVE] = (0.75, 0.75, 0.75, 1.0)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6, 1.6 * len(labels) + 2), 5))
    data = states[labels].to_numpy()
    total = max(int((data != NOT_YET).sum(axis=0).max()), 1)
    gap = 0.02 * total
    bar_w = 0.18
    tops: dict[tuple[int, int], float] = {}
    for c, label in enumerate(labels):
        col = data[:, c]
        y = 0.0
        for s in reversed(order):  # bottom to top: inactive first
            n = int((col == s).sum())
            tops[(c, s)] = y
            if n >= k:
                ax.add_patch(Rectangle((c - bar_w / 2, y), bar_w, n, color=colour[s], lw=0))
            y += n + gap
    for c in range(len(labels) - 1):
        a, b = data[:, c], data[:, c + 1]
        out_off = {s: tops[(c, s)] for s in order}
        in_off = {s: tops[(c + 1, s)] for s in order}
        for s in reversed(order):
            for t in reversed(order):
                n = int(((a == s) & (b == t)).sum())
                if n == 0:
                    continue
                y0, y1 = out_off[s], in_off[t]
                out_off[s] += n
                in_off[t] += n
                if n < k:
                    continue
                x0, x1 = c + bar_w / 2, c + 1 - bar_w / 2
                xm = (x0 + x1) / 2
                verts = [
                    (x0, y0), (xm, y0), (xm, y1), (x1, y1),
                    (x1, y1 + n), (xm, y1 + n), (xm, y0 + n), (x0, y0 + n), (x0, y0),
                ]
                codes = [MplPath.MOVETO, *[MplPath.CURVE4] * 3, MplPath.LINETO, *[MplPath.CURVE4] * 3,
                         MplPath.CLOSEPOLY]
                ax.add_patch(PathPatch(MplPath(verts, codes), fc=colour[s], alpha=0.35, lw=0))
    ax.set_xlim(-0.5, len(labels) - 0.5)
    ax.set_ylim(0, total + gap * (len(order) + 1))
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    handles = [Rectangle((0, 0), 1, 1, color=colour[s]) for s in order]
    ax.legend(handles, [_state_label(s, names) for s in order], loc="upper left",
              bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.set_title(title or "Movements between segments (bands of fewer than k customers not drawn)")
    return ax


# -- drift -------------------------------------------------------------------------------------------
def psi(expected, actual, bins: int = 10, eps: float = 1e-4) -> float:
    """Population stability index of ``actual`` against ``expected``.

    ``PSI = sum_i (a_i - e_i) ln(a_i / e_i)`` over bins: quantile bins of ``expected`` for numeric
    values with more than ``bins`` distinct values, else one bin per value. Missing values form
    their own bin. Shares are floored at ``eps``. Below 0.1 is usually read as stable, 0.1-0.25 as a
    moderate shift, above 0.25 as a major one.
    """
    e = pd.Series(expected)
    a = pd.Series(actual)
    numeric = (pd.api.types.is_numeric_dtype(e) and pd.api.types.is_numeric_dtype(a)
               and not pd.api.types.is_bool_dtype(e))
    if numeric:
        ev = e.to_numpy(dtype=float, na_value=np.nan)
        av = a.to_numpy(dtype=float, na_value=np.nan)
        e_na, a_na = np.isnan(ev), np.isnan(av)
        ev, av = ev[~e_na], av[~a_na]
        values = np.unique(ev)
        if len(values) > bins:
            edges = np.unique(np.quantile(ev, np.linspace(0, 1, bins + 1)[1:-1]))
            e_bin = np.searchsorted(edges, ev, side="right")
            a_bin = np.searchsorted(edges, av, side="right")
            n_bins = len(edges) + 1
        else:  # one bin per value (values absent from expected get bins of their own)
            values = np.union1d(values, np.unique(av))
            e_bin = np.searchsorted(values, ev)
            a_bin = np.searchsorted(values, av)
            n_bins = len(values)
        e_counts = np.bincount(e_bin, minlength=n_bins).astype(float)
        a_counts = np.bincount(a_bin, minlength=n_bins).astype(float)
    else:
        codes, _ = pd.factorize(pd.concat([e, a], ignore_index=True), use_na_sentinel=True)
        e_codes, a_codes = codes[: len(e)], codes[len(e):]
        e_na, a_na = e_codes < 0, a_codes < 0
        n_bins = int(codes.max()) + 1 if len(codes) else 0
        e_counts = np.bincount(e_codes[~e_na], minlength=n_bins).astype(float)
        a_counts = np.bincount(a_codes[~a_na], minlength=n_bins).astype(float)
    e_counts = np.append(e_counts, e_na.sum())
    a_counts = np.append(a_counts, a_na.sum())
    if e_counts.sum() == 0 or a_counts.sum() == 0:
        return float("nan")
    pe = np.maximum(e_counts / e_counts.sum(), eps)
    pa = np.maximum(a_counts / a_counts.sum(), eps)
    return float(np.sum((pa - pe) * np.log(pa / pe)))


def feature_drift(expected: pd.DataFrame, actual: pd.DataFrame, bins: int = 10) -> pd.Series:
    """PSI of every column shared by two feature tables (``customer_id`` ignored)."""
    cols = [c for c in expected.columns if c in actual.columns and c != "customer_id"]
    return pd.Series({c: psi(expected[c], actual[c], bins=bins) for c in cols}, name="psi", dtype=float)


def drift_flags(drift: pd.DataFrame, moderate: float = 0.1, major: float = 0.25) -> pd.DataFrame:
    """Per feature: largest PSI over the window pairs, where it happened, and its band."""
    if drift.empty:
        return pd.DataFrame(columns=["feature", "max_psi", "between", "band"])
    peak = drift.max(axis=1)
    where = drift.fillna(-1).idxmax(axis=1)
    band = np.where(peak >= major, "major shift", np.where(peak >= moderate, "moderate shift", "stable"))
    out = pd.DataFrame({"feature": drift.index, "max_psi": peak.to_numpy(), "between": where.to_numpy(),
                        "band": band})
    return out.sort_values(["max_psi", "feature"], ascending=[False, True]).reset_index(drop=True)


def cohort_shift(dyn: Dynamics, before: str, after: str, min_n: int = 30) -> pd.DataFrame:
    """How the members of each segment changed between two windows, beyond everyone's change.

    For the customers in segment ``s`` at the end of ``before``, the mean of each model input at
    ``after`` minus its mean at ``before`` (in model-input units: standard deviations for a
    standardised k-means), minus the same change among all other customers. Changes shared by
    everyone (tenure grows by the window length for all) cancel; what one segment's members did
    differently stands out. Inputs expanded from one feature (one-hot levels) are summed by
    absolute value into their original feature.

    Returns
    -------
    pandas.DataFrame
        Rows = segments (value order, high first; cohorts smaller than ``min_n`` left out),
        columns = original features; values = the excess mean shift.
    """
    key_a, key_b = (before, before), (before, after)
    if key_a not in dyn.cohort_means or key_b not in dyn.cohort_means:
        raise KeyError(f"No cohort means for {before}→{after}; compute segment_states with cohort=True.")
    (seg_a, all_a), (seg_b, all_b) = dyn.cohort_means[key_a], dyn.cohort_means[key_b]
    k = min(len(seg_a), len(seg_b))
    n = seg_a[:k, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        delta_seg = seg_b[:k, 1:] / n[:, None] - seg_a[:k, 1:] / n[:, None]
        rest_n = all_a[0] - n
        delta_rest = ((all_b[1:] - seg_b[:k, 1:]) - (all_a[1:] - seg_a[:k, 1:])) / rest_n[:, None]
    excess = pd.DataFrame(delta_seg - delta_rest, columns=dyn.input_names)
    excess.index = range(k)
    features = dyn.input_feature if len(dyn.input_feature) == len(dyn.input_names) else dyn.input_names
    grouped = {}
    for f in dict.fromkeys(features):
        cols = [c for c, g in zip(dyn.input_names, features) if g == f]
        grouped[f] = excess[cols].sum(axis=1) if len(cols) == 1 else excess[cols].abs().sum(axis=1)
    out = pd.DataFrame(grouped)
    order = [s for s in reversed(dyn.value_order) if s < k and n[s] >= min_n]
    out = out.loc[order]
    out.index = [dyn.names.get(s, f"Segment {s}") for s in order]
    out.index.name = f"members of ({before}) {before}→{after}"
    return out


def cohort_flags(shift: pd.DataFrame, threshold: float = 0.1, top: int = 4) -> pd.DataFrame:
    """Per segment, the features whose members' excess shift (:func:`cohort_shift`) is largest.

    Returns
    -------
    pandas.DataFrame
        ``segment``, ``changed`` (features with ``|shift| >= threshold``, largest first, at most
        ``top``, with the signed shift).
    """
    rows = []
    for seg, values in shift.iterrows():
        v = values.dropna()
        v = v[v.abs() >= threshold].reindex(v.abs().sort_values(ascending=False).index).dropna()[:top]
        rows.append({"segment": seg, "changed": ", ".join(f"{f} ({x:+.2f})" for f, x in v.items()) or "—"})
    return pd.DataFrame(rows)


def centroid_shift(dyn: Dynamics) -> pd.DataFrame:
    """How far each segment's centroid (mean model input of its members) moved.

    Distances are Euclidean in the model's input space (standardised units for k-means), between
    consecutive windows (the largest step is reported) and from the first window to the last.
    ``top_inputs`` names the model inputs that moved most from first to last.
    """
    labels = dyn.labels
    rows = []
    for s in dyn.value_order:
        path = np.stack([dyn.centroids[lab][s] if s < len(dyn.centroids[lab]) else
                         np.full(len(dyn.input_names), np.nan) for lab in labels])
        steps = np.sqrt(((np.diff(path, axis=0)) ** 2).sum(axis=1)) if len(labels) > 1 else np.array([])
        steps = np.where(np.isnan(np.diff(path, axis=0)).any(axis=1), np.nan, steps) if len(steps) else steps
        delta = path[-1] - path[0]
        overall = float(np.sqrt(np.nansum(delta ** 2))) if not np.isnan(delta).all() else np.nan
        top = ""
        if not np.isnan(delta).all():
            idx = np.argsort(-np.abs(np.nan_to_num(delta)))[:3]
            top = ", ".join(f"{dyn.input_names[j]} ({delta[j]:+.2f})" for j in idx)
        largest = int(np.nanargmax(steps)) if len(steps) and not np.isnan(steps).all() else None
        rows.append(
            {
                "segment": dyn.names.get(s, f"Segment {s}"),
                "first_to_last": overall,
                "largest_step": float(steps[largest]) if largest is not None else np.nan,
                "largest_step_between": f"{labels[largest]}→{labels[largest + 1]}" if largest is not None else "",
                "top_inputs": top,
            }
        )
    return pd.DataFrame(rows).sort_values("first_to_last", ascending=False, na_position="last").reset_index(drop=True)


# -- stale assignments -------------------------------------------------------------------------------
def stale_assignments(
    recorded: pd.Series | np.ndarray,
    current: pd.Series | np.ndarray,
    names: dict[int, str] | None = None,
    k: int | None = None,
) -> pd.DataFrame:
    """Share of recorded assignments that the customers' current behaviour contradicts, per segment.

    Parameters
    ----------
    recorded : array of int
        Segment recorded at the last refresh (negative: none recorded).
    current : array of int
        Segment the model gives the customer's current features (negative: cannot be scored).
    names : dict, optional
    k : int, optional
        Small-cell threshold: rows of fewer than ``k`` customers are masked
        (:func:`workbench.privacy.suppress_rows`).

    Returns
    -------
    pandas.DataFrame
        ``segment``, ``n`` (customers recorded in it and scorable now), ``stale`` (count),
        ``stale_share``, ``main_destination`` (where most stale ones now belong); plus ``all``.
    """
    names = names or {}
    r = np.asarray(recorded)
    c = np.asarray(current)
    base = (r >= 0) & (c >= 0)
    rows = []
    for s in [*sorted(int(x) for x in np.unique(r[base])), None]:
        mask = base & ((r == s) if s is not None else True)
        stale = mask & (c != r)
        dest = ""
        if s is not None and stale.any():
            values, counts = np.unique(c[stale], return_counts=True)
            dest = names.get(int(values[counts.argmax()]), f"Segment {values[counts.argmax()]}")
        n = int(mask.sum())
        rows.append(
            {
                "segment": "all" if s is None else names.get(s, f"Segment {s}"),
                "n": n,
                "stale": int(stale.sum()),
                "stale_share": stale.sum() / n if n else np.nan,
                "main_destination": dest,
            }
        )
    out = pd.DataFrame(rows)
    if k:
        body = privacy.suppress_rows(out.iloc[:-1].reset_index(drop=True), "n", k, keep=["segment"])
        out = pd.concat([body, out.iloc[-1:]], ignore_index=True)
    return out


def staleness_curve(segments: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """How fast assignments go stale: share that changed segment, by windows since the refresh.

    For every lag ``h`` and every start window ``t``, the share of customers scorable in both ``t``
    and ``t + h`` whose segment differs; averaged over the start windows (weighted by customers).

    Returns
    -------
    pandas.DataFrame
        ``lag`` (windows), ``pairs`` (start windows averaged), ``n``, ``stale_share``.
    """
    data = segments[labels].to_numpy()
    rows = []
    for h in range(1, len(labels)):
        changed = total = 0
        for t in range(len(labels) - h):
            a, b = data[:, t], data[:, t + h]
            both = (a >= 0) & (b >= 0)
            total += int(both.sum())
            changed += int((both & (a != b)).sum())
        rows.append({"lag": h, "pairs": len(labels) - h, "n": total,
                     "stale_share": changed / total if total else np.nan})
    return pd.DataFrame(rows, columns=["lag", "pairs", "n", "stale_share"])


def refresh_recommendation(curve: pd.DataFrame, window_months: int, tolerance: float = 0.10) -> dict:
    """How often to refresh so that at most ``tolerance`` of assignments are stale.

    The recommended interval is the longest lag whose stale share stays within the tolerance.

    Returns
    -------
    dict
        ``refresh_every_months`` (None when even the longest lag observed stays within tolerance:
        at least that long) and ``sentence``.
    """
    if curve.empty or curve["stale_share"].isna().all():
        return {"refresh_every_months": None, "sentence": "Too few windows to measure how fast assignments go stale."}
    within = curve[curve["stale_share"] <= tolerance]
    first_share = float(curve["stale_share"].iloc[0])
    if within.empty:
        return {
            "refresh_every_months": window_months,
            "sentence": (
                f"{first_share:.0%} of assignments are stale after one window ({window_months} months), "
                f"more than the {tolerance:.0%} tolerance: refresh at least every {window_months} months "
                "(or more often)."
            ),
        }
    # longest lag such that every shorter lag is also within tolerance
    ok = curve["stale_share"].le(tolerance).cumprod().astype(bool)
    lag = int(curve.loc[ok, "lag"].max()) if ok.any() else int(within["lag"].min())
    share = float(curve.loc[curve["lag"] == lag, "stale_share"].iloc[0])
    if lag == int(curve["lag"].max()):
        return {
            "refresh_every_months": None,
            "sentence": (
                f"Even after {lag * window_months} months only {share:.0%} of assignments are stale "
                f"(tolerance {tolerance:.0%}): a refresh every {lag * window_months} months or less often is enough."
            ),
        }
    nxt = float(curve.loc[curve["lag"] == lag + 1, "stale_share"].iloc[0])
    return {
        "refresh_every_months": lag * window_months,
        "sentence": (
            f"{share:.0%} of assignments are stale after {lag * window_months} months and {nxt:.0%} after "
            f"{(lag + 1) * window_months}: refresh every {lag * window_months} months to stay within "
            f"{tolerance:.0%}."
        ),
    }


# -- fairness of movement ----------------------------------------------------------------------------
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
) -> pd.DataFrame:
    """Downgrade and lapse rates between two windows by sensitive group, with confidence intervals.

    Among customers in a segment in ``before``: *downgrade* = in a lower-value segment in ``after``
    (denominator: customers active in both windows); *lapse* = inactive in ``after`` (denominator:
    all of them). Groups come from :func:`workbench.fairness.group_labels` (numeric attributes in
    ``bands``, missing values as ``"unknown"``); rates, bootstrap CIs and the comparison with the
    largest group from :func:`workbench.fairness.rate_by_group`. Groups of fewer than ``k``
    customers are masked (:func:`workbench.privacy.suppress_rows`).

    Returns
    -------
    pandas.DataFrame
        ``attribute, outcome`` plus the columns of :func:`workbench.fairness.rate_by_group`.
    """
    a = states[before].to_numpy()
    b = states[after].to_numpy()
    grade = grade_labels(a, b, value_order)
    table = customers.set_index("customer_id")
    bands, labels = bands or {}, labels or {}
    frames = []
    for attr in sensitive:
        if attr not in table.columns:
            continue
        values = table[attr].reindex(states["customer_id"]).reset_index(drop=True)
        groups = fairness.group_labels(values, bands.get(attr), labels.get(attr))
        for outcome, mask, y in [
            ("downgrade", (a >= 0) & (b >= 0), grade == "down"),
            ("lapse", a >= 0, grade == "inactive"),
        ]:
            if not mask.any():
                continue
            res = fairness.rate_by_group(
                y[mask], groups[mask].reset_index(drop=True), n_boot=n_boot, alpha=alpha,
                min_group_size=min_group_size, seed=seed,
            )
            if k:
                res = privacy.suppress_rows(res, "n", k, keep=["group", "is_reference"])
            res.insert(0, "outcome", outcome)
            res.insert(0, "attribute", attr)
            frames.append(res)
    if not frames:
        return pd.DataFrame(columns=["attribute", "outcome", "group", "n", "events", "rate", "rate_low", "rate_high"])
    return pd.concat(frames, ignore_index=True)


# -- report helpers (notebook 05) --------------------------------------------------------------------
def applicable(dyn: Dynamics | None, info: dict, section: str) -> bool:
    """For a notebook section: True if the stage ran; else show why the section does not apply."""
    if dyn is not None:
        return True
    from .report import not_applicable

    not_applicable(section, info.get("because", "the dynamics stage did not run"))
    return False


def window_summary(dyn: Dynamics, k: int = 10) -> pd.DataFrame:
    """Per window: dates, customers active, inactive and not yet acquired, and segment shares.

    Segment shares are among active customers; counts pass through small-cell suppression.
    """
    rows = []
    for w in dyn.windows.itertuples():
        col = dyn.states[w.label].to_numpy()
        active = col >= 0
        row = {"window": w.label, "from": w.start.date().isoformat(), "to (as of)": w.end.date().isoformat(),
               "active": int(active.sum()), "inactive": int((col == INACTIVE).sum()),
               "not yet a customer": int((col == NOT_YET).sum())}
        for s in reversed(dyn.value_order):
            row[dyn.names.get(s, f"Segment {s}")] = (col == s).sum() / active.sum() if active.any() else np.nan
        rows.append(row)
    out = pd.DataFrame(rows).set_index("window")
    cols = ["active", "inactive", "not yet a customer"]
    suppressed = privacy.suppress_counts(out[cols], k)
    for c in cols:
        out[c] = suppressed[c].astype("Int64")
    return out


def plot_drift(drift: pd.DataFrame, top: int = 15, ax=None):
    """Heatmap of PSI per feature (rows, the ``top`` largest) and consecutive window pair."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm, ListedColormap

    if drift.empty:
        return None
    order = drift.max(axis=1).sort_values(ascending=False).index[:top]
    data = drift.loc[order]
    if ax is None:
        _, ax = plt.subplots(figsize=(1.1 * data.shape[1] + 3, 0.35 * len(order) + 1.5))
    cmap = ListedColormap(["#e8f1e4", "#fdd49e", "#d7301f"])
    norm = BoundaryNorm([0, 0.1, 0.25, 1e9], cmap.N)
    ax.imshow(np.nan_to_num(data.to_numpy(), nan=0.0), cmap=cmap, norm=norm, aspect="auto")
    for (r, c), v in np.ndenumerate(data.to_numpy()):
        ax.text(c, r, "" if np.isnan(v) else f"{v:.2f}", ha="center", va="center", fontsize=7)
    ax.set_xticks(range(data.shape[1]), data.columns, rotation=30, ha="right")
    ax.set_yticks(range(len(order)), order)
    ax.set_title("PSI between consecutive windows (green < 0.1 stable, orange moderate, red ≥ 0.25 major)")
    return ax


def plot_staleness(curve: pd.DataFrame, window_months: int, tolerance: float = 0.10, ax=None):
    """Share of assignments that changed segment, by months since the refresh, with the tolerance."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    months = curve["lag"] * window_months
    ax.plot(months, curve["stale_share"], marker="o")
    ax.axhline(tolerance, ls="--", c="grey")
    ax.text(months.min(), tolerance, f" tolerance {tolerance:.0%}", va="bottom", color="grey")
    ax.set_xlabel("months since the assignments were recorded")
    ax.set_ylabel("share now in another segment")
    ax.set_ylim(0, max(0.05, float(np.nanmax(curve["stale_share"])) * 1.15) if len(curve) else 1)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_title("How fast segment assignments go stale")
    return ax


def plot_movement_fairness(fair: pd.DataFrame, outcome: str = "downgrade", ax=None):
    """Rate of ``outcome`` per sensitive group with its confidence interval, one panel row per attribute."""
    import matplotlib.pyplot as plt

    part = fair[(fair["outcome"] == outcome) & fair["rate"].notna()]
    if part.empty:
        return None
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.35 * len(part) + 1.2))
    labels = [f"{a}: {g}" for a, g in zip(part["attribute"], part["group"])]
    y = np.arange(len(part))[::-1]
    err = np.vstack([part["rate"] - part["rate_low"], part["rate_high"] - part["rate"]]).clip(min=0)
    ax.errorbar(part["rate"], y, xerr=err, fmt="o", capsize=3)
    ax.set_yticks(y, labels)
    fmt = "{:.1%}" if float(np.nanmax(part["rate_high"])) < 0.1 else "{:.0%}"
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: fmt.format(v)))
    ax.set_xlabel(f"{outcome} rate (with confidence interval)")
    ax.set_title(f"{outcome.capitalize()} rate by sensitive group")
    return ax


# -- planted truth (synthetic) -----------------------------------------------------------------------
def planted_migration_check(
    dyn: Dynamics, truth: pd.DataFrame, migration: dict, after: str | None = None
) -> dict:
    """Compare the measured migration with the one the synthetic generator planted.

    * **Mapping.** Each learned segment is labelled with the planted segment most of its customers
      belong to (majority vote over the segments the model gives at the end of window ``before``,
      the last window ending on or before the migration date). The learned *source* is the set
      of learned segments labelled with the planted source (a model may split a planted segment in
      two), the learned *target* likewise; when no learned segment is labelled with a planted
      segment, the learned segment holding most of its customers stands for it.
    * **Measured share** (the definition the done-when test checks): among customers in the
      learned source in ``before`` who are active in ``after`` (default: the last window), the
      share in the learned target in ``after``: the source row of the transition matrix
      ``before -> after`` restricted to active customers.
    * ``planted_share`` is the generator's ``n_moved / n_source``. ``measured_share_all`` judges
      every source customer by the segment their features give at the end of ``after``, active or
      not; ``true_share_same_customers`` is the planted share among exactly the customers of the
      measured denominator (from ``segment_after_migration``), separating the segmentation's
      misclassification from who is in the denominator.

    Parameters
    ----------
    dyn : Dynamics
    truth : pandas.DataFrame
        ``customer_id``, ``segment`` (planted, before the migration) and optionally
        ``segment_after_migration``.
    migration : dict
        ``source``, ``target``, ``share``, ``at`` and optionally ``n_moved``, ``n_source``.
    after : str, optional
        Window label after the migration (default the last window).
    """
    at = pd.Timestamp(migration["at"])
    ends = dyn.windows["end"]
    if not (ends <= at).any() or (ends > at).sum() == 0:
        return {"applicable": False, "because": "the windows do not straddle the migration date"}
    before = dyn.labels[int(np.flatnonzero(ends <= at).max())]
    after = after or dyn.labels[-1]
    planted = dyn.states[["customer_id"]].merge(truth, on="customer_id", how="left")
    scored = dyn.segments[before].to_numpy()  # the model's segment, active in the window or not
    known = (scored >= 0) & planted["segment"].notna().to_numpy()
    vote = pd.crosstab(planted.loc[known, "segment"].to_numpy(), scored[known])
    if migration["source"] not in vote.index or migration["target"] not in vote.index:
        return {"applicable": False, "because": "no customer of the planted source or target segment was scored"}
    label_of = vote.idxmax(axis=0)  # learned segment -> planted segment most of its customers are in

    def learned(name: str) -> list[int]:
        ids = [int(j) for j, p in label_of.items() if p == name]
        return ids or [int(vote.loc[name].idxmax())]

    src, dst = learned(migration["source"]), learned(migration["target"])
    if set(src) & set(dst):
        return {
            "applicable": False,
            "because": (f"the planted segments {migration['source']} and {migration['target']} map to the "
                        "same learned segment: the model does not tell them apart"),
        }
    a = dyn.states[before].to_numpy()
    b = dyn.states[after].to_numpy()
    b_all = dyn.segments[after].to_numpy()
    in_src = np.isin(a, src)
    base = in_src & (b >= 0)
    share = float(np.isin(b[base], dst).mean()) if base.any() else float("nan")
    share_all = float(np.isin(b_all[in_src], dst).mean()) if in_src.any() else float("nan")
    if migration.get("n_source"):
        planted_share = migration["n_moved"] / migration["n_source"]
    else:
        planted_share = float(migration["share"])
    out = {
        "applicable": True,
        "before": before,
        "after": after,
        "source": " + ".join(dyn.names.get(j, str(j)) for j in src),
        "target": " + ".join(dyn.names.get(j, str(j)) for j in dst),
        "source_ids": src,
        "target_ids": dst,
        "planted_share": float(planted_share),
        "measured_share": share,
        "n_source_active": int(base.sum()),
        "measured_share_all": share_all,
        "difference_pp": float(100 * (share - planted_share)),
    }
    if "segment_after_migration" in planted:
        moved = ((planted["segment"] == migration["source"])
                 & (planted["segment_after_migration"] == migration["target"])).to_numpy()
        out["true_share_same_customers"] = float(moved[base].mean()) if base.any() else float("nan")
    return out


def planted_migration_note(check: dict, *_ignored) -> str:
    """One or two sentences reading a :func:`planted_migration_check` result for the report."""
    if not check.get("applicable"):
        return f"Not applicable: {check.get('because', '')}."
    diff = abs(check["difference_pp"])
    if diff <= 2:
        return (f"The transition matrix recovers the planted share within {diff:.1f} percentage points "
                "(tolerance 2).")
    static = check.get("static_inputs") or []
    text = f"The measured share misses the planted one by {diff:.1f} percentage points."
    if static:
        text += (
            f" The segmentation uses {len(static)} customer-table attributes ({', '.join(static[:5])}"
            f"{', …' if len(static) > 5 else ''}), which are one snapshot without history: customers who changed "
            "their buying keep the attributes of their old segment, so the model keeps them there. This is the "
            "'fractured identity' the audit looks for; a behavioural segmentation "
            "(`segmentation.features.customer_families: []`) follows the movers (the unit tests recover the "
            "planted share within 2 points that way)."
        )
    return text


# -- audit mode: how stale are given segment labels? ---------------------------------------------------
AGE_BANDS = (0, 90, 180, 365)  # label age bands in days: [0, 90), [90, 180), [180, 365), 365+


class _LabelModel:
    """Scores customers into *given* segments (audit mode) with a surrogate of the labels.

    ``predict`` is the fitted :class:`workbench.explain.SurrogateExplainer`'s prediction;
    ``transform`` standardises the numeric inputs (for centroids, cohort means and drift), as the
    nearest-centroid stand-in does.
    """

    def __init__(self, surrogate, reference: pd.DataFrame, names: dict[int, str]):
        self.surrogate = surrogate
        self.method = "surrogate of the given labels"
        self.feature_names_in_ = list(surrogate.features_)
        cats = set(getattr(surrogate, "categories_", {}) or {})
        self._numeric = [c for c in self.feature_names_in_ if c not in cats]
        self.input_names_ = list(self._numeric)
        self.input_feature_ = list(self._numeric)
        values = reference[self._numeric].to_numpy(dtype=float)
        self._median = np.nan_to_num(np.nanmedian(values, axis=0)) if len(values) else np.zeros(len(self._numeric))
        values = np.where(np.isnan(values), self._median, values)
        self._mean, self._scale = values.mean(axis=0), values.std(axis=0)
        self._scale[self._scale == 0] = 1.0
        self.cluster_centers_ = None
        self.segment_names_ = dict(names)

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        values = X[self._numeric].to_numpy(dtype=float)
        values = np.where(np.isnan(values), self._median, values)
        return (values - self._mean) / self._scale

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.surrogate.predict(X[self.feature_names_in_]), dtype=int)


@dataclass
class LabelStaleness:
    """How stale given segment labels are (audit mode); see :func:`label_staleness`."""

    applicable: bool
    because: str = ""
    ages: dict = field(default_factory=dict)
    by_segment: pd.DataFrame | None = None
    by_age: pd.DataFrame | None = None
    overall: dict = field(default_factory=dict)
    headline: list[str] = field(default_factory=list)
    model: Any = None


def _given_labels(run: Run) -> dict | None:
    """``segments.json``'s audit section when stage 02 audited given labels, else None."""
    if not run.has("segments/segments.json"):
        return None
    info = run.read_json("artifacts/segments/segments.json")
    if info.get("method") != "external labels":
        return None
    return {**(info.get("audit") or {}), "names": {int(k): v for k, v in (info.get("names") or {}).items()}}


def features_at_labelling(
    customers: pd.DataFrame,
    transactions: pd.DataFrame,
    roles,
    assigned_at: pd.Series,
    columns: list[str] | None = None,
    settings: dict | None = None,
    max_dates: int = 24,
) -> pd.DataFrame:
    """Each labelled customer's features as of the day their label was assigned.

    Customers are grouped by the date of ``assigned_at`` (by the first of its month when there are
    more than ``max_dates`` distinct dates: features a little before the label, never after), and
    :func:`workbench.features.build_features` runs once per date on that group with ``as_of``.
    Row order follows ``customers``; customers without ``assigned_at`` are left out.
    """
    from . import features as feature_module

    dates = pd.to_datetime(pd.Series(np.asarray(assigned_at), index=customers.index)).dt.normalize()
    if dates.dropna().nunique() > max_dates:
        dates = dates.dt.to_period("M").dt.start_time
    parts = []
    for day in sorted(dates.dropna().unique()):
        mask = (dates == day).to_numpy()
        ids = customers.loc[mask, "customer_id"]
        tx = transactions[transactions["customer_id"].isin(ids)]
        f = feature_module.build_features(customers.loc[mask], tx, roles, settings, as_of=pd.Timestamp(day))
        parts.append(f)
    if not parts:
        return pd.DataFrame(columns=["customer_id", *(columns or [])])
    out = pd.concat(parts, ignore_index=True)
    order = customers.loc[dates.notna().to_numpy(), ["customer_id"]]
    out = order.merge(out, on="customer_id", how="left")
    if columns is not None:
        for c in columns:
            if c not in out:
                out[c] = np.nan
        out = out[["customer_id", *columns]]
    return out


def _band(days: np.ndarray) -> np.ndarray:
    edges = list(AGE_BANDS)
    labels = [f"{a}-{b} days" for a, b in zip(edges[:-1], edges[1:])] + [f"{edges[-1]}+ days"]
    idx = np.searchsorted(np.asarray(edges[1:]), days, side="right")
    return np.asarray(labels, dtype=object)[idx]


def label_staleness_table(
    recorded: np.ndarray,
    current: np.ndarray | None,
    age_days: np.ndarray,
    names: dict[int, str],
    k: int = 10,
    min_size: int = 30,
) -> pd.DataFrame:
    """Per given segment: customers, median label age, stale share and where the stale ones belong now.

    ``recorded`` holds the given segment id (negative: unlabelled, left out); ``current`` the segment
    the customer's current behaviour implies (None: staleness cannot be judged, only ages are
    shown). Rows of fewer than ``k`` customers are suppressed (:func:`workbench.privacy.suppress_rows`);
    segments below ``min_size`` are marked insufficient evidence. The last row is everyone.
    """
    r = np.asarray(recorded)
    age = np.asarray(age_days, dtype=float)
    base = r >= 0
    rows = []
    for s in [*sorted(int(x) for x in np.unique(r[base])), None]:
        mask = base & ((r == s) if s is not None else True)
        n = int(mask.sum())
        row = {"segment": "all" if s is None else names.get(s, f"Segment {s}"), "n": n,
               "median_age_days": float(np.nanmedian(age[mask])) if n and np.isfinite(age[mask]).any() else np.nan}
        if current is not None:
            c = np.asarray(current)
            stale = mask & (c != r)
            dest = ""
            if s is not None and stale.any():
                values, counts = np.unique(c[stale], return_counts=True)
                dest = names.get(int(values[counts.argmax()]), f"Segment {values[counts.argmax()]}")
            row.update(stale=int(stale.sum()), stale_share=stale.sum() / n if n else np.nan, main_destination=dest)
        row["evidence"] = ("" if s is None else
                           "sufficient" if n >= min_size else f"insufficient evidence (fewer than {min_size} customers)")
        rows.append(row)
    out = pd.DataFrame(rows)
    body = privacy.suppress_rows(out.iloc[:-1].reset_index(drop=True), "n", k,
                                 keep=["segment", "evidence", "main_destination"] if current is not None
                                 else ["segment", "evidence"])
    if "main_destination" in body:
        body.loc[body["suppressed"].astype(bool), "main_destination"] = ""
    return pd.concat([body, out.iloc[-1:].assign(suppressed=False)], ignore_index=True)


def label_age_table(age_days: np.ndarray, stale: np.ndarray | None, k: int = 10) -> pd.DataFrame:
    """Labelled customers per label-age band (and the stale share in each band), suppressed."""
    age = np.asarray(age_days, dtype=float)
    ok = np.isfinite(age)
    bands = _band(age[ok])
    order = [f"{a}-{b} days" for a, b in zip(AGE_BANDS[:-1], AGE_BANDS[1:])] + [f"{AGE_BANDS[-1]}+ days"]
    rows = []
    for band in order:
        m = bands == band
        row = {"label_age": band, "n": int(m.sum()), "share": float(m.mean()) if len(m) else np.nan}
        if stale is not None:
            s = np.asarray(stale)[ok][m]
            row["stale_share"] = float(s.mean()) if len(s) else np.nan
        rows.append(row)
    return privacy.suppress_rows(pd.DataFrame(rows), "n", k, keep=["label_age"])


def label_staleness(run: Run, settings: dict | None = None, given: dict | None = None) -> LabelStaleness:
    """Audit mode: how stale the given segment labels are against the customers' current behaviour.

    Needs ``assigned_at`` (when each label was assigned). With a transaction history, each labelled
    customer's features are computed *as of* the day of their label (:func:`features_at_labelling`),
    a fidelity-gated surrogate (:class:`workbench.explain.SurrogateExplainer`) learns the labels from
    that behaviour, and is applied to the customers' current features (``segments/features.parquet``):
    a label is *stale* when today's behaviour puts the customer in another segment. The surrogate's
    held-out error at labelling time is the noise floor of that share. When the surrogate does not
    reproduce the labels (below ``explain.fidelity_threshold``), the segment profiles at labelling
    time judge instead (nearest profile, standardised numeric features). Without transactions only
    the labels' ages are shown. The age of a label is counted to the day after the last transaction
    (without transactions: to the most recent label).
    """
    from . import explain as explain_module
    from . import features as feature_module

    settings = {**DEFAULTS, **(settings or {})}
    given = given if given is not None else _given_labels(run)
    if given is None:
        return LabelStaleness(False, "the segments were learned in this run, not given as labels")
    roles = run.roles
    names = given["names"]
    if not roles.assigned_at:
        return LabelStaleness(False, "the segment labels carry no assigned_at date, so their age and staleness "
                                     "cannot be judged")
    k = int(run.read_json("data/prepare.json").get("suppression_k", 10))
    min_size = int(given.get("min_segment_size") or k)
    customers = run.customers()
    transactions = run.transactions()
    assignments = run.read_table("segments/assignments.parquet")
    current = run.read_table("segments/features.parquet")
    frame = customers[["customer_id", roles.assigned_at]].merge(
        assignments[["customer_id", "segment"]], on="customer_id", how="inner")
    unlabelled = given.get("unlabelled_segment")
    recorded = frame["segment"].to_numpy().astype(int)
    if unlabelled is not None:
        recorded = np.where(recorded == int(unlabelled), -1, recorded)
    when = pd.to_datetime(frame[roles.assigned_at])
    recorded = np.where(when.notna().to_numpy(), recorded, -1)
    has_tx = transactions is not None and len(transactions) > 0
    now = (feature_module.default_as_of(transactions) if has_tx else when.max())
    age = (pd.Timestamp(now) - when).dt.days.to_numpy(dtype=float, copy=True)
    age[recorded < 0] = np.nan
    labelled = recorded >= 0
    ages = {
        "reference": "the day after the last transaction" if has_tx else "the most recent label in the file",
        "as_of": pd.Timestamp(now).date().isoformat() if pd.notna(now) else None,
        "n_dated": int(labelled.sum()),
        "median_days": float(np.nanmedian(age)) if labelled.any() else None,
        "share_older_180": float(np.mean(age[labelled] >= 180)) if labelled.any() else None,
        "share_older_365": float(np.mean(age[labelled] >= 365)) if labelled.any() else None,
    }
    if labelled.sum() < 2:
        return LabelStaleness(False, "fewer than two labelled customers carry an assigned_at date", ages=ages)
    result = LabelStaleness(True, ages=ages)
    implied = None
    if not has_tx:
        result.because = ("the dataset has no transaction history, so the customers' behaviour now cannot be told "
                          "apart from their behaviour when they were labelled; only the labels' ages are shown")
    else:
        cols = [c for c in current.columns if c != "customer_id"]
        seg_settings = (run.config.get("segmentation") or {}).get("features") or None
        sub = frame.loc[labelled]
        cust = customers.set_index("customer_id").loc[sub["customer_id"]].reset_index()
        then = features_at_labelling(cust, transactions, roles, sub[roles.assigned_at].to_numpy(), cols, seg_settings)
        esettings = run.settings("explain", explain_module.DEFAULTS)
        sur = {**explain_module.DEFAULTS["surrogate"], **(esettings.get("surrogate") or {})}
        y = recorded[labelled]
        surrogate = explain_module.SurrogateExplainer(threshold=esettings["fidelity_threshold"], random_state=run.seed,
                                                      **sur).fit(then[cols], y)
        now_feats = frame[["customer_id"]].merge(current, on="customer_id", how="left")
        if surrogate.trustworthy_:
            model = _LabelModel(surrogate, then[cols], names)
            method = "surrogate"
            judge = (f"a surrogate that learned the labels from the customers' behaviour when they were labelled "
                     f"({surrogate.fidelity_['reason']})")
            floor = 1.0 - surrogate.fidelity_["accuracy"]
        else:
            model = _CentroidModel(then, y, names)
            method = "segment profiles"
            judge = (f"the nearest segment profile at labelling time (standardised numeric features), because "
                     f"{surrogate.fidelity_['reason']}")
            check = np.asarray(model.predict(then[[*model.feature_names_in_]]))
            floor = float(np.mean(check != y))
        implied = np.full(len(frame), -1)
        implied[labelled] = np.asarray(model.predict(now_feats.loc[labelled, cols]))
        stale = (implied != recorded) & labelled
        result.model = model
        result.overall = {
            "method": method, "judged_by": judge, "n": int(labelled.sum()),
            "stale_share": float(stale[labelled].mean()), "noise_floor": float(floor),
            "fidelity": round(float(surrogate.fidelity_["accuracy"]), 4),
        }
    result.by_segment = label_staleness_table(recorded, implied, age, names, k, min_size)
    result.by_age = label_age_table(age[labelled], None if implied is None else (implied != recorded)[labelled], k)
    heads = [f"Given labels are a median {ages['median_days']:.0f} days old (to {ages['reference']}); "
             f"{ages['share_older_180']:.0%} are older than 180 days."]
    if implied is not None:
        o = result.overall
        body = result.by_segment.iloc[:-1]
        body = body[(~body["suppressed"].astype(bool)) & (body["evidence"] == "sufficient")]
        worst = body.sort_values("stale_share", ascending=False, kind="stable").head(1)
        heads.append(
            f"{o['stale_share']:.0%} of labelled customers' current behaviour puts them in another given segment "
            f"(judged by {o['method']}; {o['noise_floor']:.1%} disagree already at labelling time)"
            + (f"; stalest: {worst['segment'].iloc[0]} ({float(worst['stale_share'].iloc[0]):.0%})." if len(worst) else ".")
        )
    else:
        heads.append(f"Label staleness against current behaviour: not applicable, because {result.because}.")
    result.headline = heads
    return result


def _write_label_staleness(run: Run, result: LabelStaleness) -> dict:
    """Artifacts and the summary fragment of :func:`label_staleness`."""
    info = {"applicable": result.applicable, "because": result.because, "ages": result.ages, **result.overall}
    run.write_json("artifacts/dynamics/label_staleness.json", info)
    if result.by_segment is not None:
        run.write_table("dynamics/label_stale.parquet", result.by_segment)
    if result.by_age is not None:
        run.write_table("dynamics/label_age.parquet", result.by_age)
    summary = {"applicable": result.applicable, **({"because": result.because} if result.because else {})}
    if result.ages:
        summary["median_age_days"] = result.ages.get("median_days")
        summary["share_older_180_days"] = result.ages.get("share_older_180")
    if result.overall:
        summary.update(stale_share=round(result.overall["stale_share"], 4),
                       noise_floor=round(result.overall["noise_floor"], 4), judged_by=result.overall["method"])
    return summary


def label_staleness_markdown(info: dict) -> str:
    """For notebook 05: how the staleness of given labels was judged and the overall result (Markdown)."""
    ages = info.get("ages") or {}
    text = (f"Labels dated: {ages.get('n_dated', 0):,} customers; median age **{ages.get('median_days', float('nan')):.0f} "
            f"days** (counted to {ages.get('reference', 'now')}, {ages.get('as_of')}); "
            f"{(ages.get('share_older_180') or 0):.0%} older than 180 days, {(ages.get('share_older_365') or 0):.0%} "
            "older than a year.")
    if info.get("stale_share") is not None:
        text += (f" Current behaviour was judged by {info['judged_by']}. **{info['stale_share']:.1%}** of labelled "
                 f"customers would now be in another given segment; {info['noise_floor']:.1%} disagree already at "
                 "labelling time (the noise floor of that share).")
    return text


def read_label_staleness(run: Run) -> dict | None:
    """For notebook 05: the label-staleness artifacts (audit mode), or None in a normal run."""
    path = run.path / "artifacts" / "dynamics" / "label_staleness.json"
    if not path.exists():
        return None
    info = json.loads(path.read_text())
    for name, rel in (("by_segment", "dynamics/label_stale.parquet"), ("by_age", "dynamics/label_age.parquet")):
        info[name] = run.read_table(rel) if run.has(rel) else None
    return info


# -- the stage ---------------------------------------------------------------------------------------
def _load_model(run: Run):
    """The fitted model of stage 02, or a nearest-centroid stand-in built from its assignments."""
    import joblib

    assignments = run.read_table("segments/assignments.parquet")
    info = run.read_json("artifacts/segments/segments.json")
    names = {int(k): v for k, v in (info.get("names") or {}).items()}
    if run.has("segments/model.joblib"):
        model = joblib.load(run.artifact("segments/model.joblib"))
        names = names or {int(k): v for k, v in getattr(model, "segment_names_", {}).items()}
    else:
        features = run.read_table("segments/features.parquet")
        merged = features.merge(assignments[["customer_id", "segment"]], on="customer_id")
        model = _CentroidModel(merged.drop(columns=["segment"]), merged["segment"].to_numpy(), names)
    value_order = info.get("value_order")
    if not value_order:
        value_order = _value_order_from(run, assignments)
    return model, names, [int(v) for v in value_order]


def _value_order_from(run: Run, assignments: pd.DataFrame) -> list[int]:
    """Segments ranked by mean net spend (low -> high) when segments.json has no value_order."""
    tx = run.transactions()
    spend = tx.groupby("customer_id", observed=True)["amount"].sum()
    value = assignments.assign(v=assignments["customer_id"].map(spend).fillna(0)).groupby("segment")["v"].mean()
    return [int(s) for s in value.sort_values(kind="stable").index]


@register_stage("dynamics/states.parquet")
def dynamics_run(run: Run) -> Dynamics | None:
    """Stage 05: states per window, transitions, drift, stale assignments, fairness of movement.

    Artifacts under ``dynamics/``: ``states.parquet`` (customer_id + a state per window),
    ``segments_by_window.parquet``, ``transitions.parquet`` (suppressed counts and rates, long form),
    ``grades.parquet``, ``drift.parquet``, ``centroid_shift.parquet``, ``staleness.parquet``,
    ``stale.parquet``, ``fairness.parquet``, ``dynamics.json``. Returns None (and records why)
    when the dataset has no transactions or too short a history.

    In an audit of given segment labels (stage 02 in audit mode), :func:`label_staleness` first
    judges how stale the labels are (``label_staleness.json``, ``label_stale.parquet``,
    ``label_age.parquet``), and the windows are scored with a surrogate of the labels
    (:class:`_LabelModel`) instead of a fitted segmentation model.
    """
    settings = run.settings("dynamics", DEFAULTS)
    given = _given_labels(run)
    if given is None:
        return _dynamics_windows(run, settings)
    result = label_staleness(run, settings, given)
    label_summary = _write_label_staleness(run, result)
    model = result.model if result.model is not None else _label_model_from_explain(run, given)
    dyn = _dynamics_windows(run, settings, model=model)
    path = run.path / "summary" / "05_dynamics.json"
    earlier = json.loads(path.read_text()).get("headline", []) if path.exists() else []
    heads = result.headline or [f"Staleness of the given labels: not applicable, because {result.because}."]
    run.summarise("05_dynamics", labels=label_summary, headline=[*heads, *earlier])
    if dyn is not None:
        dyn.settings["label_staleness"] = label_summary
    return dyn


def _label_model_from_explain(run: Run, given: dict):
    """A :class:`_LabelModel` from stage 03's surrogate of the labels when it is trustworthy, else None."""
    from . import explain as explain_module

    if not run.has_transactions:
        return None
    try:
        state = explain_module.load_state(run)
    except Exception:  # the explanation stage failed: the nearest-centroid stand-in scores instead
        return None
    if state.get("kind") != "surrogate" or not state.get("trustworthy"):
        return None
    current = run.read_table("segments/features.parquet")
    return _LabelModel(state["explainer"], current, given["names"])


def _dynamics_windows(run: Run, settings: dict, model=None) -> Dynamics | None:
    """The window analysis of :func:`dynamics_run` (``model`` overrides stage 02's model)."""
    transactions = run.transactions()
    if transactions is None or transactions.empty:
        return _not_applicable(run, "the dataset has no transaction history to split into periods")
    windows = make_windows(transactions["timestamp"], settings["window_months"], settings["n_windows"],
                           settings["max_windows"])
    if len(windows) < 2:
        return _not_applicable(
            run, f"the transaction history holds fewer than two full {settings['window_months']}-month windows"
        )
    loaded, names, value_order = _load_model(run)
    model = loaded if model is None else model
    customers = run.customers()
    k = int(run.read_json("data/prepare.json").get("suppression_k", 10))
    seg_settings = (run.config.get("segmentation") or {}).get("features") or None
    dyn = segment_states(
        model, customers, transactions, run.roles, windows, names=names, value_order=value_order,
        lookback_months=settings["lookback_months"], feature_settings=seg_settings,
        psi_bins=settings["psi_bins"], refit=settings["refit"], refit_sample=settings["refit_sample"],
        refit_match=settings["refit_match"], seed=run.seed,
    )
    dyn.settings = dict(settings, suppression_k=k)
    labels = dyn.labels
    snames = dyn.state_names()

    run.write_table("dynamics/states.parquet", dyn.states.rename(columns=str))
    run.write_table("dynamics/segments_by_window.parquet", dyn.segments.rename(columns=str))
    if dyn.refit_states is not None:
        run.write_table("dynamics/refit_states.parquet", dyn.refit_states.rename(columns=str))

    long, grades = [], []
    for before, after in zip(labels[:-1], labels[1:]):
        counts, rates = transition_matrix(dyn.states, before, after, snames, value_order, k=k)
        c = counts.stack(future_stack=True).rename("count")
        r = rates.stack(future_stack=True).rename("rate")
        part = pd.concat([c, r], axis=1).reset_index()
        part.columns = ["from_state", "to_state", "count", "rate"]
        part.insert(0, "after", after)
        part.insert(0, "before", before)
        long.append(part)
        g = grade_changes(dyn.states, before, after, value_order, dyn.names)
        g = privacy.suppress_rows(g, "n", k, keep=["segment"])
        g.insert(0, "after", after)
        g.insert(0, "before", before)
        grades.append(g)
    transitions = pd.concat(long, ignore_index=True)
    grades_t = pd.concat(grades, ignore_index=True)
    run.write_table("dynamics/transitions.parquet", transitions)
    run.write_table("dynamics/grades.parquet", grades_t)

    drift = dyn.drift
    run.write_table("dynamics/drift.parquet", drift.reset_index(names="feature"))
    shift = centroid_shift(dyn)
    run.write_table("dynamics/centroid_shift.parquet", shift)

    curve = staleness_curve(dyn.segments, labels)
    advice = refresh_recommendation(curve, int(settings["window_months"]), float(settings["stale_tolerance"]))
    lag = max(1, min(int(settings["refresh_lag"]), len(labels) - 1))
    refreshed_at = labels[-1 - lag]
    stale = stale_assignments(dyn.segments[refreshed_at], dyn.segments[labels[-1]], dyn.names, k=k)
    run.write_table("dynamics/staleness.parquet", curve)
    run.write_table("dynamics/stale.parquet", stale)

    sensitive = settings["sensitive"]
    if sensitive is None:
        sensitive = run.settings("fairness", fairness.DEFAULTS).get("sensitive") or list(run.roles.sensitive)
    sensitive = [s for s in sensitive if s in customers.columns]
    fair_settings = run.settings("fairness", fairness.DEFAULTS)
    fair = movement_fairness(
        dyn.states, customers, labels[-2], labels[-1], value_order, sensitive,
        bands=fair_settings.get("bands"), labels=fair_settings.get("labels"),
        alpha=1 - float(settings["ci_level"]), n_boot=int(fair_settings.get("n_boot", 1000)),
        min_group_size=int(fair_settings.get("min_group_size", 30)), seed=run.seed, k=k,
    )
    run.write_table("dynamics/fairness.parquet", fair)

    overall = grades_t[grades_t["segment"] == "all"]
    last = overall.iloc[-1]
    last_pair = drift.columns[-1]
    recent = drift_flags(drift[[last_pair]], settings["psi_moderate"], settings["psi_major"])
    major = recent[recent["band"] == "major shift"]["feature"].tolist()
    moderate = recent[recent["band"] == "moderate shift"]["feature"].tolist()
    info = {
        "applicable": True,
        "windows": [{"label": w.label, "start": w.start.date().isoformat(), "end": w.end.date().isoformat()}
                    for w in windows.itertuples()],
        "refreshed_at": refreshed_at,
        "refresh": advice,
        "model": getattr(model, "method", type(model).__name__),
    }
    run.write_json("artifacts/dynamics/dynamics.json", info)
    dyn.settings.update(refreshed_at=refreshed_at, refresh=advice)
    headline = [
        f"{len(labels)} windows of {settings['window_months']} months ({labels[0]} to {labels[-1]}); "
        f"between {labels[-2]} and {labels[-1]}, {last['upgraded']:.0%} of active customers moved to a "
        f"higher-value segment, {last['downgraded']:.0%} to a lower one and {last['inactive']:.0%} became inactive.",
        (f"Between {labels[-2]} and {labels[-1]}, features with a major distribution shift "
         f"(PSI ≥ {settings['psi_major']}): {', '.join(major)}." if major
         else f"No feature shifted majorly between {labels[-2]} and {labels[-1]}.")
        + (f" Moderate (PSI ≥ {settings['psi_moderate']}): {', '.join(moderate)}." if moderate else ""),
        f"{float(stale['stale_share'].iloc[-1]):.0%} of the assignments recorded at the end of {refreshed_at} "
        f"are stale by {labels[-1]}. " + advice["sentence"],
    ]
    summary = {
        "applicable": True,
        "windows": labels,
        "upgraded": overall.set_index("after")["upgraded"].round(4).to_dict(),
        "downgraded": overall.set_index("after")["downgraded"].round(4).to_dict(),
        "inactive": overall.set_index("after")["inactive"].round(4).to_dict(),
        "drift_major": major,
        "drift_moderate": moderate,
        "stale_share": round(float(stale["stale_share"].iloc[-1]), 4),
        "refresh_every_months": advice["refresh_every_months"],
        "headline": headline,
    }
    truth_path = run.path / "data" / "truth.json"
    if truth_path.exists():
        migration = json.loads(truth_path.read_text()).get("migration")
        if migration:
            truth = pd.read_parquet(run.path / "data" / "truth.parquet")
            check = planted_migration_check(dyn, truth, migration)
            check["static_inputs"] = [c for c in getattr(model, "feature_names_in_", []) if c in customers.columns]
            run.write_json("artifacts/dynamics/planted_migration.json", check)
            dyn.settings["planted_migration"] = check
            if check.get("applicable"):
                summary["planted_migration"] = {key: check[key] for key in
                                                ("before", "after", "planted_share", "measured_share")}
                headline.append(
                    f"Planted migration ({migration['source']} → {migration['target']}, "
                    f"{check['planted_share']:.1%} of the source segment): the transition matrix "
                    f"{check['before']}→{check['after']} measures {check['measured_share']:.1%}."
                )
    run.summarise("05_dynamics", **summary)
    return dyn


def _not_applicable(run: Run, because: str) -> None:
    run.write_json("artifacts/dynamics/dynamics.json", {"applicable": False, "because": because})
    run.write_table("dynamics/states.parquet", pd.DataFrame({"customer_id": pd.Series([], dtype="string")}))
    run.summarise("05_dynamics", applicable=False, because=because,
                  headline=[f"Segment dynamics: not applicable, because {because}."])
    return None
