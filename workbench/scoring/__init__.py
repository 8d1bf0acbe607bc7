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

:func:`assign_incremental` (``workbench assign --run DIR --transactions NEW --since T``) re-scores only
the customers with transactions new since ``T``, with the same query on the run's engine restricted to
them, and appends to ``artifacts/assignments/history.parquet`` (``pseudonym``, ``segment``, ``margin``,
``valid_from``, ``valid_to``, ``reason``; a folder of parts that are only ever added, read as one table
with :func:`read_history`): a customer who moved gets their open interval closed and a new one opened;
nobody else's rows change. Changed customer rows (``--customers``) re-score too (reason ``new data``),
and so do new records of the choices register (``--choices``, reason ``choice``): an objection to
profiling in force (by the records' own times, or the latest profiling opt-out flag of a changed row)
closes the customer's interval and opens one without a segment, its withdrawal (or the flag reset)
re-scores them; a ``rectify`` in force replaces the stored value the customer is scored on. The new
rows are kept under ``artifacts/assignments/{transactions,customers,choices,flags}/`` so that the next
batch sees them; the same batch twice adds nothing. The run's own rows of a batch's
customers are read from keyed stores (``artifacts/assignments/index/``, built with the history's
seed): a batch costs what its customers cost, not what the base does. :func:`assignment_ages` says how
long since each current assignment was last confirmed by data (notebook 05).

:func:`export_sql` reads the warehouse's choices register too (``--choices-table``; required when the
run had a register): customers whose objection to profiling is in force there get no row, and the
corrections in force there (``rectify``, as the incremental path applies them, recorded up to
preparation's cut-off: the run's ``dataset.as_of`` day, else the time the query runs) replace the
customer table's values before the features; a correction whose value is not of the column's type stops
the query with a message naming the column, as ``assign --choices`` refuses it. Withdrawing a correction
that preparation applied needs the customer's row in the same batch (the run keeps only the corrected value).

Modules: ``_sql`` (the query and its translation), ``_history`` (intervals), ``_batch`` (a batch's
tables, what is new, who is re-scored and why), ``_keyed`` (keyed stores), ``stage`` (reads the run
directory, writes the file and the history), ``views`` (sentences).
The unit stands after ``pipeline`` (it reads the run's config hash from ``pipeline._provenance``).
"""

from ._sql import DIALECTS, FrozenFeatures, Warehouse, export_query, transpile
from ._history import COLUMNS as HISTORY_COLUMNS, apply_scores, consolidate, current, start_history
from .views import assignment_ages_markdown
from .stage import (
    assign_incremental, assignment_ages, export_sql, frozen_features, load_centroid_model, model_version, read_history, seed_history,
    warehouse_of,
)

__all__ = [
    "DIALECTS",
    "HISTORY_COLUMNS",
    "apply_scores",
    "assign_incremental",
    "assignment_ages",
    "assignment_ages_markdown",
    "consolidate",
    "current",
    "seed_history",
    "start_history",
    "FrozenFeatures",
    "Warehouse",
    "export_query",
    "export_sql",
    "frozen_features",
    "load_centroid_model",
    "model_version",
    "read_history",
    "transpile",
    "warehouse_of",
]
