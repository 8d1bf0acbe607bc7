"""Fairness audit of segments and of segment-based targeting, built on Fairlearn.

The question a compliance reviewer asks: *if we act on these segments (premium offers to one,
retention discounts to another), does that treat people differently by gender, age or another
protected attribute, directly or through proxies such as postcode?*

User guide
----------
:func:`fairness_run` audits a run directory in five steps and ends with a verdict per
(action, attribute):

1. **Groups.** Each sensitive attribute (``fairness.sensitive``, default the dataset's sensitive role)
   becomes a group label per customer: numeric attributes such as age are cut into ``bands``; a
   missing value is the explicit group ``"unknown"`` (Fairlearn's ``MetricFrame`` would drop it
   silently) and its coverage is reported; ``intersections`` combine attributes (gender x age band).
2. **Composition** (:func:`composition`): segment x group counts, each group's share of each segment
   with a confidence interval, the representation ratio (share in the segment / share in the
   population) and a generalised Chierichetti balance per segment (1 = every group represented as
   in the population, 0 = a group absent).
3. **Targeting** (:func:`rate_by_group`, :func:`selection_audit`): the ``policy`` maps actions to
   segments (by id, by name, by a pattern over names, or by value rank from ``segments.json``'s
   ``value_order``). For each
   action and attribute, the selection rate per group is Fairlearn's ``MetricFrame`` value; the
   demographic-parity difference and ratio are Fairlearn's; each group is compared with a reference
   group (``"largest"`` by default) by rate ratio and difference. Confidence intervals come from a
   bootstrap of the *sufficient statistics*: resampling customers with replacement only changes the
   counts per (group, selected) cell, which are multinomial, so drawing those counts is exactly the
   row bootstrap at a cost independent of the number of customers. Each comparison has a
   two-proportion test (Fisher's exact test for small cells); p-values are corrected for the number
   of comparisons in the audit (Holm by default, or Benjamini-Hochberg). Where an outcome exists
   (telco churn), true- and false-positive rates by group give equal-opportunity and
   equalized-odds figures of the targeting rule.
4. **Proxies** (:func:`proxy_scan`): how well the segmentation inputs and the customer-table
   features predict each sensitive attribute, jointly (cross-validated AUC and balanced accuracy of
   a gradient-boosting classifier; high-cardinality categoricals such as postcode are target
   encoded inside the cross-validation) and one by one (mutual information, bias-corrected
   Cramer's V); how well the segment labels predict it; each feature's SHAP weight in segment
   membership (``explain/importance.parquet``) joined to the ranked list.
5. **Mitigation** (:func:`mitigate_correlation_remover`, :func:`mitigate_threshold_optimizer`): the
   same segmentation refitted after Fairlearn's ``CorrelationRemover``, and where an outcome exists
   a ``ThresholdOptimizer`` targeting rule; each with its disparity and its cost (segment quality,
   value reached) before and after: the price of fairness.

**Verdict rule** (:func:`verdicts`). A comparison *breaches* the policy when the rate ratio lies
outside ``thresholds.ratio`` (four-fifths rule: 0.8-1.25) or the absolute difference exceeds
``thresholds.difference``. A group **fails** when it breaches *and* the difference is statistically
significant after correction (as in adverse-impact practice: a ratio test plus a significance
test); a breach that is not significant, or a group (or reference group) smaller than
``min_group_size``, is **insufficient evidence**, never a pass. An (action, attribute) fails if any
group fails, passes only if every group passes, and is insufficient evidence otherwise. The
``unknown`` group is compared like the others when it is large enough; when it is small it is
reported but does not block the verdict.

**Given segments (audit mode).** When the segments were given as labels (a CRM/CDP export, see
:func:`workbench.segment.audit_run`), the same audit runs on them; the policy names label segments,
e.g. ``premium_offer: {match: " premium$"}`` (a regular expression searched in the names), segments
below ``segmentation.min_segment_size`` are marked insufficient evidence in the composition, and
there is no fitted segmentation to refit in mitigation (a).

Every published table of counts goes through :mod:`workbench.privacy` small-cell suppression.

Layout
------
Algorithms (DataFrames in, results out): ``_groups`` (group labels), ``_bootstrap`` (the count
bootstrap), ``_rates`` (rates by group, p-values), ``_policy``, ``_composition``, ``_selection``,
``_verdicts`` (the verdict rule and its sentences), ``_proxies``, ``_models`` (the classifier they
share), ``_mitigation``, ``_headline``. ``stage`` is the only module that reads or writes the run
directory (:func:`fairness_run`, :class:`FairnessAudit`); ``views`` and ``plots`` show an audit.
"""

from ._composition import composition
from ._defaults import DEFAULTS
from ._groups import UNKNOWN, group_labels, sensitive_groups
from ._mitigation import mitigate_correlation_remover, mitigate_threshold_optimizer
from ._policy import resolve_policy
from ._proxies import cramers_v, proxy_scan
from ._intervals import difference_interval, ratio_interval, wilson_interval
from ._rates import adjust_pvalues, compare_counts, outcome_rates_by_group, rate_by_group
from ._selection import dp_summary, selection_audit
from ._verdicts import decision_family, verdicts
from .plots import plot_proxies, plot_representation, plot_selection_rates
from .stage import FairnessAudit, fairness_run
from .views import (
    consent_view,
    dp_view,
    given_markdown,
    methodology_markdown,
    mitigation_view,
    outcome_view,
    proxy_joint_view,
    proxy_view,
    selection_view,
    verdict_markdown,
    verdict_text,
)

__all__ = [
    "DEFAULTS",
    "UNKNOWN",
    "FairnessAudit",
    "adjust_pvalues",
    "compare_counts",
    "composition",
    "consent_view",
    "cramers_v",
    "decision_family",
    "difference_interval",
    "dp_summary",
    "dp_view",
    "fairness_run",
    "given_markdown",
    "methodology_markdown",
    "group_labels",
    "mitigate_correlation_remover",
    "mitigate_threshold_optimizer",
    "mitigation_view",
    "outcome_view",
    "outcome_rates_by_group",
    "plot_proxies",
    "plot_representation",
    "plot_selection_rates",
    "proxy_scan",
    "proxy_joint_view",
    "proxy_view",
    "rate_by_group",
    "ratio_interval",
    "resolve_policy",
    "selection_audit",
    "selection_view",
    "sensitive_groups",
    "verdict_markdown",
    "verdict_text",
    "verdicts",
    "wilson_interval",
]
