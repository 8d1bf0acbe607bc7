"""`workbench export-sql`: the run's segmentation as SQL, executed by plain DuckDB on the raw tables."""

import json
import shutil
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from workbench import scoring, segment
from workbench.cli import app

from .conftest import KEY

# Runs in a fresh interpreter that imports duckdb and pandas only: the SQL file alone must do the work.
_PLAIN_DUCKDB = textwrap.dedent("""
    import sys, duckdb
    sql, customers, transactions, out, cust_table, tx_table, choices = sys.argv[1:]
    assert "workbench" not in sys.modules
    con = duckdb.connect()
    con.execute(f"CREATE VIEW {cust_table} AS SELECT * FROM read_parquet('{customers}')")
    con.execute(f"CREATE VIEW {tx_table} AS SELECT * FROM read_parquet('{transactions}')")
    if choices:
        con.execute(f"CREATE VIEW choices AS SELECT * FROM read_parquet('{choices}')")
    con.execute(open(sql).read().rstrip().rstrip(";")).df().to_parquet(out)
    assert "workbench" not in sys.modules
""")


def _plain_duckdb(sql_file, customers, transactions, tmp_path, tables=("customers", "transactions"),
                  choices=None) -> pd.DataFrame:
    """The SQL file run by a fresh interpreter on the tables (and the choices register as ``choices``)."""
    out = tmp_path / "scored.parquet"
    subprocess.run([sys.executable, "-c", _PLAIN_DUCKDB, str(sql_file), str(customers), str(transactions), str(out),
                    *tables, str(choices or "")], check=True, cwd=tmp_path)
    return pd.read_parquet(out)


def _model_margin(run, assignments: pd.DataFrame) -> np.ndarray:
    """||z - c_runner_up||^2 - ||z - c_assigned||^2 from the saved model, in the order of ``assignments``."""
    model = joblib.load(run.artifact("segments/model.joblib"))
    features = run.read_table("segments/features.parquet").set_index("customer_id").loc[assignments["customer_id"]]
    d2 = ((model.transform(features)[:, None, :] - model.cluster_centers_[None]) ** 2).sum(axis=2)
    d2.sort(axis=1)
    return d2[:, 1] - d2[:, 0]


def test_exported_duckdb_sql_gives_every_customer_the_runs_segment(scored_run, tmp_path):
    run, raw = scored_run
    sql_file = tmp_path / "segments.sql"
    res = CliRunner().invoke(app, ["export-sql", "--run", str(run.path), "--dialect", "duckdb", "--out", str(sql_file),
                                   "--choices-table", "choices"])
    assert res.exit_code == 0, res.output
    text = sql_file.read_text()
    model_version = scoring.model_version(run)
    assert f"model_version: sha256:{model_version}" in text and "config_sha256: " in text
    assert "as_of: " in text and "strictly before" in text
    assert "-- choices: choices (id, kind, value, recorded_at): customers whose objection" in text and "rectify" in text
    assert "records until CAST(CURRENT_TIMESTAMP AS TIMESTAMP) (the run's dataset.as_of, or the time the query" in text
    got = _plain_duckdb(sql_file, raw["customers"], raw["transactions"], tmp_path, choices=raw["choices"])
    assert list(got.columns) == ["customer_id", "segment", "segment_name", "margin"]
    got["pseudonym"] = raw["pseudonym"](got["customer_id"])
    saved = run.read_table("segments/assignments.parquet")
    merged = saved.merge(got, left_on="customer_id", right_on="pseudonym", how="outer", indicator=True,
                         suffixes=("_run", "_sql"))
    assert (merged["_merge"] == "both").all()  # the same customers: opted-out and objecting ones are not scored
    assert len(merged) == len(saved) == run.read_json("data/prepare.json")["n_customers"]
    np.testing.assert_array_equal(merged["segment_sql"], merged["segment_run"])  # exact, every customer
    np.testing.assert_array_equal(merged["segment_name_sql"], merged["segment_name_run"])
    expected = _model_margin(run, merged.rename(columns={"customer_id_run": "customer_id"}))
    np.testing.assert_allclose(merged["margin"], expected, rtol=1e-9, atol=1e-9)


