"""Checks of prepared data against the privacy rules."""

from __future__ import annotations

import pandas as pd

from workbench.privacy._checks import prepared_data_checks


def _prep(kept_columns):
    inventory = [{"column": "cid", "role": "id", "kept": True}, {"column": "name", "role": "direct_identifier", "kept": False}]
    inventory += [{"column": c, "role": "feature", "kept": True} for c in kept_columns]
    counts = {"customers_kept": 2, "opted_out_of_profiling": 1, "erased": 0}
    return {"inventory": inventory, "counts": counts}


def test_prepared_data_passes_every_check():
    customers = pd.DataFrame({"customer_id": ["p0123456789abcdef", "pfedcba9876543210"], "visits": [1, 2]})
    tx = pd.DataFrame({"customer_id": ["p0123456789abcdef"], "timestamp": pd.to_datetime(["2024-01-01"]), "amount": [3.0]})
    checks = prepared_data_checks(_prep(["visits"]), customers, tx)
    assert checks["passed"].all() and len(checks) == 10


def test_raw_ids_leftover_identifiers_and_unknown_transactions_fail():
    customers = pd.DataFrame({"customer_id": ["C1", "C2"], "name": ["x", "y"], "contact": ["a@b.com", "c@d.org"]})
    tx = pd.DataFrame({"customer_id": ["C9"], "timestamp": pd.to_datetime(["2024-01-01"]), "amount": [3.0]})
    failed = set(prepared_data_checks(_prep(["contact"]), customers, tx).query("~passed")["check"])
    assert failed == {
        "customer ids are keyed pseudonyms (p + 16 hex digits)", "direct identifiers dropped",
        "only columns with a declared purpose kept", "no kept column looks like emails or phone numbers",
        "every transaction belongs to a kept customer",
    }
