"""Each customer's state per window (a segment, inactive, not yet a customer) and the Dynamics result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from ._drift import feature_drift
from ._models import _model_inputs, _predict, _transform
from ._refit import _refit
from ._windows import window_activity, window_features

INACTIVE = -1
NOT_YET = -2
STATE_NAMES = {INACTIVE: "inactive", NOT_YET: "not yet a customer"}


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
        PSI per feature (rows) and compared window pair (columns ``"A→B"``, see ``pairs``).
    centroids : dict
        Window label -> (k, d) array of the mean model input of each segment's customers
        (rows of absent segments are NaN).
    input_names : list
        Model-input names (columns of the centroid arrays).
    refit_states : pandas.DataFrame or None
        States under a per-window refit (ids matched by centroid), when asked for.
    cohort_means : dict
        ``(u, t) -> (per-segment [count, sums at u, sums at t], overall [same])``: the model inputs
        at windows ``u`` and ``t`` of the customers scored in both, grouped by their segment at
        ``u``; :func:`cohort_shift` turns them into how each segment's members moved.
    input_feature : list
        The original feature each model input comes from.
    pair_lag : int
        Windows between the two windows of a compared pair: 1 compares consecutive windows; with
        half-years 2 compares each window with the same season a year earlier (``pairs``).
    fits : dict or None
        Window label -> packed bits saying which segments' profiles each customer's behaviour in that
        window fits (:class:`workbench.dynamics.SeasonalProfiles`), when the model says.
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
    pair_lag: int = 1
    fits: dict | None = None

    @property
    def labels(self) -> list[str]:
        return list(self.windows["label"])

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """The compared window pairs ``(before, after)``, ``pair_lag`` windows apart, oldest first."""
        labels = self.labels
        return [(labels[i - self.pair_lag], labels[i]) for i in range(self.pair_lag, len(labels))]

    @property
    def last_pair(self) -> tuple[str, str]:
        """The most recent compared pair (what the headline and the movement fairness report)."""
        return self.pairs[-1]

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
    windowed: bool = False,
    pair_lag: int = 1,
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
        Prepared tables (``customer_id`` pseudonyms); the transactions may be
        :class:`workbench.features.ParquetTransactions` (features and activity computed in the engine).
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
    windowed : bool
        The features describe one window's purchases only (``lookback_months`` = the window length,
        or a ``features_fn`` that does so): a customer is scored only in windows where they bought
        something (else ``INACTIVE``), and PSI compares the active customers of paired, disjoint
        windows. Without it, everyone acquired by a window's end is scored on features as of its end.
    pair_lag : int
        PSI compares each window with the one ``pair_lag`` windows earlier (the same season a year
        earlier for half-years with 2, :func:`workbench.dynamics.season_lag`).

    A model with ``for_window(label)`` (:class:`workbench.dynamics.SeasonalProfiles`) scores each
    window with the model it returns; when that has ``fits``, ``Dynamics.fits`` records it.
    """
    if refit_match not in ("previous", "original"):
        raise ValueError(f"refit_match must be 'previous' or 'original', got {refit_match!r}")
    if features_fn is None:
        features_fn = _features_as_of(customers, transactions, roles, lookback_months, feature_settings)
    ids, activity = _customer_activity(customers, transactions, windows)
    names = {int(k): str(v) for k, v in (names or getattr(model, "segment_names_", {}) or {}).items()}
    scan = _scan_windows(model, windows, ids, activity, features_fn, psi_bins, refit, refit_sample, refit_match,
                         seed, cohort, windowed, max(1, int(pair_lag)))
    dyn = _dynamics(model, windows, scan, names, value_order, refit)
    dyn.pair_lag = max(1, min(int(pair_lag), len(windows) - 1))
    dyn.fits = scan.fits or None
    return dyn


def _customer_activity(customers: pd.DataFrame, transactions: pd.DataFrame, windows: pd.DataFrame):
    """The customer ids in table order, and each one's activity per window (customers without any, too)."""
    ids = customers["customer_id"].reset_index(drop=True)
    activity = window_activity(transactions, windows)
    return ids, pd.DataFrame({"customer_id": ids}).merge(activity, on="customer_id", how="left")


