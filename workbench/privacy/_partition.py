"""A segmentation the private release may describe: fitted on a disjoint sample it never releases.

Counts per segment have sensitivity 1 only if the partition does not depend on the customers
counted: a segmentation fitted on everyone moves when one customer is removed (centroids shift,
other customers change segment). So the release refits the same number of segments on a share of
the customers (the *fit sample*), assigns the remaining customers to those fixed centroids, and
releases statistics of the remaining customers only.

Who is in the fit sample is decided by each customer's own keyed hash (:func:`fit_sample`), never by
row position: drawing positions (``rng.choice(n)``) moves hundreds of other customers between the
fit sample and the release when one row is removed, so the released set, and with it the
partition, would again depend on individuals. With the hash, adding or removing a released customer
leaves the fit sample, the centroids and every other customer's segment exactly as they were.
Customers in the fit sample are not protected by the release's guarantee: their data set the
centroids (they are never released themselves).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from ..data import InputError


def fit_sample(ids: pd.Series | np.ndarray, seed: int, fit_share: float) -> np.ndarray:
    """Whether each customer is in the release's fit sample, from a keyed hash of their pseudonym.

    ``blake2b(pseudonym, key=seed)`` read as a number in [0, 1) is below ``fit_share``: a decision
    that depends on the customer alone, so it is the same whoever else is in the data. Pseudonyms are
    already keyed (HMAC under the run's key); hashing them again under the seed gives a fresh, uniform
    split per seed. The sample's size is binomial around ``fit_share`` of the customers.

    Parameters
    ----------
    ids : array of str
        Customer pseudonyms.
    seed : int
        The run's seed (the hash key).
    fit_share : float
        Expected share of customers in the fit sample, between 0 and 1.

    Returns
    -------
    ndarray of bool
    """
    if not 0 < fit_share < 1:
        raise ValueError(f"fit_share must be between 0 and 1, got {fit_share}")
    key = str(int(seed)).encode()
    cut = int(fit_share * 2**64)
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(str(i).encode(), digest_size=8, key=key).digest(), "big") < cut
         for i in ids),
        dtype=bool, count=len(ids),
    )


def disjoint_partition(
    features: pd.DataFrame, inputs: list[str], k: int, seed: int, fit_share: float = 0.3, id_col: str = "customer_id"
) -> tuple[np.ndarray, np.ndarray]:
    """Fit k-means on the fit sample (:func:`fit_sample`); assign the other rows to its centroids.

    Numeric inputs are standardised and categorical inputs one-hot encoded, missing values
    imputed (median, most frequent), all learned on the fit sample alone, in the table's row order.

    Parameters
    ----------
    features : DataFrame
        One row per customer: ``id_col`` (pseudonyms) and the segmentation inputs in original units.
    inputs : list of str
        The columns to segment on (those of ``features`` that exist are used).
    k : int
        Number of segments.
    seed : int
        Keys the fit-sample hash and seeds k-means.
    fit_share : float, default 0.3
        Expected share of customers used to fit (and left out of the release).
    id_col : str, default "customer_id"

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

    cols = [c for c in inputs if c in features.columns and c != id_col]
    if not cols:
        raise ValueError("none of the segmentation inputs is in the features table")
    fit = fit_sample(features[id_col], seed, fit_share)
    if fit.sum() < k or fit.all():
        raise InputError(
            f"Differentially private release not made: the fit sample (privacy.dp.fit_share {fit_share:g}) holds "
            f"{int(fit.sum())} of {len(fit)} customers, and fitting {k} segments needs at least {k} of them, with "
            "at least one customer left to release. Raise privacy.dp.fit_share, or release a larger dataset.")
    frame = features[cols]
    numeric = [c for c in cols if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
    other = [c for c in cols if c not in numeric]
    prep = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
         other),
    ])
    model = make_pipeline(prep, KMeans(n_clusters=k, n_init=10, random_state=seed))
    model.fit(frame.loc[fit].astype({c: str for c in other}))
    segment = np.full(len(frame), -1, dtype=int)
    segment[~fit] = model.predict(frame.loc[~fit].astype({c: str for c in other}))
    return ~fit, segment
