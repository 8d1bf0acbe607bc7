"""Segment dynamics: migration between periods, drift, stale segments.

Customers change; segments that do not follow them produce "fractured identities" (the traveller who
went budget still gets luxury offers). This module shows how customers move between segments over
time and where recorded segment assignments have gone stale.

User guide
----------
The transaction history is cut into consecutive calendar windows (:func:`make_windows`; half-years by
default, as many full ones as the history holds, at most eight). Each customer gets a *state* per
window (:func:`windowed_states`):

* a segment id, when the customer bought something in the window: the segment whose *behaviour
  profile* is nearest to what they did in that window alone;
* ``INACTIVE`` (-1), when the customer had bought before but not in this window;
* ``NOT_YET`` (-2), when the customer had not bought anything yet.

**Behaviour, not the clock.** A state is scored on transaction features computed from the window's
purchases only (every window has the same length, :func:`behaviour_settings`). Three kinds of input are
left out of the state model, and the report says so: *clock features* (``recency``, ``tenure``: they
change while behaviour does not), ``trend`` (itself a comparison of two periods) and *snapshot customer
attributes* (email opens, app use, survey scores, demographics: one value without history, the same in
every window, so they carry no information about change; held in the model they would pin customers
who changed their buying to their old segment).

**Not the calendar either.** Each recorded segment has one behaviour profile per *season* (windows
starting in the same calendar month, :func:`season_of`; :class:`SeasonalProfiles`): a customer's first
half-year is compared with what each segment's members do in first half-years, so a holiday shopper is
not placed elsewhere every spring. Windows are compared with the same season a year earlier
(:func:`season_lag`, ``Dynamics.pairs``): transitions, PSI, centroid steps and the fairness of movement
use those pairs, never the holiday season against spring. A recorded assignment is *stale* when the
customer's behaviour in a later window no longer *fits* it: nearer another profile of that window's
season by more than ``fit_coverage`` (0.99) of the segment's own members are
(:func:`stale_assignments`, :func:`staleness_curve`, :func:`refresh_recommendation`). A few purchases
place a customer only roughly between segments that buy alike (a regular and a customer about to
lapse), so the nearest profile alone flips for ~45% of active customers between two windows of a world
where nobody changed; the fit rule keeps that noise out (stale share after one window ~7% there) while
the planted migration's movers go stale (~55%). PSI compares the active customers of the paired,
disjoint windows (:func:`psi`, :func:`feature_drift`).

From the states follow the transition matrix between two windows (:func:`transition_matrix`: counts
with margins suppressed once, ``inactive`` a destination of its own, rows not conditioned on activity),
up- and downgrade rates along the segments' value order derived from it
(:func:`grades_from_published`), the share of one segment that moved to another
(:func:`migration_share`), customers per window and state (:func:`window_counts`) and an alluvial flow
chart drawn from those published tables only (:func:`flow_chart`). Every rate and share derives from
one suppressed table per family and is NaN wherever a cell it needs is hidden. The stage registers those
tables and derives what it shows from them as printed (perturbed by the cell-key method, issue 24;
:func:`printed_counts` reads them for the notebook, :func:`transitions_from_printed`).
:func:`movement_fairness` compares downgrade and lapse rates between sensitive groups, with confidence
intervals, masked the same way (:func:`movement_table`). :func:`cohort_shift` shows how each
segment's members changed beyond everyone's change, :func:`centroid_shift` how the profiles moved.

On the synthetic world with a planted migration (``dataset.params.migration``) the default
segmentation inputs recover the planted share within 3 percentage points
(``tests/dynamics/test_planted_migration.py``).

:func:`segment_states` is the general scorer (any fitted model, all-history features or a trailing
lookback, optional per-window refit with Hungarian id matching); :func:`windowed_states` calls it.

**Given labels (audit mode).** When the segments were given as labels with the date each was assigned
(``assigned_at``), :func:`label_staleness` judges how stale they are: a fidelity-gated surrogate learns the
labels from each customer's behaviour *as of* their label date (:func:`features_at_labelling`) and is
applied to their current behaviour; a label is stale when today's behaviour puts the customer in another
given segment (share per segment, where the stale ones belong now, label age bands; the surrogate's error
at labelling time is the noise floor). The windows are then scored against the given labels' behaviour
profiles. Without transactions only the labels' ages are shown.

The stage function :func:`dynamics_run` does all of this for a run directory, writes the artifacts
under ``artifacts/dynamics/`` and the key results to ``summary.json``. Datasets without transactions
have no periods: the stage records "not applicable" instead of failing.

Layout
------
Algorithms (DataFrames in, results out): ``_windows`` (windows, activity, features as of a date),
``_behaviour`` (windowed behaviour, the state model, :func:`windowed_states`),
``_models`` (stand-in scorers), ``_refit``, ``_states`` (:func:`segment_states`, :class:`Dynamics`),
``_transitions``, ``_drift``, ``_staleness``, ``_movement``, ``_labels`` (given labels) and
``_planted_migration`` (synthetic data only). ``stage`` is the only module that reads or writes the run
directory; ``views`` and ``plots`` turn results into tables, sentences and figures for notebook 05.
"""

from ._behaviour import CLOCK_FEATURES, SeasonalProfiles, behaviour_settings, behaviour_state_model, windowed_states
from ._drift import centroid_shift, cohort_flags, cohort_shift, drift_flags, feature_drift, psi
from ._labels import LabelStaleness, features_at_labelling, label_age_table, label_staleness_table
from ._movement import movement_fairness, movement_table
from ._planted_migration import planted_migration_check
from ._refit import match_centroids
from ._staleness import refresh_recommendation, stale_assignments, stale_counts, staleness_curve
from ._states import Dynamics, INACTIVE, NOT_YET, segment_states
from ._transitions import (
    grade_changes,
    grade_labels,
    grades_from_published,
    migration_share,
    transition_matrix,
    transition_rates,
    transitions_from_printed,
    window_counts,
)
from ._windows import make_windows, season_lag, season_of, window_activity, window_features
from .plots import flow_chart, plot_drift, plot_movement_fairness, plot_staleness
from .stage import DEFAULTS, dynamics_run, label_staleness, printed_counts, read_label_staleness
from .views import applicable, label_staleness_markdown, planted_migration_note, window_summary

__all__ = [
    "CLOCK_FEATURES",
    "SeasonalProfiles",
    "behaviour_settings",
    "behaviour_state_model",
    "grades_from_published",
    "movement_table",
    "window_counts",
    "windowed_states",
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
    "season_lag",
    "season_of",
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
    "printed_counts",
    "read_label_staleness",
    "stale_assignments",
    "stale_counts",
    "staleness_curve",
    "transition_matrix",
    "transition_rates",
    "transitions_from_printed",
    "plot_drift",
    "plot_movement_fairness",
    "plot_staleness",
    "window_activity",
    "window_summary",
    "window_features",
]