def _dynamics(model, windows: pd.DataFrame, scan: "_Scan", names: dict, value_order, refit: bool) -> Dynamics:
    """The scan as a :class:`Dynamics`: centroid arrays, names for segments seen only in windows, value order."""
    centroid_arrays, seen_ids = _centroid_arrays(scan.centroids, names, len(scan.input_names))
    names = {**{j: f"Segment {j}" for j in seen_ids}, **names}
    if not value_order:
        value_order = seen_ids
    return Dynamics(
        windows=windows.reset_index(drop=True),
        states=pd.DataFrame(scan.states),
        segments=pd.DataFrame(scan.segments),
        names=names,
        value_order=[int(v) for v in value_order],
        drift=pd.DataFrame(scan.drift),
        centroids=centroid_arrays,
        input_names=scan.input_names,
        input_feature=list(getattr(model, "input_feature_", None) or scan.input_names),
        refit_states=pd.DataFrame(scan.refit_states) if refit else None,
        cohort_means=scan.cohort_means,
    )


@dataclass
class _Scan:
    """What :func:`_scan_windows` collects, window by window."""

    states: dict
    segments: dict
    refit_states: dict | None
    input_names: list[str]
    drift: dict[str, pd.Series] = field(default_factory=dict)
    cohort_means: dict[tuple[str, str], tuple] = field(default_factory=dict)
    centroids: dict[str, dict[int, np.ndarray]] = field(default_factory=dict)
    inputs: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    fits: dict[str, np.ndarray] = field(default_factory=dict)


def _scan_windows(model, windows, ids, activity, features_fn, psi_bins, refit, refit_sample, refit_match, seed,
                  cohort, windowed=False, pair_lag=1) -> _Scan:
    """Score every customer in every window, oldest first, collecting what :class:`Dynamics` holds.

    Only the last ``pair_lag`` windows' features are kept, so memory stays at ``pair_lag + 1`` feature
    tables (plus, for the cohort means, every window's transformed inputs of the scored customers as
    float32).
    """
    labels = list(windows["label"])
    scan = _Scan(states={"customer_id": ids}, segments={"customer_id": ids},
                 refit_states={"customer_id": ids} if refit else None,
                 input_names=list(getattr(model, "input_names_", []) or []))
    refit_ref = _refit_reference(model)
    previous = []
    for i, w in enumerate(windows.itertuples()):
        scorer = model.for_window(w.label) if hasattr(model, "for_window") else model
        X, seen, active, seg, rows, z = _score_window(scorer, features_fn(w.end), ids, activity, w.label, windowed)
        scored = active if windowed else seen
        if z is not None and not scan.input_names:
            scan.input_names = [f"input_{j}" for j in range(z.shape[1])]
        if hasattr(scorer, "fits") and z is not None:
            scan.fits[w.label] = np.zeros((len(ids), scorer.fits(z[:1]).shape[1]), dtype=np.uint8)
            scan.fits[w.label][rows] = scorer.fits(z)
        state = seg.copy()
        state[seen & ~active] = INACTIVE
        scan.segments[w.label] = seg
        scan.states[w.label] = state
        cent = _segment_centroids(seg, rows, z)
        scan.centroids[w.label] = cent
        if cohort and z is not None:
            scan.inputs[w.label] = (rows, z.astype(np.float32))
            scan.cohort_means.update(_cohort_sums(scan.segments, scan.inputs, labels[: i + 1], w.label))
        if refit and len(rows):
            scan.refit_states[w.label], refit_ref = _refit_window(
                model, X, z, rows, seen & ~active, cent, refit_ref, refit_match, seed + i, refit_sample)
        if len(previous) == pair_lag:
            prev_label, prev_feats, prev_scored = previous.pop(0)
            scan.drift[f"{prev_label}→{w.label}"] = feature_drift(prev_feats.loc[prev_scored], X.loc[scored],
                                                                  bins=psi_bins)
        previous.append((w.label, X, scored))
    return scan


def _features_as_of(customers, transactions, roles, lookback_months, feature_settings):
    """``as_of -> features`` with :func:`window_features` (the default of :func:`segment_states`)."""
    # category / channel as strings once, rather than once per window inside the feature plan
    tx_text = transactions
    if isinstance(transactions, pd.DataFrame):
        as_text = {c: transactions[c].astype(str) for c in ("category", "channel")
                   if c in transactions and isinstance(transactions[c].dtype, pd.CategoricalDtype)}
        tx_text = transactions.assign(**as_text) if as_text else transactions

    def features_fn(as_of):
        return window_features(customers, tx_text, roles, as_of, lookback_months, feature_settings)

    return features_fn


def _refit_reference(model):
    """What the first window's refit is matched to: the model itself, its centres, or None (first centroids)."""
    if hasattr(model, "align_to"):
        return model
    centers = getattr(model, "cluster_centers_", None)
    return None if centers is None else np.asarray(centers, dtype=float)


