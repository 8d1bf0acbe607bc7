"""Notebook 02's views: the stage result with its tables, figures and markdown, and the headline sentences."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import pandas as pd

from ..data import UNLABELLED
from ._labels import label_quality_table
from ._model import SegmentationModel
from ._choose_k import k_verdicts
from .plots import plot_k_selection, plot_profile_heatmap, plot_projection, plot_sizes


@dataclass
class SegmentationResult:
    """What :func:`segment_run` computed, for notebook 02 to show."""

    model: SegmentationModel
    plan: pd.DataFrame
    card: pd.DataFrame | None
    k: int
    reason: str
    profile: pd.DataFrame
    z: pd.DataFrame
    rfm_groups: pd.DataFrame | None
    n_customers: int  # every customer assigned; the per-customer tables stay in the run directory
    plot_sample: tuple  # (model-space rows, their segments) of a seeded sample: the projection's density
    centres: dict  # segment id -> mean position in model space over all its customers
    truth_ari: float | None = None
    info: dict = field(default_factory=dict)
    audit: dict | None = None  # audit mode (segments given as labels): see :func:`audit_run`

    @property
    def is_audit(self) -> bool:
        """True when the segments were given (external labels) rather than learned here."""
        return self.audit is not None

    def describe(self) -> str:
        """Markdown: where the segments come from (learned here, or given and audited)."""
        if not self.is_audit:
            return (f"**Learned segments.** {self.k} segments were learned here ({self.model.method}) from "
                    "behavioural and value features and the customer table's non-sensitive attributes; "
                    "rule-based RFM groups are shown beside them where the dataset has transactions.")
        a = self.audit
        c = a["label_counts"]
        text = (f"**Audit of given segments.** The {self.k} segments were assigned outside the workbench "
                f"(segment labels from {a['source']}); nothing was fitted to produce them. This notebook profiles "
                "and describes the given segments; a learned segmentation of the same customers is shown "
                "only for comparison.")
        text += (f" {c.get('customers_unlabelled', 0):,} customers had no label and are audited as the segment "
                 f"\u201c{a['unlabelled']}\u201d; {c.get('labels_for_unknown_customers', 0):,} labels named customers "
                 "who are not in the customer table and were dropped.")
        return text

    def label_table(self) -> pd.DataFrame | None:
        """Audit mode: the label file's counts (labelled, unlabelled, labels for unknown customers)."""
        if not self.is_audit:
            return None
        return label_quality_table(self.audit["label_counts"], self.audit["n_customers"])

    def comparison_table(self) -> pd.DataFrame | None:
        """Audit mode: customers per given segment (rows) and learned segment (columns), suppressed."""
        if not self.is_audit or not self.audit.get("comparison"):
            return None
        return self.audit["comparison"]["crosstab"]

    def comparison_text(self) -> str | None:
        """Audit mode: a paragraph on how far a learned segmentation agrees with the given one."""
        if not self.is_audit or not self.audit.get("comparison"):
            return None
        return self.audit["comparison"]["text"]

    def projection(self):
        """Customer density (a seeded sample, its size in the title) on the first two principal components and the
        segment centres (means over every customer); no individual is drawn."""
        hidden = self.profile.loc[self.profile["suppressed"].astype(bool), "segment"].tolist()
        Z, labels = self.plot_sample
        return plot_projection(Z, labels, self.model.segment_names_, sample=len(Z),
                               min_count=int(self.info.get("suppression_k", 10)), hidden=hidden,
                               centres=self.centres, n_customers=self.n_customers)

    def k_chart(self):
        """The k report card as a chart (``None`` when k was fixed in the config)."""
        return None if self.card is None else plot_k_selection(self.card, self.k)

    def heatmap(self):
        """Profile heatmap: segment means of the model inputs in population standard deviations."""
        suppressed = self.profile.loc[self.profile["suppressed"].astype(bool), "segment"].tolist()
        return plot_profile_heatmap(self.z, self.model.segment_names_, suppressed)

    def sizes(self):
        """Bar chart of segment shares; suppressed segments are shown as such."""
        return plot_sizes(self.profile)

    def inputs_table(self) -> pd.DataFrame:
        """Every candidate input: family, source, transform, used or why not."""
        return self.plan[["feature", "family", "source", "kind", "transform", "used", "reason"]]

    def card_table(self) -> pd.DataFrame | None:
        """The k report card with each k's verdict: why it was or was not recommended."""
        if self.card is None:
            return None
        stability = self.info.get("stability", {})
        judged = k_verdicts(self.card, **stability)
        shown = self.card.drop(columns=["jaccard", "refit_ari", "refit_min_jaccard"], errors="ignore").round(3)
        shown["verdict"] = judged["why"].to_numpy()
        shown.loc[shown["k"] == self.k, "verdict"] = "recommended: " + shown.loc[shown["k"] == self.k, "verdict"]
        return shown.set_index("k")

    def profile_table(self) -> pd.DataFrame:
        """The published profile: one row per segment plus the population, rounded, suppressed."""
        return self.profile.set_index("segment").round(3)

    def segment_table(self) -> pd.DataFrame:
        """Named segments: id, name, share, revenue share, churn rate where an outcome exists."""
        cols = [c for c in ("segment_name", "n", "share", "revenue_share", "churn_rate", "suppressed", "evidence",
                            "description") if c in self.profile]
        out = self.profile[cols].set_index(self.profile["segment"]).round(3)
        ids = list(self.profile["segment"])  # complementary cells follow the rows to their segment ids
        out.attrs["complementary"] = [(ids[i], c) for i, c in self.profile.attrs.get("complementary", []) if c in cols]
        return out


