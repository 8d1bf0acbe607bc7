"""Defaults of the ``segmentation.features`` config section: which families and columns enter."""

from __future__ import annotations

from typing import Any

DEFAULTS: dict[str, Any] = {
    # transaction families to compute (None: all of TRANSACTION_FAMILIES)
    "transaction_families": None,
    # customer-table families to use (None: every family declared in the roles)
    "customer_families": None,
    "include": [],  # extra customer columns to use even if their family is not selected
    "exclude": [],  # columns never to use
    "allow_sensitive": [],  # sensitive attributes explicitly allowed as inputs (default: none)
    "max_categories": 20,  # categorical columns with more levels are left out (e.g. postcode)
    "trend_days": 180,  # length of the "last period" and "previous period" of `trend`
    "holiday_season": [[11, 15], [12, 24]],  # (month, day) start and end, inclusive
    "max_levels": 12,  # at most this many category / channel share columns
    # predicted-value family (workbench.value, issue 18): any of clv, p_alive, expected_purchases,
    # expected_spend, read from the value stage's artifact by the segmentation stage
    "predicted_value": [],
}
