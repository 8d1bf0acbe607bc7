"""Windowed behaviour: the features of one window's purchases, and the state model that scores them.

Why a separate model: the segmentation of stage 02 is fitted on features from *all* history plus customer
attributes that are one snapshot (email opens, app use, survey scores: no history). Scored per window with
that model, a customer who changed their buying keeps most of their old history and all of their old
attributes, so the model keeps them in their old segment; and the clock features (tenure grows, recency
is measured to a later date) move customers whose behaviour did not change.

The rule used here (the *behavioural sub-space*): a customer's state in a window is decided by what they
did *in that window* only — transaction features computed from the window's purchases (same length for
every window) — scored against each segment's behaviour profile. Snapshot attributes carry no
information about change (they are the same value in every window), so they are left out of the state
model rather than held fixed; clock features (``recency``, ``tenure``) and ``trend`` (itself a
comparison of two periods) are left out too, so the same purchases in two windows give the same state.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ._models import _CentroidModel

#: Features that measure time since an event rather than behaviour: left out of the state model.
CLOCK_FEATURES = ("recency", "tenure")
#: Features that compare two periods: a change, not a state; left out of the state model.
CHANGE_FEATURES = ("trend",)


def behaviour_settings(feature_settings: dict | None = None) -> dict:
    """Feature settings for windowed behaviour: transaction families only, clock and change features out.

    The stage-02 ``segmentation.features`` section is kept for what it says about the transaction
    families (a family the segmentation leaves out stays out); customer-table families are dropped.
    """
    from ..features import TRANSACTION_FAMILIES

    settings = dict(feature_settings or {})
    chosen = settings.get("transaction_families") or list(TRANSACTION_FAMILIES)
    dropped = set(CLOCK_FEATURES) | set(CHANGE_FEATURES)
    return {**settings, "customer_families": [], "include": [],
            "transaction_families": [f for f in chosen if f not in dropped]}


def behaviour_state_model(features: list[pd.DataFrame], segments: list, names: dict[int, str]) -> _CentroidModel:
    """Nearest behaviour profile: each segment's mean windowed behaviour over all windows, standardised.

    A segment's profile pools its members' behaviour in every window in which they bought something.
    Members are the customers the recorded assignment puts in the segment. :func:`windowed_states`
    uses :class:`SeasonalProfiles` instead (one profile per season); this pooled model is the
    season-blind reference.

    Parameters
    ----------
    features : list of pandas.DataFrame
        Per window: ``customer_id`` plus the windowed behaviour features of the customers active in it.
    segments : list of array of int
        Per window, each row's recorded segment (stage 02's assignment or the given label; negative:
        none).
    names : dict
        Segment id -> name.

    Returns
    -------
    _CentroidModel
        ``predict`` gives the segment whose behaviour profile is nearest (standardised Euclidean
        distance; missing values, e.g. the gap between purchases of a one-purchase customer, at the
        pooled median).
    """
    pooled, labels = _pooled(features, segments)
    return _CentroidModel(pooled, labels, names)


def _pooled(features: list[pd.DataFrame], segments: list) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows of every window whose customer carries a recorded segment, and those segments."""
    pooled = pd.concat(features, ignore_index=True)
    labels = np.concatenate([np.asarray(s) for s in segments]) if segments else np.array([], dtype=int)
    keep = labels >= 0
    if keep.sum() == 0:
        raise ValueError("No customer active in any window carries a recorded segment, so the segments' "
                         "behaviour profiles cannot be built: check that segments/assignments.parquet and the "
                         "transactions share customer ids.")
    return pooled.loc[keep].reset_index(drop=True), labels[keep]


