"""The ``privacy:`` config section's defaults, shared by the pseudonym key and the stages."""

from __future__ import annotations

DEFAULTS = {
    "key_env": "WORKBENCH_PSEUDONYM_KEY",
    "key_file": None,
    "forget": None,
    "suppression_k": 10,
    # no hidden count may be narrowed by the whole-run attack to an interval high - low below this
    "protection_width": 2,
    # every published count perturbed by the cell-key method (privacy._cellkey): at most
    # max_perturbation either way, variance `variance`; every published sum of money by up to
    # magnitude_scale x its cell's largest contribution (0: sums exact); method: none switches both off
    "perturbation": {"method": "cell key", "max_perturbation": 2, "variance": 1.0, "magnitude_scale": 1.0},
    "risk": {"max_combination": 3},
    "quality": {"iqr_factor": 3.0},
    "dp": {
        "enabled": False,
        "epsilon": 1.0,
        "delta": 1e-7,
        "total_epsilon": 10.0,
        "ledger": None,
        "population": None,
        "fit_share": 0.3,
        "bounds": {},
        "count_weight": 1.0,
        "alpha": 0.05,
        "max_customers": 1_000_000_000,
        "impute": {},
    },
}
