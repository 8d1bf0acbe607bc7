"""Orchestration: prepare the data, execute the notebooks with papermill, export offline HTML, index, manifest.

Modules, one concept each: ``_prepare`` (the run directory's ``data/``; :func:`open_run` for
notebooks), ``_execute`` (one notebook through papermill), ``_html`` (offline HTML report),
``_manifest`` (``summary.json`` and ``manifest.json``), ``_index`` (``index.html`` pages) and
``_config_schema`` (known config keys, types and ranges; :func:`check_config`) and
``_run`` (the sequence in a temporary folder moved into place, and the default suite).
"""

from ._config_schema import check_config, known_config, resolved_config
from ._execute import NOTEBOOK_DIR, NOTEBOOKS
from ._html import REPORT_HIDDEN, TEMPLATE_DIR, export_html
from ._index import write_run_index, write_suite_index
from ._prepare import open_run, prepare
from ._run import SUITE, RunResult, run, run_suite

__all__ = [
    "NOTEBOOKS",
    "NOTEBOOK_DIR",
    "REPORT_HIDDEN",
    "SUITE",
    "TEMPLATE_DIR",
    "RunResult",
    "check_config",
    "export_html",
    "known_config",
    "open_run",
    "prepare",
    "resolved_config",
    "run",
    "run_suite",
    "write_run_index",
    "write_suite_index",
]
