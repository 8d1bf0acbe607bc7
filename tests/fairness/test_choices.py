"""The choices register at targeting: objections and contests hold customers back, declarations override
only when configured, and the check is read from what targeting wrote."""

import numpy as np
import pandas as pd
import pytest

from workbench import fairness
from workbench.fairness._choices import choice_holds, held_selections, targeting_check


def _register(rows):
    return pd.DataFrame(rows, columns=["customer_id", "kind", "target", "segment"]).assign(
        recorded_at=pd.Timestamp("2026-03-01"))


def test_declared_segment_overrides_only_when_configured():
    ids = pd.Series(["pa", "pb", "pc", "pd"])
    segments = np.array([0, 1, 1, 2])
    register = _register([("pb", "declare_segment", "", "Top"), ("pd", "declare_segment", "", "Nowhere"),
                          ("pc", "contest", "", None), ("pa", "object_action", "premium_offer", None)])
    holds = choice_holds(ids, register, ["premium_offer", "retention_discount"], {0: "Bottom", 1: "Middle", 2: "Top"})
    assert holds.declared.tolist() == [-1, 2, -1, -1] and holds.declared_unknown == 1
    actions = {"premium_offer": [2], "retention_discount": [0, 1]}
    kept = held_selections(segments, actions, {}, holds, declared_overrides=False)
    assert kept["premium_offer"].tolist() == [False, False, False, True]
    assert kept["retention_discount"].tolist() == [True, True, False, False]  # pc contested: held
    overridden = held_selections(segments, actions, {}, holds, declared_overrides=True)
    assert overridden["premium_offer"].tolist() == [False, True, False, True]
    assert overridden["retention_discount"].tolist() == [True, False, False, False]
    no_register = held_selections(segments, actions, {}, None, declared_overrides=True)
    assert no_register["retention_discount"].tolist() == [True, True, True, False]


def test_objecting_and_contested_customers_are_in_no_selection_of_the_written_targeting(tmp_path, prepared):
    run = prepared(tmp_path, "synthetic", ["dataset.params.n_customers=600", "dataset.params.seed=3",
                                           "fairness.mitigation.correlation_remover=false",
                                           "fairness.mitigation.threshold_optimizer=false"])
    assignments = run.read_table("segments/assignments.parquet")
    register = pd.read_parquet(run.path / "data" / "choices.parquet")
    seginfo = run.read_json("artifacts/segments/segments.json")
    top = seginfo["value_order"][-1]
    # a customer of the premium segment objects to the premium offer, another contests: both would be selected
    members = assignments.loc[assignments["segment"] == top, "customer_id"]
    consenting = run.customers().query("consent_marketing_opt_in")["customer_id"]
    members = members[~members.isin(register["customer_id"]) & members.isin(consenting)].head(2).tolist()
    extra = _register([(members[0], "object_action", "premium_offer", None), (members[1], "contest", "", None)])
    pd.concat([register, extra], ignore_index=True).to_parquet(run.path / "data" / "choices.parquet")
    audit = fairness.fairness_run(run)
    assert set(audit.choices) >= {"contest_by_segment", "contest_by_gender"}
    rates = run.read_json("summary/choices.json")["rates"]["contest_by_segment"]
    assert all(0 <= r["rate"] <= 1 for r in rates.values() if r["rate"] is not None)
    assert (run.path / "artifacts" / "disclosure" / "choices_contest_segment.parquet").exists()
    targeting = run.read_table("fairness/targeting.parquet")
    sentence = fairness.choices_check_sentence(audit, removed=3)
    assert sentence.startswith(f"0 of {audit.choices_check['objecting']} customers who objected")
    assert f"0 of {audit.choices_check['contested']} contested assignments" in sentence
    shown = fairness.choices_rates_view(audit, "contest_by_segment")
    assert list(shown.columns) == ["customers", "rate", "above the rest"] and len(shown) == 5
    assert list(targeting.columns) == ["customer_id", "premium_offer", "retention_discount"]
    selected = targeting.set_index("customer_id")
    assert not selected.loc[members[0], "premium_offer"] and not selected.loc[members[1]].any()
    check = run.read_json("summary/choices.json")["targeting"]
    assert check["objecting"] >= 1 and check["objecting_selected"] == 0
    assert check["contested"] >= 1 and check["contested_selected"] == 0
    _assert_objecting_customers_are_in_no_artefact(run)
    assert check == targeting_check(targeting, pd.read_parquet(run.path / "data" / "choices.parquet")) | {
        k: check[k] for k in ("held_for_review", "declared_naming_no_segment")}


def _assert_objecting_customers_are_in_no_artefact(run):
    """Customers whose objection to profiling is in force appear in no Parquet file of the run."""
    from workbench.data import load
    from workbench.privacy import pseudonym_for

    register = load("synthetic", n_customers=600, seed=3).choices
    objected = set(register.loc[register["kind"] == "object_profiling", "id"])
    withdrawn = set(register.loc[(register["kind"] == "withdraw") & (register["value"] == "object_profiling"), "id"])
    assert objected - withdrawn and withdrawn
    gone = set(pseudonym_for(sorted(objected - withdrawn), run.settings("privacy", {})))
    back = set(pseudonym_for(sorted(withdrawn), run.settings("privacy", {})))
    # the one exception by design: the record of the objection itself (pseudonym, date), which their
    # statement reads to tell them that we hold it and honour it (issue 27)
    objections = run.path / "data" / "objections.parquet"
    assert set(pd.read_parquet(objections)["customer_id"]) == gone
    files = [p for p in run.path.rglob("*.parquet") if p != objections]
    assert len(files) > 5
    seen = set()
    for path in files:
        table = pd.read_parquet(path)
        for col in table.columns:
            if table[col].dtype == object or str(table[col].dtype).startswith("str"):
                seen |= set(table[col].dropna().astype(str))
    assert not gone & seen
    assert back <= seen  # a withdrawn objection brings the customer back


def _contest_flags(tmp_path, prepared, seed: int, plant: bool) -> dict[str, bool]:
    """Segments of the stand-in model flagged for contests, on the synthetic world with the plant on or off."""
    from workbench.fairness._choices import event_counts_by, rates_above_rest

    run = prepared(tmp_path / f"{seed}{plant}", "synthetic", [
        "dataset.params.n_customers=2500", f"dataset.params.seed={seed}", f"dataset.params.contest_plant={plant}"])
    assignments = run.read_table("segments/assignments.parquet")
    truth = pd.read_parquet(run.path / "data" / "truth.parquet").set_index("customer_id")["segment"]
    holds = choice_holds(assignments["customer_id"], pd.read_parquet(run.path / "data" / "choices.parquet"), [], {})
    counts = event_counts_by(assignments["segment"].to_numpy(), holds.contested)
    rates = rates_above_rest(counts, counts.assign(Total=counts.sum(axis=1)))
    # name each model segment by the planted segment most of its members come from
    planted = truth.reindex(assignments["customer_id"]).groupby(assignments["segment"].to_numpy()).agg(
        lambda s: s.value_counts().index[0])
    return {planted[i]: bool(rates.loc[i, "flagged"]) for i in rates.index if rates.loc[i, "flagged"]} or {}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_planted_high_contest_segment_is_flagged_and_nothing_without_the_plant(tmp_path, prepared, seed):
    from workbench.data._synthetic_choices import CONTEST_SEGMENT

    flagged = _contest_flags(tmp_path, prepared, seed, plant=True)
    assert list(flagged) == [CONTEST_SEGMENT]
    assert _contest_flags(tmp_path, prepared, seed, plant=False) == {}
