"""Issue 24: two runs one erasure apart, attacked by subtracting every published number.

The attacker holds both runs' published tables (``artifacts/disclosure/``), ``summary.json`` and
``compare.json``. With exact counts, the cells the erased customer was in drop by one and no other
cell moves: that names the customer's value of every published dimension (segment, gender, age band,
consent, selection, ...). The cell-key perturbation draws every cell afresh when the population
changes, and the same attack then guesses no better than the stated rate.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench import campaign, compare, pipeline, privacy, value
from workbench.data import load_config
from workbench.privacy._cellkey import CellKeySettings, perturb_long
from workbench.privacy._linked import POPULATION, UNLINKED, cell_key

N_CUSTOMERS, SEED = 1500, 11
KEY = "test-key-not-secret-0123456789"  # the suite's fixed key (tests/conftest.py)
#: intersections (gender × age) left out: their complementary suppression costs minutes per run
OVERRIDES = [f"dataset.params.n_customers={N_CUSTOMERS}", f"dataset.params.seed={SEED}", "segmentation.k=4",
             "fairness.n_boot=50", "fairness.intersections=[]"]
STAGES = ("privacy/audit.json", "segments/assignments.parquet", "fairness/verdicts.parquet", "campaign/effects.parquet",
          "dynamics/states.parquet", "value/predicted.parquet")
#: Published rates, shares and intervals (notebooks 04, 05, 07): artifact -> (the columns naming a row, the
#: columns whose values are compared). Each is a family of rows per attribute (or per table).
RATES = {
    "fairness/selection.parquet": (["action", "attribute", "group"], ["rate", "rate_low", "rate_high", "ratio"]),
    "fairness/composition.parquet": (["attribute", "segment", "group"], ["share", "share_low", "representation_ratio"]),
    "dynamics/fairness.parquet": (["attribute", "outcome", "group"], ["rate", "rate_low", "rate_high", "ratio"]),
    "dynamics/grades.parquet": (["before", "after", "segment"], ["upgraded", "same", "downgraded", "inactive"]),
    "dynamics/stale.parquet": (["segment"], ["stale_share"]),
    "dynamics/staleness.parquet": (["lag"], ["stale_share"]),
    "value targeting": (["policy", "attribute", "group"], ["rate", "rate_low", "rate_high", "ratio"]),
}
#: The share of the erased customer's dimensions the attacker may name right with perturbation on (D = 2,
#: V = 1), over simulated erasures. Measured on this world: 0.62 over 11 dimensions (chance, one guess among
#: the candidate values, 0.41; exact counts 1.0; D = 3, V = 3 gives 0.51); with notebook 05's and 07's tables
#: published too, 0.68 over 12 dimensions (chance 0.39); with every table decided on the perturbed count
#: (issue 24's routing: notebook 02's sizes, notebook 05's windows and transitions, notebook 07's holdout sizes from
#: their total column), 0.62 over 13 (chance 0.37; 0.65 before the holdout change). The attacker sums the drop of every
#: quantity a value appears in (selections, consent, movement, ... x the age band), so its edge over chance
#: grows with the number of tables: the noise hides each difference, not their sum.
STATED_RATE = 0.7


def _complete(run, cfg) -> None:
    """The stages that publish counts, the whole-run check, then summary.json and a manifest."""
    from workbench.pipeline._manifest import build_manifest, merge_summary

    for artifact in STAGES:
        run.require(artifact)
    campaign.segment_kpis(run)
    privacy.disclosure_check(run)
    run.write_json("summary.json", merge_summary(run))
    run.write_json("manifest.json", build_manifest(run, cfg, [], datetime.now(timezone.utc), ok=True))


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The same synthetic world twice under one pseudonym key, the second with one customer erased."""
    with pytest.MonkeyPatch.context() as patch:  # module scope: set before the per-test key fixture runs
        patch.setenv("WORKBENCH_PSEUDONYM_KEY", KEY)
        return make_two_runs(tmp_path_factory.mktemp("differencing"))


