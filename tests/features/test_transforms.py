"""How a feature enters a model: numeric or not, and its suggested transform."""

import pandas as pd

from workbench import features as feat


def test_suggested_transforms():
    assert feat.suggest_transform("monetary", pd.Series([1.0, 2.0]), None) == "log"  # transaction feature
    assert feat.suggest_transform("category_books", pd.Series([0.1, 0.9]), None) == "none"  # a share
    assert feat.suggest_transform("region", pd.Series(["a", "b"]), "geographic") == "onehot"
    assert feat.suggest_transform("flag", pd.Series([True, False]), None) == "onehot"  # booleans are categories
    assert feat.suggest_transform("opens", pd.Series([0, 1, 5, 9]), "engagement") == "log"
    assert feat.suggest_transform("score", pd.Series([-1.0, 0.0, 2.0, 3.0]), "engagement") == "none"  # negative
    assert feat.suggest_transform("binary", pd.Series([0, 1, 1, 0]), "value") == "none"  # two levels
    skewed = pd.Series([1.0] * 50 + list(range(2, 14)) + [500.0])
    assert feat.suggest_transform("visits", skewed, None) == "log"
    assert not feat.is_numeric(pd.Series([True, False])) and feat.is_numeric(pd.Series([1, 2]))
