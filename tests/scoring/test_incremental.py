"""`workbench assign --transactions --since`: only customers with new data are re-scored; the history grows."""

import shutil

import joblib
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from workbench import features, scoring
from workbench.cli import app

from .conftest import KEY
from .test_export_sql import _plain_duckdb

SINCE = "2026-07-01"


@pytest.fixture()
def run_copy(scored_run, tmp_path, monkeypatch):
    """A fresh copy of the scored run (assign writes into it) and its raw tables; the run's key set."""
    run, raw = scored_run
    monkeypatch.setenv("WORKBENCH_PSEUDONYM_KEY", KEY)
    shutil.copytree(run.path, tmp_path / "run")
    from workbench import Run

    return Run(tmp_path / "run"), raw


def _in_run(raw, run) -> np.ndarray:
    """Raw ids of the run's customers (not opted out, not objecting), in the raw table's order."""
    ids = pd.read_parquet(raw["customers"])["customer_id"].astype(str)
    return ids[np.isin(raw["pseudonym"](ids), run.customers()["customer_id"])].to_numpy()


def _one_new_month(raw, run, share=0.02, seed=0) -> pd.DataFrame:
    """Three purchases in the month after the run's data for ``share`` of the kept customers (raw ids)."""
    kept = _in_run(raw, run)
    rng = np.random.default_rng(seed)
    who = rng.choice(kept, int(len(kept) * share), replace=False)
    n = 3 * len(who)
    return pd.DataFrame({
        "customer_id": np.repeat(who, 3),
        "timestamp": pd.Timestamp(SINCE) + pd.to_timedelta(rng.integers(0, 30 * 86400, n), unit="s"),
        "amount": rng.gamma(2.0, 150.0, n).round(2),
        "channel": rng.choice(["web", "app", "store"], n),
        "category": rng.choice(["electronics", "grocery", "home"], n),
    })


def test_only_customers_with_new_data_are_rescored_and_the_past_stays(run_copy, tmp_path):
    run, raw = run_copy
    new = _one_new_month(raw, run)
    new.to_csv(tmp_path / "new.csv", index=False)
    seeded = scoring.seed_history(run.path)
    assert len(seeded) == len(run.customers()) and seeded["valid_to"].isna().all()
    assert (seeded["reason"] == "model refresh").all()
    np.testing.assert_array_equal(seeded["segment"], run.read_table("segments/assignments.parquet")["segment"])

    res = CliRunner().invoke(app, ["assign", "--run", str(run.path), "--transactions", str(tmp_path / "new.csv"),
                                   "--since", SINCE])
    assert res.exit_code == 0, res.output
    report = run.read_json("artifacts/assignments/batches.json")[-1]
    assert report["rescored"] == new["customer_id"].nunique() and report["new_transactions"] == len(new)
    history = scoring.read_history(run.path)
    assert len(history) == len(seeded) + report["moved"] and report["moved"] > 0
    # earlier rows unchanged, except that the movers' open intervals are now closed
    old = history.iloc[: len(seeded)]
    pd.testing.assert_frame_equal(old.drop(columns="valid_to"), seeded.drop(columns="valid_to"))
    closed = old["valid_to"].notna()
    movers = set(history.iloc[len(seeded):]["pseudonym"])
    assert set(old.loc[closed, "pseudonym"]) == movers and closed.sum() == len(movers)
    per_mover = history[history["pseudonym"].isin(movers)].groupby("pseudonym")["valid_to"]
    assert (per_mover.apply(lambda v: (v.notna().sum(), v.isna().sum())) == (1, 1)).all()
    assert (history.iloc[len(seeded):]["reason"] == "new data").all()
    assert not history["pseudonym"].isin(set(new["customer_id"])).any()  # raw ids never enter the history

    # the past is never rewritten: the first part is the seeded one, byte for byte
    parts = sorted((run.path / "artifacts" / "assignments" / "history.parquet").glob("part-*.parquet"))
    assert len(parts) == 2 and pd.read_parquet(parts[0]).equals(seeded)
    # notebook 05's staleness: the re-scored customers were confirmed by data at the batch's as_of
    ages = scoring.assignment_ages(run.path)
    assert ages["assigned"] == len(seeded) and ages["without_segment"] == 0 and ages["batches"] == 1
    assert pd.Timestamp(ages["as_of"]) == pd.Timestamp(report["as_of"]) and ages["median_days"] > 0
    assert "last confirmed by data" in scoring.assignment_ages_markdown(ages)
    # the same batch again changes nothing
    before = [p.read_bytes() for p in parts]
    again = scoring.assign_incremental(run.path, tmp_path / "new.csv", SINCE)
    assert again["new_transactions"] == 0 and again["rescored"] == 0
    after = sorted((run.path / "artifacts" / "assignments" / "history.parquet").glob("part-*.parquet"))
    assert [p.read_bytes() for p in after] == before


