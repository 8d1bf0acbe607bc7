"""Why is a customer in this segment? SHAP explanations of segment membership.

User guide
----------
Two paths, chosen by what the segmentation model allows:

*Exact* (k-means and any model that assigns by comparing scores linear in its inputs). For
centroids ``c_j`` in the model's input space ``z = model.transform(X)``, the customer goes to the
segment with the highest score ``s_j(z) = 2 z.c_j - ||c_j||^2`` (the shared ``||z||^2`` cancels, so
this is the nearest centroid). :class:`LinearScoreExplainer` explains every score with
``shap.LinearExplainer`` (interventional, a background sample of customers), in batches, so a
million customers take seconds and bounded memory. "Why segment j rather than the runner-up k" is the
SHAP of ``s_j - s_k`` = the difference of the two explanations (SHAP is linear). Model columns that
come from the same original feature (log-transformed and scaled, or one-hot) are summed, so every
contribution belongs to one original feature. Contributions add up exactly: base value + sum =
score.

*Surrogate* (Gaussian mixture, Ward, rule segments, labels given from outside: any
``(features, labels)`` pair). :class:`SurrogateExplainer` fits a compact gradient-boosted model
(LightGBM) from the features to the segment and reports its fidelity on held-out customers
(accuracy and per-segment F1). Its SHAP values (``shap.TreeExplainer``, on the surrogate's raw
per-segment scores) are shown only when the held-out accuracy reaches ``explain.fidelity_threshold``
(default 0.9); otherwise the report says the explanation is not trustworthy and why. With
``explain.one_vs_rest: <segment id>`` a binary surrogate explains that one segment against the rest
(cost and memory do not grow with the number of segments).

*Given labels* (audit mode, segments from a CRM/CDP export; stage 02 ran :func:`workbench.segment.audit_run`):
the labels have no centroids, so the surrogate path explains them, fitted on labelled customers only
(customers without a label are not explained: no rule assigned them). Segments below the minimum
segment size, and segments the surrogate reproduces with an F1 below the threshold, have their
explanations withheld (:func:`withheld_table`); ``workbench explain`` works the same way on such a run.

Per customer, :func:`explain_customer` gives the features that contributed most with the customer's
value, the typical member's value and the population median, a plain-language paragraph and a
counterfactual: the nearest other segment and a small change in *actionable* features (config
``explain.actionable``; by default every input except demographic and geographic ones and
``tenure``) that moves the customer there. ``workbench explain --run DIR --customer PSEUDONYM``
prints it (``--json``, ``--html FILE`` for a self-contained page answering an access request).

Artifacts (``artifacts/explain/``): ``importance.parquet`` (segment, feature, mean_abs_shap,
mean_shap_members, trustworthy), ``contributions.parquet`` (exact path: every customer's top
contributions), ``profiles.parquet`` (typical values per segment, small-cell suppressed),
``explainer.joblib`` (what ``workbench explain`` needs) and ``explain.json`` (method, fidelity).
"""

from ._counterfactual import actionable_features, counterfactual
from ._defaults import DEFAULTS
from ._grouping import group_columns
from ._importance import global_importance
from ._linear import LinearScoreExplainer, centroid_explainer
from ._profiles import profiles
from ._surrogate import SurrogateExplainer, explain_labels
from .plots import plot_beeswarm, plot_importance
from .stage import compare_with_truth, example_customer, explain_customer, explain_run, load_state
from .views import describe, render_html, render_text, shown_segments, top_features, withheld_table

__all__ = [
    "DEFAULTS",
    "LinearScoreExplainer",
    "SurrogateExplainer",
    "actionable_features",
    "centroid_explainer",
    "compare_with_truth",
    "counterfactual",
    "describe",
    "example_customer",
    "explain_customer",
    "explain_labels",
    "explain_run",
    "global_importance",
    "group_columns",
    "load_state",
    "plot_beeswarm",
    "plot_importance",
    "profiles",
    "render_html",
    "render_text",
    "shown_segments",
    "top_features",
    "withheld_table",
]
