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


def test_a_removed_customer_is_not_in_the_later_run_and_a_new_one_not_in_the_earlier():
    """One known customer dropped from the later run, one added: each lands in the margin that says so."""
    a = _assign([(f"p{i:04d}", i % 2) for i in range(40)])
    removed = a.loc[a["customer_id"] == "p0007"]  # segment 1, Beta
    b = pd.concat([a.drop(index=removed.index), _assign([("new0001", 0)])], ignore_index=True)
    counts = migration_counts(a, b)
    assert counts.loc["Beta", "not in the later run"] == 1 and counts["not in the later run"].sum() == 1
    assert counts.loc["not in the earlier run", "Alpha"] == 1 and counts.loc["not in the earlier run"].sum() == 1
    published = publish_migration(counts, k=1)
    shares = moved_share(published, {"Alpha": "Alpha", "Beta": "Beta"})
    assert shares["only_earlier"] == 1 and shares["only_later"] == 1 and shares["in_both"] == 39


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


def _sizes_table(hidden):
    """The earlier run's registered segment-size table (segment ids x outcome) with ``hidden`` totals."""
    from workbench.privacy._joint import _long_form

    table = pd.DataFrame({"no": [150.0, 150.0, 5.0], "yes": [50.0, 45.0, 0.0]}, index=["0", "1", "2"])
    table["Total"] = table.sum(axis=1)
    table.loc["Total"] = table.sum(axis=0)
    for row in hidden:
        table.loc[row, ["no", "Total"]] = np.nan
    return _long_form("segment_sizes", table, "segment", "churn")


def test_margins_stay_hidden_where_the_run_hid_the_segment_size():
    """The earlier run hid Gamma's size (5) and, as its complement, Alpha's: the migration table's
    margins are those sizes, so it must hide Alpha's too, or 400 - Alpha - Beta gives Gamma away."""
    from workbench.compare._migration import run_tables
    from workbench.privacy import joint_disclosure

    a = _assign([(f"p{i:04d}", 0) for i in range(200)] + [(f"p{i:04d}", 1) for i in range(200, 395)]
                + [(f"p{i:04d}", 2) for i in range(395, 400)])
    counts = migration_counts(a, a)
    ids = {"Alpha": 0, "Beta": 1, "Gamma": 2}
    earlier = _sizes_table(hidden=["0", "2"])
    alone = publish_migration(counts, k=10)
    linked = publish_migration(counts, k=10, earlier=(earlier, ids), later=(earlier.iloc[:0], ids))
    assert alone.loc["Alpha", "Total"] == 200  # suppressed on its own, the table gives Alpha's size away
    assert np.isnan(linked.loc["Alpha", "Total"]) and np.isnan(linked.loc["Gamma", "Total"])
    shown = linked.to_numpy()[~np.isnan(linked.to_numpy())]
    assert ((shown == 0) | (shown >= 10)).all()

    by_id = linked.rename(index=lambda r: str(ids.get(r, r)), columns=lambda c: str(ids.get(c, c)))
    from workbench.privacy._joint import _long_form
    migration = _long_form("migration", by_id, "earlier segment", "later segment")
    attack = pd.concat([run_tables(earlier, "earlier"), migration], ignore_index=True)
    check = joint_disclosure(attack, k=10)
    assert check.recoverable == 0 and not check.conflicts
    leaky = _long_form("migration", alone.rename(index=lambda r: str(ids.get(r, r)),
                                                 columns=lambda c: str(ids.get(c, c))),
                       "earlier segment", "later segment")
    assert joint_disclosure(pd.concat([run_tables(earlier, "earlier"), leaky], ignore_index=True),
                            k=10).recoverable > 0