def test_export_sql_incremental_and_full_run_agree(run_copy, tmp_path):
    """Same data, same as_of: the exported SQL, the incremental path and the run's model give the same segment."""
    run, raw = run_copy
    new = _one_new_month(raw, run, seed=1)
    report = scoring.assign_incremental(run.path, new, SINCE)
    as_of = pd.Timestamp(report["as_of"])
    now = scoring.current(scoring.read_history(run.path))
    changed = raw["pseudonym"](pd.Series(pd.unique(new["customer_id"])))
    # full: the run's model on features recomputed from every transaction at the same as_of
    tx = pd.concat([run.transactions(), new.assign(customer_id=raw["pseudonym"](new["customer_id"]))],
                   ignore_index=True)
    table = features.build_features(run.customers(), tx, run.roles, as_of=as_of)
    model = joblib.load(run.artifact("segments/model.joblib"))
    full = pd.Series(model.predict(table[model.feature_names_in_]), index=table["customer_id"])
    # export: the SQL file over the raw tables plus the new rows, run by plain duckdb
    all_tx = pd.concat([pd.read_parquet(raw["transactions"]), new], ignore_index=True)
    all_tx.to_parquet(tmp_path / "all_tx.parquet")
    scoring.export_sql(run.path, "duckdb", tmp_path / "seg.sql", as_of=as_of, choices="choices")
    exported = _plain_duckdb(tmp_path / "seg.sql", raw["customers"], tmp_path / "all_tx.parquet", tmp_path,
                             choices=raw["choices"])
    exported = exported.set_index(raw["pseudonym"](exported["customer_id"]))["segment"]
    np.testing.assert_array_equal(now.loc[changed, "segment"].to_numpy(), full.loc[changed].to_numpy())
    np.testing.assert_array_equal(exported.loc[full.index].to_numpy(), full.to_numpy())


def test_bad_input_exits_2_and_writes_nothing(run_copy, tmp_path):
    run, raw = run_copy
    new = _one_new_month(raw, run)
    path = tmp_path / "new.csv"
    new.to_csv(path, index=False)
    assignments = run.path / "artifacts" / "assignments"

    res = CliRunner().invoke(app, ["assign", "--run", str(run.path), "--transactions", str(path), "--since", "2999-01-01"])
    assert res.exit_code == 2 and "in the future" in res.output and not assignments.exists()

    strangers = pd.concat([new, new.head(4).assign(customer_id=["X1", "X1", "X2", "X3"])], ignore_index=True)
    strangers.to_csv(tmp_path / "strangers.csv", index=False)
    res = CliRunner().invoke(app, ["assign", "--run", str(run.path), "--transactions", str(tmp_path / "strangers.csv"),
                                   "--since", SINCE])
    assert res.exit_code == 2 and "4 rows of 3 customers who are not in this run" in res.output
    assert not assignments.exists()

    new.drop(columns="amount").to_csv(tmp_path / "no_amount.csv", index=False)
    res = CliRunner().invoke(app, ["assign", "--run", str(run.path), "--transactions", str(tmp_path / "no_amount.csv"),
                                   "--since", SINCE])
    assert res.exit_code == 2 and "amount" in res.output and not assignments.exists()

    new.drop(columns="category").to_csv(tmp_path / "no_category.csv", index=False)
    res = CliRunner().invoke(app, ["assign", "--run", str(run.path), "--transactions", str(tmp_path / "no_category.csv"),
                                   "--since", SINCE])
    assert res.exit_code == 2 and "category" in res.output and not assignments.exists()

    res = CliRunner().invoke(app, ["assign", "--run", str(run.path), "--transactions", str(path)])
    assert res.exit_code == 2 and "--since" in res.output and not assignments.exists()

    pd.DataFrame({"id": [new["customer_id"].iloc[0]], "kind": ["object_everything"], "value": [None],
                  "recorded_at": ["2026-07-10"]}).to_csv(tmp_path / "bad_choices.csv", index=False)
    res = CliRunner().invoke(app, ["assign", "--run", str(run.path), "--choices", str(tmp_path / "bad_choices.csv"),
                                   "--since", SINCE])
    assert res.exit_code == 2 and "object_everything" in res.output and not assignments.exists()
    pd.DataFrame({"customer_id": ["X9"], "price_sensitivity": [3.0]}).to_csv(tmp_path / "strangers_rows.csv",
                                                                          index=False)
    res = CliRunner().invoke(app, ["assign", "--run", str(run.path), "--customers", str(tmp_path / "strangers_rows.csv"),
                                   "--since", SINCE])
    assert res.exit_code == 2 and "changed customers: 1 rows of 1 customers" in res.output
    assert not assignments.exists()


