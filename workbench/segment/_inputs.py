"""The inputs of a segmentation: feature table, its plan, the model inputs and the value feature."""

from __future__ import annotations

import pandas as pd

from ..data import InputError, Roles
from ..features import build_features, feature_plan, is_numeric


def value_feature(features: pd.DataFrame, roles: Roles) -> str | None:
    """The feature that orders segments by value: ``monetary``, else the first numeric value-family column."""
    if "monetary" in features:
        return "monetary"
    for col in roles.features.get("value", []) if roles.features else []:
        if col in features and is_numeric(features[col]):
            return col
    return None


def segmentation_inputs(customers: pd.DataFrame, transactions: pd.DataFrame | None, roles: Roles, fsettings: dict):
    """Features, their plan, the model inputs (constant columns dropped and noted) and the value feature.

    Returns
    -------
    (DataFrame, DataFrame, DataFrame, str or None)
        ``features`` (``customer_id`` plus inputs, original units), the feature ``plan``, ``X``
        (the inputs without ``customer_id``) and the value feature.
    """
    features = build_features(customers, transactions, roles, fsettings)
    plan = feature_plan(customers, transactions, roles, fsettings)
    X = features.drop(columns=["customer_id"])
    constant = [c for c in X.columns if X[c].nunique(dropna=True) <= 1]
    if constant:
        X = X.drop(columns=constant)
        features = features.drop(columns=constant)
        plan.loc[plan["feature"].isin(constant), ["used", "reason"]] = [False, "constant in this dataset"]
    if X.shape[1] == 0:
        raise InputError(
            "No segmentation input varies across customers: every candidate input is constant "
            f"({', '.join(constant) if constant else 'no candidate inputs'}), so no segment can be learned. "
            "Check that the export holds the customers' own values (not one row repeated), or give segment "
            "labels to audit instead (dataset.labels)."
        )
    return features, plan, X, value_feature(features, roles)
