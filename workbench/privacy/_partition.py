"""A segmentation the private release may describe: fitted on a disjoint sample it never releases.

Counts per segment have sensitivity 1 only if the partition does not depend on the customers
counted: a segmentation fitted on everyone moves when one customer is removed (centroids shift,
other customers change segment). So the release refits the same number of segments on a seeded
share of the customers (the *fit sample*), assigns the remaining customers to those fixed
centroids, and releases statistics of the remaining customers only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def disjoint_partition(
    features: pd.DataFrame, inputs: list[str], k: int, seed: int, fit_share: float = 0.3
) -> tuple[np.ndarray, np.ndarray]:
    """Fit k-means on a seeded ``fit_share`` of the rows; assign the other rows to its centroids.

    Numeric inputs are standardised and categorical inputs one-hot encoded, missing values
    imputed (median, most frequent), all learned on the fit sample alone.

    Parameters
    ----------
    features : DataFrame
        One row per customer, the segmentation inputs in original units.
    inputs : list of str
        The columns to segment on (those of ``features`` that exist are used).
    k : int
        Number of segments.
    seed : int
        Seeds the split and k-means.
    fit_share : float, default 0.3
        Share of customers used to fit (and left out of the release).

    Returns
    -------
    tuple of ndarray
        ``released`` (bool per row: not in the fit sample) and ``segment`` (int per row; the
        segment of each released row, -1 for the fit sample).
    """
    from sklearn.cluster import KMeans
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if not 0 < fit_share < 1:
        raise ValueError(f"fit_share must be between 0 and 1, got {fit_share}")
    cols = [c for c in inputs if c in features.columns]
    if not cols:
        raise ValueError("none of the segmentation inputs is in the features table")
    frame = features[cols]
    numeric = [c for c in cols if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
    other = [c for c in cols if c not in numeric]
    prep = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
         other),
    ])
    rng = np.random.default_rng(seed)
    n = len(frame)
    n_fit = max(int(round(fit_share * n)), k)
    fit = np.zeros(n, dtype=bool)
    fit[rng.choice(n, size=min(n_fit, n - 1), replace=False)] = True
    model = make_pipeline(prep, KMeans(n_clusters=k, n_init=10, random_state=seed))
    model.fit(frame.loc[fit].astype({c: str for c in other}))
    segment = np.full(n, -1, dtype=int)
    segment[~fit] = model.predict(frame.loc[~fit].astype({c: str for c in other}))
    return ~fit, segment
