"""Engine settings from the config: defaults, pass-through of Spark settings, clear errors."""

import pytest

from workbench import engine
from workbench.data import InputError, apply_overrides


def test_default_is_duckdb_and_local_two_cores():
    assert engine.engine_settings(None) == ("duckdb", {"master": "local[2]", "conf": {}, "scratch": None})
    assert engine.engine_settings({}) == ("duckdb", {"master": "local[2]", "conf": {}, "scratch": None})


def test_override_selects_spark_and_passes_settings_through():
    config = apply_overrides({"engine": "duckdb"}, ["engine=spark", "spark.master=sc://host:15002",
                                                    "spark.conf={spark.executor.memory: 8g}",
                                                    "spark.scratch=/mnt/shared/tmp"])
    name, settings = engine.engine_settings(config)
    assert name == "spark"
    assert settings == {"master": "sc://host:15002", "conf": {"spark.executor.memory": "8g"},
                        "scratch": "/mnt/shared/tmp"}


def test_unknown_engine_names_the_key_and_the_choices():
    with pytest.raises(InputError, match=r"engine 'polars' is not known; use one of \['duckdb', 'spark'\]"):
        engine.engine_settings({"engine": "polars"})
    with pytest.raises(InputError, match="`spark` must be a mapping"):
        engine.engine_settings({"engine": "spark", "spark": "local[2]"})


def test_make_engine_defaults_to_embedded_duckdb():
    with engine.make_engine({}) as eng:
        assert isinstance(eng, engine.DuckDBEngine)
        assert eng.sql("SELECT 1 AS x")["x"].tolist() == [1]


def test_using_nests_and_restores():
    assert engine.active_config() == {}
    with engine.using({"engine": "spark"}):
        with engine.using({"engine": "duckdb"}):
            assert engine.active_config()["engine"] == "duckdb"
        assert engine.active_config()["engine"] == "spark"
    assert engine.active_config() == {}


def test_a_bad_engine_stops_prepare_before_anything_is_written(tmp_path):
    from workbench.data import load_config
    from workbench.pipeline import prepare

    cfg = load_config(dataset="synthetic", overrides=["dataset.params.n_customers=200", "engine=polars"])
    with pytest.raises(InputError, match="engine 'polars' is not known"):
        prepare(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


_STOP_SCRIPT = """
import os, subprocess
from workbench import engine

def jvms():
    return subprocess.run(["pgrep", "-P", str(os.getpid()), "java"], capture_output=True, text=True).stdout.split()

engine.SparkEngine({"master": "local[1]"}).sql("SELECT 1 AS x")
assert engine.spark_running() and jvms()
engine.stop_spark()
assert not engine.spark_running() and not jvms(), jvms()
assert int(engine.SparkEngine({"master": "local[1]"}).sql("SELECT 2 AS x")["x"][0]) == 2  # a fresh one starts
engine.stop_spark()
print("stopped")
"""


def test_stop_spark_ends_the_jvm_and_a_later_session_starts_fresh():
    """What `workbench run` does after prepare: the run process holds no idle JVM beside the kernel's.

    In a child process: stopping the test session's own SparkSession would end it for every other test.
    """
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _STOP_SCRIPT], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "stopped" in done.stdout, done.stderr[-2000:]


def test_duckdb_section_sets_the_connection_and_spills_under_its_memory_limit(tmp_path):
    config = apply_overrides({}, ["duckdb.memory_limit=64MB", "duckdb.threads=1", f"duckdb.temp_directory={tmp_path}"])
    with engine.make_engine(config) as eng:
        got = eng.sql("SELECT current_setting('memory_limit') AS m, current_setting('threads') AS t, "
                      "current_setting('temp_directory') AS d")
        assert got["m"][0].startswith("61") and got["t"][0] == 1 and got["d"][0] == str(tmp_path)
        # a group-by of 3M distinct keys needs more than 64 MB of hash table: it spills instead of failing
        out = eng.sql("SELECT count(*) AS n, sum(c) AS s FROM (SELECT i % 3000000 AS k, count(*) AS c "
                      "FROM range(6000000) t(i) GROUP BY k)")
        assert (int(out["n"][0]), int(out["s"][0])) == (3_000_000, 6_000_000)


def test_duckdb_section_errors_name_the_key_and_the_fix():
    with pytest.raises(InputError, match=r"duckdb.memroy_limit is not a DuckDB setting here; use one of"):
        engine.make_engine({"duckdb": {"memroy_limit": "2GB"}})
    with pytest.raises(InputError, match=r"duckdb.memory_limit = 'lots' was refused by DuckDB .*memory_limit=4GB"):
        engine.make_engine({"duckdb": {"memory_limit": "lots"}})
    with pytest.raises(InputError, match="`duckdb` must be a mapping"):
        engine.make_engine({"duckdb": "2GB"})