def test_warehouse_names_and_as_of_are_configurable(scored_run, tmp_path):
    run, raw = scored_run
    tx = pd.read_parquet(raw["transactions"]).rename(columns={"customer_id": "cust", "timestamp": "order_date"})
    tx.to_parquet(tmp_path / "orders.parquet")
    sql_file = tmp_path / "orders.sql"
    as_of = pd.Timestamp("2026-03-01")
    pd.read_parquet(raw["choices"]).rename(columns={"id": "who", "kind": "what"}).to_parquet(tmp_path / "reg.parquet")
    scoring.export_sql(run.path, "duckdb", sql_file, customers="crm_people", transactions="orders", choices="choices",
                       columns={"tx_id": "cust", "timestamp": "order_date", "choice_id": "who", "choice_kind": "what"},
                       as_of=as_of)
    got = _plain_duckdb(sql_file, raw["customers"], tmp_path / "orders.parquet", tmp_path, ("crm_people", "orders"),
                        choices=tmp_path / "reg.parquet")
    # the reference: the run's own model on the run's features recomputed at the earlier as_of
    from workbench import features

    customers = run.customers()
    frozen = features.build_features(customers, run.transactions(), run.roles, as_of=as_of)
    model = joblib.load(run.artifact("segments/model.joblib"))
    expected = pd.Series(model.predict(frozen[model.feature_names_in_]), index=frozen["customer_id"])
    got["pseudonym"] = raw["pseudonym"](got["customer_id"])
    np.testing.assert_array_equal(got["segment"].to_numpy(), expected.loc[got["pseudonym"]].to_numpy())


@pytest.mark.parametrize("dialect", ["spark", "postgres", "snowflake", "bigquery"])
def test_other_dialects_transpile(scored_run, dialect):
    run, _ = scored_run
    text = scoring.export_sql(run.path, dialect, choices="crm.choices")
    assert text.startswith("-- Segment assignment exported by workbench")
    assert f"dialect: {dialect}" in text and "segment_name" in text and "margin" in text


def test_bad_input_exits_2_and_writes_nothing(scored_run, tmp_path):
    run, _ = scored_run
    out = tmp_path / "never.sql"
    res = CliRunner().invoke(app, ["export-sql", "--run", str(run.path), "--dialect", "oracle9", "--out", str(out)])
    assert res.exit_code == 2 and "Unknown SQL dialect 'oracle9'" in res.output and not out.exists()
    res = CliRunner().invoke(app, ["export-sql", "--run", str(run.path), "--dialect", "duckdb", "--out", str(out),
                                   "--column", "shoe_size=x"])
    assert res.exit_code == 2 and "shoe_size" in res.output and not out.exists()
    # the run honoured a choices register: exporting without one would score customers who objected
    res = CliRunner().invoke(app, ["export-sql", "--run", str(run.path), "--dialect", "duckdb", "--out", str(out)])
    assert res.exit_code == 2 and "--choices-table" in res.output and not out.exists()
    res = CliRunner().invoke(app, ["export-sql", "--run", str(tmp_path), "--dialect", "duckdb", "--out", str(out)])
    assert res.exit_code == 2 and "not a run directory" in res.output and not out.exists()
    # a Gaussian mixture is not a centroid model: refused with the reason
    gmm_run = tmp_path / "gmm"
    shutil.copytree(run.path, gmm_run)
    features = run.read_table("segments/features.parquet")
    gmm = segment.SegmentationModel(method="gmm", k=3, n_init=1, random_state=0).fit(features)
    joblib.dump(gmm, gmm_run / "artifacts" / "segments" / "model.joblib")
    res = CliRunner().invoke(app, ["export-sql", "--run", str(gmm_run), "--dialect", "duckdb", "--out", str(out),
                                   "--choices-table", "choices"])
    assert res.exit_code == 2 and "not a nearest-centre" in res.output and not out.exists()


def test_exported_spark_sql_gives_every_customer_the_runs_segment_on_spark(scored_run, spark_engine):
    run, raw = scored_run
    spark = spark_engine.spark
    spark.read.parquet(str(raw["customers"])).createOrReplaceTempView("customers")
    spark.read.parquet(str(raw["transactions"])).createOrReplaceTempView("transactions")
    spark.read.parquet(str(raw["choices"])).createOrReplaceTempView("choices")
    try:
        got = spark.sql(scoring.export_sql(run.path, "spark", choices="choices").rstrip().rstrip(";")).toPandas()
    finally:
        for view in ("customers", "transactions", "choices"):
            spark.catalog.dropTempView(view)
    got["pseudonym"] = raw["pseudonym"](got["customer_id"])
    saved = run.read_table("segments/assignments.parquet").set_index("customer_id")
    assert len(got) == len(saved) and set(got["pseudonym"]) == set(saved.index)
    np.testing.assert_array_equal(got["segment"].to_numpy(), saved.loc[got["pseudonym"], "segment"].to_numpy())
    np.testing.assert_array_equal(got["segment_name"].to_numpy(), saved.loc[got["pseudonym"], "segment_name"].to_numpy())