def test_apply_scores_closes_and_opens_only_for_movers():
    start = pd.Timestamp("2026-01-01")
    history = scoring.start_history(pd.DataFrame({"customer_id": ["pa", "pb", "pc"], "segment": [0, 1, 2]}),
                                    [1.0, 2.0, 3.0], start)
    scored = pd.DataFrame({"pseudonym": ["pb", "pc"], "segment": [1, 0], "margin": [2.5, 0.5]})
    part, moved = scoring.apply_scores(history, scored, pd.Timestamp("2026-02-01"))
    assert moved == 1 and part["pseudonym"].tolist() == ["pc", "pc"]
    out = scoring.consolidate([history, part])
    assert out["pseudonym"].tolist() == ["pa", "pb", "pc", "pc"]
    assert out["valid_to"].isna().tolist() == [True, True, False, True]
    assert out.iloc[2]["valid_to"] == pd.Timestamp("2026-02-01") and out.iloc[2]["segment"] == 2
    assert out.iloc[3][["segment", "reason"]].tolist() == [0, "new data"]
    assert scoring.current(out).loc["pc", "segment"] == 0
    none_part, none = scoring.apply_scores(out, scored, pd.Timestamp("2026-03-01"))
    assert none == 0 and none_part.empty
    # moving again at the same as_of: the zero-length interval is closed, not confused with the new one
    again, _ = scoring.apply_scores(out, scored.assign(segment=[1, 1]), pd.Timestamp("2026-02-01"))
    final = scoring.consolidate([history, part, again])
    assert final.loc[final["pseudonym"] == "pc", "valid_to"].isna().tolist() == [False, False, True]


