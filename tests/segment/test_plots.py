"""Figures of notebook 02 draw no individual customer."""

import matplotlib

matplotlib.use("Agg")
import numpy as np
from matplotlib.collections import PathCollection, PolyCollection

from workbench.segment import plot_projection


def test_projection_is_a_density_with_segment_centres_and_blank_small_cells():
    rng = np.random.default_rng(0)
    Z = np.vstack([rng.normal(0, 1, (600, 4)), rng.normal(4, 1, (600, 4)), rng.normal(10, 0.1, (3, 4))])
    labels = np.r_[np.zeros(600, int), np.ones(600, int), np.full(3, 2)]
    fig = plot_projection(Z, labels, {0: "a", 1: "b", 2: "tiny"}, min_count=10, hidden=[2])
    ax = fig.axes[0]
    hexes = [c for c in ax.collections if isinstance(c, PolyCollection)]
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(hexes) == 1
    counts = hexes[0].get_array()
    assert counts.min() >= 10 and counts.sum() < len(Z)  # cells under 10 customers are not drawn
    # one marker per shown segment, none for the hidden one, no customer drawn as a point
    assert [len(p.get_offsets()) for p in points] == [1, 1]


def test_projection_of_a_sample_marks_every_customers_centres_and_says_the_sample_size():
    rng = np.random.default_rng(1)
    Z = np.vstack([rng.normal(0, 1, (300, 3)), rng.normal(5, 1, (300, 3))])
    labels = np.r_[np.zeros(300, int), np.ones(300, int)]
    centres = {0: np.zeros(3), 1: np.full(3, 5.0), 2: np.full(3, 9.0)}  # segment 2: not in the sample, still marked
    fig = plot_projection(Z, labels, {0: "a", 1: "b", 2: "c"}, centres=centres, n_customers=6_000)
    ax = fig.axes[0]
    assert [len(p.get_offsets()) for p in ax.collections if isinstance(p, PathCollection)] == [1, 1, 1]
    assert "sample of 600 of 6,000 customers" in ax.get_title()
    whole = plot_projection(Z, labels, {0: "a", 1: "b"}, n_customers=600)  # everyone drawn: no sample to state
    assert "sample" not in whole.axes[0].get_title()
