"""Customer features for segmentation: every feature family, computed where the data is.

User guide
----------
:func:`build_features` turns a customer table and an optional transaction table into one row per
customer (``customer_id`` plus raw features in original units). Two kinds of families exist:

* **transaction families** (behavioural and value-based), aggregated by one SQL ``GROUP BY`` that DuckDB
  runs over the DataFrame, so the same query scales to tens of millions of rows (and is portable to
  a distributed SQL engine). A purchase is an order of amount >= 0 ($0 orders count; returns, as
  negative amounts, do not; see :mod:`workbench.features._transactions` for the definitions next to
  lifetimes'): ``recency`` (days since the last purchase), ``frequency`` (purchases),
  ``monetary`` (net spend, returns subtracted), ``tenure`` (days since the first purchase),
  ``average_order_value``, ``inter_purchase_time`` (mean days between purchases), ``trend``
  (purchases in the last period against the one before, in [-1, 1]), ``category_shares`` and
  ``channel_shares`` (share of purchases per category / channel), ``holiday_share`` (share of
  purchases in the holiday season) and ``returns_rate`` (share of transactions that are returns);
* **customer-table families** declared in the dataset's roles: demographic, geographic,
  psychographic, technographic, engagement, behavioural, value.

Which families and columns enter is set in the ``segmentation.features`` config section
(:data:`DEFAULTS`). Sensitive attributes are never inputs unless listed in ``allow_sensitive``;
categorical columns with more than ``max_categories`` levels (e.g. postcodes) are left out.
:func:`feature_plan` lists every candidate input with its family, source, suggested transform and
whether (and why not) it is used, for the report. :func:`suggest_transform` is the transform a
model applies to a feature (``log``, ``none`` or ``onehot``) unless told otherwise.

:func:`rfm` gives the bare recency/frequency/monetary triple; :func:`rfm_scores` turns it into 1-5
scores (quintiles; equal values always get equal scores; 5 = most recent / most frequent / highest
spend) and the standard named RFM groups of :data:`RFM_GROUPS`, the one place the mapping is written.

With ``as_of``, only transactions strictly before ``as_of`` count and recency and tenure are measured
at ``as_of``; customers without purchases before it get frequency 0, monetary 0, trend 0 and NaN
elsewhere (the segmentation model imputes them).

Where the transactions are a :class:`ParquetTransactions` (the run's Parquet file, optionally only the
rows from a date on) instead of a DataFrame, the engine reads the files: no transaction reaches pandas.

Modules: ``_defaults`` (the config section), ``_transactions`` (the DuckDB aggregation),
``_rfm`` (RFM scores and groups), ``_transforms`` (how a feature enters a model), ``_plan``
(which inputs are used, and the feature table).
"""

from ._defaults import DEFAULTS
from ._plan import build_features, feature_plan
from ._rfm import RFM_GROUPS, rfm, rfm_group, rfm_scores
from ._transactions import (
    TRANSACTION_FAMILIES,
    ParquetTransactions,
    default_as_of,
    feature_select,
    level_column,
    timestamp_literal,
    transaction_features,
)
from ._transforms import TRANSFORMS, is_numeric, suggest_transform

__all__ = [
    "DEFAULTS",
    "RFM_GROUPS",
    "TRANSACTION_FAMILIES",
    "TRANSFORMS",
    "ParquetTransactions",
    "build_features",
    "default_as_of",
    "feature_plan",
    "feature_select",
    "is_numeric",
    "level_column",
    "rfm",
    "rfm_group",
    "rfm_scores",
    "suggest_transform",
    "timestamp_literal",
    "transaction_features",
]
