"""The cell-key perturbation (issue 24): the perturbation table's rules, consistency, fresh draws."""

import numpy as np
import pandas as pd
import pytest

from workbench.privacy._cellkey import (CellKeySettings, magnitude_draw, perturb_long, perturb_magnitudes,
                                        perturbation, perturbation_table, population_key)


@pytest.mark.parametrize("decided", [True, False])
@pytest.mark.parametrize("D, V, k", [(2, 1.0, 10), (3, 2.0, 5), (2, 1.0, 1)])
def test_the_ptable_is_unbiased_bounded_and_keeps_the_printed_rules(D, V, k, decided):
    """``decided`` (primary suppression on the perturbed count, the default): a positive count may land
    anywhere from 1 up, and below k it is hidden; held (suppression came first): a count of k or more is
    never printed below k."""
    table = perturbation_table(D, V, k, decided)
    for n, row in table.groupby("count"):
        assert np.isclose(row["p"].sum(), 1) and np.isclose((row["p"] * row["d"]).sum(), 0, atol=1e-9), n
        assert row["d"].abs().max() <= D
        assert row["lower"].iloc[0] == 0 and row["upper"].iloc[-1] == 1  # every key finds its entry
        printed = n + row["d"]
        if n == 0:
            assert (printed == 0).all()  # a zero stays zero
        elif decided:
            assert (printed >= 1).all()  # never printed as zero
            assert n <= D or (row["d"] == -D).any()  # not held at k: a count at k may be hidden
        elif n >= k:
            assert (printed >= max(k, 1)).all()  # never printed as a suppressed count, never as zero
    far = table.loc[table["count"] == table["count"].max()]
    assert np.isclose((far["p"] * far["d"] ** 2).sum(), V, rtol=1e-3)  # the stated variance


def test_the_same_key_gives_the_same_perturbation_and_keys_spread_over_the_table():
    table = perturbation_table(2, 1.0, 10)
    keys = np.linspace(0, 1, 2001, endpoint=False)
    d = perturbation(np.full(len(keys), 50.0), keys, table)
    assert np.array_equal(d, perturbation(np.full(len(keys), 50.0), keys, table))
    shares = pd.Series(d).value_counts(normalize=True).sort_index()
    expected = table.loc[table["count"] == 12].set_index("d")["p"]
    assert np.allclose(shares.to_numpy(), expected.to_numpy(), atol=0.01)
    assert np.isnan(perturbation(np.array([np.nan]), np.array([0.5]), table)[0])


def _long(values, population=""):
    return pd.DataFrame({"table": "t", "row_dim": "segment", "row": ["1", "2", "Total"], "col_dim": "gender",
                         "column": "male", "n": values, "population": population})


def test_one_quantity_prints_the_same_in_every_table_and_a_new_population_draws_afresh():
    ids = pd.Series([f"p{i}" for i in range(500)])
    one = CellKeySettings(2, 1.0, 10, b"secret-key-0123456789", population_key(ids))
    a = perturb_long(_long([120.0, 80.0, 200.0]), one)
    again = perturb_long(_long([120.0, 80.0, 200.0]).assign(table="other"), one)
    assert a["n"].equals(again["n"])  # the same quantities, the same printed values
    assert population_key(ids.sample(frac=1, random_state=1)) == one.population  # whatever the order
    moved = []
    for drop in range(40):  # erase one customer: a new population key, every cell drawn afresh
        other = CellKeySettings(2, 1.0, 10, one.secret, population_key(ids.drop(index=drop)))
        moved.append(perturb_long(_long([120.0, 80.0, 200.0]), other)["n"].to_numpy() != a["n"].to_numpy())
    assert np.mean(moved) > 0.4  # cells without the erased customer change too


def test_without_a_persistent_key_the_same_customers_print_the_same_numbers(tmp_path):
    # a random pseudonym key makes new pseudonyms on every run: the population is then keyed by the
    # rows' content, so `workbench run` twice on the same data gives the same summary.json
    from workbench.privacy.publish import _population_key

    rows = pd.DataFrame({"age": [31, 45, 45, 62], "gender": ["female", "male", "male", "non-binary"]})
    paths = []
    for run, order in enumerate([[0, 1, 2, 3], [3, 1, 0, 2]]):
        table = rows.iloc[order].assign(customer_id=[f"p{run}{i:015x}" for i in range(4)])
        paths.append(tmp_path / f"run{run}.parquet")
        table.to_parquet(paths[-1], index=False)
    first, second = (_population_key(str(p), 0, False) for p in paths)
    assert first == second
    assert _population_key(str(paths[0]), 0, True) != _population_key(str(paths[1]), 0, True)
    rows.drop(index=2).assign(customer_id="p").to_parquet(tmp_path / "erased.parquet", index=False)
    assert _population_key(str(tmp_path / "erased.parquet"), 0, False) != first  # one erasure: a fresh draw