class SeasonalProfiles:
    """Nearest behaviour profile *of the same season*, and how far from it a member may stray.

    Why per season: a holiday shopper's first half-year holds a few ordinary purchases and their
    second the holiday season. Against profiles pooled over the year, their June behaviour looks like
    another segment's and they "move" every half-year. Here each segment has one profile per season
    (windows starting in the same calendar month, e.g. every first half-year), the mean behaviour of
    its recorded members in the windows of that season; a customer's June is compared with what each
    segment's members do in June. All seasons share one standardisation (pooled median, mean and
    standard deviation), so profiles and centroids of different windows are in the same units.

    **Fit.** A few purchases place a customer only roughly: between segments that buy alike (a
    regular and a customer about to lapse) the nearest profile flips from window to window while the
    behaviour stays the same. So each profile also has a *margin*: the ``coverage`` quantile, over its
    recorded members in that season, of how much further its profile is than the nearest other
    profile (squared standardised distance; negative when it is the nearest). A customer's behaviour
    *fits* a segment when its excess is within that margin: no less typical of the segment than
    ``coverage`` of the segment's own members are. An assignment is stale only when the later
    behaviour no longer fits it (:func:`workbench.dynamics.staleness_curve`); with ``coverage`` 0.99,
    by construction 1% of a segment's recorded members do not fit it in the windows of a season.

    Parameters
    ----------
    features : dict
        Window label -> ``customer_id`` plus windowed behaviour features of the customers active in it.
    segments : dict
        Window label -> each row's recorded segment (negative: none).
    seasons : dict
        Window label -> season key (:func:`workbench.dynamics.season_of`).
    names : dict
        Segment id -> name.
    coverage : float
        Share of a segment's members whose behaviour fits it, by construction.
    """

    method = "nearest-centroid"

    def __init__(self, features: dict, segments: dict, seasons: dict, names: dict[int, str],
                 coverage: float = 0.99):
        labels = list(features)
        pooled, recorded = _pooled([features[lab] for lab in labels], [segments[lab] for lab in labels])
        self._scaler = _CentroidModel(pooled, recorded, names)  # the shared standardisation
        self.feature_names_in_ = self._scaler.feature_names_in_
        self.input_names_ = self.input_feature_ = list(self.feature_names_in_)
        self.segment_names_ = dict(names)
        self.coverage = float(coverage)
        self._season = dict(seasons)
        n_ids = int(recorded.max()) + 1
        self.centers_, self.margin_ = {}, {}
        for season in dict.fromkeys(seasons[lab] for lab in labels):
            same = [lab for lab in labels if seasons[lab] == season]
            z = np.concatenate([self._scaler.transform(features[lab]) for lab in same])
            seg = np.concatenate([np.asarray(segments[lab]) for lab in same])
            centers = np.full((n_ids, z.shape[1]), 1e6)  # segments without members this season: never nearest
            present = np.unique(seg[seg >= 0])
            for j in present:
                centers[j] = z[seg == j].mean(axis=0)
            excess = _excess(_sq_distances(z, centers))
            margin = np.full(n_ids, -np.inf)  # segments without members this season: nothing fits them
            for j in present:
                margin[j] = np.quantile(excess[seg == j, j], self.coverage)
            self.centers_[season], self.margin_[season] = centers, margin

    def for_window(self, label: str) -> "_SeasonView":
        """The model that scores window ``label``: its season's profiles and margins."""
        season = self._season[label]
        return _SeasonView(self, self.centers_[season], self.margin_[season])

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        return self._scaler.transform(X)


class _SeasonView:
    """:class:`SeasonalProfiles` for one season: ``transform``, ``predict`` and ``fits``."""

    method = "nearest-centroid"

    def __init__(self, parent: SeasonalProfiles, centers: np.ndarray, margin: np.ndarray):
        self.feature_names_in_ = parent.feature_names_in_
        self.input_names_ = parent.input_names_
        self.input_feature_ = parent.input_feature_
        self.segment_names_ = parent.segment_names_
        self.cluster_centers_ = centers
        self.margin_ = margin
        self._parent = parent

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        return self._parent.transform(X)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.argmin(_sq_distances(self.transform(X), self.cluster_centers_), axis=1)

    def fits(self, z: np.ndarray) -> np.ndarray:
        """Per row, which segments it fits: bits packed little-endian (read with ``_staleness.fits_segment``)."""
        excess = _excess(_sq_distances(z, self.cluster_centers_))
        return np.packbits(excess <= self.margin_[None, :], axis=1, bitorder="little")