#: Why k = 1 when the gap test chose it, and what one segment means for the audit (headline and report).
NO_STRUCTURE = ("No stable segment structure: no number of segments separates the customers better than cuts of "
                "one structureless cloud (gap test), so every customer is in one segment.")
ONE_SEGMENT_MEANS = ("For the audit: no learned segment can treat a group differently, the segment-level findings "
                     "(explanations, movement between segments) have nothing to compare, and the fairness part still "
                     "runs on the policy's actions and on given labels where the dataset has them.")


def learned_headline(model: SegmentationModel, reason: str, names: dict[int, str], shares: pd.Series,
                     used_sensitive: list[str], truth_ari: float | None) -> list[str]:
    """The summary sentences of a learned segmentation: k and why, the named segments, the inputs."""
    if model.k == 1:
        why = NO_STRUCTURE if "gap test" in reason else f"One segment: {reason}"
        headline = [f"{why} {ONE_SEGMENT_MEANS}"]
    else:
        headline = [f"{model.k} segments ({model.method}): " + re.split(r"\.\s", reason)[0].rstrip(".") + "."]
    named = "; ".join(f"{names[j]} ({'suppressed' if pd.isna(shares.get(j)) else f'{shares[j]:.0%}'})" for j in range(model.k))
    headline.append(f"Segments: {named}.")
    headline.append(
        f"Inputs: {len(model.feature_names_in_)} features"
        + (f" (sensitive attributes used: {', '.join(used_sensitive)})" if used_sensitive else "; no sensitive attribute is an input") + "."
    )
    if truth_ari is not None:
        headline.append(f"Agreement with the planted segments: adjusted Rand index {truth_ari:.3f}.")
    return headline


def audit_headline(k: int, source: str, counts: dict, small: list[int], min_size: int, names: dict[int, str],
                   comparison: dict | None, truth_ari: float | None) -> list[str]:
    """The summary sentences of an audit of given segments: labels, label problems, small segments, comparison."""
    n_unl = int(counts.get("customers_unlabelled", 0))
    n_unknown = int(counts.get("labels_for_unknown_customers", 0))
    headline = [f"Audit of {k} given segments (external labels from {source}); nothing was fitted."]
    headline.append(
        f"Label problems: {n_unl:,} customers without a label (audited as \u201c{UNLABELLED}\u201d); "
        f"{n_unknown:,} labels for customers not in the customer table (dropped)."
    )
    if small:
        headline.append(
            f"{len(small)} given segment(s) have fewer than {min_size} customers: insufficient evidence "
            f"({'; '.join(names[j] for j in small)})."
        )
    if comparison is not None:
        headline.append(
            f"A learned {comparison['method']} segmentation of the same customers ({comparison['k']} segments) "
            f"agrees with the given one at adjusted Rand index {comparison['ari']:.2f}."
        )
    if truth_ari is not None:
        headline.append(f"Agreement of the given labels with the planted segments: adjusted Rand index {truth_ari:.3f}.")
    return headline


def planted_agreement(planted: pd.Series, labels, exclude: int | None = None) -> float | None:
    """Synthetic dataset only: adjusted Rand index of segments against the planted ones, for the report.

    Learned segments (``exclude`` None) are compared only when every customer has a planted segment;
    given segments over the customers with one, leaving out segment ``exclude`` (e.g. "unlabelled"),
    when more than one customer remains. ``None`` when no comparison is made.
    """
    from sklearn.metrics import adjusted_rand_score

    if exclude is None:
        return float(adjusted_rand_score(planted, labels)) if planted.notna().all() else None
    keep = planted.notna().to_numpy() & (labels != exclude)
    return float(adjusted_rand_score(planted[keep], labels[keep])) if keep.sum() > 1 else None


