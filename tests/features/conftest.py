"""Shared data of the feature tests: CDNOW (real transactions) and a small synthetic world."""

import pytest

import workbench


@pytest.fixture(scope="session")
def cdnow():
    return workbench.load("cdnow")


@pytest.fixture(scope="session")
def synthetic():
    return workbench.load("synthetic", n_customers=1500, seed=1)
