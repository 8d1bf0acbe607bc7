import numpy as np
import pandas as pd
import pytest

from workbench import data
from workbench.data import InputError


def test_synthetic_is_deterministic_by_seed():
    a = data.load("synthetic", n_customers=1500, seed=4)
    b = data.load("synthetic", n_customers=1500, seed=4)
    c = data.load("synthetic", n_customers=1500, seed=5)
    pd.testing.assert_frame_equal(a.customers, b.customers)
    pd.testing.assert_frame_equal(a.transactions, b.transactions)
    assert not a.transactions["amount"].equals(c.transactions["amount"])


def test_synthetic_world_has_every_promised_part():
    d = data.load("synthetic", n_customers=4000, seed=1)
    c, tx = d.customers, d.transactions
    assert len(c) == 4000 and c["customer_id"].is_unique
    for col in ["age", "gender", "region", "postcode", "household_size", "device", "app_user",
                "email_opens_90d", "site_visits_90d", "profiling_opt_out", "marketing_opt_in",
                "name", "email", "phone", "price_sensitivity"]:
        assert col in c.columns, col
    assert c["price_sensitivity"].isna().mean() > 0.05  # survey gaps
    span = tx["timestamp"].max() - tx["timestamp"].min()
    assert span >= pd.Timedelta(days=700)  # at least ~24 months
    assert (tx["amount"] < 0).any()  # returns
    assert 7 <= len(tx) / len(c) <= 14  # about ten transactions per customer
    holiday = tx["timestamp"].dt.month.isin([11, 12])
    assert holiday.mean() > 2 / 12  # seasonal occasions
    assert set(d.truth.segments.unique()) == set(d.truth.segment_names)


def test_planted_segments_behave_differently():
    d = data.load("synthetic", n_customers=4000, seed=2)
    per_customer = d.transactions.groupby("customer_id")["amount"].agg(["count", "sum"])
    seg = d.truth.segments.reindex(per_customer.index)
    counts = per_customer["count"].groupby(seg).median()
    assert counts["Loyal high spenders"] > 2 * counts["Holiday bargain hunters"]
    last = d.transactions.groupby("customer_id")["timestamp"].max().groupby(seg.reindex(per_customer.index)).median()
    assert last["Lapsed"] < last["Steady regulars"] - pd.Timedelta(days=180)


def _cramers_v(a, b):
    from scipy.stats import chi2_contingency

    table = pd.crosstab(a, b)
    chi2 = chi2_contingency(table)[0]
    return np.sqrt(chi2 / (table.values.sum() * (min(table.shape) - 1)))


def test_proxy_can_be_switched_off():
    on = data.load("synthetic", n_customers=6000, seed=3, proxy_strength=0.9).customers
    off = data.load("synthetic", n_customers=6000, seed=3, proxy_strength=0.0).customers
    assert _cramers_v(on["postcode"], on["ethnicity"]) > 0.5
    # With 400 postcodes and 6000 customers, chance alone gives V around 0.25.
    assert _cramers_v(off["postcode"], off["ethnicity"]) < 0.35


def test_planted_migration_moves_the_requested_share():
    d = data.load(
        "synthetic", n_customers=6000, seed=3,
        migration={"source": "Steady regulars", "target": "Lapsed", "share": 0.3, "at": "2026-01-01"},
    )
    m = d.truth.migration
    assert abs(m["n_moved"] / m["n_source"] - 0.3) < 0.05
    moved = d.truth.segments_after_migration != d.truth.segments
    assert moved.sum() == m["n_moved"]


def test_synthetic_generates_a_large_base():
    # Speed is measured in bench/ (1M customers), not asserted here.
    d = data.load("synthetic", n_customers=100_000, seed=0)
    assert len(d.customers) == 100_000 and d.customers["customer_id"].is_unique
    assert len(d.transactions) > 700_000


def test_telco_is_the_real_ibm_table():
    d = data.load("telco")
    assert len(d.customers) == 7043
    assert d.transactions is None
    assert set(d.roles.sensitive) == {"female", "senior_citizen"}
    assert d.customers["churn"].isin([0, 1]).all()


def test_cdnow_is_the_real_master_log():
    d = data.load("cdnow")
    assert len(d.transactions) == 69_659
    assert d.transactions["customer_id"].nunique() == 23_570 == len(d.customers)
    assert d.transactions["timestamp"].min() == pd.Timestamp("1997-01-01")


def test_unknown_dataset_and_bad_params_are_clear_errors():
    with pytest.raises(InputError, match="Unknown dataset"):
        data.load("nope")
    with pytest.raises(InputError, match="does not take"):
        data.load("telco", n_customers=5)
