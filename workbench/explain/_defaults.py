"""The ``explain`` config section's defaults (``run.settings("explain", DEFAULTS)``)."""

DEFAULTS = {
    "fidelity_threshold": 0.9,   # held-out accuracy the surrogate needs before it is shown
    "background_size": 200,      # customers in the SHAP background sample
    "batch_size": 50_000,        # customers explained at once (memory stays bounded)
    "top_n": 5,                  # contributions kept per customer (exact path)
    "sample_size": 5_000,        # customers explained by the surrogate for the global view
    "plot_sample": 2_000,        # customers sampled for the quantile bands of margin SHAP (aggregates only)
    "one_vs_rest": None,         # surrogate path: explain only this segment id against the rest
    "surrogate": {
        "n_estimators": 200,
        "num_leaves": 15,
        "learning_rate": 0.1,
        "min_child_samples": 10,
        "reg_lambda": 1.0,       # L2 on leaf values: without it multiclass boosting can diverge on
                                 # cleanly separable (rule-based) segments
        "max_fit": 100_000,      # customers the surrogate is fitted on (a seeded sample)
        "test_size": 0.25,
    },
}