def _structure(settings: dict) -> dict:
    """The ``segmentation.structure`` settings over their defaults."""
    from ._defaults import DEFAULTS

    return {**DEFAULTS["structure"], **(settings.get("structure") or {})}


def methodology_markdown(result: SegmentationResult, settings: dict) -> str:
    """Notebook 02's methodology with this run's settings: samples, the k rule, suppression of sizes.

    Parameters
    ----------
    result : SegmentationResult
        What :func:`~workbench.segment.segment_run` returned.
    settings : dict
        The ``segmentation`` config section over its defaults (``run.settings("segmentation", DEFAULTS)``).

    Returns
    -------
    str
        Markdown a reviewer can check by hand against the k report card and the segment table.
    """
    n = result.n_customers
    k_sup = int(result.info.get("suppression_k", 10))
    sizes = (f"**Segment sizes.** Counts of customers per segment over all {n:,} customers; shares are published "
             f"counts over the published total. A segment with fewer than {k_sup} customers is suppressed "
             f"(`privacy.suppression_k`), and so are the cells that would give it away from the total.")
    if result.is_audit:
        min_size = int(settings.get("min_segment_size") or k_sup)
        return (f"**Segments given, not fitted.** The {result.k} segments are labels assigned outside the "
                f"workbench; no k was chosen. A given segment with fewer than {min_size} customers "
                "(`segmentation.min_segment_size`) is marked insufficient evidence: too small to profile or judge.\n\n"
                f"{sizes}\n\n**Comparison with a learned segmentation.** Adjusted Rand index and adjusted mutual "
                "information between the given and the learned labels over the labelled customers (1 = identical, "
                "0 = as by chance).")
    st = {"ari": 0.8, "jaccard": 0.85, "reproduce": 0.8, "clear": 0.9, **(settings.get("stability") or {})}
    lo, hi = settings.get("k_range", [2, 8])
    fixed = result.card is None
    choice = (f"**Choice of k.** k = {result.k} was fixed in the config (`segmentation.k`); no report card was computed."
              if fixed else
              f"""**Choice of k.** Every k from {lo} to {hi} is fitted ({settings['method']}, {settings['n_init']} restarts)
on a seeded sample of at most {int(settings['selection_sample']):,} customers, then refitted on
{int(settings['n_bootstrap'])} bootstrap resamples of that sample; each refit labels the whole sample and is compared with
the reference fit. A segment *reproduces* in a refit when the Jaccard similarity of its members with the
matched refit segment is at least {st['jaccard']:g} (Hennig 2007). A k is **eligible** when its smallest segment
holds at least {float(settings['min_segment_share']):.0%} of customers; **stable** when, in addition, the median
adjusted Rand index of refits against the reference is at least {st['ari']:g} and every segment reproduces in at
least {st['reproduce']:.0%} of refits; **clearly stable** at {st['clear']:.0%} of refits. The recommendation is the
largest stable k; when it is only marginally stable and k − 1 is clearly stable, the higher silhouette of the two
wins. With {int(settings['n_bootstrap'])} refits, "{st['reproduce']:.0%} of refits" means at least
{math.ceil(st['reproduce'] * int(settings['n_bootstrap']))} of them. Silhouette is computed on a seeded sample of
{int(settings['silhouette_sample']):,} customers; Calinski–Harabasz and Davies–Bouldin on the selection sample.
No interval is given for these indices: stability is judged by the refit shares above.

**Are there segments at all?** Stability cannot say: k-means cuts one elongated cloud, or a uniform one, into
slabs that reproduce in every refit. So k = 1 is a candidate, decided first by the gap statistic (Tibshirani,
Walther & Hastie 2001) on a seeded sample of at most {int(_structure(settings)['sample']):,} customers: the fall of
the log within-segment sum of squares from k = 1 to each k is compared with its fall in
{int(_structure(settings)['n_reference'])} reference data sets drawn uniformly over the box of the data's principal
components (data without segments, shaped like the data). The statistic is the largest excess fall over k; its
Monte Carlo p-value counts the reference data sets, each treated as the data, whose excess is as large. When
p > {float(_structure(settings)['alpha']):g} (`segmentation.structure.alpha`) no k beats one segment: the report
says "no stable segment structure" and the stability rule is not applied.""")
    return f"""{choice}

**The model.** The final model is fitted on a seeded sample of at most {int(settings['fit_sample']):,} customers
(inputs winsorised at the {float(settings['winsorize']):.0%} / {1 - float(settings['winsorize']):.0%} quantiles,
{settings['scaler']} scaling) and assigns all {n:,} customers. Segment ids are ordered by mean value
(0 = lowest).

{sizes}
"""
