"""Consent and erasure: excluded customers leave both tables, the erasure list, fingerprints."""

from __future__ import annotations

import pytest

from workbench import privacy
from workbench.data import InputError


def test_exclude_customers_removes_opted_out_and_forgotten_everywhere(toy):
    customers, tx, roles = toy
    kept, kept_tx, counts = privacy.exclude_customers(customers, tx, roles, forget=["e", "unknown"])
    assert kept["cid"].tolist() == ["a", "c", "d"]
    assert set(kept_tx["cid"]) == {"a"}
    assert counts == {
        "customers_in_input": 5, "opted_out_of_profiling": 1, "erasure_requests": 2, "erased": 1,
        "erasure_ids_not_found": 1, "customers_kept": 3, "transactions_in_input": 5,
        "transactions_of_unknown_customers": 1, "transactions_kept": 1,
    }
    assert privacy.fingerprint(["e", "unknown"]) == privacy.fingerprint(["unknown", "e"])


def test_read_id_list_skips_header_and_blank_lines(tmp_path):
    path = tmp_path / "forget.txt"
    path.write_text("customer_id\nC1\n\nC2\n")
    assert privacy.read_id_list(path) == ["C1", "C2"]
    with pytest.raises(InputError):
        privacy.read_id_list(tmp_path / "missing.txt")
