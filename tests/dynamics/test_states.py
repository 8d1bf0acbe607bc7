"""States per window on the synthetic world: consistent with activity and the model."""

from __future__ import annotations

import numpy as np

from workbench import dynamics
from workbench.dynamics import INACTIVE, NOT_YET


def test_states_are_consistent_with_activity(migrated, behavioural):
    ds, model, dyn, _, _ = migrated
    assert dyn.labels[0] == "2024Q3" and dyn.labels[-1] == "2026Q2" and len(dyn.labels) == 8
    assert list(dyn.states["customer_id"]) == list(ds.customers["customer_id"])  # customer-table order
    tx = ds.transactions
    last = tx[(tx["timestamp"] >= "2026-04-01") & (tx["amount"] > 0)]["customer_id"].unique()
    active = dyn.states["2026Q2"] >= 0
    assert set(dyn.states.loc[active, "customer_id"]) == set(last)
    # in the last window the model sees the very features it was fitted on
    feats = dynamics.window_features(ds.customers, tx, ds.roles, "2026-07-01", settings=behavioural)
    scored = dyn.segments["2026Q2"] >= 0
    np.testing.assert_array_equal(dyn.segments.loc[scored, "2026Q2"], model.predict(feats.loc[scored.to_numpy()]))
    # states equal segments where active, INACTIVE where seen but not active
    s, g = dyn.states.iloc[:, 1:].to_numpy(), dyn.segments.iloc[:, 1:].to_numpy()
    assert ((s == g) | (s == INACTIVE)).all()
    assert ((g == NOT_YET) == (s == NOT_YET)).all()
