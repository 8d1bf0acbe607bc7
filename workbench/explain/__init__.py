"""Why is a customer in this segment? SHAP explanations of the segment decision.

User guide
----------
What is explained is the *decision*: the margin by which the assigned segment beat the runner-up
(or, on request, a named segment), never one segment's score alone.

*Exact* (k-means and any model that assigns by comparing scores linear in its inputs). For
centroids ``c_j`` in the model's input space ``z = model.transform(X)``, the margin of segment ``a``
over ``r`` is ``m = ||z - c_r||^2 - ||z - c_a||^2 = 2 z.(c_a - c_r) - ||c_a||^2 + ||c_r||^2``: linear
in ``z``, so :class:`LinearScoreExplainer` gives its interventional SHAP values exactly
(``shap.LinearExplainer`` over a background sample, in batches: a million customers take seconds).
They add up to the margin and do not depend on the origin of the feature space (one segment's own
score ``2 z.c_j - ||c_j||^2`` drops ``||z||^2`` and does). Model columns that come from the same
original feature (log-transformed and scaled, or one-hot) are summed.

*Surrogate* (Gaussian mixture, Ward, rule segments, labels given from outside: any
``(features, labels)`` pair). :class:`SurrogateExplainer` fits a compact LightGBM model from the
features to the segment and reports its held-out fidelity (accuracy, per-segment F1); its
explanation is shown only when the accuracy reaches ``explain.fidelity_threshold`` (default 0.9).
The explained quantity is the surrogate's log-odds of the assigned segment against the runner-up
(the difference of the two classes' raw scores, SHAP from ``shap.TreeExplainer``); with two
segments (a binary model, one raw score) that is the raw score itself. ``explain.one_vs_rest:
<segment id>`` explains one segment against the rest.

*Given labels* (audit mode): the surrogate explains the labels, fitted on labelled customers only;
segments below the minimum size or below the F1 threshold are withheld (:func:`withheld_table`). A
single given segment has no decision to explain: the stage says so instead of failing.

Global importance (``importance.parquet``: ``segment, feature, mean_abs_shap``) is the mean
|margin SHAP| over the customers assigned to each segment: what separates its members from their
runner-up. Per customer, :func:`explain_customer` lists the features with the largest margin
contributions (value, typical member, population median); the paragraph names as reasons only
features that push towards the assigned segment and says which pull towards the runner-up. Its
counterfactual is feasible (:func:`feasible_counterfactual`): future purchases only (more purchases in
the next 90 days, as usual or in a category or channel; the past is never relabelled) added to the
customer's transactions and passed through the run's feature computation at the period's end, verified
with the model (doing nothing is scored too, and a segment reached without any purchase is no suggestion);
the target is the nearest segment such a change reaches, and where none does within the bounded
search the explanation says so. Clock features, demographics, geography and survey scores are never
suggested. ``workbench explain --run DIR --customer PSEUDONYM`` prints it (``--json``, ``--html``).

Reports show no individual customer unless ``report.individual_examples: true``
(:func:`example_customer`); the distribution of contributions is shown as quantile bands over at
least 50 members (:func:`plot_margin_bands`).

Artifacts (``artifacts/explain/``): ``importance.parquet`` (segment, feature, mean_abs_shap,
mean_shap_members, trustworthy), ``contributions.parquet`` (exact path: every customer's top margin
contributions), ``profiles.parquet`` (typical values per segment, small-cell suppressed),
``explainer.joblib`` (what ``workbench explain`` needs) and ``explain.json`` (method, fidelity).
"""

from ._counterfactual import (Action, FeatureContext, apply_actions, candidate_actions, candidate_features,
                              feasible_counterfactual, run_levels)
from ._defaults import DEFAULTS
from ._grouping import group_columns
from ._importance import global_importance, margin_importance
from ._linear import LinearScoreExplainer, centroid_explainer
from ._profiles import profiles
from ._surrogate import SurrogateExplainer, explain_labels
from .plots import margin_bands, plot_importance, plot_margin_bands
from .stage import (compare_with_truth, example_customer, explain_customer, explain_run, individual_examples,
                    load_state)
from .views import (describe, example_withheld, methodology_markdown, render_html, render_text, shown_segments,
                    top_features, withheld_table)

__all__ = [
    "methodology_markdown",
    "Action",
    "DEFAULTS",
    "FeatureContext",
    "LinearScoreExplainer",
    "SurrogateExplainer",
    "apply_actions",
    "candidate_actions",
    "candidate_features",
    "centroid_explainer",
    "compare_with_truth",
    "describe",
    "example_customer",
    "example_withheld",
    "explain_customer",
    "explain_labels",
    "explain_run",
    "feasible_counterfactual",
    "global_importance",
    "group_columns",
    "individual_examples",
    "load_state",
    "margin_bands",
    "margin_importance",
    "plot_importance",
    "plot_margin_bands",
    "profiles",
    "render_html",
    "render_text",
    "run_levels",
    "shown_segments",
    "top_features",
    "withheld_table",
]
