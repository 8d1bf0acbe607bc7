"""Tests of workbench.privacy: suppression (incl. the subtraction attack), pseudonyms, consent, risk, DP."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from workbench import privacy
from workbench.privacy import disclosure_intervals, suppress_counts, suppress_rows


# -- small-cell suppression ---------------------------------------------------------------------
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


# -- pseudonyms -------------------------------------------------------------------------------------
def test_keyed_pseudonyms_are_stable_per_key_and_differ_between_keys(monkeypatch, tmp_path):
    ids = pd.Series(["C1", "C2", "C3"])
    monkeypatch.setenv("WB_TEST_KEY", "a-secret-key-of-some-length")
    key = privacy.resolve_key({"key_env": "WB_TEST_KEY"})
    assert key.persistent and key.origin == "env:WB_TEST_KEY"
    assert "secret" not in repr(key)
    first = privacy.pseudonymise(ids, key)
    assert first.tolist() == privacy.pseudonymise(ids, privacy.resolve_key({"key_env": "WB_TEST_KEY"})).tolist()
    assert first.str.fullmatch(r"p[0-9a-f]{16}").all() and first.is_unique
    assert privacy.pseudonym_for(["C2"], {"key_env": "WB_TEST_KEY"}) == [first[1]]
    key_file = tmp_path / "key"
    key_file.write_text("another-secret-key-0123456789\n")
    monkeypatch.delenv("WB_TEST_KEY")
    file_key = privacy.resolve_key({"key_env": "WB_TEST_KEY", "key_file": str(key_file)})
    assert file_key.origin == "file"
    assert privacy.pseudonymise(ids, file_key).tolist() != first.tolist()


def test_random_key_changes_every_run_and_cannot_be_looked_up(monkeypatch, tmp_path):
    monkeypatch.delenv("WB_TEST_KEY", raising=False)
    a = privacy.resolve_key({"key_env": "WB_TEST_KEY"})
    b = privacy.resolve_key({"key_env": "WB_TEST_KEY"})
    assert a.origin == "random" and not a.persistent
    assert privacy.pseudonymise(pd.Series(["C1"]), a)[0] != privacy.pseudonymise(pd.Series(["C1"]), b)[0]
    with pytest.raises(privacy.InputError, match="random key"):
        privacy.pseudonym_for(["C1"], {"key_env": "WB_TEST_KEY"})
    short = tmp_path / "short"
    short.write_text("tiny")
    with pytest.raises(privacy.InputError, match="shorter than 16"):
        privacy.resolve_key({"key_env": "WB_TEST_KEY", "key_file": str(short)})


# -- inventory, minimisation, consent and erasure ---------------------------------------------------
def _toy():
    from workbench.data import Roles

    customers = pd.DataFrame({
        "cid": ["a", "b", "c", "d", "e"],
        "name": ["n1", "n2", "n3", "n4", "n5"],
        "age": [30, 40, 50, 60, 70],
        "postcode": ["X1", "X1", "X2", "X3", "X3"],
        "visits": [1, 2, 3, 4, 5],
        "free_text_notes": ["x"] * 5,
        "opt_out": [False, True, False, False, False],
    })
    roles = Roles(id="cid", direct_identifiers=["name"], quasi_identifiers=["age", "postcode"],
                  sensitive=["age"], features={"engagement": ["visits"]},
                  consent={"profiling_opt_out": "opt_out"})
    tx = pd.DataFrame({"cid": ["a", "b", "b", "e", "zz"], "ts": pd.to_datetime(["2024-01-01"] * 5), "amt": [1.0] * 5})
    from workbench.data import TransactionRoles

    roles.transactions = TransactionRoles(id="cid", timestamp="ts", amount="amt")
    return customers, tx, roles


def test_minimise_keeps_only_columns_with_a_declared_purpose():
    customers, _, roles = _toy()
    kept, pruned, table = privacy.minimise(customers, roles)
    assert list(kept.columns) == ["cid", "age", "postcode", "visits"]
    assert pruned.direct_identifiers == [] and pruned.consent == {}
    why = table.set_index("column")["purpose_or_reason"]
    assert why["name"].startswith("direct identifier")
    assert "no declared role" in why["free_text_notes"]
    assert why["opt_out"].startswith("used to exclude opted-out")
    assert table.loc[table["kept"], "purpose_or_reason"].str.len().gt(0).all()
    summary = privacy.minimisation_summary(table).set_index("outcome")["columns"]
    assert summary.to_dict() == {
        "dropped: consent flag, applied then dropped": 1, "dropped: direct identifier": 1,
        "dropped: no declared purpose": 1, "kept: declared purpose": 4,
    }


def test_exclude_customers_removes_opted_out_and_forgotten_everywhere():
    customers, tx, roles = _toy()
    kept, kept_tx, counts = privacy.exclude_customers(customers, tx, roles, forget=["e", "unknown"])
    assert kept["cid"].tolist() == ["a", "c", "d"]
    assert set(kept_tx["cid"]) == {"a"}
    assert counts == {
        "customers_in_input": 5, "opted_out_of_profiling": 1, "erasure_requests": 2, "erased": 1,
        "erasure_ids_not_found": 1, "customers_kept": 3, "transactions_in_input": 5,
        "transactions_of_unknown_customers": 1, "transactions_kept": 1,
    }
    assert privacy.fingerprint(["e", "unknown"]) == privacy.fingerprint(["unknown", "e"])


def test_read_id_list_skips_header_and_blank_lines(tmp_path):
    path = tmp_path / "forget.txt"
    path.write_text("customer_id\nC1\n\nC2\n")
    assert privacy.read_id_list(path) == ["C1", "C2"]
    with pytest.raises(privacy.InputError):
        privacy.read_id_list(tmp_path / "missing.txt")


def test_identifier_scan_flags_columns_holding_emails_or_phones():
    df = pd.DataFrame({"customer_id": ["p1", "p2"], "contact": ["a@b.com", "c@d.org"],
                       "tel": ["+44 7700 900123", "+44 7700 900456"], "region": ["N", "S"]})
    flagged = privacy.identifier_scan(df).set_index("column")["looks_like"].to_dict()
    assert flagged == {"contact": "email", "tel": "phone"}


# -- re-identification risk and data quality --------------------------------------------------------
def test_reidentification_risk_matches_a_plain_groupby():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "age": rng.integers(18, 80, 2000), "gender": rng.choice(["f", "m", None], 2000),
        "postcode": rng.choice([f"P{i}" for i in range(50)], 2000), "size": rng.integers(1, 4, 2000),
    })
    qis = ["age", "gender", "postcode", "size"]
    risk = privacy.reidentification_risk(df, qis, k=5)
    sizes = df.groupby(qis, dropna=False)["age"].transform("size")
    assert risk["overall"]["k_anonymity"] == sizes.min()
    assert risk["overall"]["share_unique"] == pytest.approx((sizes == 1).mean())
    assert risk["overall"]["share_below_k"] == pytest.approx((sizes < 5).mean())
    assert risk["overall"]["classes"] == df.groupby(qis, dropna=False).ngroups
    combos = risk["combinations"].set_index("combination")
    g = df.groupby(["gender"], dropna=False)["age"].transform("size")
    assert combos.loc["gender", "k_anonymity"] == g.min() and combos.loc["gender", "share_unique"] == 0
    assert len(combos) == 4 + 6 + 4 + 1
    drivers = risk["drivers"].set_index("quasi_identifier")
    without = df.groupby(["gender", "postcode", "size"], dropna=False)["age"].transform("size")
    assert drivers.loc["age", "share_unique_without_it"] == pytest.approx((without == 1).mean())
    assert risk["drivers"]["quasi_identifier"].iloc[0] in {"age", "postcode"}  # the high-cardinality ones
    assert risk["class_sizes"]["customers"].sum() == len(df)
    assert privacy.reidentification_risk(df, [], k=5)["overall"] is None


def test_data_quality_counts_missing_outliers_and_duplicates():
    df = pd.DataFrame({
        "customer_id": [f"p{i}" for i in range(100)],
        "x": [1.0] * 10 + [np.nan] * 10 + list(np.linspace(0, 10, 79)) + [1000.0],
        "flag": [0, 1] * 50, "cat": ["a"] * 100,
    })
    tx = pd.DataFrame({"customer_id": ["p1", "p1", "p2"], "timestamp": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01"]),
                       "amount": [5.0, 5.0, -2.0]})
    q = privacy.data_quality(df, tx)
    miss = q["missing"].set_index("column")
    assert miss.loc["x", "missing"] == 10 and miss.loc["x", "share_missing"] == pytest.approx(0.1)
    out = q["outliers"].set_index("column")
    assert out.loc["x", "outliers"] == 1 and "flag" not in out.index  # binary columns are not checked
    assert q["transactions"]["exact_duplicate_transactions"] == 1
    assert q["transactions"]["negative_amounts_(returns)"] == 1
    assert q["transactions"]["customers_without_transactions"] == 98


# -- differential privacy ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dp_frame():
    rng = np.random.default_rng(4)
    n = 6000
    seg = rng.integers(0, 3, n)
    return pd.DataFrame({
        "segment": seg,
        "spend": np.where(seg == 0, 50.0, 200.0) + rng.normal(0, 10, n),
        "visits": rng.poisson(3 + 2 * seg).astype(float),
    })


def test_dp_release_spends_exactly_the_budget_and_is_accurate(dp_frame):
    bounds = {"spend": (0.0, 400.0), "visits": (0.0, 30.0), "not_in_data": (0.0, 1.0)}
    release = privacy.dp_release(dp_frame, "segment", bounds, epsilon=10.0, delta=1e-7, keys=[0, 1, 2, 3])
    ledger = pd.DataFrame(release.ledger)
    assert len(ledger) == 3 and ledger["epsilon"].sum() == pytest.approx(10.0)
    assert ledger["share_of_budget"].sum() == pytest.approx(1.0) and ledger["delta"].sum() == 0.0
    assert release.skipped == ["not_in_data"] and list(release.bounds) == ["spend", "visits"]
    # noise scales follow from the budget split and the bounds alone: 1/eps for counts, max|bound|/eps for sums
    assert ledger["noise_scale"].iloc[0] == pytest.approx(3 / 10.0, rel=1e-6)
    assert ledger["noise_scale"].iloc[1] == pytest.approx(400 * 3 / 10.0, rel=1e-6)
    table = release.table.set_index("segment")
    exact = dp_frame.groupby("segment").agg(n=("spend", "size"), spend=("spend", "mean"))
    assert table.loc[3, "count"] <= 5  # a public key with no customers: only noise
    for s in range(3):
        assert abs(table.loc[s, "count"] - exact.loc[s, "n"]) <= ledger["accuracy_95"].iloc[0] * 3
        assert abs(table.loc[s, "mean_spend"] - exact.loc[s, "spend"]) < 5
    utility = privacy.dp_utility(release, dp_frame, "segment", k=10)
    assert set(utility["statistic"]) == {"count", "mean_spend", "mean_visits"}
    empty = utility[utility["segment"] == 3].set_index("statistic")["exact"]
    assert empty["count"] == 0 and empty.drop("count").isna().all()  # empty segment: no mean to compare


def test_dp_bounds_come_from_the_caller_and_clip(dp_frame):
    """A customer far outside the bounds cannot move the release by more than the bound."""
    extreme = dp_frame.copy()
    extreme.loc[0, "spend"] = 1e9
    release = privacy.dp_release(extreme, "segment", {"spend": (0.0, 400.0)}, epsilon=5.0, keys=[0, 1, 2])
    assert release.table["mean_spend"].between(0, 400).all()
    assert pd.DataFrame(release.ledger)["bounds"].iloc[1] == [0.0, 400.0]
    with pytest.raises(privacy.InputError):
        privacy.dp_release(dp_frame, "segment", {"spend": (5.0, 1.0)}, epsilon=1.0)
    with pytest.raises(privacy.InputError):
        privacy.dp_release(dp_frame, "segment", {}, epsilon=0.0)


def test_dp_budget_tradeoff_scales_inversely_with_epsilon():
    table = privacy.dp_budget_tradeoff({"spend": (0, 400)}, {0: 1000, 1: 2000}, epsilons=(0.1, 1.0, 10.0))
    assert table["count"].iloc[0] == pytest.approx(10 * table["count"].iloc[1])
    assert table["count"].iloc[1] == pytest.approx(2 * np.log(20))  # Laplace(2/eps) at 95%
