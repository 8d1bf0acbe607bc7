"""Segments: rule segments (RFM), learned segments, choosing k with stability, profiles and names.

User guide
----------
:class:`SegmentationModel` is a scikit-learn estimator that holds the whole path from raw customer
features (original units, as :func:`workbench.features.build_features` returns them) to a stable
segment id: per-feature transforms (``log`` for counts and money, one-hot for categories), imputation,
winsorising at the 1st/99th percentile, scaling, and the clusterer (``kmeans``, the default;
``gmm``, a Gaussian mixture; ``ward``, agglomerative clustering on a sample with every other customer
assigned to the nearest Ward centroid). It is fitted on a random sample (``fit_sample``) and predicts
everyone; saved with joblib in the run directory, it assigns new customers (``workbench assign``,
:func:`assign_new`).

Segment ids are stable: after fitting, segments are numbered by their mean value (id 0 = lowest
value, e.g. net spend), and :meth:`SegmentationModel.align_to` renumbers a refit to match an earlier
model's segments by centroid (Hungarian matching), so segment 3 stays the same segment across runs.

:func:`choose_k` computes a report card for a range of k: silhouette (on a sample, so it works at
millions of customers), Calinski-Harabasz, Davies-Bouldin and bootstrap stability (ARI between the
reference fit and refits on bootstrap resamples, and each segment's Jaccard similarity with its
matched refit segment, with its standard error over refits). :func:`recommend_k` picks the largest k
whose segments all clearly reproduce (every segment's mean Jaccard >= 0.85 with one-sided 95%
confidence, mean ARI >= 0.8, after Hennig 2007) and whose smallest segment holds at least 2% of
customers; a larger, only marginally stable k competes with it on silhouette. :func:`k_verdicts`
judges every k so the report card can say why each was or was not chosen. Before any of that, k = 1
is a candidate: :func:`structure_test` (the gap statistic against a uniform reference over the data's
principal-component box, with a Monte Carlo p-value) asks whether any k beats one segment; when none
does, :func:`recommend_k` returns k = 1 and the report says "no stable segment structure" (k-means
slabs of one cloud reproduce under resampling, so stability alone cannot say).

:func:`profile_segments` gives size, share, medians vs the population, z-scores, revenue share and
churn rate (where an outcome exists), small-cell suppressed for publication; :func:`name_segments`
derives short descriptive names ("Frequent, high spenders, app users") from the inputs that most
distinguish each segment. Rule segments: :func:`workbench.features.rfm_scores`.

:func:`segment_run` is the stage entry point of notebook 02. It holds no customer in model space beyond a
slice at a time (:func:`segment_moments` gives every customer's segment and the z table slice by slice) and
hands the notebook aggregates and a seeded plot sample (:func:`projection_sample`), not per-customer tables.

**Audit mode.** When the dataset brings its own segment labels (a CRM/CDP export: a ``labels:`` file or
a ``segment:`` column, see :func:`workbench.data.attach_labels`), :func:`segment_run` hands over to
:func:`audit_run`, which fits nothing: the labels become stable integer ids ordered by value
(:func:`given_segment_ids`; customers without a label form the segment "unlabelled", kept out of the
value order), and the given segments are profiled, described and small-cell suppressed like learned
ones, with segments below ``min_segment_size`` marked insufficient evidence. The label file's problems
(unlabelled customers, labels for unknown customers) are tabled by :func:`label_quality_table`, and
:func:`compare_with_learned` shows, for comparison only, how far a learned segmentation of the same
customers agrees with the given one (adjusted Rand index, crosstab). No ``segments/model.joblib`` is
written: later stages explain and audit the labels themselves.

Modules
-------
Algorithms (no run directory, no plots): ``_transforms`` (preprocessing pipelines), ``_clusterers``,
``_model`` (:class:`SegmentationModel`), ``_choose_k`` (report card, :func:`recommend_k`,
:func:`fit_with_k`), ``_naming``, ``_profiles``, ``_inputs``, ``_labels`` (audit mode). ``stage``
reads and writes the run directory (:func:`segment_run`, :func:`audit_run`, :func:`assign_new`);
``plots`` and ``views`` (:class:`SegmentationResult`) serve notebook 02.
"""

from ..data import UNLABELLED
from ._choose_k import choose_k, fit_with_k, k_verdicts, recommend_k
from ._clusterers import METHODS
from ._defaults import DEFAULTS
from ._labels import compare_with_learned, given_segment_ids, label_quality_table
from ._model import SegmentationModel
from ._naming import NAME_PRIORITY, PHRASES, name_segments, phrase_for
from ._profiles import (
    describe_inputs,
    profile_segments,
    projection_sample,
    rfm_group_counts,
    rfm_group_table,
    segment_count_table,
    segment_moments,
    segment_z,
)
from ._structure import StructureTest, structure_test
from ._transforms import Winsorizer, log1p_nonneg
from .plots import plot_k_selection, plot_profile_heatmap, plot_projection, plot_sizes
from .stage import assign_new, audit_run, segment_run
from .views import SegmentationResult, methodology_markdown

__all__ = [
    "DEFAULTS",
    "METHODS",
    "NAME_PRIORITY",
    "PHRASES",
    "SegmentationModel",
    "SegmentationResult",
    "methodology_markdown",
    "UNLABELLED",
    "Winsorizer",
    "assign_new",
    "audit_run",
    "choose_k",
    "compare_with_learned",
    "describe_inputs",
    "fit_with_k",
    "given_segment_ids",
    "label_quality_table",
    "log1p_nonneg",
    "name_segments",
    "phrase_for",
    "plot_k_selection",
    "plot_profile_heatmap",
    "plot_projection",
    "plot_sizes",
    "profile_segments",
    "projection_sample",
    "rfm_group_counts",
    "segment_count_table",
    "k_verdicts",
    "recommend_k",
    "structure_test",
    "StructureTest",
    "rfm_group_table",
    "segment_moments",
    "segment_run",
    "segment_z",
]
