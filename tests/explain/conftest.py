"""Shared data for the explain tests: three planted customer groups and a k-means pipeline fitted on them."""

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from workbench import explain


def _customers(n=600, seed=0):
    """Three planted groups differing on spend, visits and colour; 'noise' differs on nothing."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, n)
    return pd.DataFrame({
        "spend": rng.lognormal(np.array([3.0, 4.5, 6.0])[group], 0.3),
        "visits": rng.poisson(np.array([2, 8, 4])[group]).astype(float),
        "noise": rng.normal(size=n),
        "colour": np.array(["red", "green", "blue"])[(group + (rng.random(n) < 0.2)) % 3],
    }), group


def _pipeline(X, k=4):
    pre = ColumnTransformer([
        ("log", make_pipeline(FunctionTransformer(np.log1p), StandardScaler()), ["spend"]),
        ("num", StandardScaler(), ["visits", "noise"]),
        ("cat", OneHotEncoder(sparse_output=False), ["colour"]),
    ])
    pipe = make_pipeline(pre, KMeans(k, n_init=2, random_state=0)).fit(X)
    input_feature = ["spend", "visits", "noise"] + ["colour"] * len(pipe[0].named_transformers_["cat"].categories_[0])
    return pipe, input_feature


@pytest.fixture(scope="session")
def customers():
    """``customers(n=600, seed=0)`` -> (features, planted group)."""
    return _customers


@pytest.fixture(scope="module")
def fitted():
    """Customers, their planted group, a k-means pipeline and its exact explainer."""
    X, group = _customers()
    pipe, input_feature = _pipeline(X)
    exp = explain.centroid_explainer(pipe, X, input_feature=input_feature, background_size=40, random_state=1)
    return X, group, pipe, exp
