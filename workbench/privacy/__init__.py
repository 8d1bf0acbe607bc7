"""Privacy by design: minimisation, consent and erasure, keyed pseudonyms, small-cell suppression,
re-identification risk, data quality and a differentially private release of segment profiles.

User guide
----------
The first four steps run in :func:`workbench.pipeline.prepare`, before any notebook sees the data:

1. :func:`inventory` lists every input column with its role, its purpose and whether it is kept.
2. :func:`minimise` keeps only columns with a declared purpose; direct identifiers (names, emails,
   phones, ...) and columns without a role are dropped, consent flags are dropped once applied.
3. :func:`exclude_customers` removes customers who opted out of profiling or asked to be forgotten
   (``workbench run --forget FILE``), from the customer table and the transaction table alike, and
   returns counts only; a blank profiling flag follows ``dataset.blank_consent`` (default: no
   consent). Every other consent purpose (e.g. marketing opt-in) is kept as a boolean column
   ``consent_<purpose>`` (:func:`consent_columns`) for the fairness stage to apply per action.
   :func:`fingerprint` records *which* consent snapshot and erasure list were used in the manifest:
   an HMAC under the pseudonym key (none under a random per-run key), so that hashing candidate
   ids cannot recover them.
4. :func:`pseudonymise` replaces customer ids by HMAC-SHA256 pseudonyms under a key from
   :func:`resolve_key`: the environment variable ``WORKBENCH_PSEUDONYM_KEY`` (``privacy.key_env``)
   or a key file outside the repo (``privacy.key_file``); the same key gives the same pseudonyms in
   every run, so :func:`pseudonym_for` can look a customer up. With neither, a random key is made
   for this run only: pseudonyms then cannot be linked across runs, or back to anyone, by anybody.
   The key is never written anywhere.

Every published table of counts is suppressed and registered with :func:`suppress_and_publish`
(suppression against every table published before it), then perturbed by the cell-key method
(``privacy.perturbation``, :mod:`._cellkey`: at most ±2 per count, the same value wherever the same count
appears, drawn afresh when the run's customers change, so that two runs one erasure apart cannot be
subtracted); it returns the table as printed, and :func:`printed_tables` reads every table as printed,
:func:`published_tables` the exact counts behind them (internal); :func:`disclosure_check` attacks all
registered tables of a run jointly (:func:`joint_disclosure`: the same quantity in two tables is one
unknown; intersections sum to their margins; a population declared ``within`` another differs from it
by an unpublished count; the printed rules and integrality are constraints of an integer programme)
and reports every small count it recovers or narrows below ``privacy.protection_width``. Underneath: :func:`suppress_counts` for a 2-D table
of counts (cells from 1 to ``k - 1`` hidden, or with ``perturbation=`` the positive cells whose
cell-key-perturbed count is below ``k``, as :func:`suppress_and_publish` decides, plus complementary cells so that no hidden cell can be
recovered from row or column totals; :func:`disclosure_intervals` runs that attack) and
:func:`suppress_rows` for per-group statistics (groups smaller than ``k`` masked, plus the next
smallest group when only one is masked and the total is known). ``k`` is ``privacy.suppression_k``
(default 10), recorded in ``data/prepare.json``.

Notebook 01 audits the prepared data (:func:`privacy_audit_run`): :func:`validation_checks`,
:func:`reidentification_risk` on the declared quasi-identifiers (k-anonymity, share unique, which
combinations drive uniqueness) and :func:`data_quality` (missingness, outliers, duplicates).

Notebook 06 publishes segment profiles with differential privacy (:func:`dp_release`, OpenDP):
a count per segment and the mean of each feature listed under ``privacy.dp.bounds`` (bounds from
the config, never from the data), under one budget ``privacy.dp.epsilon``/``delta``. The segments
are refitted on a seeded fit sample that the release leaves out (:func:`disjoint_partition`), the
release goes to ``release/`` in the run directory (DP values, accuracy, ledger, methodology page;
no exact value), every release is appended to a ledger per dataset (name and identity, not the
output folder or sample size) in one file outside every output folder (``privacy.dp.ledger``,
default :func:`default_ledger_path`), and a release over ``privacy.dp.total_epsilon`` is refused
(:class:`BudgetExceeded`; ``workbench run`` checks first with :func:`check_release_budget` and
warns; the rest of the audit runs). :func:`dp_utility` compares the release with the exact profiles: an
internal artefact (``artifacts/privacy/dp_utility.parquet``), never shown in a report.

Configuration (``privacy:`` section, defaults in :data:`DEFAULTS`)::

    privacy:
      key_env: WORKBENCH_PSEUDONYM_KEY   # env var holding the pseudonym key
      key_file: null                     # or a key file outside the repo
      forget: null                       # erasure list, one customer id per line
      suppression_k: 10
      protection_width: 2                # no hidden small count narrowed to 2 or fewer values
      risk: {max_combination: 3}
      dp:
        enabled: true
        epsilon: 1.0                     # this release
        delta: 1.0e-7
        total_epsilon: 10.0              # the dataset's budget over every release
        ledger: null                     # default: $WORKBENCH_DP_LEDGER, else ~/.local/share/workbench/dp_ledger.json
        population: null                 # ledger key; default the dataset's name and identity
        fit_share: 0.3                   # segments fitted on this left-out share (keyed hash per customer)
        bounds: {recency: [0, 730], frequency: [0, 100]}

Modules: algorithms in ``_pseudonyms``, ``_minimisation``, ``_consent``, ``_suppression`` (with the
attack in ``_disclosure``), ``_risk``, ``_quality``, ``_checks`` and ``_dp``; the run directory in
``stage``; notebook tables in ``views`` and figures in ``plots``.
"""

