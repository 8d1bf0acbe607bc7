"""Notebook tables: the consent and erasure provenance table."""

from __future__ import annotations

import pandas as pd

from workbench import privacy


def test_provenance_table_shows_hashes_or_why_there_is_none():
    inventory = pd.DataFrame({"column": ["cid", "opt_out"], "role": ["id", "consent"]})
    table = privacy.provenance_table({"consent_snapshot_sha256": "abc", "erasure_list_sha256": None}, inventory)
    assert table["hash"].tolist() == ["abc", "no erasure list given"]
    table = privacy.provenance_table({"consent_snapshot_sha256": "abc"}, inventory.iloc[:1])
    assert table["hash"].tolist() == ["no consent flag declared", "no erasure list given"]
