import pandas as pd
import pytest

from workbench import data
from workbench.data import load_config
from workbench.data import InputError, Roles, read_table


@pytest.fixture
def byo(tmp_path):
    """A small bring-your-own copy of the synthetic world: CSV tables plus a config with roles."""
    d = data.load("synthetic", n_customers=300, seed=1)
    return data.write_byo(d, tmp_path / "byo")


def _load(config_path):
    cfg = load_config(config=config_path)
    return data.from_config(cfg["dataset"], cfg["_base_dir"])


def test_byo_round_trip_matches_the_builtin(byo):
    d = _load(byo)
    ref = data.load("synthetic", n_customers=300, seed=1)
    assert len(d.customers) == 300
    assert len(d.transactions) == len(ref.transactions)
    assert d.roles.direct_identifiers == ["name", "email", "phone"]
    assert pd.api.types.is_datetime64_any_dtype(d.transactions["timestamp"])


def test_missing_id_column_names_the_column_and_the_fix(byo):
    path = byo.parent / "customers.csv"
    pd.read_csv(path).drop(columns=["customer_id"]).to_csv(path, index=False)
    with pytest.raises(InputError) as err:
        _load(byo)
    msg = str(err.value)
    assert "'customers'" in msg and "'customer_id'" in msg and "missing column" in msg
    assert "config" in msg  # says what to do


def test_text_in_amount_column_lists_offending_rows(byo):
    path = byo.parent / "transactions.csv"
    tx = pd.read_csv(path)
    tx["amount"] = tx["amount"].astype(object)
    tx.loc[[3, 7], "amount"] = ["twelve", "12,50"]
    tx.to_csv(path, index=False)
    with pytest.raises(InputError) as err:
        _load(byo)
    msg = str(err.value)
    assert "'transactions'" in msg and "'amount'" in msg
    assert "not numbers" in msg and "data rows 3, 7" in msg and "file lines 5, 9" in msg and "'twelve'" in msg


def test_duplicate_ids_are_reported(byo):
    path = byo.parent / "customers.csv"
    c = pd.read_csv(path)
    pd.concat([c, c.iloc[[5]]]).to_csv(path, index=False)
    with pytest.raises(InputError, match=r"'customer_id' has duplicate values") as err:
        _load(byo)
    assert str(c["customer_id"].iloc[5]) not in str(err.value)  # rows named, never the id itself
    assert "data rows" in str(err.value)


def test_unparseable_timestamp_is_reported(byo):
    path = byo.parent / "transactions.csv"
    tx = pd.read_csv(path)
    tx.loc[2, "timestamp"] = "last tuesday"
    tx.to_csv(path, index=False)
    with pytest.raises(InputError, match=r"'timestamp' holds values that are not dates"):
        _load(byo)


def test_bad_consent_flag_is_reported(byo):
    path = byo.parent / "customers.csv"
    c = pd.read_csv(path)
    c["profiling_opt_out"] = c["profiling_opt_out"].astype(object)
    c.loc[0, "profiling_opt_out"] = "maybe"
    c.to_csv(path, index=False)
    with pytest.raises(InputError, match="yes/no"):
        _load(byo)


def test_empty_file_and_header_only_file(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        read_table(empty, "customers")
    header = tmp_path / "header.csv"
    header.write_text("customer_id,age\n")
    with pytest.raises(InputError, match="no rows"):
        read_table(header, "customers")


def test_config_errors_are_input_errors():
    with pytest.raises(InputError, match="roles.customers.id"):
        Roles.from_config({"sensitive": ["x"]}, None)
    with pytest.raises(InputError, match="unknown feature family"):
        Roles.from_config({"id": "a", "feature": {"astrology": ["sign"]}}, None)
    with pytest.raises(InputError, match="timestamp"):
        Roles.from_config({"id": "a"}, {"id": "a", "amount": "x"})
