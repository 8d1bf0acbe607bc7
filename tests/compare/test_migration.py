import numpy as np
import pandas as pd

from workbench.compare import ONLY_A, ONLY_B, migration_counts, moved_share, publish_migration


def _assign(pairs):
    ids, segs = zip(*pairs)
    names = {0: "Alpha", 1: "Beta", 2: "Gamma"}
    return pd.DataFrame({"customer_id": ids, "segment": segs, "segment_name": [names[s] for s in segs]})


def _world(n_move=3):
    a = _assign([(f"p{i:04d}", i % 2) for i in range(400)])
    b = a.copy()
    movers = a.index[a["segment"] == 0][10:10 + n_move]  # a few Alpha customers become Beta
    b.loc[movers, ["segment", "segment_name"]] = [1, "Beta"]
    b = pd.concat([b.iloc[5:], _assign([(f"q{i:04d}", 2) for i in range(30)])], ignore_index=True)
    return a, b


def test_counts_join_by_pseudonym_and_margins_are_segment_sizes():
    a, b = _world()
    counts = migration_counts(a, b)
    assert list(counts.index) == ["Alpha", "Beta", ONLY_B]
    assert list(counts.columns) == ["Alpha", "Beta", "Gamma", ONLY_A]
    sizes_a, sizes_b = a["segment_name"].value_counts(), b["segment_name"].value_counts()
    assert counts.sum(axis=1).loc[["Alpha", "Beta"]].tolist() == sizes_a.loc[["Alpha", "Beta"]].tolist()
    assert counts.sum(axis=0).loc[["Alpha", "Beta", "Gamma"]].tolist() == sizes_b.loc[["Alpha", "Beta", "Gamma"]].tolist()
    assert counts.loc[ONLY_B, "Gamma"] == 30 and counts[ONLY_A].sum() == 5
    assert counts.loc[ONLY_B, ONLY_A] == 0


def test_small_migration_cell_is_hidden_and_movement_not_derivable():
    a, b = _world(n_move=3)
    counts = migration_counts(a, b)
    assert counts.loc["Alpha", "Beta"] == 3
    published = publish_migration(counts, k=10)
    assert np.isnan(published.loc["Alpha", "Beta"])
    # every published cell is 0 or at least k
    shown = published.to_numpy()[~np.isnan(published.to_numpy())]
    assert ((shown == 0) | (shown >= 10)).all()
    moved = moved_share(published, {"Alpha": "Alpha", "Beta": "Beta"})
    # the "stayed" cells needed to count movers include a complement of the hidden cell
    assert moved["moved"] is None or moved["moved"] >= 10


def test_no_movement_gives_zero_off_the_diagonal():
    a = _assign([(f"p{i:04d}", i % 3) for i in range(300)])
    published = publish_migration(migration_counts(a, a), k=10)
    m = moved_share(published, {"Alpha": "Alpha", "Beta": "Beta", "Gamma": "Gamma"})
    assert m == {"in_both": 300, "moved": 0, "share_moved": 0.0, "only_earlier": 0, "only_later": 0}
    inner = published.loc[["Alpha", "Beta", "Gamma"], ["Alpha", "Beta", "Gamma"]].to_numpy()
    assert (inner == np.diag(np.diag(inner))).all() and (np.diag(inner) == 100).all()
