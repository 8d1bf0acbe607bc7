"""Where the heavy per-customer queries run: embedded DuckDB (default) or Spark.

Each heavy query is one SQL text in DuckDB's dialect. :class:`DuckDBEngine` runs it as written;
:class:`SparkEngine` runs SQLGlot's translation to Spark SQL (:func:`to_spark_sql`), the approach
Splink takes to run one linkage model on DuckDB and Spark. Only small results (one row per segment,
group or cell) come back to the driver as pandas; large ones go to Parquet with ``to_parquet``.

A run picks its engine in the config::

    engine: spark            # default duckdb
    spark:
      master: local[2]       # or spark://host:7077, yarn, k8s://..., sc://host:15002 (Spark Connect)
      conf: {spark.executor.memory: 8g}

Queries here: :func:`pseudonym_query` (HMAC-SHA256, identical to :mod:`hmac` on both engines),
:func:`score_query` (nearest centroid in the model's transformed space), :func:`count_query`
(group-by counts); the aggregates behind the published tables (:func:`crosstab`,
:func:`cell_counts_query`, :func:`group_sums_query`, :func:`clamped_fixed_point`). The transaction features (:func:`workbench.features.transaction_features`) run
on the engine of the innermost :func:`using` block.
"""

from ._aggregate_queries import (
    cell_counts_query, clamped_fixed_point, crosstab, group_sums_query, margin_importance_query, margin_weights,
    nan_as_null, window_activity_query,
)
from ._engine import DuckDBEngine, Engine, SparkEngine, active_config, make_engine, to_spark_sql, using
from ._queries import (
    count_query, hmac_key_table, model_space_exprs, predict_segments, pseudonym_query, score_parts, score_query,
)
from ._prepare_queries import (  # preparation (issue 16, part P)
    CUSTOMERS as PREP_CUSTOMERS, FORGET as PREP_FORGET, KEPT as PREP_KEPT, TRANSACTIONS as PREP_TRANSACTIONS,
    TRUTH as PREP_TRUTH, consent_counts_query, exclusion_counts_query, kept_transactions_rows_query, prepared_customers_query,
    prepared_transactions_query, register_flags, transaction_counts_query, truth_query,
)
from ._campaign_queries import (  # the optional campaign table (issue 26)
    CAMPAIGNS as PREP_CAMPAIGNS, campaign_counts_query, campaign_problems, prepared_campaigns_query, register_campaigns,
)
from ._choice_queries import CHOICE_KINDS, choice_holds_query, objecting_ids_query, prepared_choices_query  # the choices register
from ._input import EngineInput, register_input  # reading and validating input files (dataset.read)
from ._session import (
    DUCKDB_DEFAULTS, ENGINES, SPARK_DEFAULTS, duckdb_settings, engine_settings, spark_running, spark_session, stop_spark,
)

__all__ = [
    "CHOICE_KINDS",
    "choice_holds_query",
    "DUCKDB_DEFAULTS",
    "ENGINES",
    "SPARK_DEFAULTS",
    "DuckDBEngine",
    "EngineInput",
    "Engine",
    "SparkEngine",
    "active_config",
    "cell_counts_query",
    "clamped_fixed_point",
    "count_query",
    "crosstab",
    "duckdb_settings",
    "engine_settings",
    "group_sums_query",
    "hmac_key_table",
    "make_engine",
    "margin_importance_query",
    "margin_weights",
    "model_space_exprs",
    "nan_as_null",
    "objecting_ids_query",
    "prepared_choices_query",
    "predict_segments",
    "pseudonym_query",
    "register_input",
    "score_parts",
    "score_query",
    "spark_running",
    "spark_session",
    "stop_spark",
    "to_spark_sql",
    "using",
    "window_activity_query",
    # preparation (issue 16, part P)
    "PREP_CUSTOMERS", "PREP_FORGET", "PREP_KEPT", "PREP_TRANSACTIONS", "PREP_TRUTH", "consent_counts_query",
    "exclusion_counts_query", "kept_transactions_rows_query", "prepared_customers_query",
    "prepared_transactions_query", "register_flags", "transaction_counts_query", "truth_query",
    # the campaign table (issue 26)
    "PREP_CAMPAIGNS", "campaign_counts_query", "campaign_problems", "prepared_campaigns_query", "register_campaigns",
]
