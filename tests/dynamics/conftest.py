"""Shared data of the dynamics tests: a toy pair of windows and a synthetic world with a planted migration."""

from __future__ import annotations

import pandas as pd
import pytest

import workbench
from workbench import dynamics
from workbench.dynamics import INACTIVE, NOT_YET

MIGRATION = {"source": "Steady regulars", "target": "Loyal high spenders", "share": 0.3, "at": "2026-01-01"}


@pytest.fixture
def planted_migration() -> dict:
    """30% of Steady regulars behave like Loyal high spenders from 2026 (``dataset.params.migration``)."""
    return dict(MIGRATION)


@pytest.fixture
def toy_states() -> pd.DataFrame:
    """States of 105 customers in windows A and B (segments 0 and 1, inactive, not yet a customer)."""
    a = [0] * 40 + [1] * 30 + [INACTIVE] * 20 + [NOT_YET] * 10 + [NOT_YET] * 5
    b = [0] * 25 + [1] * 10 + [INACTIVE] * 5 + [1] * 27 + [0] * 3 + [0] * 12 + [INACTIVE] * 8 + [1] * 10 + [NOT_YET] * 5
    return pd.DataFrame({"customer_id": [f"p{i:03d}" for i in range(len(a))], "A": a, "B": b})


def migrated_world(seed: int, n_customers: int = 6000, migration: dict | None = MIGRATION):
    """A synthetic world with the planted migration, segmented with the DEFAULT inputs, and its states.

    ``migration=None``: the same world without one (nobody changes behaviour on purpose).

    Stage 02's fit (``SegmentationModel`` on the default feature plan: transaction features and customer
    attributes) records each customer's segment; :func:`windowed_states` scores the half-year windows.
    """
    from workbench.segment import SegmentationModel

    ds = workbench.load("synthetic", n_customers=n_customers, seed=seed,
                        **({"migration": migration} if migration else {}))
    end = pd.Timestamp("2026-07-01")
    feats = dynamics.window_features(ds.customers, ds.transactions, ds.roles, end)
    model = SegmentationModel(k=5, random_state=0).fit(feats)
    recorded = pd.DataFrame({"customer_id": feats["customer_id"],
                             "segment": model.predict(feats[model.feature_names_in_])})
    windows = dynamics.make_windows(ds.transactions["timestamp"], months=6)
    dyn = dynamics.windowed_states(ds.customers, ds.transactions, ds.roles, windows, recorded,
                                   model.segment_names_, seed=0)
    truth = pd.DataFrame({"customer_id": ds.truth.segments.index, "segment": ds.truth.segments.to_numpy(),
                          "segment_after_migration": ds.truth.segments_after_migration.to_numpy()})
    planted = {k: v for k, v in (ds.truth.migration or {}).items() if k != "moved_ids"}
    return ds, model, dyn, truth, planted


@pytest.fixture(scope="session")
def migrated():
    """6,000 synthetic customers (seed 1); 30% of Steady regulars behave like Loyal high spenders from 2026."""
    return migrated_world(1)
