"""The campaign table in: read on both input paths, checked in the engine, written with pseudonyms only.

Every bad input of issue 26 exits with code 2, names the column and the fix, and leaves nothing behind.
"""

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from workbench import data
from workbench.cli import app
from workbench.data import load_config
from workbench.pipeline._prepare import prepare


@pytest.fixture(scope="module")
def world():
    return data.load("synthetic", n_customers=300, seed=5, choices=False)  # objections are tests/privacy's


def _byo(world, folder, change=None, drop_response=False, **config_changes):
    config = data.write_byo(world, folder, campaigns=True)
    path = config.parent / "campaigns.csv"
    table = pd.read_csv(path, dtype=str)
    if drop_response:
        table = table.drop(columns=["response", "revenue"])
    if change is not None:
        table = change(table)
    table.to_csv(path, index=False)
    spec = yaml.safe_load(config.read_text())
    for key, value in config_changes.items():
        spec["dataset"][key] = value
    config.write_text(yaml.safe_dump(spec))
    return config


def _with_row(table, **values):
    row = table.iloc[[0]].copy()
    for k, v in values.items():
        row[k] = v
    return pd.concat([table, row], ignore_index=True)


def _both_arms(t):
    return _with_row(t, arm="control" if t.loc[0, "arm"] == "treatment" else "treatment")


def _no_control(t):
    return t.assign(arm="Treatment")


BAD = [
    ("both_arms", _both_arms, "column 'arm': 1 customer(s) are in both the treatment and the control arm"),
    ("bad_arm", lambda t: t.assign(arm=np.where(t.index == 3, "holdout", t["arm"])),
     "column 'arm': 1 row(s) hold a value other than treatment or control (e.g. 'holdout')"),
    ("no_control", _no_control, "column 'arm': campaign(s) 'premium_offer' have no control customers"),
    ("unparseable_date", lambda t: t.assign(assigned_at=np.where(t.index < 2, "next spring", t["assigned_at"])),
     "column 'assigned_at': 2 row(s) are not a date or timestamp (e.g. 'next spring')"),
    ("date_after_as_of", lambda t: t.assign(assigned_at="2026-06-20"),
     "column 'assigned_at': 300 row(s) are dated after the run's as_of (2026-06-01)"),
    ("unknown_customers", lambda t: _with_row(_with_row(t, id="X999"), id="X998", campaign="other"),
     "column 'id': 2 customer id(s) are not in the customer table (not shown"),
]


@pytest.mark.parametrize("name, change, expected", BAD, ids=[b[0] for b in BAD])
def test_bad_campaign_input_exits_2_naming_the_column_and_writes_nothing(tmp_path, world, name, change, expected):
    config = _byo(world, tmp_path / "byo", change, as_of="2026-06-01" if name == "date_after_as_of" else None)
    out = tmp_path / "reports" / "byo"
    result = CliRunner().invoke(app, ["run", "--config", str(config), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "Input error in table 'campaigns'" in result.output
    assert expected in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert "X999" not in result.output and "C000" not in result.output  # ids are never echoed
    assert not out.exists()


def test_a_missing_role_column_is_named(tmp_path, world):
    config = _byo(world, tmp_path / "byo", lambda t: t.drop(columns=["arm"]))
    result = CliRunner().invoke(app, ["run", "--config", str(config), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "'arm' (role arm) missing" in result.output
    assert not (tmp_path / "out").exists()


def _prepared(tmp_path, config_path, **dataset):
    config = load_config(config=config_path)
    config["dataset"].update(dataset)
    run = prepare(config, tmp_path / "run")
    return run, pd.read_parquet(run.path / "data" / "campaigns.parquet"), run.read_json("data/prepare.json")


def test_opted_out_and_erased_customers_are_removed_and_ids_are_pseudonyms(tmp_path, world):
    config = _byo(world, tmp_path / "byo")
    forget = tmp_path / "forget.csv"
    erased = world.customers.loc[world.customers["profiling_opt_out"] == 0, "customer_id"].iloc[:3]
    pd.DataFrame({"customer_id": erased}).to_csv(forget, index=False)
    spec = yaml.safe_load(config.read_text())
    spec["privacy"] = {"forget": str(forget)}
    config.write_text(yaml.safe_dump(spec))
    run, table, prep = _prepared(tmp_path, config)
    customers = pd.read_parquet(run.path / "data" / "customers.parquet")
    assert set(table["customer_id"]) == set(customers["customer_id"])  # exactly the kept customers
    removed = int(world.customers["profiling_opt_out"].sum()) + 3
    assert prep["campaigns"]["counts"] == {"campaign_rows_in_input": 300, "campaign_rows_kept": 300 - removed,
                                           "campaigns": 1}
    assert table["customer_id"].str.fullmatch(r"p[0-9a-f]{16}").all()
    assert set(table["arm"]) == {"treatment", "control"}
    text = (run.path / "data").joinpath("campaigns.parquet").read_bytes()
    assert b"C0000" not in text


def _reference_response(world, days=30):
    """The response and net spend within ``days`` after assigned_at, in pandas."""
    camp = world.campaigns.assign(assigned_at=pd.to_datetime(world.campaigns["assigned_at"]))
    tx = world.transactions.merge(camp[["id", "assigned_at"]], left_on="customer_id", right_on="id")
    window = tx[(tx["timestamp"] > tx["assigned_at"]) & (tx["timestamp"] <= tx["assigned_at"] + pd.Timedelta(days=days))]
    spend = window.groupby("customer_id")["amount"].agg(["size", "sum"])
    out = camp.set_index("id").join(spend).fillna({"size": 0, "sum": 0.0})
    return out


@pytest.mark.parametrize("read", ["pandas", "engine"])
def test_response_from_transactions_in_the_engine_matches_pandas(tmp_path, world, read):
    config = _byo(world, tmp_path / "byo", drop_response=True, read=read)
    spec = yaml.safe_load(config.read_text())
    spec["campaign"] = {"response_days": 45}
    config.write_text(yaml.safe_dump(spec))
    run, table, prep = _prepared(tmp_path, config)
    assert prep["campaigns"]["response"] == "purchase within 45 days"
    ref = _reference_response(world, days=45)
    kept = world.customers.loc[world.customers["profiling_opt_out"] == 0, "customer_id"]
    ref = ref.loc[kept]
    assert int(table["response"].sum()) == int((ref["size"] > 0).sum())
    assert table["revenue"].sum() == pytest.approx(ref["sum"].sum(), abs=1e-6)
    assert sorted(table["revenue"].round(6)) == sorted(ref["sum"].round(6))


def test_the_synthetic_world_plants_a_campaign_without_moving_the_world():
    with_campaign = data.load("synthetic", n_customers=400, seed=9)
    without = data.load("synthetic", n_customers=400, seed=9, campaign=False)
    pd.testing.assert_frame_equal(with_campaign.customers, without.customers)
    pd.testing.assert_frame_equal(with_campaign.transactions, without.transactions)
    assert without.campaigns is None and without.truth.campaign is None
    camp = with_campaign.campaigns
    assert len(camp) == 400 and set(camp["arm"]) == {"treatment", "control"}
    truth = with_campaign.truth.campaign
    assert truth["uplift"]["Lapsed"] < 0 < truth["uplift"]["Loyal high spenders"]
    assert truth["uplift"]["Steady regulars"] == 0
    no_gap = data.load("synthetic", n_customers=400, seed=9, campaign_gap=0.0).truth.campaign
    assert no_gap["uplift"]["Loyal high spenders"] == pytest.approx(0.12)
    json.dumps(truth)  # saved with the other planted truths
