"""Scoring outside the audit: the frozen segmentation as SQL for the customer's warehouse.

User guide
----------
:func:`export_sql` turns a finished run with a nearest-centre model (``kmeans``, ``ward``) into one
SQL text over the customer's own ``customers`` and ``transactions`` tables: the run's transaction
features (:func:`workbench.features.feature_select`, at the run's ``as_of``), the model's transforms,
centres and segment names as literals (:func:`workbench.engine.score_parts`), translated by SQLGlot to
``duckdb``, ``spark``, ``postgres``, ``snowflake`` or ``bigquery``. The output has the customer's own
id, ``segment``, ``segment_name`` and ``margin`` (to the runner-up); raw ids never leave the warehouse.
``workbench export-sql`` is the command.

Modules: ``_sql`` (the query and its translation), ``stage`` (reads the run directory, writes the file).
The unit stands after ``pipeline`` (it reads the run's config hash from ``pipeline._provenance``).
"""

from ._sql import DIALECTS, FrozenFeatures, Warehouse, export_query, transpile
from .stage import export_sql, frozen_features, load_centroid_model, model_version, warehouse_of

__all__ = [
    "DIALECTS",
    "FrozenFeatures",
    "Warehouse",
    "export_query",
    "export_sql",
    "frozen_features",
    "load_centroid_model",
    "model_version",
    "transpile",
    "warehouse_of",
]
