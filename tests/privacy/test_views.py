"""Notebook tables: the consent and erasure provenance table."""

from __future__ import annotations

import pandas as pd

from workbench import privacy


def test_provenance_table_shows_keyed_hashes_or_why_there_is_none():
    inventory = pd.DataFrame({"column": ["cid", "opt_out"], "role": ["id", "consent"]})
    keyed = {"pseudonym_key_origin": "file", "consent_snapshot_hmac_sha256": "abc", "erasure_list_given": False}
    assert privacy.provenance_table(keyed, inventory)["hash"].tolist() == ["abc", "no erasure list given"]
    assert privacy.provenance_table(keyed, inventory.iloc[:1])["hash"].tolist() == [
        "no consent flag declared", "no erasure list given"]
    random = {"pseudonym_key_origin": "random", "consent_snapshot_hmac_sha256": None, "erasure_list_given": True,
              "erasure_list_hmac_sha256": None}
    shown = privacy.provenance_table(random, inventory)["hash"].tolist()
    assert all(h.startswith("not recorded: the pseudonym key is random") for h in shown)


def test_consent_table_says_what_was_applied_and_what_is_kept():
    prep = {"consent": {
        "profiling_opt_out": {"column": "opt_out", "kept_as": None, "applied": "at preparation: removed"},
        "marketing_opt_in": {"column": "mkt", "kept_as": "consent_marketing_opt_in", "applied": "kept as consent_marketing_opt_in",
                             "with_consent": 60, "without_consent": 40, "blank": 3},
    }}
    table = privacy.consent_table(prep).set_index("purpose")
    assert table.loc["marketing_opt_in", "with consent"] == 60 and table.loc["marketing_opt_in", "blank"] == 3
    assert "removed" in table.loc["profiling_opt_out", "applied"]
    assert privacy.consent_table({}).empty


def test_disclosure_view_lists_findings_or_says_none():
    empty = privacy.joint_disclosure(pd.DataFrame(columns=["table", "row_dim", "row", "col_dim", "column", "n", "suppressed"]))
    assert privacy.disclosure_view(empty)["cell"].tolist() == ["none"]
    assert empty.sentence.startswith("0 published table(s)")