def make_two_runs(folder):
    """Run A and run B (one customer erased) in ``folder``."""
    world = workbench.load("synthetic", n_customers=N_CUSTOMERS, seed=SEED)
    in_campaign = set(world.campaigns["id"].astype(str)) if world.campaigns is not None else set()
    ids = [str(i) for i in world.customers["customer_id"] if str(i) in in_campaign] or \
        [str(i) for i in world.customers["customer_id"]]
    erased = ids[len(ids) // 3]
    (folder / "forget.txt").write_text(f"{erased}\n")
    runs = []
    for name, extra in (("before", []), ("after", [f"privacy.forget={folder / 'forget.txt'}"])):
        cfg = load_config(dataset="synthetic", overrides=[*OVERRIDES, *extra])
        run = pipeline.prepare(cfg, folder / name, fresh=True)
        _complete(run, cfg)
        runs.append(run)
    return runs


def _quantities(long: pd.DataFrame) -> pd.Series:
    """Each published quantity's value by its identity (the whole-run attacker's, :func:`cell_key`)."""
    shown = long.loc[long["n"].notna()]
    keys = [cell_key(a, str(b), c, str(d), p or "") for a, b, c, d, p in
            zip(shown["row_dim"], shown["row"], shown["col_dim"], shown["column"], shown["population"].fillna(""))]
    return pd.Series(shown["n"].to_numpy(float), index=keys).groupby(level=0).first()


def _scores(before: pd.DataFrame, after: pd.DataFrame) -> dict:
    """The attacker: per dimension, each candidate value's summed drop over the quantities published in both
    runs. Candidates are the values with a positive published count in the earlier run (a value whose every
    cell printed 0 cannot be the erased customer's, and a zero stays zero: it never moves)."""
    a, b = _quantities(before), _quantities(after)
    drop = (a - b).dropna()
    candidates = {pair for identity, n in a.items() if n > 0 for pair in identity}
    scores: dict = defaultdict(lambda: defaultdict(float))
    for identity, d in drop.items():
        for pair in identity:
            if pair[0] not in (POPULATION, UNLINKED) and pair in candidates:
                scores[pair[0]][pair[1]] += d
    return scores


def _named(scores: dict) -> dict:
    """The dimensions where the differences single one value out: it dropped, every other candidate unmoved."""
    out = {}
    for dim, values in scores.items():
        moved = {v: s for v, s in values.items() if s != 0}
        if len(values) > 1 and len(moved) == 1 and next(iter(moved.values())) > 0:
            out[dim] = next(iter(moved))
    return out


def _guess_rate(scores: dict, truth: dict) -> float:
    """How often the attacker's best guess (the value that dropped most) is the erased customer's value."""
    hits = [max(scores[dim], key=lambda v: (scores[dim][v], v)) == value for dim, value in truth.items()]
    return float(np.mean(hits))


def test_exact_counts_give_the_erased_customer_away(two_runs):
    """Perturbation off (the exact counts: what ``privacy.perturbation.method: none`` prints, see the test
    below): the difference of the two runs names the customer's value of many dimensions."""
    before, after = two_runs
    truth = _named(_scores(privacy.published_tables(before), privacy.published_tables(after)))
    assert "age" in truth and len(truth) >= 5, truth  # the age band, the selections, consent, ...


def test_perturbed_counts_do_not_single_the_erased_customer_out(two_runs):
    """The printed tables of both runs, diffed: the exact attacker's clean signal is gone (no dimension has
    one value dropped and the rest unmoved), and the attacker's best guesses are right no more often than
    the stated rate over simulated erasures (independent population keys on the same exact tables)."""
    before, after = two_runs
    truth = _named(_scores(privacy.published_tables(before), privacy.published_tables(after)))
    printed = _scores(privacy.printed_tables(before), privacy.printed_tables(after))
    assert len(set(_named(printed)) & set(truth)) <= len(truth) // 4  # a dimension whose drops cancel by chance
    a, b = (_quantities(privacy.printed_tables(r)) for r in (before, after))
    elsewhere = [key for key in a.index.intersection(b.index) if not any(p in truth.items() for p in key)]
    assert (a[elsewhere] != b[elsewhere]).mean() > 0.3  # cells the customer was not in move too
    exact = [privacy.published_tables(r) for r in (before, after)]
    settings = privacy.perturbation_settings(before)
    rates = []
    for trial in range(40):
        keyed = [CellKeySettings(settings.max_perturbation, settings.variance, settings.k, settings.secret,
                                 f"trial {trial} run {i}".encode()) for i in range(2)]
        rates.append(_guess_rate(_scores(*(perturb_long(t, s) for t, s in zip(exact, keyed))), truth))
    assert np.mean(rates) <= STATED_RATE, (np.mean(rates), truth)
    chance = np.mean([1 / len(printed[dim]) for dim in truth])
    print(f"differencing attack: right on {np.mean(rates):.0%} of {len(truth)} dimensions (chance {chance:.0%}; "
          "exact counts: 100%)")


def test_summary_and_compare_give_no_count_of_the_erased_customer_away(two_runs):
    """summary.json: the numbers from perturbed tables move by noise, not by the customer's -1; the ones that
    drop by exactly one are the customer total and the erasure count (that someone was erased, not who), or noise
    (the segment sizes and RFM groups are printed from the perturbed table too).
    compare.json withholds every drift number."""
    before, after = two_runs

    def numbers(node, path=""):
        if isinstance(node, dict):
            for k, v in node.items():
                yield from numbers(v, f"{path}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from numbers(v, f"{path}[{i}]")
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            yield path, node

    a = dict(numbers(json.loads((before.path / "summary.json").read_text())))
    b = dict(numbers(json.loads((after.path / "summary.json").read_text())))
    campaign_counts = [p for p in a.keys() & b.keys()
                       if p.startswith(".08_campaign.") and p.rsplit(".", 1)[-1] in ("n_treatment", "n_control", "customers")]
    rfm_counts = [p for p in a.keys() & b.keys() if p.startswith(".02_segmentation.rfm_groups.")]
    for counts in (campaign_counts, rfm_counts):
        drops = {a[p] - b[p] for p in counts}
        assert drops - {0, 1}, drops  # exact counts would drop by 0 or 1 only
    minus_one = {p for p in a.keys() & b.keys() if a[p] - b[p] == 1 and float(a[p]).is_integer()}
    allowed = ("n_customers", "customers_kept", "erased", "customers_in_input", *campaign_counts, *rfm_counts)
    assert all(any(word in p for word in allowed) for p in minus_one), sorted(minus_one)
    drift = compare.compare_runs(before.path, after.path).to_json()["drift"]
    assert drift["psi"] and all(r["psi"] is None and r["reading"].startswith("withheld") for r in drift["psi"])
    assert not any(isinstance(v, list) and v and k != "psi" for k, v in drift.items()), list(drift)


def test_perturbation_none_prints_the_exact_counts_and_cell_key_moves_them(tmp_path):
    """The switch: ``privacy.perturbation.method: none`` publishes exactly what suppression leaves; the
    default moves counts by at most D, consistently (the same quantity twice, the same value)."""
    counts = pd.DataFrame([[40, 25, 13], [31, 52, 18]], index=pd.Index(["1", "2"], name="segment"),
                          columns=pd.Index(["female", "male", "non-binary"], name="gender"))
    shown = {}
    for method in ("none", "cell key"):
        cfg = load_config(dataset="synthetic", overrides=["dataset.params.n_customers=200",
                                                          f"privacy.perturbation.method={method}"])
        run = pipeline.prepare(cfg, tmp_path / method.replace(" ", "_"), fresh=True)
        shown[method] = privacy.suppress_and_publish(run, "composition_gender", counts, "segment", "gender")
        again = privacy.suppress_and_publish(run, "selection_gender", counts.rename_axis("action"), "action", "gender")
        assert again.loc["Total"].equals(shown[method].loc["Total"])  # the gender totals: one quantity, one value
    assert (shown["none"].loc[["1", "2"], counts.columns] == counts).all().all()
    moved = (shown["cell key"] - shown["none"]).abs()
    assert moved.max().max() <= 2 and (moved > 0).any().any()
    with pytest.raises(workbench.data.InputError, match="privacy.perturbation"):
        bad = load_config(dataset="synthetic", overrides=["dataset.params.n_customers=200",
                                                          "privacy.perturbation.method=noise"])
        privacy.suppress_and_publish(pipeline.prepare(bad, tmp_path / "bad", fresh=True), "t", counts, "segment",
                                     "gender")


def _rate_rows(run) -> dict:
    """Every published rate of the run by (artifact, row, column): NaN (hidden) left out."""
    out = {}
    for artifact, (keys, columns) in RATES.items():
        if artifact == "value targeting":
            table = pd.concat([rates.assign(attribute=attr) for attr, (_, rates) in value.targeting_audit(run).items()])
        else:
            table = run.read_table(artifact)
        for row in table.itertuples(index=False):
            for col in columns:
                v = getattr(row, col)
                if pd.notna(v):
                    out[(artifact, tuple(str(getattr(row, k)) for k in keys), col)] = round(float(v), 9)
    return out


def test_rates_move_in_every_group_not_only_the_erased_customers(two_runs):
    """Notebooks 04, 05 and 07 print rates, shares and intervals. Computed from the exact counts, only the
    rows the erased customer was in move between the runs (their group's selection rate, their segment's
    shares): the rows that moved name the customer's group, whatever noise the printed counts carry. Derived
    from the printed counts, rows the customer was not in move too, and no family of rows (one attribute of
    one table) has its moves confined to a single group. Switching the restatement off
    (``fairness._restate.restate_rates`` returning its input, rates from exact counts) fails this test."""
    before, after = two_runs
    a, b = _rate_rows(before), _rate_rows(after)
    both = sorted(a.keys() & b.keys())
    assert len(both) > 200, len(both)
    moved = {key for key in both if a[key] != b[key]}
    families: dict = defaultdict(lambda: (set(), set()))  # (artifact, column, the row's leading keys) -> rows
    for key in both:
        artifact, row, col = key
        family = (artifact, col, row[:-1]) if len(row) > 1 else (artifact, col, ())
        families[family][0].add(row[-1])
        if key in moved:
            families[family][1].add(row[-1])
    confined = [f for f, (rows, hit) in families.items() if len(rows) > 2 and len(hit) == 1]
    shown = [f for f, (rows, _) in families.items() if len(rows) > 2]
    print(f"rates: {len(moved)} of {len(both)} published rate figures moved; families with one moved row: "
          f"{len(confined)} of {len(shown)}")
    assert len(moved) / len(both) > 0.75  # measured: 0.89 (186 of 209); from exact counts 0.47
    assert len(confined) <= len(shown) // 5, confined  # measured: 0 of 30; from exact counts 17 of 30


def _crossings(before: pd.DataFrame, after: pd.DataFrame, k: int) -> list[tuple]:
    """Quantities that cross the threshold between the two runs as printed: shown (k or more) in the earlier
    run and hidden as "< k" in the later one, or "< k" earlier and a printed 0 later. With the suppression
    decided on the exact count, each is a cell that lost exactly the erased customer (k -> k - 1, 1 -> 0)."""
    def states(long):
        keys = [cell_key(a, str(b), c, str(d), p or "") for a, b, c, d, p in
                zip(long["row_dim"], long["row"], long["col_dim"], long["column"], long["population"].fillna(""))]
        return dict(zip(keys, zip(long["n"].to_numpy(float), long["marker"].fillna(""))))

    a, b = states(before), states(after)
    out = []
    for key in a.keys() & b.keys():
        (na, ma), (nb, mb) = a[key], b[key]
        if (na >= k and mb == "< k") or (ma == "< k" and nb == 0):
            out.append(key)
    return out


def _exact_values(long: pd.DataFrame) -> dict:
    keys = [cell_key(a, str(b), c, str(d), p or "") for a, b, c, d, p in
            zip(long["row_dim"], long["row"], long["col_dim"], long["column"], long["population"].fillna(""))]
    return dict(zip(keys, long["n"].to_numpy(float)))


def test_threshold_crossings_do_not_name_the_erased_customer(two_runs):
    """A crossing (shown -> '< k') is evidence that the erased customer was in the cell only as far as it is
    likelier with the customer in it than without. Decided on the exact count it is certain (the planted test
    below); decided on the perturbed count, the likelihood ratio of each crossing of this pair, read off the
    perturbation table at the cell's exact count, stays at most 2.5. Measured: 1 crossing (exact 9 printed 10,
    then hidden: ratio 1.3), in the erased customer's cells; with every table decided on the perturbed count
    (issue 24's routing), 2 crossings, ratios 1.35 and 1.35. A '< k' -> 0 crossing (an exact 1 that lost the
    customer, zeros staying zeros) is not defended; none happens in this pair."""
    from workbench.privacy._cellkey import perturbation_table

    before, after = two_runs
    settings = privacy.perturbation_settings(before)
    k, ptable = settings.k, perturbation_table(settings.max_perturbation, settings.variance, settings.k, True)
    crossings = _crossings(privacy.printed_tables(before), privacy.printed_tables(after), k)
    exact = _exact_values(privacy.published_tables(before))
    printed_after = _exact_values(privacy.printed_tables(after))

    def hidden_rate(n: float) -> float:  # P(n + d < k) for a count n
        row = ptable.loc[ptable["count"] == min(int(n), int(ptable["count"].max()))]
        return float(row.loc[n + row["d"] < k, "p"].sum())

    to_zero = [key for key in crossings if printed_after[key] == 0]
    ratios = [hidden_rate(exact[key] - 1) / max(hidden_rate(exact[key]), 1e-9)
              for key in crossings if key not in to_zero]
    print(f"threshold crossings: {len(crossings)}, likelihood ratios {[round(r, 2) for r in ratios]}, "
          f"'< k' -> 0: {len(to_zero)}")
    assert all(r <= 2.5 for r in ratios), ratios
    assert not to_zero  # not defended (zeros stay zeros): a failure here is a real leak of this pair


def _crossing_rates(decided: bool, trials: int = 200) -> dict:
    """A planted cell of exactly k, published under ``trials`` population keys: once more with the erased
    customer taken out of it (k - 1), once with the customer taken out of another cell (it stays at k). The
    rate, each way, of the cell being shown in the first run and printed "< k" in the second. ``decided``:
    primary suppression decided on the perturbed count (the defence), else on the exact one."""
    from workbench.privacy._joint import _long_form

    k = 10
    base = pd.DataFrame([[k, 40, 55], [30, 61, 47]], index=pd.Index(["a", "b"], name="segment"),
                        columns=pd.Index(["x", "y", "z"], name="gender"))
    target = ("a", "x")

    def marker_and_value(table: pd.DataFrame, population: bytes) -> tuple[str, float]:
        settings = CellKeySettings(2, 1.0, k, b"test secret", population)
        published = privacy.suppress_counts(table, k, margins=True, perturbation=settings if decided else None)
        long = perturb_long(_long_form("t", published, "segment", "gender"), settings, decided)
        row = long.loc[(long["row"] == target[0]) & (long["column"] == target[1])].iloc[0]
        assert (long["n"].dropna() >= k).all()  # nothing shown is printed below k
        return str(row["marker"] or ""), float(row["n"])

    inside, elsewhere = base.copy(), base.copy()
    inside.loc[target] -= 1
    elsewhere.loc["b", "y"] -= 1
    rates = {}
    for name, later in (("inside", inside), ("elsewhere", elsewhere)):
        hits = 0
        for trial in range(trials):
            _, shown = marker_and_value(base, f"A {trial}".encode())
            marker, _ = marker_and_value(later, f"B {trial}".encode())
            hits += bool(shown >= k and marker == "< k")
        rates[name] = hits / trials
    return rates


def test_a_cell_at_the_threshold_crosses_no_more_often_for_the_erased_customer():
    """The attacker reads a crossing (shown, then "< k") as "the customer was in it". Deciding suppression on
    the exact count makes that certain (crossing rate 1 against 0: switched off below); deciding it on the
    perturbed count (D = 2, V = 1) keeps the likelihood ratio at most 2.5 (measured: 0.47 against 0.21)."""
    rates = _crossing_rates(decided=True)
    print(f"crossing rate of a cell at k: {rates['inside']:.2f} with the customer in it, "
          f"{rates['elsewhere']:.2f} without")
    assert rates["inside"] <= 2.5 * max(rates["elsewhere"], 0.02)
    assert rates["elsewhere"] > 0.1  # crossings happen without the customer too: a crossing names no one


def test_deciding_suppression_on_the_exact_count_gives_the_crossing_away():
    """The defence switched off (primary suppression on the exact count, held perturbation table): a cell at
    k crosses exactly when the erased customer was in it."""
    rates = _crossing_rates(decided=False, trials=40)
    assert rates == {"inside": 1.0, "elsewhere": 0.0}


def test_notebook_05_prints_its_tables_as_perturbed(two_runs):
    """The window counts, transition counts and grades notebook 05 and summary.json show are the registered
    tables as printed (perturbed), not the exact counts behind them: switching ``dynamics.stage._publish`` back
    to the exact tables fails here."""
    run = two_runs[0]
    printed = privacy.printed_tables(run)
    exact = privacy.published_tables(run)
    windows = run.read_table("dynamics/window_counts.parquet").set_index("window")
    table = privacy.printed_table(run, "dynamics_window_states")
    pd.testing.assert_frame_equal(windows.astype(float), table.astype(float), check_names=False)
    transitions = run.read_table("dynamics/transitions.parquet")
    dyn = printed.loc[printed["table"].str.startswith("dynamics_transitions_")]
    assert sorted(transitions["count"].dropna()) == sorted(dyn["n"].dropna())
    moved = exact.loc[exact["table"].str.startswith("dynamics_")].set_index(["table", "row", "column"])["n"]
    shown = printed.loc[printed["table"].str.startswith("dynamics_")].set_index(["table", "row", "column"])["n"]
    assert (moved != shown).loc[shown.notna()].mean() > 0.3  # the printed counts are not the exact ones


def _revenue_totals(run) -> pd.Series:
    """Notebook 08's revenue per window and segment as a reader recovers it: revenue per customer times the
    printed customers (the printed total, since the mean is printed total over printed count)."""
    kpis = run.read_table("campaign/kpis.parquet")
    totals = kpis["revenue_per_customer"].to_numpy(float) * kpis["customers"].to_numpy(float)
    return pd.Series(totals, index=kpis["label"].astype(str) + " × " + kpis["segment"].astype(str)).dropna()


def test_revenue_sums_do_not_give_the_erased_customers_spend_away(two_runs, monkeypatch):
    """Exact sums of money: every window × segment revenue the erased customer was not in is printed the same
    in both runs, and theirs drops by exactly their spend, to the cent. The cell-key method for magnitudes
    (noise m × p(cell key) × the cell's largest revenue) moves every total, so the difference names neither the
    cells nor the amount. ``privacy.perturbation.magnitude_scale: 0`` (sums printed exactly) fails this test."""
    printed = [_revenue_totals(r) for r in two_runs]
    monkeypatch.setattr(campaign.stage, "publish_magnitudes",
                        lambda run, name, values, *args, **kwargs: np.asarray(values, dtype=float))
    for run in two_runs:  # the control: the same stage with the magnitudes printed exactly
        campaign.segment_kpis(run)
    exact = [_revenue_totals(r) for r in two_runs]
    monkeypatch.undo()
    for run in two_runs:
        campaign.segment_kpis(run)
    cells = exact[0].index.intersection(exact[1].index).intersection(printed[0].index).intersection(printed[1].index)
    spend = (exact[0][cells] - exact[1][cells]).round(6)
    theirs = spend.index[spend != 0]
    assert 0 < len(theirs) < len(cells) // 2, spend  # exact sums: the customer's cells, their spend to the cent
    drop = printed[0][cells] - printed[1][cells]
    others = drop.drop(theirs)
    print(f"revenue totals: {len(cells)} cells, {len(theirs)} the erased customer's; printed totals moved in "
          f"{(others.round(2) != 0).mean():.0%} of the others; their spend read to the cent in "
          f"{int(((drop[theirs] - spend[theirs]).abs() < 0.01).sum())} of {len(theirs)}; noise / total: median "
          f"{((printed[0][cells] - exact[0][cells]) / exact[0][cells]).abs().median():.2%}, max "
          f"{((printed[0][cells] - exact[0][cells]) / exact[0][cells]).abs().max():.2%}")
    assert (others.round(2) != 0).mean() > 0.9  # exact sums: 0% (nothing moves but the customer's cells)
    assert not ((drop[theirs] - spend[theirs]).abs() < 0.01).any()


def test_holdout_purchases_move_in_every_bucket_not_only_the_erased_customers(two_runs):
    """Notebook 07's actual holdout purchases per bucket (mean times printed customers: the printed total).
    Exact, the totals of two runs one erasure apart differ in the erased customer's bucket alone, by their
    holdout purchases; perturbed (cell-key method for magnitudes), every shown bucket's total moves.
    ``privacy.perturbation.magnitude_scale: 0`` fails this test."""
    a, b = ((t["actual"] * t["customers"]).set_axis(t["bucket"]).dropna()
            for t in (r.read_table("value/holdout.parquet") for r in two_runs))
    both = a.index.intersection(b.index)
    moved = (a[both] - b[both]).round(6) != 0
    print(f"holdout: {int(moved.sum())} of {len(both)} bucket totals moved")
    assert len(both) >= 3 and moved.mean() > 0.75, (a, b)  # exact sums: at most one bucket moves
