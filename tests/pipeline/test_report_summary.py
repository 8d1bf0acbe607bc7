"""The executive summary and the provenance block: read from the run's records, shown first, on every page."""

import json

import pytest

from workbench.pipeline._executive import executive_summary, limitations
from workbench.pipeline._provenance import add_provenance, config_hash, provenance_facts, provenance_html

CONFIG = {
    "name": "q3", "seed": 42,
    "report": {"commissioned_by": "Risk <committee>", "purpose": "Quarterly audit", "reviewer": "A. Reviewer"},
    "fairness": {"thresholds": {"ratio": [0.8, 1.25], "difference": 0.1}, "alpha": 0.05, "correction": "holm",
                 "min_group_size": 30},
    "dynamics": {"stale_tolerance": 0.1},
    "privacy": {"dp": {"impute": {"recency": 730}}},
}
SUMMARY = {
    "01_data_privacy": {"direct_identifiers_dropped": 3, "columns_kept": 14, "columns_in": 19,
                        "pseudonyms_persistent": False, "k_anonymity": 1, "share_unique": 0.88},
    "02_segmentation": {"sensitive_inputs": []},
    "03_explain": {"trustworthy": True},
    "04_fairness": {"verdicts": [
        {"action": "premium_offer", "attribute": "age", "verdict": "fail", "sentence": "Ratio 0.38 (95% CI 0.32–0.45)."},
        {"action": "premium_offer", "attribute": "gender", "verdict": "pass", "sentence": "Ratio 0.96 & within."},
        {"action": "premium_offer", "attribute": "gender × age", "verdict": "insufficient evidence", "sentence": "Few."},
    ]},
    "05_dynamics": {"stale_share": 0.28, "refresh_every_months": 3},
    "06_private_release": {"enabled": True},
}
PREP = {"dataset": "synthetic", "source": "generated", "n_customers": 19425, "n_transactions": 212819,
        "suppression_k": 10, "counts": {"customers_in_input": 20000, "opted_out_of_profiling": 575, "erased": 3,
                                        "erasure_requests": 4, "erasure_ids_not_found": 1, "customers_kept": 19422}}
MANIFEST = {
    "started": "2026-12-02T05:15:14+00:00", "seed": 42, "git_commit": "abc123",
    "versions": {"python": "3.11.7", "pandas": "3.1.1"},
    "dataset": {"name": "synthetic", "source": "generated", "fingerprint": "f" * 64, "pseudonym_key_origin": "random"},
    "dp_ledger": {"epsilon": 1.0, "delta": 1e-7, "spent": {"epsilon": 0.75, "delta": 0.0}, "library": "opendp",
                  "queries": [{}, {}, {}]},
}
NOTEBOOKS = ["01_data_privacy", "04_fairness_audit"]


def test_summary_states_purpose_verdicts_privacy_and_limitations_in_order():
    page = executive_summary(CONFIG, SUMMARY, MANIFEST, PREP, NOTEBOOKS)
    order = ["Purpose and scope", "Verdicts", "Privacy", "Limitations"]
    assert [page.index(h) for h in order] == sorted(page.index(h) for h in order)
    assert "Risk &lt;committee&gt;" in page and "Quarterly audit" in page
    assert "Decision the segments feed:</b> <span class=\"muted\">not stated" in page
    # one row per verdict: the policy band, the stage's own sentence, the word, a link to the evidence
    assert page.count('<a href="04_fairness_audit.html">fairness audit</a>') == 3
    assert '<td class="fail">FAIL</td>' in page and '<td class="pass">PASS</td>' in page
    assert '<td class="insufficient">INSUFFICIENT</td>' in page
    assert "ratio 0.8–1.25, gap ≤ 0.1" in page and "Holm-corrected" in page
    assert "Ratio 0.96 &amp; within." in page
    # privacy facts come from the records, not recomputed
    assert "575 excluded because they opted out" in page and "3 erased on request" in page
    assert "count below 10 is hidden" in page and "epsilon 0.75 of 1" in page
    assert "Sensitive attributes used as segmentation inputs: none." in page


def test_limitations_follow_the_facts_of_the_run():
    found = limitations(SUMMARY, CONFIG)
    text = " ".join(found)
    assert "1 verdict(s) are insufficient evidence" in text and "below 30 customers" in text
    assert "88% of customers are unique" in text and "cannot be followed into a later run" in text
    assert "28% of assignments recorded earlier are stale" in text and "recency = 730" in text
    assert "withheld" not in text  # the explanations were trustworthy
    clean = {**SUMMARY, "01_data_privacy": {"pseudonyms_persistent": True, "k_anonymity": 5},
             "04_fairness": {"verdicts": []}, "05_dynamics": {"stale_share": 0.05}}
    assert not any("unique" in s or "insufficient" in s or "stale" in s for s in limitations(clean, CONFIG))


def test_provenance_facts_come_from_the_manifest_and_config():
    facts = provenance_facts(CONFIG, MANIFEST)
    assert facts["fingerprint"] == "f" * 64 and facts["git_commit"] == "abc123" and facts["seed"] == 42
    assert facts["dp"]["epsilon_spent"] == 0.75 and facts["dp"]["queries"] == 3
    assert facts["report"] == {"commissioned_by": "Risk <committee>", "purpose": "Quarterly audit",
                               "decision": None, "reviewer": "A. Reviewer"}
    assert facts["config_sha256"] == config_hash({**CONFIG, "_base_dir": "/elsewhere"})  # private keys ignored
    assert facts["config_sha256"] != config_hash({**CONFIG, "seed": 43})
    json.dumps(facts)  # stored in manifest.json as is


@pytest.mark.parametrize("page", [
    "<html><body><main>x</main><!-- workbench:provenance --></body></html>",
    "<html><body><main>x</main></body></html>",
])
def test_provenance_block_lands_once_on_a_page(tmp_path, page):
    path = tmp_path / "01.html"
    path.write_text(page)
    add_provenance(path, provenance_html(provenance_facts(CONFIG, MANIFEST)))
    text = path.read_text()
    assert text.count("Provenance and sign-off</h2>") == 1
    assert text.index("</main>") < text.index("<footer") < text.index("</body>")
    assert "f" * 64 in text and "abc123" in text and "epsilon 0.75 spent of 1" in text and "Reviewed and signed" in text
