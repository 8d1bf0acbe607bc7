"""Predicted value and churn risk: BG/NBD, Gamma-Gamma, CLV and P(alive) per customer.

User guide
----------
Historical spend says who was valuable; these models say who is likely to buy again, and for how
much. :func:`clv_summary` reduces the transaction log to four numbers per customer in one DuckDB
query (``frequency``: repeat purchase days, ``recency`` and ``T``: days from the first purchase to
the last one and to the observation end, ``monetary_value``: mean spend of the repeat purchase days;
the definitions of ``lifetimes``' ``summary_data_from_transaction_data`` with ``freq="D"``).
:func:`fit_models` fits the BG/NBD purchase model and the Gamma-Gamma spend model by maximum
likelihood on a seeded sample (``value.fit_sample``); :func:`predict_value` scores every customer
with the closed forms: expected purchases over ``value.horizon_days``, P(alive), expected spend per
purchase and CLV discounted at ``value.discount_rate`` a year. On the CDNOW sample of Fader, Hardie
& Lee (2005) :func:`fit_bgnbd` gives their r = 0.243, alpha = 4.414, a = 0.793, b = 2.426.

:func:`growth_potential` flags customers whose predicted-value rank is far above their historical
one; :func:`overlap_counts` and :func:`targeting_rates` compare, by group, a policy that selects the
top value share by history with one that selects it by prediction. ``stage`` writes
``value/predicted.parquet``, which segmentation reads as the ``value`` feature family.

Modules: ``_defaults``, ``_summary`` (the DuckDB sufficient statistics), ``_bgnbd``, ``_gamma_gamma``,
``_clv`` (fit on a sample, score, holdout table, growth potential, top-share selection), ``_fit_gate``
(does the model fit? holdout calibration per frequency bucket and the spend-frequency correlation, each
against a stated tolerance; when it fails every CLV number says so, or ``value.when_unfit: historical``
falls back to historical value),
``_targeting`` (historical vs predicted targeting by group); ``stage`` (run directory), ``views``, ``plots``.
"""

from ._bgnbd import BetaGeo, bgnbd_loglik, fit_bgnbd
from ._clv import fit_models, growth_potential, holdout_table, predict_value, top_share_selected
from ._defaults import DEFAULTS
from ._gamma_gamma import GammaGamma, fit_gamma_gamma, gamma_gamma_loglik, spend_frequency_correlation
from ._summary import calibration_holdout, clv_summary
from ._targeting import OVERLAP_COLUMNS, overlap_counts, targeting_rates
from .stage import (PREDICTED, ValueResult, growth_by_segment, has_transactions, not_applicable_because,
                    p_alive_by_state, summarise_value, targeting_audit, value_run)

__all__ = [
    "DEFAULTS", "OVERLAP_COLUMNS", "PREDICTED", "BetaGeo", "GammaGamma", "ValueResult", "bgnbd_loglik",
    "calibration_holdout", "clv_summary", "fit_bgnbd", "fit_gamma_gamma", "fit_models", "gamma_gamma_loglik",
    "growth_by_segment", "growth_potential", "has_transactions", "holdout_table", "not_applicable_because",
    "p_alive_by_state", "predict_value",
    "spend_frequency_correlation", "summarise_value", "targeting_audit", "targeting_rates", "top_share_selected", "value_run",
]
