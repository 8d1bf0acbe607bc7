"""Fairness of movement: downgrade and lapse rates by sensitive group."""

from __future__ import annotations

import pytest

from workbench import dynamics


def test_movement_fairness_rates_with_intervals(migrated):
    ds, _, dyn, _, _ = migrated
    fair = dynamics.movement_fairness(dyn.states, ds.customers, "2026Q1", "2026Q2", dyn.value_order,
                                      ["gender", "age"], bands={"age": [18, 30, 45, 60, 120]}, n_boot=200, k=10)
    assert set(fair["attribute"]) == {"gender", "age"} and set(fair["outcome"]) == {"downgrade", "lapse"}
    ok = fair["rate"].notna()
    assert ((fair.loc[ok, "rate_low"] <= fair.loc[ok, "rate"]) & (fair.loc[ok, "rate"] <= fair.loc[ok, "rate_high"])).all()
    # the rates are plain shares of the event in each group
    a, b = dyn.states["2026Q1"].to_numpy(), dyn.states["2026Q2"].to_numpy()
    lab = dynamics.grade_labels(a, b, dyn.value_order)
    g = ds.customers.set_index("customer_id")["gender"].reindex(dyn.states["customer_id"]).to_numpy()
    mask = (a >= 0) & (b >= 0) & (g == "female")
    row = fair[(fair["attribute"] == "gender") & (fair["outcome"] == "downgrade") & (fair["group"] == "female")]
    assert row["rate"].iloc[0] == pytest.approx((lab[mask] == "down").mean())
    # the tiny non-binary group is suppressed
    nb = fair[(fair["attribute"] == "gender") & (fair["group"] == "non-binary")]
    assert nb.empty or nb["rate"].isna().all() or (nb["n"] >= 10).all()
