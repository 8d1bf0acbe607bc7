"""The classifier and encoder the proxy scan and the outcome model share, and how they see columns."""

from __future__ import annotations

import pandas as pd


def _is_categorical(col: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)


def _target_encoder(seed: int, target_type: str = "auto"):
    """Target encoding for high-cardinality categoricals (postcode), cross-fitted with a seeded split."""
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import TargetEncoder

    return TargetEncoder(target_type=target_type, cv=StratifiedKFold(5, shuffle=True, random_state=seed))


def _one_thread():
    """Gradient boosting on small samples: one OpenMP thread. On a busy machine, OpenMP threads
    waiting for each other made a 0.3 s fit take 10 s."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


def _booster(seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=40, learning_rate=0.2, max_leaf_nodes=15, early_stopping=False, random_state=seed
    )


def _model_frame(X: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """A copy of ``X`` as the classifiers take it, and its categorical columns: categories as strings
    (missing as ``"__nan__"``), everything else as floats."""
    cats = [c for c in X.columns if _is_categorical(X[c])]
    X = X.copy()
    for c in cats:
        X[c] = X[c].astype(object).where(X[c].notna(), "__nan__").astype(str)
    for c in X.columns:
        if c not in cats:
            X[c] = X[c].astype(float)
    return X, cats
