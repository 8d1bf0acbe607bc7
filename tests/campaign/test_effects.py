"""Effects per segment and the fairness-of-benefit verdict, on the planted campaign (issue 26, done-when).

The planted world at 20k customers is the smallest size at which the planted gap (0.16 between women and
men inside the targeted segment) is found reliably; the effects are computed on the planted segments, the
same algorithm the stage runs on a run's segments as of assigned_at.
"""

import numpy as np
import pandas as pd
import pytest

from workbench import data
from workbench.campaign._benefit import benefit_verdict, left_out, pooled
from workbench.campaign._effects import CELLS, effect_counts, effects_from_counts, mask_effects, uplift_difference
from workbench.fairness import difference_interval

PLANTED = ["Loyal high spenders", "Steady regulars", "Lapsed"]


def _frame(seed, gap=None, n=20_000):
    params = {} if gap is None else {"campaign_gap": gap}
    world = data.load("synthetic", n_customers=n, seed=seed, **params)
    c = world.campaigns.assign(response=lambda t: t["response"].astype(int),
                               revenue=lambda t: t["revenue"].astype(float))
    c["segment"] = world.truth.segments.reindex(c["id"]).to_numpy()
    c["group"] = world.customers.set_index("customer_id")["gender"].reindex(c["id"]).to_numpy()
    return c, world.truth.campaign


def _verdict(cells):
    return benefit_verdict(pooled(cells, ["Loyal high spenders"]), campaign="premium_offer", attribute="gender",
                           band=0.05, min_group_size=30)


@pytest.fixture(scope="module")
def planted():
    return {seed: _frame(seed) for seed in (0, 1, 2)}


def test_uplift_intervals_cover_the_planted_uplift_and_do_not_disturb_is_below_zero(planted):
    covered = 0
    for frame, truth in planted.values():
        eff = effects_from_counts(effect_counts(frame, ["segment"])).set_index("segment")
        covered += sum(eff.loc[s, "uplift_low"] <= truth["uplift"][s] <= eff.loc[s, "uplift_high"] for s in PLANTED)
        assert eff.loc[truth["negative"], "uplift_high"] < 0
    assert covered >= 8


def test_the_planted_benefit_gap_fails_and_no_gap_never_fails(planted):
    for frame, _ in planted.values():
        v = _verdict(effect_counts(frame, ["segment", "group"]))
        assert v["verdict"] == "fail", v["sentence"]
        assert v["reference"] == "female" and v["worst_group"] == "male"
        assert "'non-binary'" in v["sentence"]  # small: named, not judged
    frame, _ = _frame(0, gap=0.0)
    assert _verdict(effect_counts(frame, ["segment", "group"]))["verdict"] != "fail"


def test_effects_from_counts_match_a_hand_computation():
    counts = pd.DataFrame({"segment": [1], CELLS[0]: [30], CELLS[1]: [70], CELLS[2]: [5], CELLS[3]: [20]})
    row = effects_from_counts(counts, value_per_response=50.0, cost_per_contact=2.0).iloc[0]
    assert row["n_treatment"] == 100 and row["n_control"] == 25
    assert row["uplift"] == pytest.approx(0.3 - 0.2)
    lo, hi = difference_interval(30, 100, 5, 25)
    assert (row["uplift_low"], row["uplift_high"]) == (pytest.approx(lo), pytest.approx(hi))
    assert row["relative_lift"] == pytest.approx(0.5)
    assert row["incremental_responders"] == pytest.approx(10.0)
    assert row["net_return_per_contact"] == pytest.approx(0.1 * 50 - 2)


def test_incremental_revenue_is_the_difference_of_means_times_the_contacted():
    frame = pd.DataFrame({"segment": 1, "arm": ["treatment"] * 4 + ["control"] * 2,
                          "response": [1, 1, 0, 0, 1, 0], "revenue": [10.0, 20.0, 0, 0, 6.0, 0]})
    row = effects_from_counts(effect_counts(frame, ["segment"])).iloc[0]
    assert row["incremental_revenue"] == pytest.approx((30 / 4 - 6 / 2) * 4)
    assert row["incremental_revenue_low"] < row["incremental_revenue"] < row["incremental_revenue_high"]


def test_a_row_with_a_suppressed_count_has_every_derived_number_hidden():
    counts = pd.DataFrame({"segment": [1, 2], CELLS[0]: [30, 3], CELLS[1]: [70, 40], CELLS[2]: [5, 9],
                           CELLS[3]: [20, 30]})
    published = counts.astype({c: float for c in CELLS})
    published.loc[1, CELLS[0]] = np.nan
    out = mask_effects(effects_from_counts(counts), published)
    assert out.loc[1, ["uplift", "uplift_low", "rate_treatment", "incremental_responders"]].isna().all()
    assert out.loc[0, "uplift"] == pytest.approx(0.1)
    assert list(out["suppressed"]) == [False, True]


def test_uplift_difference_interval_is_the_mover_of_the_newcombe_intervals():
    counts = pd.DataFrame({"group": ["a", "b"], CELLS[0]: [300, 200], CELLS[1]: [700, 800], CELLS[2]: [50, 50],
                           CELLS[3]: [200, 200]})
    eff = effects_from_counts(counts)
    d, lo, hi, p = uplift_difference(eff.iloc[1], eff.iloc[0])
    assert d == pytest.approx(-0.1)
    a, b = eff.iloc[1], eff.iloc[0]
    assert lo == pytest.approx(d - np.hypot(a["uplift"] - a["uplift_low"], b["uplift_high"] - b["uplift"]))
    assert hi == pytest.approx(d + np.hypot(a["uplift_high"] - a["uplift"], b["uplift"] - b["uplift_low"]))
    assert lo < d < hi < 0 and 0.01 < p < 0.05


def test_left_out_counts_customers_outside_the_targeted_segments_who_would_have_gained():
    cells = pd.DataFrame({"segment": [1, 2, 2, 3], "group": ["a", "a", "b", "b"],
                          CELLS[0]: [400, 400, 100, 40], CELLS[1]: [400, 400, 700, 40],
                          CELLS[2]: [50, 50, 25, 10], CELLS[3]: [150, 150, 175, 10]})
    out = left_out(cells, targeted=[1], min_group_size=30).set_index("group")
    assert out.loc["a", "customers_left_out"] == 1000 and out.loc["a", "would_have_gained"] == 1000
    assert out.loc["b", "would_have_gained"] == 0 and out.loc["b", "cells_not_judged"] == 1
    hidden = left_out(cells, targeted=[1], min_group_size=30, hidden={(2, "b")}).set_index("group")
    assert pd.isna(hidden.loc["b", "share"]) and hidden.loc["a", "share"] == 1.0