def test_objecting_customers_get_no_segment_and_everyone_else_keeps_the_runs(scored_run, tmp_path):
    """An objection to profiling added in the warehouse after the run: that customer gets no row, nobody else changes;
    a later withdrawal brings them back. Without a register the header says objections are not applied."""
    run, raw = scored_run
    saved = run.read_table("segments/assignments.parquet").set_index("customer_id")["segment"]
    customers = pd.read_parquet(raw["customers"])
    in_run = customers[np.isin(raw["pseudonym"](customers["customer_id"]), saved.index)]["customer_id"].astype(str)
    objector, back = in_run.iloc[0], in_run.iloc[1]
    register = pd.concat([pd.read_parquet(raw["choices"]), pd.DataFrame({
        "id": [objector, back, back], "kind": ["OBJECT_PROFILING", "object_profiling", "withdraw"],
        "value": [None, None, "object_profiling"], "recorded_at": ["2026-08-01", "2026-08-01", "2026-08-02"]})])
    register.to_parquet(tmp_path / "register.parquet")
    scoring.export_sql(run.path, "duckdb", tmp_path / "seg.sql", choices="choices")
    got = _plain_duckdb(tmp_path / "seg.sql", raw["customers"], raw["transactions"], tmp_path,
                        choices=tmp_path / "register.parquet")
    got = got.set_index(raw["pseudonym"](got["customer_id"]))["segment"]
    gone = raw["pseudonym"](pd.Series([objector]))[0]
    assert gone not in got.index and raw["pseudonym"](pd.Series([back]))[0] in got.index
    assert set(got.index) == set(saved.index) - {gone}
    np.testing.assert_array_equal(got.to_numpy(), saved.loc[got.index].to_numpy())

    no_register = tmp_path / "no_register"
    shutil.copytree(run.path, no_register)
    prepared = json.loads((no_register / "data" / "prepare.json").read_text())
    (no_register / "data" / "prepare.json").write_text(json.dumps({k: v for k, v in prepared.items() if k != "choices"}))
    text = scoring.export_sql(no_register, "duckdb")
    assert "-- choices: NOT APPLIED: no choices table was given" in text


INPUTS = ["household_size", "region", "price_sensitivity", "brand_affinity", "eco_concern", "device", "app_user",
          "email_opens_90d", "site_visits_90d"]


@pytest.fixture(scope="module")
def dated_run(tmp_path_factory):
    """A run prepared at ``dataset.as_of`` = its last day with corrections before it (``early``: applied) and after
    it (``late``: left out), each customer's model inputs corrected to another customer's; ``folder`` holds the
    raw ``customers``, ``transactions`` and ``register`` as Parquet."""
    import workbench
    from workbench.data import load_config
    from workbench.pipeline import prepare

    folder = tmp_path_factory.mktemp("dated")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORKBENCH_PSEUDONYM_KEY", KEY)
        data = workbench.load("synthetic", n_customers=600, seed=4)
        customers = data.customers.astype({"customer_id": str})
        free = customers[~customers["customer_id"].isin(set(data.choices["id"]))
                         & customers[INPUTS].notna().all(axis=1) & ~customers["profiling_opt_out"].fillna(True).astype(bool)]
        late, early, donors = free.iloc[:20], free.iloc[20:24], free.iloc[-20:]

        def corrections(who, when):
            return [(c, "rectify", f"{col}={d[col]}", when) for c, (_, d) in zip(who["customer_id"], donors.iterrows())
                    for col in INPUTS]

        rows = corrections(late, "2026-07-03") + corrections(early, "2026-06-20")
        register = pd.concat([data.choices, pd.DataFrame(rows, columns=data.choices.columns)], ignore_index=True)
        register.to_parquet(folder / "register.parquet")
        customers.to_parquet(folder / "customers.parquet")
        data.transactions.to_parquet(folder / "transactions.parquet")
        cfg = load_config(dataset="synthetic", overrides=[
            "dataset.params.n_customers=600", "dataset.params.seed=4", "segmentation.k=4", "dataset.as_of=2026-06-30",
            f"dataset.choices={folder / 'register.parquet'}"])
        run = prepare(cfg, folder / "run")
        segment.segment_run(run)
    return {"run": run, "folder": folder, "register": register, "late": late, "early": early, "customers": customers}


