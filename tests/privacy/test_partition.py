"""The release's segmentation: fitted on a fit sample chosen per customer, independent of released customers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import privacy
from workbench.data import InputError


def _features(n=600, seed=0, prefix="p"):
    rng = np.random.default_rng(seed)
    centre = rng.integers(0, 3, n)
    return pd.DataFrame({"customer_id": [f"{prefix}{i:016x}" for i in rng.permutation(10 * n)[:n]],
                         "a": centre * 10 + rng.normal(size=n), "b": centre * -5 + rng.normal(size=n),
                         "c": np.where(centre == 0, "x", "y")})


def _partition(feats, seed=4):
    released, segment = privacy.disjoint_partition(feats, ["a", "b", "c"], 3, seed=seed, fit_share=0.3)
    return pd.Series(np.where(released, segment, -1), index=feats["customer_id"])


def test_removing_one_customer_changes_the_released_partition_for_no_other_customer():
    """The review's attack (issue 24, 5b): with the fit sample drawn by row position, removing one
    customer moved hundreds of others. Drawn by keyed hash, it moves nobody."""
    feats = _features()
    before = _partition(feats)
    released_ids = before.index[before >= 0]
    assert 0.2 < (before < 0).mean() < 0.4 and set(before[before >= 0]) == {0, 1, 2}
    for position in [0, 1, 57, 300, len(feats) - 1]:  # released and fit-sample customers, anywhere in the table
        gone = feats["customer_id"].iloc[position]
        after = _partition(feats.drop(index=feats.index[position]))
        others = before.drop(gone)
        assert ((others < 0) == (after < 0)).all(), "the fit sample changed for another customer"
        if gone in released_ids:  # a released customer: nobody else's segment moves
            assert (after.reindex(others.index) == others).all()
    # adding released customers (new sign-ups, anywhere in the table) moves nobody; added fit-sample
    # customers change the centroids (they are the customers the guarantee does not cover)
    newcomers = _features(200, seed=9, prefix="q")
    newcomers = newcomers.loc[~privacy.fit_sample(newcomers["customer_id"], 4, 0.3)]
    grown = pd.concat([newcomers.iloc[:50], feats, newcomers.iloc[50:]], ignore_index=True)
    assert (_partition(grown).reindex(before.index) == before).all()


def test_a_customer_changing_wildly_moves_nobody_else():
    feats = _features()
    before = _partition(feats)
    first = int(np.flatnonzero(before.to_numpy() >= 0)[0])
    changed = feats.copy()
    changed.loc[first, ["a", "b"]] = [1e6, -1e6]
    after = _partition(changed)
    assert (after.drop(feats["customer_id"][first]) == before.drop(feats["customer_id"][first])).all()


def test_the_fit_sample_is_keyed_by_the_seed_and_the_customer_alone():
    ids = pd.Series([f"p{i:016x}" for i in range(5000)])
    a = privacy.fit_sample(ids, 1, 0.3)
    assert (a == privacy.fit_sample(ids, 1, 0.3)).all() and not (a == privacy.fit_sample(ids, 2, 0.3)).all()
    assert (a[::-1] == privacy.fit_sample(ids[::-1], 1, 0.3)).all()  # order does not matter
    assert (a[:100] == privacy.fit_sample(ids[:100], 1, 0.3)).all()  # nor who else is there
    assert abs(a.mean() - 0.3) < 0.03


def test_too_few_customers_for_the_fit_sample_is_said_in_words():
    with pytest.raises(InputError, match="privacy.dp.fit_share"):
        privacy.disjoint_partition(_features(8), ["a", "b"], 3, seed=4, fit_share=0.05)
