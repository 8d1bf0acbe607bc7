"""The engine seam: SQLGlot's Spark translation, reading Parquet/CSV, small results, large results to Parquet."""

import pandas as pd
import pytest

from workbench import engine


def test_translation_renames_what_differs_and_keeps_filter_clauses():
    spark = engine.to_spark_sql(
        "SELECT sha256(x || unhex('00')), date_diff('day', CAST(a AS DATE), CAST(b AS DATE)), "
        "count(*) FILTER (WHERE y > 0) FROM t GROUP BY z"
    )
    assert "SHA2(" in spark and ", 256)" in spark
    assert "DATEDIFF(" in spark.upper()
    assert "FILTER(WHERE y > 0)" in spark.replace(" (", "(")


def test_unknown_file_format_is_a_clear_error(duckdb_engine, tmp_path):
    with pytest.raises(ValueError, match=r"name Parquet files \*\.parquet and CSV files \*\.csv"):
        duckdb_engine.register("t", tmp_path / "data.txt")


def _frame(n=50):
    return pd.DataFrame({"customer_id": [f"c{i:03d}" for i in range(n)], "amount": [i * 0.5 for i in range(n)],
                         "region": ["north", "south", None, "east", "west"] * (n // 5)})


def test_files_read_and_results_written_identically(engines, tmp_path):
    frame = _frame()
    parts = tmp_path / "in"
    parts.mkdir()
    frame.iloc[:20].to_parquet(parts / "a.parquet")
    frame.iloc[20:].to_parquet(parts / "b.parquet")
    frame.to_csv(tmp_path / "all.csv", index=False)
    query = "SELECT region, count(*) AS n, sum(amount) AS total FROM {} GROUP BY region ORDER BY region NULLS LAST"
    results = {}
    for name, eng in engines.items():
        eng.register("pq", parts).register("csv", tmp_path / "all.csv")
        small = eng.sql(query.format("pq"))
        pd.testing.assert_frame_equal(small, eng.sql(query.format("csv")), check_dtype=False)
        written = eng.to_parquet("SELECT customer_id, amount * 2 AS double FROM pq", tmp_path / f"out_{name}")
        back = pd.read_parquet(written).sort_values("customer_id").reset_index(drop=True)
        assert back["double"].tolist() == [2 * a for a in frame["amount"]]
        results[name] = small
        eng.close()
    pd.testing.assert_frame_equal(results["duckdb"], results["spark"], check_dtype=False)
    assert results["spark"]["n"].tolist() == [10, 10, 10, 10, 10]


def _mixed(n=1100):
    """Per-customer columns of every kind a stage registers: text with gaps, NaN, ints, booleans, naive timestamps."""
    base = pd.Timestamp("2024-01-01 10:00:00")
    return pd.DataFrame({
        "row": range(n),
        "region": pd.Series(["north", None, "south", "east"] * (n // 4), dtype=object),
        "amount": [float("nan") if i % 7 == 0 else i / 3 for i in range(n)],
        "visits": pd.Series(range(n), dtype="int64"),
        "active": [i % 3 == 0 for i in range(n)],
        "timestamp": [base + pd.Timedelta(minutes=17 * i) for i in range(n)],
    })


def test_per_customer_rows_go_in_and_come_back_the_same_on_both_engines(engines, monkeypatch):
    monkeypatch.setattr(engine._engine, "WRITE_BATCH_ROWS", 256)  # several row groups, as at scale
    frame = _mixed()
    query = ("SELECT row, region, amount, visits, active, timestamp, "
             "timestamp < TIMESTAMP '2024-01-05 00:00:00' AS early FROM rows_in")
    got = {}
    for name, eng in engines.items():
        out = eng.register_rows("rows_in", frame).fetch_rows(query)
        got[name] = out.sort_values("row").reset_index(drop=True)
        eng.close()
    for out in got.values():
        assert out["row"].tolist() == frame["row"].tolist()
        assert out["region"].isna().sum() == frame["region"].isna().sum()
        assert out["amount"].isna().sum() == frame["amount"].isna().sum()  # NaN arrives as missing on both
        assert out["timestamp"].tolist() == frame["timestamp"].tolist()   # naive, not shifted by a zone
        assert out["early"].sum() == int((frame["timestamp"] < pd.Timestamp("2024-01-05")).sum())
    pd.testing.assert_frame_equal(got["duckdb"], got["spark"], check_dtype=False)


def test_spark_reads_per_customer_rows_from_parquet_in_scratch_and_close_removes_it(spark_engine):
    spark_engine.register_rows("rows_in", _mixed(40))
    files = spark_engine.spark.table("rows_in").inputFiles()  # empty for a table converted from pandas
    scratch = spark_engine.scratch()
    assert len(files) == 1 and files[0].endswith(".parquet") and str(scratch) in files[0]
    assert spark_engine.fetch_rows("SELECT count(*) AS n FROM rows_in")["n"].tolist() == [40]
    spark_engine.close()
    assert not scratch.exists()
    assert "rows_in" not in [t.name for t in spark_engine.spark.catalog.listTables()]


def test_spark_scratch_setting_places_the_files_for_a_cluster(spark_engine, tmp_path):
    # on a cluster the executors must read what the driver writes: `spark.scratch` names shared storage
    eng = engine.SparkEngine({"master": "local[2]", "scratch": str(tmp_path)})
    eng.register_rows("rows_in", _mixed(8))
    assert eng.scratch().parent == tmp_path and list(eng.scratch().glob("rows_in-*.parquet"))
    eng.close()
    assert list(tmp_path.iterdir()) == []
