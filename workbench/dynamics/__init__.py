"""Segment dynamics: migration between periods, drift, stale segments.

Customers change; segments that do not follow them produce "fractured identities" (the traveller who
went budget still gets luxury offers). This module shows how customers move between segments over
time and where recorded segment assignments have gone stale.

User guide
----------
The transaction history is cut into consecutive calendar windows (:func:`make_windows`; quarters by
default, as many full ones as the history holds, at most eight). At the end of each window every
customer's features are computed *as of* that date with :func:`workbench.features.build_features`
and scored with the fitted segmentation model from stage 02 (``segments/model.joblib``), so each
customer gets a *state* per window (:func:`segment_states`):

* a segment id, when the customer bought something in the window;
* ``INACTIVE`` (-1), when the customer had bought before but not in this window;
* ``NOT_YET`` (-2), when the customer had not bought anything yet.

From the states follow the transition matrix between two windows (:func:`transition_matrix`, counts
and row rates, small cells suppressed), up- and downgrade rates along the segments' value order
(:func:`grade_changes`), the share of one segment that moved to another (:func:`migration_share`)
and an alluvial flow chart (:func:`flow_chart`). Drift is measured per feature with the population
stability index between consecutive windows (:func:`psi`, :func:`feature_drift`) and per segment by
how far its centroid moved in the model's input space (:func:`centroid_shift`). A recorded assignment
is *stale* when the customer's current behaviour puts them in another segment
(:func:`stale_assignments`); how fast that happens (:func:`staleness_curve`) gives a refresh
recommendation (:func:`refresh_recommendation`). :func:`movement_fairness` compares downgrade rates
between sensitive groups, with confidence intervals.

The share of a segment that moved (:func:`migration_share`, :func:`planted_migration_check`) is
read off the transition matrix: among customers in the source segment in one window who are active
in a later one, the share in the target segment then. On the synthetic world with a planted migration
(``dataset.params.migration``) a behavioural segmentation (transaction features only) recovers the
planted share within 2 percentage points (``tests/dynamics/test_planted_migration.py``). A segmentation that also uses
customer-table attributes (engagement, technographic, survey scores) does not: those attributes are
one snapshot without history, so customers who changed their buying keep the attributes of their old
segment and the model keeps them there. The report says so; it is the "fractured identity" to look for.

Features are computed from all history before each window's end (``lookback_months: null``), exactly
as stage 02 computed them for the fitted model; cumulative features (tenure, frequency) therefore
drift as the customer base ages, which :func:`cohort_shift` separates from what one segment's
members did differently. ``lookback_months: N`` restricts the features to the trailing N months
instead (note that the model was fitted on all-history features).

With ``refit: true`` the model is refitted on every window and the new segment ids are matched to
the previous window's by their centroids (Hungarian matching), which shows how the segmentation
itself would change if it were rebuilt each period.

**Given labels (audit mode).** When the segments were given as labels with the date each was assigned
(``assigned_at``), :func:`label_staleness` judges how stale they are: a fidelity-gated surrogate learns the
labels from each customer's behaviour *as of* their label date (:func:`features_at_labelling`) and is
applied to their current behaviour; a label is stale when today's behaviour puts the customer in another
given segment (share per segment, where the stale ones belong now, label age bands; the surrogate's error
at labelling time is the noise floor). The windows are then scored with that surrogate instead of a
fitted model. Without transactions only the labels' ages are shown.

The stage function :func:`dynamics_run` does all of this for a run directory, writes the artifacts
under ``artifacts/dynamics/`` and the key results to ``summary.json``. Datasets without transactions
have no periods: the stage records "not applicable" instead of failing.

Layout
------
Algorithms (DataFrames in, results out): ``_windows`` (windows, activity, features as of a date),
``_models`` (stand-in scorers), ``_refit``, ``_states`` (:func:`segment_states`, :class:`Dynamics`),
``_transitions``, ``_drift``, ``_staleness``, ``_movement``, ``_labels`` (given labels) and
``_planted_migration`` (synthetic data only). ``stage`` is the only module that reads or writes the run
directory; ``views`` and ``plots`` turn results into tables, sentences and figures for notebook 05.
"""

from ._drift import centroid_shift, cohort_flags, cohort_shift, drift_flags, feature_drift, psi
from ._labels import LabelStaleness, features_at_labelling, label_age_table, label_staleness_table
from ._movement import movement_fairness
from ._planted_migration import planted_migration_check
from ._refit import match_centroids
from ._staleness import refresh_recommendation, stale_assignments, staleness_curve
from ._states import Dynamics, INACTIVE, NOT_YET, segment_states
from ._transitions import grade_changes, grade_labels, migration_share, transition_matrix
from ._windows import make_windows, window_activity, window_features
from .plots import flow_chart, plot_drift, plot_movement_fairness, plot_staleness
from .stage import DEFAULTS, dynamics_run, label_staleness, read_label_staleness
from .views import applicable, label_staleness_markdown, planted_migration_note, window_summary

__all__ = [
    "DEFAULTS",
    "INACTIVE",
    "NOT_YET",
    "Dynamics",
    "applicable",
    "centroid_shift",
    "dynamics_run",
    "feature_drift",
    "cohort_flags",
    "cohort_shift",
    "drift_flags",
    "flow_chart",
    "grade_labels",
    "grade_changes",
    "make_windows",
    "match_centroids",
    "migration_share",
    "movement_fairness",
    "planted_migration_check",
    "planted_migration_note",
    "psi",
    "refresh_recommendation",
    "segment_states",
    "LabelStaleness",
    "features_at_labelling",
    "label_age_table",
    "label_staleness",
    "label_staleness_markdown",
    "label_staleness_table",
    "read_label_staleness",
    "stale_assignments",
    "staleness_curve",
    "transition_matrix",
    "plot_drift",
    "plot_movement_fairness",
    "plot_staleness",
    "window_activity",
    "window_summary",
    "window_features",
]
