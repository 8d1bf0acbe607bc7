"""The per-feature preprocessing pipelines: log, imputation, winsorising, scaling, weighted one-hot."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, RobustScaler, StandardScaler

# Imputation of features that are undefined for customers without purchases: "no purchase history"
# is 0 days of tenure, not the median customer's tenure.
IMPUTE = {"tenure": 0.0, "frequency": 0.0, "monetary": 0.0, "trend": 0.0}
ONEHOT_WEIGHT = float(np.sqrt(0.5))  # a change of category counts as one standard deviation


def log1p_nonneg(X):
    """``log(1 + max(x, 0))``: money and counts on a log scale; net-negative spend counts as 0."""
    return np.log1p(np.clip(np.asarray(X, dtype=float), 0, None))


def _to_float(X):
    return np.asarray(X, dtype=float)


def _as_text(X):
    arr = np.asarray(pd.DataFrame(X).astype(object))
    mask = pd.isna(arr)
    arr = arr.astype(str)
    arr[mask] = "missing"
    return arr


class Winsorizer(TransformerMixin, BaseEstimator):
    """Clip each column at its ``q`` and ``1 - q`` quantiles, learned in ``fit``."""

    def __init__(self, q: float = 0.01):
        self.q = q

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=float)
        if self.q > 0:
            self.lower_ = np.nanquantile(X, self.q, axis=0)
            self.upper_ = np.nanquantile(X, 1 - self.q, axis=0)
        else:
            self.lower_ = np.full(X.shape[1], -np.inf)
            self.upper_ = np.full(X.shape[1], np.inf)
        return self

    def transform(self, X):
        return np.clip(np.asarray(X, dtype=float), self.lower_, self.upper_)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features, dtype=object)


class _Weight(TransformerMixin, BaseEstimator):
    def __init__(self, weight: float = 1.0):
        self.weight = weight

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def transform(self, X):
        return np.asarray(X, dtype=float) * self.weight

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features, dtype=object)


def numeric_pipeline(log: bool, fill, scaler: str, winsorize: float) -> Pipeline:
    """Float, optional log, imputation (median, or the constant ``fill``), winsorising, scaling."""
    steps = [("float", FunctionTransformer(_to_float, feature_names_out="one-to-one"))]
    if log:
        steps.append(("log", FunctionTransformer(log1p_nonneg, feature_names_out="one-to-one")))
    if fill is None:
        steps.append(("impute", SimpleImputer(strategy="median", keep_empty_features=True)))
    else:
        steps.append(("impute", SimpleImputer(strategy="constant", fill_value=fill, keep_empty_features=True)))
    steps.append(("winsorize", Winsorizer(winsorize)))
    steps.append(("scale", RobustScaler() if scaler == "robust" else StandardScaler()))
    return Pipeline(steps)


def categorical_pipeline(weight: float) -> Pipeline:
    """Text (missing as ``"missing"``), one-hot (unknown levels ignored), scaled by ``weight``."""
    return Pipeline([
        ("text", FunctionTransformer(_as_text, feature_names_out="one-to-one")),
        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ("weight", _Weight(weight)),
    ])
