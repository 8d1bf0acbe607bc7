"""Views: the planted-truth check shown for the synthetic dataset, and the per-customer sentences."""

import pandas as pd

from workbench.explain import views


def test_compare_with_planted_names_overlap_and_leaves_out_small_segments():
    assignments = pd.DataFrame({"customer_id": [f"c{i}" for i in range(14)], "segment": [0] * 12 + [1] * 2})
    truth = pd.DataFrame({"customer_id": [f"c{i}" for i in range(14)], "segment": ["A"] * 9 + ["B"] * 5})
    importance = pd.DataFrame({"segment": [0, 0, 0, 1], "feature": ["spend", "visits", "noise", "spend"],
                               "mean_abs_shap": [3.0, 2.0, 1.0, 5.0]})
    table = views.compare_with_planted(assignments, truth, {"A": ["spend", "age"]}, importance, k_min=10, n=2)
    assert table.to_dict("records") == [{"segment": 0, "planted": "A", "purity": 0.75,
                                         "planted_differs_on": "spend, age", "explained_top": "spend, visits",
                                         "named": 1, "of": 2}]


def test_unlabelled_customer_paragraph_says_there_is_nothing_to_explain():
    text = views.unlabelled_paragraph("unlabelled")
    assert "no segment label" in text and "\u201cunlabelled\u201d" in text


def test_methodology_states_the_path_the_fidelity_rule_and_the_grammar():
    from workbench.explain import DEFAULTS, methodology_markdown

    settings = {**DEFAULTS, "fidelity_threshold": 0.85, "background_size": 150}
    exact = " ".join(methodology_markdown({"method": "exact"}, settings).split())
    assert "Exact SHAP of the margin" in exact and "background of 150 seeded customers" in exact
    assert "0.85" not in exact  # no fidelity gate on the exact path
    surrogate = " ".join(methodology_markdown({"method": "surrogate", "fidelity": {"accuracy": 0.912, "n_test": 400}},
                                              settings).split())
    assert "at least 0.85 (`explain.fidelity_threshold`)" in surrogate
    assert "accuracy 0.912 on 400 held-out customers" in surrogate
    for text in (exact, surrogate):
        assert "additional purchases in the next 90 days: 1, 2, 3, 5, 8, 12 purchases" in text
        assert "Past purchases are never changed or relabelled" in text and "move " not in text.replace("move only", "")
