"""The two engines side by side (the session's one SparkSession comes from tests/conftest.py)."""

import pytest

from workbench import engine


@pytest.fixture()
def duckdb_engine():
    eng = engine.DuckDBEngine(threads=1)
    yield eng
    eng.close()


@pytest.fixture()
def engines(duckdb_engine, spark_engine):
    return {"duckdb": duckdb_engine, "spark": spark_engine}