def test_magnitude_draws_are_zero_mean_bounded_and_never_near_zero():
    """The magnitude perturbation p: in ±[0.5, 1], either sign equally often, mean zero over the keys."""
    p = magnitude_draw(np.linspace(0, 1, 4000, endpoint=False))
    assert (np.abs(p) >= 0.5).all() and (np.abs(p) <= 1).all()
    assert abs(p.mean()) < 1e-3 and (p > 0).mean() == 0.5


def test_a_sum_moves_by_half_to_m_times_its_largest_contribution_the_same_way_every_time():
    """Each published sum moves by m × p × its cell's largest contribution: between 0.5 and m of it, the same for
    the same population and identity, drawn afresh for another population; m = 0 prints the sums exactly."""
    values, tops = np.array([1200.0, 830.5, -40.0, np.nan]), np.array([150.0, 90.0, 60.0, 10.0])
    ids = [(("magnitude", "revenue"), ("segment", str(i))) for i in range(4)]
    settings = CellKeySettings(2, 1.0, 10, b"secret", b"population A", 1.5)
    once = perturb_magnitudes(values, tops, ids, settings)
    assert np.array_equal(once, perturb_magnitudes(values, tops, ids, settings), equal_nan=True)
    moved = np.abs(once - values)[:3]
    assert (moved >= 0.5 * 1.5 * tops[:3] - 1e-9).all() and (moved <= 1.5 * tops[:3]).all()
    assert np.isnan(once[3])  # a hidden sum stays hidden
    other = perturb_magnitudes(values, tops, ids, CellKeySettings(2, 1.0, 10, b"secret", b"population B", 1.5))
    assert not np.allclose(other[:3], once[:3])
    exact = perturb_magnitudes(values, tops, ids, CellKeySettings(2, 1.0, 10, b"secret", b"population A", 0.0))
    assert np.array_equal(exact[:3], values[:3])


def test_a_negative_magnitude_scale_is_a_config_error_and_method_none_prints_sums_exactly(tmp_path):
    from workbench import pipeline, privacy
    from workbench.data import InputError, load_config

    sums = np.array([500.0, 700.0])
    for method, scale in (("none", 1.0), ("cell key", -1)):
        cfg = load_config(dataset="synthetic", overrides=["dataset.params.n_customers=200",
                                                          f"privacy.perturbation.method={method}",
                                                          f"privacy.perturbation.magnitude_scale={scale}"])
        run = pipeline.prepare(cfg, tmp_path / method.replace(" ", "_"), fresh=True)
        if method == "none":
            printed = privacy.publish_magnitudes(run, "revenue", sums, [100.0, 100.0], "segment", ["1", "2"], "x")
            assert np.array_equal(printed, sums)
        else:
            with pytest.raises(InputError, match="magnitude_scale"):
                privacy.publish_magnitudes(run, "revenue", sums, [100.0, 100.0], "segment", ["1", "2"], "x")


def test_suppression_decided_on_the_perturbed_count_keeps_the_widened_printed_rules():
    """Cells around k under many population keys: a cell is "< k" exactly when its perturbed count is below
    k, so a "< k" cell holds 1 to k - 1 + D, a shown one is printed at k or more (exact at least k - D), a
    "hidden†" one is 0 or at least k - D, and zeros are printed as 0."""
    from workbench.privacy import suppress_counts
    from workbench.privacy._joint import _long_form

    k, D = 10, 2
    exact = pd.DataFrame([[8, 9, 10, 11, 0], [12, 10, 9, 40, 3], [30, 31, 11, 8, 25]],
                         index=pd.Index(list("abc"), name="segment"),
                         columns=pd.Index(list("vwxyz"), name="gender"))
    seen = {"small": set(), "shown": set(), "complement": set()}
    for trial in range(30):
        settings = CellKeySettings(D, 1.0, k, b"s", f"population {trial}".encode())
        published = suppress_counts(exact, k, margins=True, perturbation=settings)
        assert published.attrs["decided_on_perturbed"]
        full = suppress_counts(exact, 1, margins=True)  # the exact counts with margins
        long = perturb_long(_long_form("t", published, "segment", "gender"), settings)
        n_exact = full.to_numpy().ravel()
        for (marker, printed), n in zip(zip(long["marker"], long["n"]), n_exact):
            if marker == "< k":
                assert 1 <= n <= k - 1 + D
                seen["small"].add(n)
            elif marker == "hidden†":
                assert n == 0 or n >= k - D
                seen["complement"].add(n)
            else:
                assert printed == 0 if n == 0 else (printed >= k and n >= k - D and abs(printed - n) <= D)
                seen["shown"].add(n)
    assert {10, 11} & seen["small"] and {8, 9} & seen["shown"]  # the key, not the exact count, decides
