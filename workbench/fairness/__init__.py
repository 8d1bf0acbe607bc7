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
   action and attribute, the selection rate per group is Fairlearn's ``MetricFrame`` value; each
   group is compared with the comparison group (the most favoured, see the rule below) by rate
   ratio and difference with score intervals computed from the counts; demographic-parity
   difference and ratio cover the same judged groups (:func:`dp_summary`). Each comparison has a
   test of "the ratio (and difference) lies inside the band" (:func:`band_pvalue`), corrected within
   its verdict's family (:func:`decision_family`). Composition shares keep the count bootstrap (``_bootstrap``: the
   (segment, group) counts drawn from a multinomial, exactly the row bootstrap at a cost independent
   of the number of customers). Where an outcome exists (telco churn), true- and false-positive
   rates by group give equal-opportunity and equalized-odds figures of the targeting rule.
4. **Proxies** (:func:`proxy_scan`): how well the segmentation inputs alone, and all customer-table
   features, predict each sensitive attribute, side by side, jointly (cross-validated AUC and balanced accuracy of
   a gradient-boosting classifier; high-cardinality categoricals such as postcode are target
   encoded inside the cross-validation) and one by one (mutual information, bias-corrected
   Cramer's V); how well the segment labels predict it; each feature's SHAP weight in the margin
   (own score minus runner-up) of each *targeted* segment (``explain/importance.parquet``).
5. **Mitigation** (:func:`mitigate_correlation_remover`, :func:`mitigate_threshold_optimizer`): the
   model's own clusterer refitted after Fairlearn's ``CorrelationRemover`` in the model's input space
   (after its transforms, one-hot columns included), both partitions judged in one space, and where an outcome exists
   a ``ThresholdOptimizer`` targeting rule; each with its disparity and its cost (segment quality,
   value reached) before and after: the price of fairness.

**Verdict rule** (:func:`verdicts`, stated in full in :mod:`workbench.fairness._verdicts` and in
notebook 04's methodology section). Each (action, attribute) is judged against its *comparison group*:
the most favoured group of at least ``min_group_size`` customers (highest rate of a favourable action,
lowest of an adverse one: ``favourable: false`` in the policy), unless the config names one or asks for
the largest. **Pass**
means equivalence shown: every judged group's confidence interval of its rate ratio lies inside
``thresholds.ratio`` (and of its difference inside +-``thresholds.difference`` when set); a pass needs
every comparison, so no multiplicity correction applies (intersection-union). **Fail** means a breach
shown: the p-value of "inside the band" (:func:`band_pvalue`, the score test against the band edge) is
significant after correction (Holm by default) over the *family* of comparisons that can decide that
verdict: every pair of the judged groups when the comparison group is the most favoured (it was chosen
by its rate), the judged groups against it when it was fixed beforehand (:func:`family_size`).
**Insufficient evidence** otherwise, with the reason and,
where computable, how many more customers would settle it. Groups below ``min_group_size`` are
named, not judged; ``"unknown"`` and any intersection with an unknown part never are the comparison
group and are ignored when small. Intervals are score-based (:func:`wilson_interval`,
:func:`ratio_interval` (Koopman), :func:`difference_interval` (Newcombe)); never [0, 0].

**Disclosure.** The selection table (group x selected / not selected), the composition (segment x
group) and the consent table (group x consent given) are each suppressed once with
:func:`workbench.privacy.suppress_counts` (``margins=True``) and registered with
:func:`workbench.privacy.publish_counts`; every rate, share, ratio, interval, sentence and plot is
derived from the suppressed table and masked where a cell it needs is hidden (``_masking``), and
recomputed from that table's counts as printed (perturbed by the cell-key method; :func:`restate_rates`,
``_restate``): a rate computed from exact counts would move, between two runs one erasure apart, by
exactly the erased customer (issue 24). Verdicts are decided on the exact counts.

**Consent by purpose.** A policy action may name the consent it needs (``consent:
marketing_opt_in``); only customers whose ``consent_<purpose>`` flag (or the column the consent
roles name) is true are selected, and the audit shows consent rates by group (:func:`consent_view`).

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
``_intervals`` (score intervals), ``_restate`` (figures recomputed from printed counts), ``_verdicts`` (the verdict rule and its sentences), ``_masking``
(figures masked by a suppressed count table), ``_proxies``, ``_models`` (the classifier they
share), ``_mitigation``, ``_headline``. ``stage`` is the only module that reads or writes the run
directory (:func:`fairness_run`, :class:`FairnessAudit`); ``views`` and ``plots`` show an audit.
"""

from ._composition import composition
from ._defaults import DEFAULTS
from ._groups import UNKNOWN, group_labels, sensitive_groups
from ._mitigation import mitigate_correlation_remover, mitigate_threshold_optimizer
from ._policy import resolve_policy
from ._proxies import cramers_v, proxy_scan
from ._intervals import band_pvalue, difference_interval, ratio_interval, wilson_interval
from ._rates import adjust_pvalues, compare_counts, family_size, outcome_rates_by_group, rate_by_group, reference_for
from ._restate import restate_rates, restate_share
from ._selection import dp_summary, selection_audit
from ._verdicts import decision_family, verdicts
from .plots import plot_proxies, plot_representation, plot_selection_rates
from .stage import FairnessAudit, fairness_run
from .views import (
    choices_check_sentence,
    choices_rates_view,
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
    "band_pvalue",
    "choices_check_sentence",
    "choices_rates_view",
    "compare_counts",
    "composition",
    "consent_view",
    "cramers_v",
    "decision_family",
    "difference_interval",
    "dp_summary",
    "dp_view",
    "fairness_run",
    "family_size",
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
    "reference_for",
    "resolve_policy",
    "restate_rates",
    "restate_share",
    "selection_audit",
    "selection_view",
    "sensitive_groups",
    "verdict_markdown",
    "verdict_text",
    "verdicts",
    "wilson_interval",
]
