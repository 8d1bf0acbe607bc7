"""The whole audit on DuckDB and on Spark local[2] gives the same summary.json (counts exactly, floats within 1e-9).

The stages run in this process, in the notebooks' order and with the calls the notebooks make, so the
one SparkSession of the test session serves every stage (a notebook kernel would start a JVM each): the
session fixture ``engine_audits`` (tests/conftest.py) runs them once for this module and tests/engine's.
``make test-cluster`` runs this module against a standalone cluster (master and two workers, each
executor its own JVM): the per-customer tables then cross processes through the scratch folder.
"""

import pytest

from workbench import engine


@pytest.fixture(scope="module")
def spark_session(spark_settings):
    # one JVM for the module; engine.spark_session keeps it for the process (tests/engine shares it)
    eng = engine.SparkEngine(spark_settings)
    yield eng.spark
    eng.close()


def _differences(a, b, path="summary") -> list[str]:
    """Where two JSON trees differ: numbers by more than 1e-9, anything else at all."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a.keys() ^ b.keys())}"]
        return [d for k in a for d in _differences(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} vs {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{path}[{i}]")]
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None or abs(a - b) > 1e-9:
            return [f"{path}: {a!r} vs {b!r}"]
        return []
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} vs {b!r}"]


def test_json_difference_finds_counts_floats_and_keys():
    assert _differences({"n": 3, "r": 0.5}, {"n": 3, "r": 0.5 + 1e-12}) == []
    assert _differences({"n": 3}, {"n": 4}) == ["summary.n: 3 vs 4"]
    assert _differences({"r": [0.5]}, {"r": [0.5001]}) == ["summary.r[0]: 0.5 vs 0.5001"]
    assert _differences({"a": 1}, {"b": 1}) == ["summary: keys ['a', 'b']"]


def test_the_whole_audit_gives_the_same_summary_on_duckdb_and_spark(engine_audits):
    # the two audits are the session's (tests/conftest.py: engine_audits), shared with tests/engine/test_parity.py
    duck, spark = engine_audits["duckdb"][1], engine_audits["spark"][1]
    assert duck["n_customers"] > 1500 and duck["privacy"]["customers_kept"] == duck["n_customers"]
    assert {"02_segmentation", "04_fairness", "05_dynamics", "06_private_release", "07_predicted_value"} <= duck.keys()
    assert _differences(duck, spark) == []


def test_python_workers_run_the_drivers_interpreter_and_arrow_batches_cross_processes(spark_session, spark_settings):
    import os
    import sys

    def where(batches):  # nested, so cloudpickle sends it by value (executors cannot import a test module)
        import os as _os
        import sys as _sys

        import pandas as _pd
        import pyarrow

        for batch in batches:
            yield _pd.DataFrame({"pid": [_os.getpid()], "python": [_sys.executable], "rows": [len(batch)],
                                 "arrow": [pyarrow.__version__]})

    import pyarrow

    # the session is the one make test-cluster asked for, not a local one started earlier in the process
    assert spark_session.sparkContext.master == spark_settings["master"]
    out = spark_session.range(0, 1000, numPartitions=2).mapInPandas(
        where, "pid long, python string, rows long, arrow string").toPandas()
    assert out["rows"].sum() == 1000
    assert set(out["python"]) == {sys.executable} and set(out["arrow"]) == {pyarrow.__version__}
    assert os.getpid() not in set(out["pid"])
