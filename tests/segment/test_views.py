"""Views: agreement with planted segments as the report shows it, headline sentences."""

import numpy as np
import pandas as pd

from workbench.segment import views


def test_planted_agreement_learned_needs_every_customer_given_leaves_out_unlabelled():
    planted = pd.Series(["a", "a", "b", "b"])
    assert views.planted_agreement(planted, np.array([0, 0, 1, 1])) == 1.0
    assert views.planted_agreement(pd.Series(["a", None, "b", "b"]), np.array([0, 0, 1, 1])) is None
    # given labels: customers without a planted segment and the unlabelled segment (2) are left out
    got = views.planted_agreement(pd.Series(["a", None, "b", "b", "a"]), np.array([0, 0, 1, 1, 2]), exclude=2)
    assert got == 1.0
    assert views.planted_agreement(pd.Series(["a", "b"]), np.array([2, 0]), exclude=2) is None


def test_audit_headline_names_small_segments_and_the_comparison():
    lines = views.audit_headline(3, "labels.csv", {"customers_unlabelled": 1200, "labels_for_unknown_customers": 3},
                                 [1], 30, {0: "a", 1: "b", 2: "unlabelled"},
                                 {"method": "kmeans", "k": 4, "ari": 0.512}, None)
    assert lines[0] == "Audit of 3 given segments (external labels from labels.csv); nothing was fitted."
    assert "1,200 customers without a label" in lines[1] and "(b)" in lines[2] and "0.51" in lines[3]


def test_methodology_renders_the_k_rule_with_this_runs_settings():
    from types import SimpleNamespace

    import pandas as pd

    from workbench.segment import DEFAULTS, methodology_markdown

    settings = {**DEFAULTS, "n_bootstrap": 20, "k_range": [3, 6], "stability": {"reproduce": 0.75}}
    learned = SimpleNamespace(n_customers=1200, info={"suppression_k": 11},
                              is_audit=False, k=4, card=pd.DataFrame({"k": [3, 4]}))
    text = " ".join(methodology_markdown(learned, settings).split())
    assert "Every k from 3 to 6" in text and "20 bootstrap resamples" in text
    assert "at least 75% of refits" in text and "means at least 15 of them" in text  # ceil(0.75 * 20)
    assert "Jaccard similarity" in text and "at least 0.85" in text and "fewer than 11 customers" in text
    fixed = methodology_markdown(SimpleNamespace(**{**vars(learned), "card": None}), settings)
    assert "fixed in the config" in fixed and "bootstrap" not in fixed
    audit = methodology_markdown(SimpleNamespace(**{**vars(learned), "is_audit": True}), {**settings, "min_segment_size": 40})
    assert "given, not fitted" in audit and "fewer than 40 customers" in audit
