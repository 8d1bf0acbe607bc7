"""Group labels: bands, display labels, missing values as "unknown"."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench import fairness


def test_group_labels_bands_and_labels():
    age = pd.Series([17, 18, 29, 30, 61, np.nan, 119])
    g = fairness.group_labels(age, [18, 30, 45, 60, 120])
    assert list(g.astype(str)) == ["unknown", "18–29", "18–29", "30–44", "60+", "unknown", "60+"]
    f = fairness.group_labels(pd.Series([0, 1, 1]), labels={0: "men", 1: "women"})
    assert list(f.astype(str)) == ["men", "women", "women"]


def test_numbers_held_as_a_categorical_are_banded_like_numbers():
    """A Categorical of ages (a Parquet dictionary column) is not one group per distinct age."""
    ages = pd.Series(np.random.default_rng(0).integers(18, 90, 500)).astype(float)
    ages[:5] = np.nan
    categorical = pd.Series(pd.Categorical(ages))
    for bands in ([18, 30, 45, 60, 120], None):  # configured bands, and the automatic quintiles
        plain = fairness.group_labels(ages, bands)
        assert fairness.group_labels(categorical, bands).astype(str).tolist() == plain.astype(str).tolist()
        assert len(plain.cat.categories) <= 6
    flags = pd.Series(pd.Categorical([0, 1, 1, 0]))
    assert fairness.group_labels(flags, labels={0: "no", 1: "yes"}).tolist() == ["no", "yes", "yes", "no"]
