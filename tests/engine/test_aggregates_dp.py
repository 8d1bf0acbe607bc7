"""The DP release's exact aggregates (clamped fixed-point sums and counts) come from the engine:
identical on DuckDB and Spark local[2], equal to a numpy computation; OpenDP adds the noise on the
driver at the scale the budget split implies."""

import math

import numpy as np
import pandas as pd
import pytest

from workbench import engine, privacy
from workbench.data import InputError

SPARK = {"engine": "spark"}
BOUNDS = {"spend": (0.0, 500.0), "share": (0.0, 1.0), "score": (-2.5, 2.5)}


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(3)
    n = 400
    spend = rng.gamma(2.0, 150.0, n)  # some above the upper bound: clipped
    spend[rng.random(n) < 0.1] = np.nan  # missing: imputed
    share = rng.random(n)
    share[:4] = [0.00005, 0.00015, 0.00025, 0.5]  # x 10^4 lands on .5: rounded half to even, like np.round
    return pd.DataFrame({"segment": rng.choice([0, 1, 2, 4], n), "spend": spend, "share": share,
                         "score": rng.normal(0, 1.5, n)})


def _numpy_aggregates(frame, keys, impute):
    """The fixed-point encoding of the earlier driver-side release, summed per key with numpy."""
    out = {"segment": keys, "n": [int((frame["segment"] == k).sum()) for k in keys]}
    for f, (lo, hi) in BOUNDS.items():
        factor = int(10 ** max(0, math.ceil(math.log10(1e4 / (hi - lo)))))
        v = frame[f].astype(float).fillna(impute.get(f, (lo + hi) / 2)).clip(lo, hi)
        fixed = np.round(v.to_numpy() * factor).astype(np.int64)
        out[f] = [int(fixed[(frame["segment"] == k).to_numpy()].sum()) for k in keys]
    return pd.DataFrame(out)


def test_clamped_sums_and_counts_identical_on_both_engines_and_to_numpy(spark_engine, frame):
    keys, impute = [0, 1, 2, 3, 4], {"spend": 0.0}  # segment 3 is public but empty
    duck = privacy.dp_aggregates(frame, "segment", BOUNDS, list(BOUNDS), keys, impute)
    with engine.using(SPARK):
        spark = privacy.dp_aggregates(frame, "segment", BOUNDS, list(BOUNDS), keys, impute)
    expected = _numpy_aggregates(frame, keys, impute)
    pd.testing.assert_frame_equal(duck, expected, check_dtype=False)
    pd.testing.assert_frame_equal(spark, expected, check_dtype=False)
    assert duck.loc[duck["segment"] == 3, ["n", "spend"]].to_numpy().tolist() == [[0, 0]]
    assert (duck.dtypes.drop("segment") == np.int64).all()


def test_release_noise_scale_and_ledger_follow_the_budget(spark_engine, frame):
    eps = 1.2
    for config in ({}, SPARK):
        with engine.using(config):
            rel = privacy.dp_release(frame, "segment", BOUNDS, eps, keys=[0, 1, 2, 3, 4], count_weight=2.0)
        shares = [e["share_of_budget"] for e in rel.ledger]
        assert shares == pytest.approx([0.4, 0.2, 0.2, 0.2]) and rel.spent["epsilon"] == pytest.approx(eps)
        assert rel.ledger[0]["noise_scale"] == pytest.approx(1 / (eps * 0.4))  # count sensitivity 1
        assert rel.ledger[1]["noise_scale"] == pytest.approx(500 / (eps * 0.2))  # max(|lo|, |hi|)
        assert rel.ledger[3]["noise_scale"] == pytest.approx(2.5 / (eps * 0.2))
        assert all(e["mechanism"] == "Integer Laplace" for e in rel.ledger)
        assert len(rel.table) == 5 and (rel.table["count"] >= 0).all()
        assert rel.table["mean_share"].between(0, 1).all()


def test_release_is_close_to_the_exact_aggregates_at_a_large_budget(frame):
    rel = privacy.dp_release(frame, "segment", BOUNDS, 1e4, keys=[0, 1, 2, 4], impute={"spend": 0.0})
    exact = _numpy_aggregates(frame, [0, 1, 2, 4], {"spend": 0.0})
    assert np.abs(rel.table["count"].to_numpy() - exact["n"].to_numpy()).max() <= 1
    np.testing.assert_allclose(rel.table["mean_spend"], exact["spend"] / 100 / exact["n"], atol=0.5)  # factor 100
    utility = privacy.dp_utility(rel, frame, "segment", k=1)
    means = frame.groupby("segment")["spend"].mean()  # exact: missing left out, no clipping
    got = utility[utility["statistic"] == "mean_spend"].set_index("segment")["exact"]
    np.testing.assert_allclose(got.loc[means.index], means, rtol=0, atol=1e-9)


def test_utility_exact_values_identical_on_both_engines(spark_engine, frame):
    rel = privacy.dp_release(frame, "segment", BOUNDS, 1.0, keys=[0, 1, 2, 3, 4])
    duck = privacy.dp_utility(rel, frame, "segment", k=5)
    with engine.using(SPARK):
        spark = privacy.dp_utility(rel, frame, "segment", k=5)
    pd.testing.assert_frame_equal(duck, spark, check_exact=False, rtol=0, atol=1e-9)
    assert duck.loc[(duck["segment"] == 3) & (duck["statistic"] == "count"), "exact"].tolist() == [0]  # public, empty


def test_a_bound_that_overflows_a_64_bit_sum_is_refused(frame):
    with pytest.raises(InputError, match="max_customers"):
        privacy.dp_release(frame, "segment", {"spend": (0.0, 1e12)}, 1.0, max_customers=10**9)