def _score_window(model, feats: pd.DataFrame, ids: pd.Series, activity: pd.DataFrame, label: str,
                  windowed: bool = False):
    """One window: model inputs, who was seen / active, the segment of everyone scored in it.

    Scored: everyone seen by the window's end, or with ``windowed`` only those active in the window
    (the others have no behaviour in it: ``INACTIVE``). Returns ``X`` (model inputs, customer-table
    order), ``seen``, ``active``, ``seg`` (``NOT_YET`` for customers not seen, ``INACTIVE`` for seen
    ones not scored), ``rows`` (positions of the scored ones) and ``z`` (their transformed inputs;
    None when nobody was scored).
    """
    if len(feats) != len(ids) or not (feats["customer_id"].to_numpy() == ids.to_numpy()).all():
        feats = pd.DataFrame({"customer_id": ids}).merge(feats, on="customer_id", how="left")
    feats = feats.reset_index(drop=True)
    X = _model_inputs(model, feats)
    seen = activity[f"seen_{label}"].fillna(False).to_numpy(dtype=bool)
    active = activity[f"n_{label}"].fillna(0).to_numpy() > 0
    seg = np.full(len(ids), NOT_YET, dtype=np.int16)
    seg[seen] = INACTIVE
    rows = np.flatnonzero(active if windowed else seen)
    z = None
    if len(rows):
        Xs = X.iloc[rows]
        z = _transform(model, Xs)
        seg[rows] = _predict(model, Xs, z)
    return X, seen, active, seg, rows, z


def _segment_centroids(seg: np.ndarray, rows: np.ndarray, z: np.ndarray | None) -> dict[int, np.ndarray]:
    """Mean transformed model input of each segment's customers in one window."""
    cent: dict[int, np.ndarray] = {}
    if z is not None:
        present = seg[rows]
        for j in np.unique(present):
            cent[int(j)] = z[present == j].mean(axis=0)
    return cent


def _cohort_sums(segments: dict, inputs: dict, earlier: list[str], label: str) -> dict:
    """``(u, label) -> (per segment [count, sums of z at u, sums at label], overall [same])`` for every u so far.

    The customers of each segment of window u who are scored in both u and ``label``: the sums of
    their model inputs then and now, so that :func:`cohort_shift` compares the same people (a
    customer inactive in either window has no inputs there and is left out).
    """
    from scipy import sparse

    rows_t, z_t = inputs[label]
    n = len(segments["customer_id"])
    pos_t = np.full(n, -1)
    pos_t[rows_t] = np.arange(len(rows_t))
    out = {}
    for u in earlier:
        rows_u, z_u = inputs[u]
        pos_u = np.full(n, -1)
        pos_u[rows_u] = np.arange(len(rows_u))
        seg_u = segments[u]
        members = np.flatnonzero((seg_u >= 0) & (pos_u >= 0) & (pos_t >= 0))
        codes = seg_u[members].astype(np.int64)
        n_codes = int(codes.max()) + 1 if len(codes) else 0
        onehot = sparse.csr_matrix((np.ones(len(members)), (codes, np.arange(len(members)))),
                                   shape=(n_codes, len(members)))
        sums_u = np.asarray(onehot @ z_u[pos_u[members]].astype(float))
        sums_t = np.asarray(onehot @ z_t[pos_t[members]].astype(float))
        counts = np.bincount(codes, minlength=n_codes).astype(float)
        out[(u, label)] = (np.column_stack([counts, sums_u, sums_t]),
                           np.concatenate([[len(members)], sums_u.sum(axis=0), sums_t.sum(axis=0)]))
    return out


def _refit_window(model, X, z, rows, inactive, cent, refit_ref, refit_match, seed, sample):
    """States of one window under a refit of the model on it, and the reference the next window matches."""
    if refit_ref is None:
        n_ref = max(cent) + 1
        refit_ref = np.stack([cent.get(j, np.zeros(z.shape[1])) for j in range(n_ref)])
    relabelled, new_ref = _refit(model, X.iloc[rows], z, refit_ref, seed, sample)
    if refit_match == "previous":
        refit_ref = new_ref
    r = np.full(len(inactive), NOT_YET, dtype=np.int16)
    r[rows] = relabelled
    r[inactive] = INACTIVE
    return r, refit_ref


def _centroid_arrays(centroids: dict, names: dict[int, str], width: int):
    """Window label -> (k, d) centroid array (NaN rows for absent segments), and every segment id seen."""
    seen_ids = sorted({j for cent in centroids.values() for j in cent} | set(names))
    n_k = max(seen_ids) + 1 if seen_ids else 0
    arrays = {
        lab: np.stack([cent.get(j, np.full(width, np.nan)) for j in range(n_k)]) if n_k else np.zeros((0, width))
        for lab, cent in centroids.items()
    }
    return arrays, seen_ids
