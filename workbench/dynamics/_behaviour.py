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

    A segment's profile pools its members' behaviour in every window in which they bought something,
    so that seasons are balanced (a profile taken from one spring would not know the holiday
    shoppers). Members are the customers the recorded assignment puts in the segment.

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
    pooled = pd.concat(features, ignore_index=True)
    labels = np.concatenate([np.asarray(s) for s in segments]) if segments else np.array([], dtype=int)
    keep = labels >= 0
    if keep.sum() == 0:
        raise ValueError("No customer active in any window carries a recorded segment, so the segments' "
                         "behaviour profiles cannot be built: check that segments/assignments.parquet and the "
                         "transactions share customer ids.")
    return _CentroidModel(pooled.loc[keep].reset_index(drop=True), labels[keep], names)


def windowed_states(
    customers: pd.DataFrame,
    transactions: pd.DataFrame,
    roles,
    windows: pd.DataFrame,
    recorded: pd.DataFrame,
    names: dict[int, str],
    value_order: list[int] | None = None,
    feature_settings: dict | None = None,
    psi_bins: int = 10,
    seed: int = 0,
):
    """Each customer's behavioural state per window (:class:`Dynamics`), scored on that window alone.

    1. Per window, the behaviour features of its purchases (:func:`behaviour_settings`; the window
       length is the same for every window, so features are comparable between windows).
    2. Each recorded segment's behaviour profile, pooled over the windows
       (:func:`behaviour_state_model`).
    3. Every customer active in a window gets the segment of the nearest profile; a customer who
       bought nothing in it is ``INACTIVE``; one not acquired yet ``NOT_YET``. PSI compares the
       active customers of consecutive (disjoint) windows.

    Parameters
    ----------
    recorded : pandas.DataFrame
        ``customer_id``, ``segment``: the recorded assignment (stage 02, or given labels).
    Other parameters as in :func:`segment_states`.
    """
    from ._states import segment_states
    from ._windows import window_activity, window_features

    settings = behaviour_settings(feature_settings)
    as_text = {c: transactions[c].astype(str) for c in ("category", "channel")
               if c in transactions and isinstance(transactions[c].dtype, pd.CategoricalDtype)}
    tx = transactions.assign(**as_text) if as_text else transactions
    activity = customers[["customer_id"]].merge(window_activity(tx, windows), on="customer_id", how="left")
    segment_of = customers[["customer_id"]].merge(recorded[["customer_id", "segment"]], on="customer_id",
                                                  how="left")["segment"].fillna(-1).to_numpy(dtype=int)
    cache, parts, labels = {}, [], []
    for w in windows.itertuples():
        months = round((w.end - w.start).days / 30.44)
        feats = window_features(customers, tx, roles, w.end, lookback_months=months, settings=settings)
        cache[w.end] = feats
        active = activity[f"n_{w.label}"].fillna(0).to_numpy() > 0
        parts.append(feats.loc[active])
        labels.append(segment_of[active])
    model = behaviour_state_model(parts, labels, names)
    del parts
    return segment_states(model, customers, tx, roles, windows, names=names, value_order=value_order,
                          psi_bins=psi_bins, seed=seed, features_fn=cache.__getitem__, windowed=True)
