"""Reading real exports: ids as text, encodings, delimiters, header spelling."""

import json

import pandas as pd
import pytest

from workbench import data, privacy
from workbench.data import InputError, load_config, read_table
from workbench.pipeline import prepare


def _zero_padded_byo(tmp_path, n=200):
    """A bring-your-own world whose ids are zero-padded numbers, as many CRMs export them."""
    d = data.load("synthetic", n_customers=n, seed=5)
    ids = {old: f"{i:05d}" for i, old in enumerate(d.customers["customer_id"], start=40)}
    d.customers["customer_id"] = d.customers["customer_id"].map(ids)
    d.transactions["customer_id"] = d.transactions["customer_id"].map(ids)
    regions = {r: name for r, name in zip(sorted(d.customers["region"].unique()), ["Zürich", "Köln", "Malmö", "Besançon", "Nîmes", "Ærø"])}
    d.customers["region"] = d.customers["region"].map(regions)
    return d, data.write_byo(d, tmp_path / "byo")


def test_ids_with_leading_zeros_stay_text_and_forget_finds_them(tmp_path):
    d, config_path = _zero_padded_byo(tmp_path)
    loaded = data.from_config(load_config(config=config_path)["dataset"], config_path.parent)
    assert loaded.customers["customer_id"].iloc[2] == "00042"
    assert loaded.transactions["customer_id"].str.len().eq(5).all()
    (tmp_path / "forget.txt").write_text("customer_id\n00042\n")
    cfg = load_config(config=config_path, overrides=[f"privacy.forget={tmp_path / 'forget.txt'}"])
    run = prepare(cfg, tmp_path / "run")
    counts = json.loads((tmp_path / "run" / "data" / "prepare.json").read_text())["counts"]
    assert counts["erased"] == 1 and counts["erasure_ids_not_found"] == 0
    erased = privacy.pseudonymise(pd.Series(["00042"]), privacy.resolve_key(privacy.DEFAULTS))[0]
    kept = privacy.pseudonymise(pd.Series(["00043"]), privacy.resolve_key(privacy.DEFAULTS))[0]
    assert erased not in set(run.customers()["customer_id"])
    assert kept in set(run.customers()["customer_id"])  # pseudonyms are those of the CRM's own ids


def _rewrite(folder, encoding, sep, newline="\n"):
    """Rewrite every CSV of a bring-your-own folder as another export format."""
    for path in folder.glob("*.csv"):
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        path.write_bytes(df.to_csv(index=False, sep=sep, lineterminator=newline).encode(encoding))


@pytest.mark.parametrize(
    "encoding, sep, newline",
    [("latin-1", ",", "\n"), ("cp1252", ";", "\n"), ("utf-8-sig", ",", "\r\n"), ("utf-8", "\t", "\n"), ("utf-8", "|", "\r\n")],
)
def test_export_formats_read_the_same_as_the_clean_csv(tmp_path, encoding, sep, newline):
    d, config_path = _zero_padded_byo(tmp_path)
    clean = data.from_config(load_config(config=config_path)["dataset"], config_path.parent)
    _rewrite(config_path.parent, encoding, sep, newline)
    other = data.from_config(load_config(config=config_path)["dataset"], config_path.parent)
    pd.testing.assert_frame_equal(other.customers, clean.customers)
    pd.testing.assert_frame_equal(other.transactions, clean.transactions)
    assert other.read_as["customers"]["delimiter"] == sep
    assert (clean.customers["region"] == "Zürich").any()


def test_configured_encoding_and_delimiter_are_used_and_named(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes("id;city\n001;Zürich\n".encode("cp1252"))
    df = read_table(path, "customers", encoding="cp1252", delimiter=";", text_columns=["id"])
    assert df["id"].tolist() == ["001"] and df["city"].tolist() == ["Zürich"]
    with pytest.raises(InputError, match="utf-8.*dataset.encoding"):
        read_table(path, "customers", encoding="utf-8")


def test_headers_differing_in_case_or_spaces_match_and_missing_ones_list_the_real_headers(tmp_path):
    d, config_path = _zero_padded_byo(tmp_path)
    path = config_path.parent / "customers.csv"
    df = pd.read_csv(path, dtype=str)
    df.rename(columns={"customer_id": " Customer_ID ", "age": "AGE"}).to_csv(path, index=False)
    loaded = data.from_config(load_config(config=config_path)["dataset"], config_path.parent)
    assert {"customer_id", "age"} <= set(loaded.customers.columns)
    df.rename(columns={"age": "age_years"}).to_csv(path, index=False, sep=";")
    with pytest.raises(InputError) as err:
        data.from_config(load_config(config=config_path)["dataset"], config_path.parent)
    msg = str(err.value)
    assert "missing column(s) 'age'" in msg and "'age_years'" in msg and "delimiter ';'" in msg


def test_a_wrong_delimiter_says_so(tmp_path):
    d, config_path = _zero_padded_byo(tmp_path)
    cfg = load_config(config=config_path, overrides=["dataset.delimiter=';'"])
    with pytest.raises(InputError, match="one column only: is the delimiter right"):
        data.from_config(cfg["dataset"], config_path.parent)
