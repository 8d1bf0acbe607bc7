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
