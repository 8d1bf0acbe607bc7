"""Shared data of the segmentation tests: a synthetic world's features, planted segments and a fitted model."""

import pytest

import workbench
from workbench import features as feat
from workbench import segment


@pytest.fixture(scope="session")
def data():
    d = workbench.load("synthetic", n_customers=3000, seed=3)
    f = feat.build_features(d.customers, d.transactions, d.roles)
    truth = d.truth.segments.loc[f["customer_id"]].to_numpy()
    return d, f.drop(columns="customer_id"), truth


@pytest.fixture(scope="session")
def model(data):
    return segment.SegmentationModel(k=5, random_state=42).fit(data[1])
