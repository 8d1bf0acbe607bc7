"""One SparkSession (local[2]) for the whole test session, and the two engines side by side."""

import pytest

from workbench import engine


@pytest.fixture(scope="session")
def spark_engine():
    # Starting the JVM costs seconds: every Spark test shares this session (engine.spark_session
    # keeps one per process anyway); views are dropped after each use via close().
    eng = engine.SparkEngine({"master": "local[2]"})
    yield eng
    eng.close()


@pytest.fixture()
def duckdb_engine():
    eng = engine.DuckDBEngine(threads=1)
    yield eng
    eng.close()


@pytest.fixture()
def engines(duckdb_engine, spark_engine):
    return {"duckdb": duckdb_engine, "spark": spark_engine}
