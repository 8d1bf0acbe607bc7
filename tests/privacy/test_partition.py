"""The release's segmentation: fitted on a disjoint sample, independent of released customers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench import privacy


def _features(n=600, seed=0):
    rng = np.random.default_rng(seed)
    centre = rng.integers(0, 3, n)
    return pd.DataFrame({"a": centre * 10 + rng.normal(size=n), "b": centre * -5 + rng.normal(size=n),
                         "c": np.where(centre == 0, "x", "y")})


def test_the_fit_sample_is_left_out_and_the_partition_ignores_released_customers():
    feats = _features()
    released, segment = privacy.disjoint_partition(feats, ["a", "b", "c"], 3, seed=4, fit_share=0.3)
    assert released.sum() == 600 - 180 and (segment[~released] == -1).all()
    assert set(segment[released]) == {0, 1, 2}
    changed = feats.copy()
    first = np.flatnonzero(released)[0]
    changed.loc[first, ["a", "b"]] = [1e6, -1e6]  # one released customer changes wildly
    again_released, again = privacy.disjoint_partition(changed, ["a", "b", "c"], 3, seed=4, fit_share=0.3)
    assert (again_released == released).all()
    others = released.copy()
    others[first] = False
    assert (again[others] == segment[others]).all()  # nobody else moves


def test_the_split_is_seeded():
    feats = _features()
    a = privacy.disjoint_partition(feats, ["a", "b"], 3, seed=1)
    b = privacy.disjoint_partition(feats, ["a", "b"], 3, seed=1)
    c = privacy.disjoint_partition(feats, ["a", "b"], 3, seed=2)
    assert (a[0] == b[0]).all() and (a[1] == b[1]).all() and not (a[0] == c[0]).all()
