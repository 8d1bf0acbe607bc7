"""Shared data of the dynamics tests: a toy pair of windows and a synthetic world with a planted migration."""

from __future__ import annotations

import pandas as pd
import pytest

import workbench
from workbench import dynamics
from workbench.dynamics import INACTIVE, NOT_YET

MIGRATION = {"source": "Steady regulars", "target": "Loyal high spenders", "share": 0.3, "at": "2026-01-01"}
BEHAVIOURAL = {"customer_families": []}  # transaction features only: customer attributes have no history


@pytest.fixture
def planted_migration() -> dict:
    """30% of Steady regulars behave like Loyal high spenders from 2026 (``dataset.params.migration``)."""
    return dict(MIGRATION)


@pytest.fixture
def behavioural() -> dict:
    """Feature settings of a behavioural segmentation (transaction features only)."""
    return dict(BEHAVIOURAL)


@pytest.fixture
def toy_states() -> pd.DataFrame:
    """States of 105 customers in windows A and B (segments 0 and 1, inactive, not yet a customer)."""
    a = [0] * 40 + [1] * 30 + [INACTIVE] * 20 + [NOT_YET] * 10 + [NOT_YET] * 5
    b = [0] * 25 + [1] * 10 + [INACTIVE] * 5 + [1] * 27 + [0] * 3 + [0] * 12 + [INACTIVE] * 8 + [1] * 10 + [NOT_YET] * 5
    return pd.DataFrame({"customer_id": [f"p{i:03d}" for i in range(len(a))], "A": a, "B": b})


@pytest.fixture(scope="session")
def migrated():
    """12,000 synthetic customers; 30% of Steady regulars behave like Loyal high spenders from 2026."""
    from workbench.segment import SegmentationModel

    ds = workbench.load("synthetic", n_customers=12_000, seed=1, migration=MIGRATION)
    end = pd.Timestamp("2026-07-01")
    feats = dynamics.window_features(ds.customers, ds.transactions, ds.roles, end, settings=BEHAVIOURAL)
    model = SegmentationModel(k=5, random_state=0).fit(feats)
    windows = dynamics.make_windows(ds.transactions["timestamp"])
    dyn = dynamics.segment_states(model, ds.customers, ds.transactions, ds.roles, windows,
                                  feature_settings=BEHAVIOURAL, seed=0)
    truth = pd.DataFrame({"customer_id": ds.truth.segments.index, "segment": ds.truth.segments.to_numpy(),
                          "segment_after_migration": ds.truth.segments_after_migration.to_numpy()})
    migration = {k: v for k, v in ds.truth.migration.items() if k != "moved_ids"}
    return ds, model, dyn, truth, migration
