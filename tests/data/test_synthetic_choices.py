"""The synthetic world's choices register: its own stream, a planted high-contest segment."""

import numpy as np
import pandas as pd

from workbench.data import load
from workbench.data import _synthetic_choices as sc


def _contest_rates(ds) -> pd.Series:
    contested = set(ds.choices.loc[ds.choices["kind"] == "contest", "id"])
    segments = ds.truth.segments
    return pd.Series(segments.index.isin(list(contested)), index=segments.index).groupby(segments).mean()


def test_register_draws_from_its_own_stream_and_repeats():
    with_register = load("synthetic", n_customers=600, seed=5)
    without = load("synthetic", n_customers=600, seed=5, choices=False)
    assert without.choices is None and without.truth.contest_segment is None
    pd.testing.assert_frame_equal(with_register.customers, without.customers)
    pd.testing.assert_frame_equal(with_register.transactions, without.transactions)
    pd.testing.assert_frame_equal(with_register.choices, load("synthetic", n_customers=600, seed=5).choices)
    kinds = set(with_register.choices["kind"])
    assert {"object_profiling", "object_action", "contest", "declare_segment", "rectify", "withdraw",
            "resolved"} <= kinds


def test_planted_segment_contests_more_often_only_when_planted():
    planted = load("synthetic", n_customers=3000, seed=1)
    assert planted.truth.contest_segment == sc.CONTEST_SEGMENT
    rates = _contest_rates(planted)
    assert rates[sc.CONTEST_SEGMENT] > 2.5 * rates.drop(sc.CONTEST_SEGMENT).max()
    flat = _contest_rates(load("synthetic", n_customers=3000, seed=1, contest_plant=False))
    assert flat.max() < 2 * sc.CONTEST_RATE and np.isclose(flat.mean(), sc.CONTEST_RATE, atol=0.015)
