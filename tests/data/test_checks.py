"""Value checks: every bad value kind at once, ranges, text in numeric attributes, blank consent, future dates."""

import pandas as pd
import pytest

from workbench import data
from workbench.data import InputError, load_config


@pytest.fixture
def byo(tmp_path):
    return data.write_byo(data.load("synthetic", n_customers=120, seed=1), tmp_path / "byo")


def _load(config_path, overrides=()):
    cfg = load_config(config=config_path, overrides=list(overrides))
    return data.from_config(cfg["dataset"], cfg["_base_dir"])


def test_every_bad_amount_kind_is_reported_at_once(byo):
    path = byo.parent / "transactions.csv"
    tx = pd.read_csv(path, dtype=str)
    tx.loc[1, "amount"], tx.loc[2, "amount"], tx.loc[3, "amount"] = "twelve", "N/A", "inf"
    tx.loc[4, "amount"], tx.loc[5, "timestamp"] = "1e308", "yesterday"
    tx.to_csv(path, index=False)
    with pytest.raises(InputError) as err:
        _load(byo)
    msg = str(err.value)
    assert "'twelve'" in msg and "not numbers" in msg
    assert "'amount' is empty" in msg  # "N/A" is read as missing: named too
    assert "infinite or not-a-number" in msg and "'inf'" in msg
    assert "outside its range" in msg and "'1e308'" in msg
    assert "'timestamp' holds values that are not dates" in msg


def test_text_and_out_of_range_ages_are_errors_not_groups(byo):
    path = byo.parent / "customers.csv"
    c = pd.read_csv(path, dtype=str)
    c.loc[0, "age"], c.loc[1, "age"], c.loc[2, "age"] = "forty", "-5", "250"
    c.to_csv(path, index=False)
    with pytest.raises(InputError) as err:
        _load(byo, ["dataset.ranges={age: [0, 120]}"])
    msg = str(err.value)
    assert "'age' holds values that are not numbers" in msg and "'forty'" in msg
    assert "outside its range [0, 120]" in msg and "'-5'" in msg and "'250'" in msg
    c.loc[0, "age"] = "40"
    c.to_csv(path, index=False)
    with pytest.raises(InputError, match="dataset.ranges.age"):
        _load(byo, ["dataset.ranges={age: [0, 120]}"])
    c.loc[1, "age"], c.loc[2, "age"] = "35", "77"
    c.to_csv(path, index=False)
    assert pd.api.types.is_float_dtype(_load(byo, ["dataset.ranges={age: [0, 120]}"]).customers["age"])


def test_blank_consent_means_no_consent_by_default(byo):
    path = byo.parent / "customers.csv"
    c = pd.read_csv(path, dtype=str)
    c.loc[[0, 1, 2], "profiling_opt_out"] = None
    c.loc[[0, 1], "marketing_opt_in"] = None
    c.to_csv(path, index=False)
    d = _load(byo)
    assert d.customers.loc[[0, 1, 2], "profiling_opt_out"].all()  # no consent to profiling: opted out
    assert not d.customers.loc[[0, 1], "marketing_opt_in"].any()
    assert d.checks["blank_consent_flags"] == {"profiling_opt_out": 3, "marketing_opt_in": 2}
    lenient = _load(byo, ["dataset.blank_consent=consent"])
    assert not lenient.customers.loc[[0, 1, 2], "profiling_opt_out"].any()


def test_future_transactions_are_excluded_and_counted(byo):
    path = byo.parent / "transactions.csv"
    tx = pd.read_csv(path, dtype=str)
    n = len(tx)
    tx.loc[:29, "timestamp"] = "2099-01-01"
    tx.to_csv(path, index=False)
    d = _load(byo)
    assert len(d.transactions) == n - 30 and d.transactions["timestamp"].max().year < 2099
    assert d.checks["future_transactions_excluded"] == 30
    earlier = _load(byo, ["dataset.as_of=2025-12-31"])
    assert earlier.transactions["timestamp"].max() < pd.Timestamp("2026-01-01")
    assert earlier.checks["as_of"] == "configured"


def test_too_few_customers_is_an_input_error(byo):
    path = byo.parent / "customers.csv"
    pd.read_csv(path, dtype=str).head(1).to_csv(path, index=False)
    with pytest.raises(InputError, match="1 customer.*minimum of 50.*dataset.min_customers"):
        _load(byo)
    assert len(_load(byo, ["dataset.min_customers=1"]).customers) == 1


def test_categorical_columns_are_capped_like_text(tmp_path):
    """A pandas Categorical (a Parquet dictionary column, or a frame built in Python) holds its text in its
    categories: the long-value cap applies there too, and the stand-in is the text column's."""
    from workbench.data._checks import cap_long_values

    long = "z" * 5_000
    df = pd.DataFrame({"region": pd.Categorical(["north", long, long, None], categories=["north", long, "y" * 900]),
                       "code": pd.Categorical([1, 2, 3, 4])})
    out, counts = cap_long_values(df, 200)
    assert counts == {"region": 2}  # rows holding a long value; the unused long category is renamed too
    assert isinstance(out["region"].dtype, pd.CategoricalDtype) and out["code"].equals(df["code"])
    assert max(len(c) for c in out["region"].cat.categories) <= 200
    text, _ = cap_long_values(df.assign(region=df["region"].astype(object)), 200)
    assert out["region"].astype(object).tolist()[:3] == text["region"].tolist()[:3]
    assert out["region"].iloc[1].startswith("long value (5,000 characters, sha256 ")

    d = data.load("synthetic", n_customers=120, seed=1)
    region = d.customers["region"].astype(object)
    region.iloc[5] = "x" * 1_000_000
    d.customers["region"] = pd.Categorical(region)
    path = data.write_byo(d, tmp_path / "byo", fmt="parquet")
    assert isinstance(pd.read_parquet(path.parent / "customers.parquet")["region"].dtype, pd.CategoricalDtype)
    loaded = _load(path)
    assert loaded.checks["long_values_replaced"] == {"max_length": 200, "columns": {"region": 1}}
    assert loaded.customers["region"].astype(str).str.len().max() <= 200
