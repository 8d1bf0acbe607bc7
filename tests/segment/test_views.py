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
