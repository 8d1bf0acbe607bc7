"""The ``campaign:`` config section's keys and defaults (notebook 08)."""

from __future__ import annotations

DEFAULTS = {
    "response_days": 30,  # without a response column: a purchase within this many days after assigned_at
    "cost_per_contact": None,  # with value_per_response: return per contact
    "value_per_response": None,
    "budget_share": None,  # share of customers the alternatives may contact (default: as many as the policy)
    "actions": {},  # {campaign: fairness policy action}; default: the action of the campaign's name
    "thresholds": {"uplift_difference": 0.05},  # band of the fairness-of-benefit verdict
    "upsell_ratio": 1.2,  # segment KPIs: spend up by this factor counts as an upsell
    "n_boot": 200,  # bootstrap resamples of the Qini intervals
}
