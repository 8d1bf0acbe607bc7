"""Per-customer segment statements (GDPR Art. 15 access, Art. 21/22 objection to profiling).

``_content`` (the customer's own data by category, how each item is used), ``stage`` (the only
run-directory code: :func:`statements_run`, :func:`statement_for`), ``views`` (the HTML page).
``workbench statement --run DIR --ids FILE`` is the command line.
"""

from ._content import data_held, purchase_summary, segmentation_values
from .stage import model_facts, read_ids, statement_for, statements_run
from .views import render_statement

__all__ = [
    "data_held", "model_facts", "purchase_summary", "read_ids", "render_statement", "segmentation_values",
    "statement_for", "statements_run",
]
