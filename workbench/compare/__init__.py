"""Comparing two audit runs: ``workbench compare RUN_A RUN_B`` (issue 17, item 7).

A re-audit a quarter later, or a run before and after mitigation: which verdicts changed and why
(ratios with intervals, as each run published them), the segments of both runs matched by name or
centroid, migration between the two assignments for customers in both (joined by keyed pseudonym,
only under the same persistent key; suppressed like every published table), and drift of the
segmentation inputs (PSI from published binned shares).

Algorithms: ``_verdicts`` (:func:`verdict_changes`), ``_segments`` (:func:`match_segments`,
:func:`segment_sizes`), ``_migration`` (:func:`migration_counts`, :func:`publish_migration`,
:func:`moved_share`), ``_drift`` (:func:`input_drift`), ``_comparison`` (:class:`RunData`,
:class:`Comparison`, :func:`compare`). ``stage`` alone reads run directories and writes
``compare.html`` / ``compare.json`` (:func:`compare_runs`, :func:`write_comparison`); ``views``
renders the page and the index section.
"""

from ._comparison import Comparison, RunData, compare, summary_sentences
from ._drift import input_drift
from ._migration import ONLY_A, ONLY_B, migration_counts, moved_share, publish_migration
from ._segments import match_segments, segment_sizes
from ._verdicts import change_sentence, verdict_changes
from .stage import check_comparable, compare_runs, load_run, write_comparison
from .views import comparison_html, index_section, migration_table, verdict_table

__all__ = [
    "ONLY_A", "ONLY_B", "Comparison", "RunData", "change_sentence", "check_comparable", "compare",
    "compare_runs", "comparison_html", "index_section", "input_drift", "load_run", "match_segments",
    "migration_counts", "migration_table", "moved_share", "publish_migration", "segment_sizes", "summary_sentences",
    "verdict_changes", "verdict_table", "write_comparison",
]
