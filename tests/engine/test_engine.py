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