def _seeded_by_segment(run, raw) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Seed the history; the run's segments by pseudonym, and the raw ids in the first one's segment and in others."""
    scoring.seed_history(run.path)
    saved = run.read_table("segments/assignments.parquet").set_index("customer_id")["segment"]
    ids = _in_run(raw, run)
    segments = saved.loc[raw["pseudonym"](pd.Series(ids))].to_numpy()
    return saved, ids[segments == segments[0]], ids[segments != segments[0]]


def _parts_bytes(run) -> list[bytes]:
    return [p.read_bytes() for p in sorted((run.path / "artifacts" / "assignments").rglob("part-*.parquet"))]


def test_changed_customer_rows_rescore_for_new_data_and_twice_is_a_no_op(run_copy):
    run, raw = run_copy
    saved, same, other = _seeded_by_segment(run, raw)
    who, donors = same[:6], other[:5]  # customer columns of customers in another segment
    table = pd.read_parquet(raw["customers"]).astype({"customer_id": str}).set_index("customer_id")
    rows = table.loc[who].copy()
    inputs = ["household_size", "region", "price_sensitivity", "brand_affinity", "eco_concern", "device", "app_user",
              "email_opens_90d", "site_visits_90d"]
    rows.iloc[:5, [rows.columns.get_loc(c) for c in inputs]] = table.loc[donors, inputs].to_numpy()
    report = scoring.assign_incremental(run.path, since=SINCE, customers=rows.reset_index())
    assert report["changed_customers"] == 5 and report["rescored"] == 5 == report["rescored_new_data"]
    assert report["already_stored"] == 1  # the sixth row was unchanged
    history = scoring.read_history(run.path)
    changed = list(raw["pseudonym"](pd.Series(who[:5])))
    new_rows = history[history["valid_from"] > history["valid_from"].min()]
    assert set(new_rows["pseudonym"]) <= set(changed) and (new_rows["reason"] == "new data").all()
    # the new segment is the run's model on the changed customer table at the same as_of
    model = joblib.load(run.artifact("segments/model.joblib"))
    prepared = run.customers().set_index("customer_id")
    prepared.loc[changed, inputs] = rows.iloc[:5][inputs].to_numpy()
    feats = features.build_features(prepared.reset_index(), run.transactions(), run.roles, as_of=report["as_of"])
    full = pd.Series(model.predict(feats[model.feature_names_in_]), index=feats["customer_id"])
    np.testing.assert_array_equal(scoring.current(history).loc[changed, "segment"].astype(int), full.loc[changed])
    assert report["moved"] == int((full.loc[changed] != saved.loc[changed]).sum()) > 0
    before = _parts_bytes(run)
    again = scoring.assign_incremental(run.path, since=SINCE, customers=rows.reset_index())
    assert again["changed_customers"] == 0 and again["moved"] == 0 and _parts_bytes(run) == before


def test_an_objection_unassigns_holds_and_its_withdrawal_rescores_for_a_choice(run_copy, tmp_path):
    run, raw = run_copy
    seeded = scoring.seed_history(run.path)
    objector, declarer = _in_run(raw, run)[:2]
    p_obj, p_dec = raw["pseudonym"](pd.Series([objector, declarer]))
    choices = pd.DataFrame({"id": [objector, declarer], "kind": ["object_profiling", "declare_segment"],
                            "value": [None, "Loyal regulars"], "recorded_at": ["2026-07-10", "2026-07-11"]})
    choices.to_csv(tmp_path / "choices.csv", index=False)
    res = CliRunner().invoke(app, ["assign", "--run", str(run.path), "--choices", str(tmp_path / "choices.csv"),
                                   "--since", SINCE])
    assert res.exit_code == 0, res.output
    report = run.read_json("artifacts/assignments/batches.json")[-1]
    assert report["new_choices"] == 2 and report["unassigned"] == 1 and report["rescored_choice"] == 1
    history = scoring.read_history(run.path)
    mine = history[history["pseudonym"] == p_obj]
    assert len(mine) == 2 and mine["valid_to"].notna().tolist() == [True, False]
    assert pd.isna(mine.iloc[1]["segment"]) and mine.iloc[1]["reason"] == "choice"
    assert len(history) == len(seeded) + 1 + (history["pseudonym"] == p_dec).sum() - 1
    assert scoring.assignment_ages(run.path)["without_segment"] == 1
    # new transactions of the objector: stored, but nobody scores them
    new = _one_new_month(raw, run).query("customer_id != @objector")
    new = pd.concat([new, new.head(3).assign(customer_id=objector)], ignore_index=True)
    held = scoring.assign_incremental(run.path, new, SINCE)
    assert held["held"] == 1 and pd.isna(scoring.current(scoring.read_history(run.path)).loc[p_obj, "segment"])
    # withdrawing the objection: re-scored for a choice, a segment again
    pd.DataFrame({"id": [objector], "kind": ["withdraw"], "value": ["object_profiling"],
                  "recorded_at": ["2026-08-20"]}).to_csv(tmp_path / "withdraw.csv", index=False)
    back = scoring.assign_incremental(run.path, since=SINCE, choices=tmp_path / "withdraw.csv")
    assert back["rescored"] == 1 == back["rescored_choice"] and back["moved"] == 1
    now = scoring.current(scoring.read_history(run.path)).loc[p_obj]
    assert not pd.isna(now["segment"]) and now["reason"] == "choice"
    assert scoring.assignment_ages(run.path)["without_segment"] == 0
    before = _parts_bytes(run)
    again = scoring.assign_incremental(run.path, since=SINCE, choices=tmp_path / "withdraw.csv")
    assert again["new_choices"] == 0 and again["moved"] == 0 and _parts_bytes(run) == before
    # a contest's free text never reaches the run directory
    pd.DataFrame({"id": [declarer], "kind": ["contest"], "value": ["SECRET TEXT"],
                  "recorded_at": ["2026-08-21"]}).to_csv(tmp_path / "contest.csv", index=False)
    scoring.assign_incremental(run.path, since=SINCE, choices=tmp_path / "contest.csv")
    assert not any(b"SECRET TEXT" in p.read_bytes() for p in (run.path / "artifacts").rglob("*") if p.is_file())
