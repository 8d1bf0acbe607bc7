"""The fairness counts (composition, selection, consent, outcomes) come from the engine: identical on
DuckDB and Spark local[2], and equal to a plain numpy count of the same customers."""

import numpy as np
import pandas as pd
import pytest

from workbench import engine, fairness
from workbench.fairness._masking import outcome_counts

SPARK = {"engine": "spark"}


@pytest.fixture(scope="module")
def customers():
    rng = np.random.default_rng(7)
    n = 600
    gender = rng.choice(["female", "male", "non-binary", None], n, p=[0.45, 0.45, 0.04, 0.06])
    return pd.DataFrame({
        "segment": rng.choice([0, 1, 2, 5], n, p=[0.4, 0.3, 0.25, 0.05]),  # id 3, 4 absent: ids are not positions
        "gender": gender,
        "age": np.where(rng.random(n) < 0.05, np.nan, rng.integers(18, 90, n)).astype(float),
        "selected": rng.random(n) < 0.3,
        "churn": rng.random(n) < 0.2,
    })


def _both(fn):
    """``fn()`` on DuckDB (the default) and on Spark."""
    duck = fn()
    with engine.using(SPARK):
        spark = fn()
    return duck, spark


def test_crosstab_equals_numpy_and_is_identical_on_both_engines(spark_engine):
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 4, 300), rng.integers(0, 3, 300)
    expected = np.zeros((5, 3), dtype=np.int64)  # a row nobody is in stays 0
    np.add.at(expected, (a, b), 1)
    duck, spark = _both(lambda: engine.crosstab({"a": a, "b": b}, (5, 3)))
    np.testing.assert_array_equal(duck, expected)
    np.testing.assert_array_equal(spark, expected)
    assert duck.dtype == spark.dtype == np.int64
    empty = _both(lambda: engine.crosstab({"a": np.array([], int)}, (2,)))
    assert all(e.tolist() == [0, 0] for e in empty)


def test_cell_counts_keep_null_as_its_own_group_on_both_engines(engines):
    t = pd.DataFrame({"g": ["b", None, "a", None, "b", "b"], "e": [True, False, True, True, False, True]})
    out = [eng.register("t", t).sql(engine.cell_counts_query("t", ["g"], ["e"])) for eng in engines.values()]
    for o in out:
        assert o["g"].tolist()[:2] == ["a", "b"] and pd.isna(o["g"].iloc[2])
        assert o["n"].tolist() == [1, 3, 2] and o["e"].tolist() == [1, 2, 1]


def test_composition_from_engine_counts(spark_engine, customers):
    groups = fairness.group_labels(customers["gender"])
    duck, spark = _both(lambda: fairness.composition(customers["segment"], groups, n_boot=200, seed=3))
    for d, s in zip(duck, spark):
        pd.testing.assert_frame_equal(d, s, check_exact=False, rtol=0, atol=1e-9)
    long = duck[0]
    expected = pd.crosstab(customers["segment"], groups.astype(str))
    got = long.pivot(index="segment", columns="group", values="n")
    assert (got.loc[expected.index, expected.columns].to_numpy() == expected.to_numpy()).all()
    assert long.loc[long["group"] == "unknown", "n"].sum() == customers["gender"].isna().sum()
    assert long["n"].dtype == np.int64


def test_selection_and_consent_rates_from_engine_counts(spark_engine, customers):
    groups = fairness.group_labels(customers["age"], bands=[18, 30, 45, 60, 120])
    duck, spark = _both(lambda: fairness.rate_by_group(customers["selected"], groups, correction="holm"))
    pd.testing.assert_frame_equal(duck, spark, check_exact=False, rtol=0, atol=1e-9)
    codes = groups.cat.codes.to_numpy()
    assert duck["n"].tolist() == np.bincount(codes, minlength=len(duck)).tolist()
    assert duck["events"].tolist() == np.bincount(codes[customers["selected"]], minlength=len(duck)).tolist()
    assert duck["group"].iloc[-1] == "unknown" and duck["n"].iloc[-1] == customers["age"].isna().sum()
    table, dp = fairness.selection_audit(customers["selected"].to_numpy(), groups, min_group_size=30)
    assert np.isfinite(dp["dp_ratio"]) and table["n"].sum() == len(customers)


def test_outcome_rates_and_counts_from_engine_counts(spark_engine, customers):
    groups = fairness.group_labels(customers["gender"])
    sel, y = customers["selected"].to_numpy(), customers["churn"].to_numpy()
    duck, spark = _both(lambda: fairness.outcome_rates_by_group(sel, y, groups, n_boot=200, seed=2))
    pd.testing.assert_frame_equal(duck[0], spark[0], check_exact=False, rtol=0, atol=1e-9)
    assert duck[1] == pytest.approx(spark[1], abs=1e-9)
    g = groups.astype(str).to_numpy()
    for lab, tpr in zip(duck[0]["group"], duck[0]["tpr"]):
        m = g == lab
        assert tpr == pytest.approx((sel & y & m).sum() / (y & m).sum(), abs=1e-12)
    codes = groups.cat.codes.to_numpy()
    labels = list(groups.cat.categories)
    cd, cs = _both(lambda: outcome_counts(sel, y, codes, labels))
    pd.testing.assert_frame_equal(cd, cs, check_dtype=False)
    assert cd.to_numpy().sum() == len(customers)
    assert cd.loc["female", "positive, selected"] == (sel & y & (g == "female")).sum()
