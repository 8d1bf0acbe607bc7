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


def test_data_methodology_renders_this_runs_settings():
    from workbench.privacy import data_methodology_markdown

    audit = {"prepare": {"n_customers": 950, "n_transactions": 12000, "pseudonyms_persistent": True,
                         "counts": {"customers_in_input": 1000, "opted_out_of_profiling": 45, "erased": 5}},
             "risk": {"overall": {"quasi_identifiers": "age, postcode"}}, "k": 7,
             "settings": {"risk": {"max_combination": 2}, "quality": {"iqr_factor": 1.5}}}
    text = " ".join(data_methodology_markdown(audit).split())
    assert "950 customers of 1,000 in the input" in text and "opted out of profiling: 45; erased: 5" in text
    assert "`privacy.suppression_k` = 7" in text and "1 to 6 customers is hidden" in text
    assert "Quasi-identifiers: age, postcode" in text and "up to 2 quasi-identifiers" in text
    assert "Q1 − 1.5·IQR" in text and "configured persistent key" in text
    none = " ".join(data_methodology_markdown({**audit, "risk": {"overall": None}, "settings": {}}).split())
    assert "Quasi-identifiers: none declared" in none and "Q1 − 3·IQR" in none  # the defaults


def test_release_methodology_renders_budget_bounds_and_ledger():
    from workbench.privacy import release_methodology_markdown

    dp = {"epsilon": 0.5, "delta": 1e-7, "alpha": 0.1, "queries": [{}, {}, {}], "bounds": {"recency": [0, 730]},
          "partition": "k-means with k=4", "total_epsilon": 3.0, "spent_before": 1.0, "spent_after": 1.5}
    text = " ".join(release_methodology_markdown(dp, k=12).split())
    assert "(epsilon, delta) = (0.5, 1e-07)" in text and "over its 3 queries" in text
    assert "recency in [0, 730]" in text and "**Accuracy** (90%)" in text
    assert "1 spent before this release" in text and "1.5 after it, of a total of 3" in text
    assert "suppression threshold 12" in text and "k-means with k=4" in text
