"""Batched suppression rounds (issue 23): after each attack every exposed cell gets a complement before the
next one. The result must stand up to the same integer attacker as one complement per round, on random
single tables and on random linked tables, and be the same table every time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import privacy
from workbench.privacy._joint import _long_form, suppress_jointly

SCORED = "customers with a score"


def _random_counts(seed: int) -> pd.DataFrame:
    """A table with many small cells, a few zeros and a few large ones."""
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(3, 7)), int(rng.integers(3, 6)))
    values = rng.choice([0, 1, 2, 3, 5, 8, 12, 20, 40], size=shape, p=[0.1, 0.15, 0.15, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    return pd.DataFrame(values, index=pd.Index([f"r{i}" for i in range(shape[0])], name="row"),
                        columns=pd.Index([f"c{j}" for j in range(shape[1])], name="column"))


@pytest.mark.parametrize("seed", range(8))
def test_a_batched_table_leaves_the_integer_attacker_nothing(seed):
    counts = _random_counts(seed)
    batched = privacy.suppress_counts(counts, 10, margins=True)
    single = privacy.suppress_counts(counts, 10, margins=True, batch=False)
    assert batched.isna().to_numpy().sum() > 0  # something was hidden: the test bites
    for table in (batched, single):
        check = privacy.joint_disclosure(_long_form("t", table, "row", "column"), 10)
        assert check.passed and check.recoverable == 0
    again = privacy.suppress_counts(counts, 10, margins=True)
    pd.testing.assert_frame_equal(batched, again)
    assert batched.attrs == again.attrs


def _customers(seed: int, n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "segment": rng.choice(["s0", "s1", "s2", "s3"], n, p=[0.4, 0.3, 0.2, 0.1]),
        "gender": rng.choice(["f", "m", "x"], n, p=[0.48, 0.47, 0.05]),
        "age": rng.choice(["18-39", "40-59", "60+"], n, p=[0.5, 0.4, 0.1]),
        "scored": rng.random(n) < 0.9,
    })


def _publish_all(people: pd.DataFrame, batch: bool = True) -> pd.DataFrame:
    """Segment x gender, x age, x (gender x age) (linked to both by its margins) and x gender of a
    subpopulation (linked by the population difference), each suppressed against those before it; the
    registry's long form of all four."""
    people = people.assign(**{"gender × age": people["gender"] + " × " + people["age"]})
    specs = [("sg", "gender", people, ""), ("sa", "age", people, ""), ("sga", "gender × age", people, ""),
             ("scored", "gender", people.loc[people["scored"]], SCORED)]
    published = pd.DataFrame()
    for name, col, frame, population in specs:
        within = "" if population else None
        table = suppress_jointly(pd.crosstab(frame["segment"], frame[col]), "segment", col, published, k=5,
                                 population=population, within=within, batch=batch)
        published = pd.concat([published, _long_form(name, table, "segment", col, population, within)],
                              ignore_index=True)
    return published


@pytest.mark.parametrize("seed", [1, 2])
def test_batched_linked_tables_leave_the_joint_attacker_nothing(seed):
    people = _customers(seed)
    batched = _publish_all(people, batch=True)
    assert batched["n"].isna().sum() > 0
    check = privacy.joint_disclosure(batched, 5)
    assert check.passed and check.recoverable == 0 and check.n_differences > 0
    pd.testing.assert_frame_equal(batched, _publish_all(people, batch=True))