from ._choices import (
    applied_counts, check_choices, choice_roles, objection_records, rectifiable_columns, register_chosen_customers,
    register_choices, resolve_choices,
)
from ._consent import (
    consent_columns, consent_record, consent_snapshot, exclude_customers, exclusion_counts, fingerprint, read_id_list,
    register_inputs,
)
from ._defaults import DEFAULTS
from ._disclosure import disclosure_intervals
from ._joint import DisclosureCheck, joint_disclosure, suppress_jointly
from ._dp import DPRelease, dp_aggregates, dp_budget_tradeoff, dp_release, dp_utility
from ._ledger import BudgetExceeded, default_ledger_path, read_ledger
from ._minimisation import inventory, minimise
from ._partition import disjoint_partition, fit_sample
from ._pseudonyms import PseudonymKey, pseudonym_for, pseudonymise, resolve_key
from ._quality import data_quality
from ._risk import identifier_scan, reidentification_risk
from ._suppression import suppress_counts, suppress_rows
from .plots import plot_relative_errors, plot_uniqueness
from .publish import (
    DISCLOSURE_DIR,
    disclosure_check,
    perturbation_settings,
    printed_table,
    printed_tables,
    publish_counts,
    publish_magnitudes,
    publish_printed,
    published_tables,
    suppress_and_publish,
    suppress_printed,
    two_run_perturbation,
)
from .stage import (
    RELEASE_DIR,
    TOTAL,
    check_release_budget,
    load_private_release,
    privacy_audit_run,
    private_release_run,
    validation_checks,
)
from .views import (consent_table, data_methodology_markdown, disclosure_view, methodology_page, minimisation_summary,
                    provenance_table, release_methodology_markdown, who_is_protected)

__all__ = [
    # the customer choices register (issue 27)
    "applied_counts", "check_choices", "choice_roles", "objection_records", "rectifiable_columns",
    "register_chosen_customers", "register_choices", "resolve_choices",
    "BudgetExceeded",
    "check_release_budget",
    "default_ledger_path",
    "fit_sample",
    "data_methodology_markdown",
    "release_methodology_markdown",
    "RELEASE_DIR",
    "disclosure_view",
    "disjoint_partition",
    "methodology_page",
    "read_ledger",
    "DISCLOSURE_DIR",
    "TOTAL",
    "DisclosureCheck",
    "disclosure_check",
    "joint_disclosure",
    "perturbation_settings",
    "printed_table",
    "printed_tables",
    "publish_counts",
    "publish_magnitudes",
    "publish_printed",
    "published_tables",
    "suppress_and_publish",
    "suppress_jointly",
    "suppress_printed",
    "two_run_perturbation",
    "DEFAULTS",
    "DPRelease",
    "PseudonymKey",
    "data_quality",
    "disclosure_intervals",
    "dp_aggregates",
    "dp_budget_tradeoff",
    "dp_release",
    "dp_utility",
    "consent_columns",
    "consent_record",
    "consent_table",
    "consent_snapshot",
    "exclude_customers",
    "exclusion_counts",
    "fingerprint",
    "identifier_scan",
    "inventory",
    "load_private_release",
    "minimisation_summary",
    "minimise",
    "plot_relative_errors",
    "plot_uniqueness",
    "privacy_audit_run",
    "private_release_run",
    "provenance_table",
    "pseudonym_for",
    "pseudonymise",
    "read_id_list",
    "register_inputs",
    "reidentification_risk",
    "resolve_key",
    "suppress_counts",
    "suppress_rows",
    "validation_checks",
    "who_is_protected",
]