def _sq_distances(z: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance of every row to every centre."""
    return np.maximum((z * z).sum(axis=1)[:, None] - 2 * z @ centers.T + (centers * centers).sum(axis=1)[None, :], 0.0)


def _excess(d: np.ndarray) -> np.ndarray:
    """How much further each centre is than the nearest *other* centre (negative: it is the nearest)."""
    if d.shape[1] < 2:
        return np.full_like(d, -np.inf)
    order = np.argsort(d, axis=1)[:, :2]
    first = np.take_along_axis(d, order[:, :1], axis=1)
    second = np.take_along_axis(d, order[:, 1:2], axis=1)
    nearest_other = np.where(np.arange(d.shape[1])[None, :] == order[:, :1], second, first)
    return d - nearest_other


def windowed_states(
    customers: pd.DataFrame,
    transactions,
    roles,
    windows: pd.DataFrame,
    recorded: pd.DataFrame,
    names: dict[int, str],
    value_order: list[int] | None = None,
    feature_settings: dict | None = None,
    psi_bins: int = 10,
    seed: int = 0,
    coverage: float = 0.99,
):
    """Each customer's behavioural state per window (:class:`Dynamics`), scored on that window alone.

    1. Per window, the behaviour features of its purchases (:func:`behaviour_settings`; the window
       length is the same for every window, so features are comparable between windows).
    2. Each recorded segment's behaviour profile per season, from the windows of that season
       (:class:`SeasonalProfiles`), and how far nearer another profile its members may lie.
    3. Every customer active in a window gets the segment of the nearest profile of the window's
       season; a customer who bought nothing in it is ``INACTIVE``; one not acquired yet ``NOT_YET``.
    4. Windows are compared with the same season a year earlier (:func:`workbench.dynamics.season_lag`:
       ``Dynamics.pairs``), so December meets December: PSI of the active customers, transitions and
       centroid steps follow those pairs.

    Parameters
    ----------
    transactions : pandas.DataFrame or workbench.features.ParquetTransactions
        As Parquet, every window's features and activity are computed in the engine from the files.
    recorded : pandas.DataFrame
        ``customer_id``, ``segment``: the recorded assignment (stage 02, or given labels).
    coverage : float
        Share of a segment's members whose behaviour still counts as fitting it (what "stale" means).
    Other parameters as in :func:`segment_states`.
    """
    from ._states import segment_states
    from ._windows import season_lag, season_of, window_activity, window_features

    settings = behaviour_settings(feature_settings)
    tx = transactions
    if isinstance(transactions, pd.DataFrame):  # category / channel as strings once, not once per window
        as_text = {c: transactions[c].astype(str) for c in ("category", "channel")
                   if c in transactions and isinstance(transactions[c].dtype, pd.CategoricalDtype)}
        tx = transactions.assign(**as_text) if as_text else transactions
    activity = customers[["customer_id"]].merge(window_activity(tx, windows), on="customer_id", how="left")
    segment_of = customers[["customer_id"]].merge(recorded[["customer_id", "segment"]], on="customer_id",
                                                  how="left")["segment"].fillna(-1).to_numpy(dtype=int)
    # Each window's features are spilled to a temporary Parquet file and read back when the window is
    # scored: the driver holds the active customers' rows (the profiles need them) and one window's
    # full table at a time, not every window's.
    with tempfile.TemporaryDirectory(prefix="workbench-windows-") as spill:
        files, parts, labels = {}, {}, {}
        for i, w in enumerate(windows.itertuples()):
            months = round((w.end - w.start).days / 30.44)
            feats = window_features(customers, tx, roles, w.end, lookback_months=months, settings=settings)
            files[w.end] = Path(spill) / f"window-{i}.parquet"
            feats.to_parquet(files[w.end], index=False)
            active = activity[f"n_{w.label}"].fillna(0).to_numpy() > 0
            parts[w.label] = feats.loc[active]
            labels[w.label] = segment_of[active]
            del feats
        model = SeasonalProfiles(parts, labels, season_of(windows), names, coverage=coverage)
        del parts
        return segment_states(model, customers, tx, roles, windows, names=names, value_order=value_order,
                              psi_bins=psi_bins, seed=seed, features_fn=lambda end: pd.read_parquet(files[end]),
                              windowed=True, pair_lag=season_lag(windows))
