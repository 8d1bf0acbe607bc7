"""The comparison's config keys: ``report.compare_with`` (checked although ``report`` is free-form), ``dataset.since``."""

import pandas as pd
import pytest

from workbench.data import InputError, from_config, load_config
from workbench.pipeline import check_config


def test_compare_with_must_be_text():
    check_config(load_config(dataset="synthetic", overrides=["report.compare_with=reports/q1"]))
    with pytest.raises(InputError, match=r"'report.compare_with' \(from -p\) is 5: it must be text or null"):
        check_config(load_config(dataset="synthetic", overrides=["report.compare_with=5"]))


def test_since_and_as_of_keep_one_period_of_transactions():
    ds = from_config({"builtin": "synthetic", "params": {"n_customers": 300, "seed": 3},
                      "since": "2026-01-01", "as_of": "2026-03-31"})
    ts = ds.transactions[ds.roles.transactions.timestamp]
    assert ts.min() >= pd.Timestamp("2026-01-01") and ts.max() < pd.Timestamp("2026-04-01")
    assert ds.checks["transactions_before_since_excluded"] > 0
