"""Defaults of the ``segmentation`` config section: method, k, model settings, audit mode."""

from __future__ import annotations

from typing import Any

DEFAULTS: dict[str, Any] = {
    "method": "kmeans",  # kmeans | gmm | ward
    "k": "auto",  # an int, or "auto": the recommended k of the k report card
    "k_range": [2, 8],  # inclusive range of k tried by choose_k
    "features": {},  # overrides of workbench.features.DEFAULTS (families, columns, allow_sensitive)
    "transforms": {},  # per-feature transform overrides: log | none | onehot
    "scaler": "standard",  # standard | robust
    "winsorize": 0.01,  # clip each model input at these quantiles (0 switches off)
    "fit_sample": 50_000,  # the model is fitted on at most this many customers, then predicts all
    "selection_sample": 10_000,  # choosing k uses at most this many customers
    "silhouette_sample": 3_000,
    "n_bootstrap": 12,  # bootstrap refits per k (bench/bench_choose_k.py measures how many are enough)
    "refit_n_init": None,  # restarts of each bootstrap refit (None: n_init; fewer restarts fail more often)
    "min_segment_share": 0.02,  # a k whose smallest segment is below this share is not recommended
    "n_init": 8,
    "ward_sample": 5_000,
    # a "stable" k: median refit ARI >= ari and every segment reproduces (Jaccard >= jaccard, Hennig 2007:
    # >= 0.85 highly stable) in >= reproduce of the refits; "clearly" stable in >= clear of them
    "stability": {"ari": 0.8, "jaccard": 0.85, "reproduce": 0.8, "clear": 0.9},
    # k = 1 ("are there segments at all?"): the gap test against a uniform reference over the data's
    # principal-component box; one segment unless some k beats it at level alpha (see _structure.py)
    "structure": {"n_reference": 19, "sample": 1_000, "alpha": 0.05},
    "value_order_by": "historical",  # or "predicted_clv": order segment ids by mean predicted CLV (issue 18)
    "reference_run": None,  # a previous run directory: align segment ids to its model
    "threads": 1,  # BLAS/OpenMP threads while clustering (1 is fastest on small shared machines)
    # audit mode (segments given as labels, see audit_run):
    "min_segment_size": 30,  # given segments smaller than this are "insufficient evidence"
    "compare_learned": True,  # also fit a learned segmentation of the same customers, for comparison
}
