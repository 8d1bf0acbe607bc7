"""Data minimisation: the column inventory, the minimised table, and its summary by outcome."""

from __future__ import annotations

from workbench import privacy


def test_minimise_keeps_only_columns_with_a_declared_purpose(toy):
    customers, _, roles = toy
    kept, pruned, table = privacy.minimise(customers, roles)
    assert list(kept.columns) == ["cid", "age", "postcode", "visits"]
    assert pruned.direct_identifiers == [] and pruned.consent == {}
    why = table.set_index("column")["purpose_or_reason"]
    assert why["name"].startswith("direct identifier")
    assert "no declared role" in why["free_text_notes"]
    assert why["opt_out"].startswith("used to exclude opted-out")
    assert table.loc[table["kept"], "purpose_or_reason"].str.len().gt(0).all()
    summary = privacy.minimisation_summary(table).set_index("outcome")["columns"]
    assert summary.to_dict() == {
        "dropped: consent flag, applied then dropped": 1, "dropped: direct identifier": 1,
        "dropped: no declared purpose": 1, "kept: declared purpose": 4,
    }
