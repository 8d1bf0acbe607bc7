"""Defaults of the ``value`` config section: the CLV models' horizon, discounting and fitting sample."""

from __future__ import annotations

from typing import Any

DEFAULTS: dict[str, Any] = {
    "horizon_days": 365,  # CLV and expected purchases over this many days after the observation end
    "discount_rate": 0.10,  # annual discount rate of future spend (0.10 = 10% a year)
    "step_days": 30,  # discounting period: spend expected in each 30-day step is discounted once
    "fit_sample": 200_000,  # customers the models are fitted on (seeded sample; everyone is scored)
    "calibration_end": None,  # holdout check: a date; the history before it is the calibration period
    "holdout_days": None,  # ... or the last N days held out (both None: the last third of the history)
    "growth_rank_gap": 0.5,  # growth potential: predicted-value percentile rank minus historical >= this
    "top_share": 0.10,  # value-targeting policy of the audit: the top 10% by value are selected
    # the CLV fit gate (_fit_gate.py): predicted/observed holdout purchases within 1 ± holdout_tolerance per
    # frequency bucket, spend-frequency |r| within correlation_tolerance; a check fails only when its
    # interval lies wholly outside
    "fit_gate": {"holdout_tolerance": 0.4, "correlation_tolerance": 0.3, "alpha": 0.05, "min_customers": 30},
    "when_unfit": "warn",  # warn: CLV is used and every CLV number says the model does not fit; historical:
    # growth potential and value targeting fall back to historical value
}
