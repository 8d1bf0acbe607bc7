"""States per window on the synthetic world: consistent with activity and the behaviour profiles."""

from __future__ import annotations

import numpy as np

from workbench import dynamics
from workbench.dynamics import INACTIVE, NOT_YET


def test_states_are_consistent_with_activity(migrated):
    ds, _, dyn, _, _ = migrated
    assert dyn.labels[0] == "2024H1" or dyn.labels[0] == "2024H2"
    assert dyn.labels[-1] == "2026H1"
    assert list(dyn.states["customer_id"]) == list(ds.customers["customer_id"])  # customer-table order
    tx = ds.transactions
    last = tx[(tx["timestamp"] >= "2026-01-01") & (tx["amount"] > 0)]["customer_id"].unique()
    active = dyn.states["2026H1"] >= 0
    assert set(dyn.states.loc[active, "customer_id"]) == set(last)
    # states are scored on the window's behaviour only: no snapshot attribute, no clock feature
    assert not set(dyn.input_names) & {*ds.customers.columns, "recency", "tenure", "trend"}
    # INACTIVE where seen but not active, NOT_YET before the first purchase; segments are the states
    s, g = dyn.states.iloc[:, 1:].to_numpy(), dyn.segments.iloc[:, 1:].to_numpy()
    assert (s == g).all()
    assert (s == INACTIVE).any() and (s == NOT_YET).any()
    assert np.isin(s[s >= 0], dyn.value_order).all()
