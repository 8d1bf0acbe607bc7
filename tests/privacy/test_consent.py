"""Consent and erasure: excluded customers leave both tables, the erasure list, fingerprints."""

from __future__ import annotations

import numpy as np
import pandas as pd
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


KEY = privacy.PseudonymKey(b"k" * 32, "file")


def test_fingerprint_is_keyed_and_order_free():
    assert privacy.fingerprint(["e", "unknown"], KEY) == privacy.fingerprint(["unknown", "e"], KEY)
    assert privacy.fingerprint(["e"], KEY) != privacy.fingerprint(["e"], privacy.PseudonymKey(b"j" * 32, "file"))
    assert privacy.fingerprint(["e"], privacy.PseudonymKey(b"r" * 32, "random")) is None


def test_a_fingerprint_cannot_be_matched_by_hashing_candidate_ids_without_the_key():
    """The attack of the review: enumerate every candidate id, hash it, compare. Without the key,
    no candidate (or pair) matches; with the key, the one-id list is found at once."""
    import hashlib
    import hmac

    candidates = [f"{i:04d}-ABCDE" for i in range(2000)]
    target = privacy.fingerprint([candidates[1234]], KEY)
    plain = {hashlib.sha256(f"{c}\n".encode()).hexdigest() for c in candidates}
    plain |= {hashlib.sha256(c.encode()).hexdigest() for c in candidates}
    guessed = {hmac.new(b"", f"{c}\n".encode(), hashlib.sha256).hexdigest() for c in candidates}
    assert target not in plain | guessed
    assert [c for c in candidates if privacy.fingerprint([c], KEY) == target] == [candidates[1234]]


def test_blank_profiling_flag_follows_the_declared_policy(toy):
    customers, tx, roles = toy
    customers = customers.assign(opt_out=pd.array([False, True, None, False, None], dtype="boolean"))
    kept, _, counts = privacy.exclude_customers(customers, tx, roles)
    assert kept["cid"].tolist() == ["a", "d"]  # default: a blank flag is no consent to profiling
    assert counts["profiling_flag_blank"] == 2 and counts["blank_profiling_flag_treated_as"] == "opted out"
    kept, _, counts = privacy.exclude_customers(customers, tx, roles, blank_consent="consent")
    assert kept["cid"].tolist() == ["a", "c", "d", "e"]
    with pytest.raises(InputError, match="dataset.blank_consent"):
        privacy.exclude_customers(customers, tx, roles, blank_consent="maybe")


def test_marketing_consent_is_kept_as_a_boolean_column_and_the_inventory_says_so(toy):
    customers, tx, roles = toy
    customers = customers.assign(mkt=pd.array([True, False, None, True, False], dtype="boolean"))
    roles.consent["marketing_opt_in"] = "mkt"
    kept, _, _ = privacy.exclude_customers(customers, tx, roles)
    with_flags, record = privacy.consent_columns(kept, roles)
    assert with_flags["consent_marketing_opt_in"].tolist() == [True, False, True, False]  # blank c: no
    assert record["marketing_opt_in"]["blank"] == 1 and record["marketing_opt_in"]["with_consent"] == 2
    assert "kept as consent_marketing_opt_in" in record["marketing_opt_in"]["applied"]
    assert "removed" in record["profiling_opt_out"]["applied"]
    table, pruned, inv = privacy.minimise(with_flags, roles)
    assert "consent_marketing_opt_in" in table.columns and "mkt" not in table.columns
    assert "opt_out" not in table.columns
    assert pruned.consent == {"marketing_opt_in": "consent_marketing_opt_in"}
    row = inv.set_index("column").loc["mkt"]
    assert row["kept"] and "per action" in row["purpose_or_reason"]
    assert "consent_marketing_opt_in" not in set(inv["column"])


def test_read_id_list_skips_header_and_blank_lines(tmp_path):
    path = tmp_path / "forget.txt"
    path.write_text("customer_id\nC1\n\nC2\n")
    assert privacy.read_id_list(path) == ["C1", "C2"]
    with pytest.raises(InputError):
        privacy.read_id_list(tmp_path / "missing.txt")


def test_prepare_keeps_marketing_consent_per_customer_and_records_keyed_hashes(tmp_path, monkeypatch):
    from workbench import data, pipeline

    monkeypatch.setenv("WORKBENCH_PSEUDONYM_KEY", "test-key-not-secret-0123456789")
    config = data.load_config(dataset="synthetic")
    config["dataset"]["params"] = {"n_customers": 400}
    run = pipeline.prepare(config, tmp_path / "run")
    customers = run.customers()
    prep = run.read_json("data/prepare.json")
    assert customers["consent_marketing_opt_in"].dtype == bool
    assert "marketing_opt_in" not in customers.columns and "profiling_opt_out" not in customers.columns
    record = prep["consent"]["marketing_opt_in"]
    assert record["with_consent"] == int(customers["consent_marketing_opt_in"].sum())
    assert record["with_consent"] + record["without_consent"] == len(customers)
    assert run.roles.consent == {"marketing_opt_in": "consent_marketing_opt_in"}
    manifest = run.read_json("manifest_parts/dataset.json")
    assert "consent_snapshot_sha256" not in manifest and len(manifest["consent_snapshot_hmac_sha256"]) == 64
    checks = privacy.validation_checks(run)
    assert checks["passed"].all(), checks.loc[~checks["passed"]]


def test_the_consent_record_is_published_through_the_disclosure_mechanism(tmp_path):
    """Notebook 01's consent counts (with, without, blank per purpose) are counts of customers: a blank
    count of 3 is a small cell, and the consent totals are the margins of notebook 04's consent tables."""
    import json

    from workbench.privacy.stage import _published_consent
    from workbench.rundir import Run

    run = Run(tmp_path / "run")
    (run.path / "data").mkdir(parents=True)
    (run.path / "data" / "prepare.json").write_text(json.dumps({"suppression_k": 10}))
    prep = {"data_checks": {"blank_consent_policy": "no_consent"}, "consent": {
        "profiling_opt_out": {"column": "opt_out", "kept_as": None, "applied": "at preparation: removed"},
        "marketing_opt_in": {"column": "mkt", "kept_as": "consent_marketing_opt_in", "applied": "kept",
                             "with_consent": 60, "without_consent": 40, "blank": 3}}}
    record = _published_consent(run, prep, 10)
    shown = record["marketing_opt_in"]
    assert np.isnan(shown["blank"])  # 3 customers left the flag blank: below k, hidden
    for key, exact in (("with_consent", 60), ("without_consent", 40)):
        assert np.isnan(shown[key]) or shown[key] == exact
    assert record["profiling_opt_out"] == prep["consent"]["profiling_opt_out"]
    long = privacy.published_tables(run)
    assert set(long["table"]) == {"consent_record_marketing_opt_in"}
    assert set(long["row_dim"]) == {"consent_marketing_opt_in"}  # notebook 04's consent tables' dimension
    assert privacy.disclosure_check(run).passed
    table = privacy.consent_table({**prep, "consent": record}).set_index("purpose")
    assert table.loc["marketing_opt_in", "blank"] == "suppressed"