def test_corrections_after_the_runs_as_of_count_neither_in_preparation_nor_in_the_sql(dated_run, tmp_path, monkeypatch):
    """Preparation applies only the corrections recorded up to dataset.as_of, and so does the exported SQL on the
    same register (every customer the run's segment); the later ones, re-dated before as_of, move some customer:
    the cut-off is what makes the two agree."""
    monkeypatch.setenv("WORKBENCH_PSEUDONYM_KEY", KEY)
    run, folder, register, late = dated_run["run"], dated_run["folder"], dated_run["register"].copy(), dated_run["late"]
    assert run.read_json("data/prepare.json")["choices"]["kinds"]["rectify"]["excluded_future"] == len(late) * len(INPUTS)
    text = scoring.export_sql(run.path, "duckdb", tmp_path / "seg.sql", choices="choices")
    assert "records until TIMESTAMP '2026-06-30 23:59:59.999999'" in text
    got = _plain_duckdb(tmp_path / "seg.sql", folder / "customers.parquet", folder / "transactions.parquet",
                        tmp_path, choices=folder / "register.parquet")
    saved = run.read_table("segments/assignments.parquet").set_index("customer_id")["segment"]
    pseudonyms = scoring_key_pseudonyms(got["customer_id"])
    assert set(pseudonyms) == set(saved.index)
    np.testing.assert_array_equal(got["segment"].to_numpy(), saved.loc[pseudonyms].to_numpy())

    register.loc[register["recorded_at"] == "2026-07-03", "recorded_at"] = "2026-06-29"
    register.to_parquet(tmp_path / "redated.parquet")
    moved = _plain_duckdb(tmp_path / "seg.sql", folder / "customers.parquet", folder / "transactions.parquet",
                          tmp_path, choices=tmp_path / "redated.parquet").set_index("customer_id")["segment"]
    mine = late["customer_id"].to_numpy()
    assert (moved.loc[mine].to_numpy() != saved.loc[scoring_key_pseudonyms(pd.Series(mine))].to_numpy()).any()


def test_a_correction_applied_at_preparation_is_withdrawn_with_the_customers_row(dated_run, tmp_path, monkeypatch):
    """Withdrawing corrections that preparation applied: refused without the customers' rows (the run keeps only
    the corrected values; exit 2, nothing written), restored with them; the history then agrees with the exported
    SQL on the register holding the withdrawals, for every customer."""
    from workbench import Run

    monkeypatch.setenv("WORKBENCH_PSEUDONYM_KEY", KEY)
    shutil.copytree(dated_run["run"].path, tmp_path / "run")
    run, folder, early = Run(tmp_path / "run"), dated_run["folder"], dated_run["early"]
    mine = scoring_key_pseudonyms(early["customer_id"])
    prepared = run.customers().set_index("customer_id").loc[mine, INPUTS]
    assert (prepared.to_numpy() != early[INPUTS].to_numpy()).any()  # preparation applied the corrections
    withdraw = pd.DataFrame({"id": early["customer_id"], "kind": "withdraw", "value": "rectify",
                             "recorded_at": "2026-06-25"})
    withdraw.to_csv(tmp_path / "withdraw.csv", index=False)
    res = CliRunner().invoke(app, ["assign", "--run", str(run.path), "--choices", str(tmp_path / "withdraw.csv"),
                                   "--since", "2026-06-21"])
    assert res.exit_code == 2 and "4 customer(s) withdraw corrections" in res.output and "--customers" in res.output
    assert not (run.path / "artifacts" / "assignments" / "choices").exists()

    report = scoring.assign_incremental(run.path, since="2026-06-21", choices=withdraw, customers=early)
    assert report["rescored"] == 4 and report["new_choices"] == 4
    now = scoring.current(scoring.read_history(run.path))["segment"].astype(int)
    pd.concat([dated_run["register"], withdraw], ignore_index=True).to_parquet(tmp_path / "register.parquet")
    scoring.export_sql(run.path, "duckdb", tmp_path / "seg.sql", choices="choices", as_of=report["as_of"])
    got = _plain_duckdb(tmp_path / "seg.sql", folder / "customers.parquet", folder / "transactions.parquet",
                        tmp_path, choices=tmp_path / "register.parquet")
    got = got.set_index(scoring_key_pseudonyms(got["customer_id"]))["segment"]
    assert set(got.index) == set(now.index)
    np.testing.assert_array_equal(got.loc[now.index].to_numpy(), now.to_numpy())


def scoring_key_pseudonyms(ids: pd.Series) -> np.ndarray:
    """Raw ids as the run's pseudonyms (the key the test sets)."""
    from workbench import privacy

    return privacy.pseudonymise(ids.astype(str), privacy.resolve_key(privacy.DEFAULTS)).to_numpy()
