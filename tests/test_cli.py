"""The ``workbench`` command line: bad input is a plain message, exit code 2, and leaves nothing behind."""

import pandas as pd
import pytest
from typer.testing import CliRunner

from workbench import data
from workbench.cli import app


@pytest.mark.parametrize(
    "breakage, expected",
    [
        ("missing_id", "missing column(s) 'customer_id'"),
        ("text_amount", "'amount' holds values that are not numbers"),
        ("duplicate_ids", "'customer_id' has duplicate values"),
        ("empty_file", "the file is empty"),
    ],
)
def test_cli_rejects_bad_input_without_leaving_a_report(tmp_path, breakage, expected):
    config = data.write_byo(data.load("synthetic", n_customers=200, seed=1), tmp_path / "byo")
    customers, transactions = config.parent / "customers.csv", config.parent / "transactions.csv"
    if breakage == "missing_id":
        pd.read_csv(customers).drop(columns="customer_id").to_csv(customers, index=False)
    elif breakage == "text_amount":
        tx = pd.read_csv(transactions)
        tx["amount"] = tx["amount"].astype(object)
        tx.loc[1, "amount"] = "twelve"
        tx.to_csv(transactions, index=False)
    elif breakage == "duplicate_ids":
        c = pd.read_csv(customers)
        pd.concat([c, c.head(2)]).to_csv(customers, index=False)
    else:
        customers.write_text("")
    out = tmp_path / "reports" / "byo"
    result = CliRunner().invoke(app, ["run", "--config", str(config), "--out", str(out)])
    assert result.exit_code == 2
    assert expected in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    assert not [p for p in out.parent.iterdir()] if out.parent.exists() else True


def test_unknown_config_key_exits_2_suggesting_the_known_one(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", "--dataset", "synthetic", "--out", str(out), "-p", "n_customers=3000"])
    assert result.exit_code == 2
    assert "did you mean dataset.params.n_customers?" in result.output.lower()
    assert not out.exists()


def test_config_show_prints_the_resolved_config_with_defaults():
    result = CliRunner().invoke(app, ["config", "--show", "--dataset", "quickstart", "-p", "fairness.alpha=0.01"])
    assert result.exit_code == 0, result.output
    import yaml

    shown = yaml.safe_load(result.output)
    assert shown["fairness"]["alpha"] == 0.01 and shown["fairness"]["min_group_size"] == 30
    assert shown["dataset"]["params"]["n_customers"] == 3000
