"""Small-cell suppression of tables of counts and of per-group rows, and the subtraction attack on them."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from workbench.privacy import disclosure_intervals, suppress_counts, suppress_rows


def _naive_subtraction(exact: pd.DataFrame, published: pd.DataFrame) -> dict:
    """The classic attack: a row or column with one hidden cell gives it away by subtraction."""
    recovered = {}
    pub = published.copy()
    changed = True
    while changed:  # repeat: a recovered cell can expose the next one
        changed = False
        for axis in (0, 1):
            totals = exact.sum(axis=1 - axis)  # published row (axis 0) / column (axis 1) totals
            lines = pub.index if axis == 0 else pub.columns
            for label in lines:
                line = pub.loc[label] if axis == 0 else pub[label]
                if line.isna().sum() == 1 and len(line) > 1:
                    hidden = line.index[line.isna()][0]
                    value = totals[label] - line.sum()
                    cell = (label, hidden) if axis == 0 else (hidden, label)
                    recovered[cell] = value
                    pub.loc[cell] = value
                    changed = True
    return recovered


TABLE = pd.DataFrame(
    [[3, 40, 25, 60], [50, 60, 70, 12], [20, 30, 80, 45], [14, 2, 33, 90]],
    index=pd.Index(["A", "B", "C", "D"], name="segment"),
    columns=pd.Index(["north", "south", "east", "west"], name="region"),
)


def test_primary_cells_are_suppressed_and_zeros_are_not():
    table = TABLE.copy()
    table.loc["B", "west"] = 0
    out = suppress_counts(table, k=10)
    assert out.shape == table.shape
    assert np.isnan(out.loc["A", "north"]) and np.isnan(out.loc["D", "south"])
    assert out.loc["B", "west"] == 0  # zero counts describe no one: shown
    shown = out.notna().to_numpy()
    assert (out.to_numpy()[shown] == table.to_numpy()[shown]).all()  # shown cells are exact
    assert not ((table.to_numpy() > 0) & (table.to_numpy() < 10) & shown).any()


def test_subtraction_attack_recovers_primary_suppression_only():
    """Control: with primary suppression alone the attack works, so the test below can fail."""
    naive = TABLE.where(~((TABLE > 0) & (TABLE < 10)))
    recovered = _naive_subtraction(TABLE, naive)
    assert recovered[("A", "north")] == 3


def test_subtraction_attack_fails_after_complementary_suppression():
    out = suppress_counts(TABLE, k=10)
    for row in out.index:
        assert out.loc[row].isna().sum() in (0, 2, 3, 4)
    for col in out.columns:
        assert out[col].isna().sum() in (0, 2, 3, 4)
    assert _naive_subtraction(TABLE, out) == {}
    # the full attack: every linear combination of totals plus non-negativity (linear programming)
    bounds = disclosure_intervals(TABLE, out)
    assert len(bounds) == int(out.isna().to_numpy().sum())
    assert not bounds["disclosed"].any()
    assert (bounds["low"] <= bounds["true"]).all() and (bounds["true"] <= bounds["high"]).all()
    # complementary cells are the smallest that work: no large count is sacrificed
    assert out.isna().to_numpy().sum() <= 6


def test_two_blocks_joined_by_one_cell_are_not_recoverable():
    """Each line has two suppressed cells, yet a bridge cell would be recoverable by combining totals."""
    rng = np.random.default_rng(3)
    for _ in range(60):
        shape = (int(rng.integers(2, 7)), int(rng.integers(2, 7)))
        table = pd.DataFrame(rng.choice([0, 1, 2, 5, 9, 12, 30, 60, 100], size=shape))
        for margins in (False, True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = suppress_counts(table, k=10, margins=margins)
            bounds = disclosure_intervals(table, out, margins=margins)
            if margins or not bounds["disclosed"].any():
                assert not bounds["disclosed"].any(), (table, out)
            else:  # only when a published total is itself tiny: then everything is suppressed
                assert out.isna().all().all()


def test_margins_suppress_small_totals_too():
    table = pd.DataFrame([[2, 3, 0], [40, 50, 60], [30, 20, 70]], index=list("abc"), columns=list("xyz"))
    out = suppress_counts(table, k=10, margins=True)
    assert out.shape == (4, 4) and out.index[-1] == "Total" and out.columns[-1] == "Total"
    assert np.isnan(out.loc["a", "Total"])  # a row total of 5 is itself a small cell
    assert out.loc["Total", "Total"] == table.to_numpy().sum()
    assert not disclosure_intervals(table, out, margins=True)["disclosed"].any()


def test_unprotectable_table_is_fully_suppressed_with_a_warning():
    table = pd.DataFrame([[2, 100], [0, 0]])
    with pytest.warns(UserWarning, match="cannot protect"):
        out = suppress_counts(table, k=10)
    assert out.isna().all().all()


def test_one_column_table_needs_two_suppressed_cells():
    table = pd.DataFrame({"n": [500, 4, 40, 300]}, index=list("abcd"))
    out = suppress_counts(table, k=10)
    assert out["n"].isna().sum() == 2 and np.isnan(out.loc["c", "n"])  # the next smallest
    assert not disclosure_intervals(table, out)["disclosed"].any()


def test_suppress_counts_rejects_labels_and_negative_counts():
    with pytest.raises(ValueError):
        suppress_counts(pd.DataFrame({"a": ["x", "y"]}))
    with pytest.raises(ValueError):
        suppress_counts(pd.DataFrame({"a": [1, -2]}))


def test_suppress_rows_masks_statistics_and_adds_a_complement():
    df = pd.DataFrame({
        "segment": [0, 1, 2, 3], "segment_name": ["A", "B", "C", "D"],
        "size": [500, 4, 40, 300], "share": [0.59, 0.005, 0.05, 0.35], "median_age": [40, 33, 50, 45],
    })
    out = suppress_rows(df, "size", k=10)
    assert out["suppressed"].tolist() == [False, True, True, False]
    assert out.loc[1, ["size", "share", "median_age"]].isna().all()
    assert out.loc[2, ["size", "share", "median_age"]].isna().all()  # complementary: next smallest
    assert out["segment"].tolist() == [0, 1, 2, 3] and out["segment_name"].tolist() == ["A", "B", "C", "D"]
    # subtraction attack on the sizes with the total known: only the sum of the two is learnt
    hidden = df["size"].sum() - out["size"].sum()
    assert hidden == 44 and out["size"].isna().sum() == 2


def test_suppress_rows_two_small_rows_need_no_complement_and_unknown_total():
    df = pd.DataFrame({"group": ["a", "b", "c"], "n": [3, 5, 100], "rate": [0.1, 0.2, 0.3]})
    assert suppress_rows(df, "n")["suppressed"].tolist() == [True, True, False]
    single = pd.DataFrame({"group": ["a", "b"], "n": [3, 100], "rate": [0.1, 0.3]})
    assert suppress_rows(single, "n", total_known=False)["suppressed"].tolist() == [True, False]
    assert suppress_rows(single, "n")["suppressed"].tolist() == [True, True]


def test_suppress_counts_lists_complementary_cells_apart_from_small_ones():
    import numpy as np
    import pandas as pd

    from workbench.privacy import suppress_counts

    counts = pd.DataFrame({"a": [3, 50, 60], "b": [40, 45, 70]}, index=["x", "y", "z"])
    out = suppress_counts(counts, k=10, margins=True)
    marked = set(out.attrs["complementary"])
    hidden = {(r, c) for r in out.index for c in out.columns if np.isnan(out.loc[r, c])}
    assert ("x", "a") in hidden and ("x", "a") not in marked  # 3 customers: primary
    assert marked and marked == hidden - {("x", "a")}  # the rest were hidden to protect it
    assert suppress_counts(counts + 100, k=10).attrs["complementary"] == []
