"""The privacy budget ledger: releases add up per dataset, over budget is refused."""

from __future__ import annotations

import json

import pytest

from workbench import privacy
from workbench.data import InputError
from workbench.privacy._ledger import append_release, check_budget


def test_releases_add_up_per_dataset_and_over_budget_is_refused(tmp_path):
    path = tmp_path / "ledger.json"
    assert check_budget(path, "fp-a", 1.0, 2.0) == 0.0
    append_release(path, "fp-a", {"epsilon": 1.0, "delta": 0.0, "date": "2026-01-01", "run": "r1"}, "synthetic")
    assert check_budget(path, "fp-a", 1.0, 2.0) == 1.0
    append_release(path, "fp-a", {"epsilon": 1.0, "delta": 0.0, "date": "2026-01-02", "run": "r2"}, "synthetic")
    with pytest.raises(privacy.BudgetExceeded, match=r"already spent epsilon 2 of its total budget 2") as err:
        check_budget(path, "fp-a", 0.5, 2.0)
    assert "privacy.dp.epsilon" in str(err.value)
    assert check_budget(path, "fp-b", 2.0, 2.0) == 0.0  # another dataset has its own budget
    book = json.loads(path.read_text())
    assert [r["run"] for r in book["fp-a"]["releases"]] == ["r1", "r2"]
    assert privacy.read_ledger(path, "fp-a")[1]["date"] == "2026-01-02"


def test_a_damaged_ledger_is_an_input_error_not_a_fresh_budget(tmp_path):
    path = tmp_path / "ledger.json"
    path.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        check_budget(path, "fp", 1.0, 10.0)
