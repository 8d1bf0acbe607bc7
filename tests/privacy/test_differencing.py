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
from workbench import campaign, compare, pipeline, privacy
from workbench.data import load_config
from workbench.privacy._cellkey import CellKeySettings, perturb_long
from workbench.privacy._linked import POPULATION, UNLINKED, cell_key

N_CUSTOMERS, SEED = 1500, 11
KEY = "test-key-not-secret-0123456789"  # the suite's fixed key (tests/conftest.py)
#: intersections (gender × age) left out: their complementary suppression costs minutes per run
OVERRIDES = [f"dataset.params.n_customers={N_CUSTOMERS}", f"dataset.params.seed={SEED}", "segmentation.k=4",
             "fairness.n_boot=50", "fairness.intersections=[]"]
STAGES = ("privacy/audit.json", "segments/assignments.parquet", "fairness/verdicts.parquet", "campaign/effects.parquet")
#: The share of the erased customer's dimensions the attacker may name right with perturbation on (D = 2,
#: V = 1), over simulated erasures. Measured on this world: 0.62 over 11 dimensions, chance (one guess among
#: the candidate values) 0.41, exact counts 1.0; D = 3, V = 3 gives 0.51. The attacker sums the drop of every
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
