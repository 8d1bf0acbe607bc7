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
