"""The stage's default settings: the ``fairness`` config section is merged over them."""

from __future__ import annotations

from typing import Any

DEFAULTS: dict[str, Any] = {
    # Attributes audited; None = the dataset's sensitive role (run.roles.sensitive).
    "sensitive": None,
    # Band edges for numeric attributes (left-closed); numeric attributes without bands and with more
    # than 12 distinct values are cut into quintiles.
    "bands": {"age": [18, 30, 45, 60, 120]},
    # Display names of groups, e.g. {female: {0: men, 1: women}}.
    "labels": {},
    # Intersections audited like attributes, e.g. [[gender, age]].
    "intersections": [],
    # Comparison group: "most favoured" (the sufficiently large known group with the highest rate of a
    # favourable action, the lowest of an adverse one), "largest", or per attribute {attribute: group}.
    "reference": "most favoured",
    # Actions -> segments: {segments: [ids]}, {names: [names]}, {match: regex over names},
    # {top_value: n} or {bottom_value: n}; each may add favourable: false (an adverse action) and
    # consent: <purpose> (only customers who gave that consent are selected).
    "policy": {"premium_offer": {"top_value": 1}, "retention_discount": {"bottom_value": 1}},
    # Band of the rate ratio to the comparison group; difference: also a band of +-d on the rate
    # difference (null: ratio only).
    "thresholds": {"ratio": [0.8, 1.25], "difference": 0.1},
    "min_group_size": 30,
    "alpha": 0.05,
    "correction": "holm",  # or "bh" (Benjamini-Hochberg)
    "n_boot": 1000,  # bootstrap of the composition shares (rates use score intervals)
    # Value per customer for value ranks and the business KPI: None = monetary, else the first
    # column of the "value" feature family.
    "value_column": None,
    # Proxy scan: rows sampled for the classifiers, CV folds, bins of numeric features, whether to join
    # SHAP weights from notebook 03 (explain/importance.parquet, produced if missing).
    "proxy": {"max_rows": 10000, "cv": 3, "bins": 10, "shap": True},
    "mitigation": {
        "correlation_remover": True,
        "alpha": 1.0,
        "max_fit_rows": 200000,
        "threshold_optimizer": True,
        "constraints": "equalized_odds",
        "objective": "balanced_accuracy_score",
    },
}
