"""Engine settings from the config, and the one SparkSession of a process."""

from __future__ import annotations

import copy
import os
import sys

from ..data import InputError

ENGINES = ("duckdb", "spark")

#: Settings of the ``spark`` config section. ``conf`` is passed to the session builder unchanged.
SPARK_DEFAULTS = {
    "master": "local[2]",
    "conf": {},
    # where per-customer tables are written for Spark to read (Engine.register_rows / fetch_rows):
    # None is a local temporary folder; on a cluster, storage the driver and the executors both see
    "scratch": None,
}

# Small-data defaults for a local session: few shuffle partitions (the default 200 makes every
# GROUP BY of a test table start 200 tasks), no web UI, UTC so timestamps never shift, Arrow for
# the pandas round trip, and timestamps without time zone (pandas' naive timestamps, DuckDB's
# TIMESTAMP): with TIMESTAMP_LTZ a naive value would be read in the session zone.
# Constraint propagation off: over a file scan (not a table sent from pandas, which the optimizer
# folds away first) it derives constraints from every alias of the scoring and margin queries'
# chained projections and never finished planning `margin_importance_query` (measured: > 10 min
# and a heap OOM at 700 rows; 8 s with it off). It only infers extra filters; results are the same.
_SESSION_CONF = {
    "spark.sql.constraintPropagation.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
}

#: Settings of the ``duckdb`` config section, applied to every DuckDB connection of a run (the run
#: process's and the notebook kernel's). ``memory_limit`` (e.g. ``"2GB"``) makes DuckDB spill its
#: sorts, joins and group-bys to ``temp_directory`` instead of growing past it; None keeps DuckDB's
#: default (80% of the machine's memory). ``threads`` None keeps DuckDB's default (one per core).
DUCKDB_DEFAULTS = {"memory_limit": None, "threads": None, "temp_directory": None}

_SESSION = None


def engine_settings(config: dict | None) -> tuple[str, dict]:
    """The engine a config asks for and its ``spark`` section merged over :data:`SPARK_DEFAULTS`.

    Parameters
    ----------
    config : dict or None
        A run config (top-level keys ``engine`` and ``spark``); ``None`` means the defaults.

    Returns
    -------
    (str, dict)
        ``"duckdb"`` or ``"spark"``, and the Spark settings (``master``, ``conf``).

    Raises
    ------
    InputError
        An unknown engine name, or a ``spark`` section that is not a mapping.
    """
    config = config or {}
    name = str(config.get("engine") or "duckdb").lower()
    if name not in ENGINES:
        raise InputError(f"Config error: engine '{name}' is not known; use one of {list(ENGINES)} (e.g. -p engine=duckdb).")
    spark = config.get("spark") or {}
    if not isinstance(spark, dict) or not isinstance(spark.get("conf") or {}, dict):
        raise InputError("Config error: `spark` must be a mapping like {master: 'local[2]', conf: {key: value}}.")
    settings = copy.deepcopy(SPARK_DEFAULTS)
    settings.update({k: v for k, v in spark.items() if k != "conf"})
    settings["conf"] = {**SPARK_DEFAULTS["conf"], **(spark.get("conf") or {})}
    return name, settings


def duckdb_settings(config: dict | None) -> dict:
    """The ``duckdb`` section of a config merged over :data:`DUCKDB_DEFAULTS`.

    Raises
    ------
    InputError
        A section that is not a mapping, or a key DuckDB's section does not have.
    """
    section = (config or {}).get("duckdb") or {}
    if not isinstance(section, dict):
        raise InputError("Config error: `duckdb` must be a mapping like {memory_limit: 4GB, threads: 2}.")
    unknown = sorted(set(section) - set(DUCKDB_DEFAULTS))
    if unknown:
        raise InputError(f"Config error: duckdb.{unknown[0]} is not a DuckDB setting here; "
                         f"use one of {sorted(DUCKDB_DEFAULTS)}.")
    return {**DUCKDB_DEFAULTS, **section}


def spark_session(settings: dict | None = None):
    """The process's SparkSession, created on first use from ``settings`` (``master``, ``conf``).

    One session per process: Spark allows one active local context per JVM, and starting one
    costs seconds. Later calls return the same session whatever their settings. ``master`` may be
    ``local[N]``, a cluster URL (``spark://``, ``yarn``, ``k8s://``) or a Spark Connect address
    ``sc://host:port`` (then only runtime settings apply, and ``pyspark[connect]`` must be installed).
    """
    global _SESSION
    if _SESSION is not None:
        return _SESSION
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # pragma: no cover - depends on the environment
        raise InputError("engine: spark needs pyspark: pip install 'workbench[spark]' (and Java 17+).") from None
    settings = {**SPARK_DEFAULTS, **(settings or {})}
    master = str(settings["master"])
    builder = SparkSession.builder.appName("workbench")
    builder = builder.remote(master) if master.startswith("sc://") else builder.master(master)
    for key, value in {**_SESSION_CONF, **(settings.get("conf") or {})}.items():
        if master.startswith("sc://") and key.startswith("spark.ui"):
            continue  # a static setting of the server, not of this client
        builder = builder.config(key, str(value))
    if not master.startswith("sc://"):
        _executor_python(settings.get("conf") or {})
    _SESSION = builder.getOrCreate()
    if not master.startswith("sc://"):
        _SESSION.sparkContext.setLogLevel("ERROR")
    return _SESSION


def spark_running() -> bool:
    """Whether this process has started a SparkSession (and not stopped it)."""
    return _SESSION is not None


def stop_spark() -> None:
    """Stop the process's SparkSession, if one was started, and end the JVM it ran in.

    ``SparkSession.stop`` alone leaves the JVM (and its heap, up to ``spark.driver.memory``) running
    for the rest of the process. ``workbench run`` calls this after ``prepare``: the notebooks run
    in the kernel, which has a session of its own, so the run process would otherwise hold a second
    idle JVM for the whole run. A later :func:`spark_session` starts a fresh one.
    """
    global _SESSION
    if _SESSION is None:
        return
    session, _SESSION = _SESSION, None
    session.stop()
    from pyspark import SparkContext

    gateway = getattr(SparkContext, "_gateway", None)
    if gateway is None:  # Spark Connect: the server's JVM is not ours
        return
    proc = getattr(gateway, "proc", None)
    gateway.shutdown()
    SparkContext._gateway = SparkContext._jvm = None
    if proc is not None:  # the gateway JVM exits when its stdin closes
        proc.stdin.close()
        proc.wait(timeout=60)


def _executor_python(conf: dict) -> None:
    """Set the interpreter executors start their Python workers with (``mapInPandas``, Arrow UDFs).

    PySpark takes it from ``PYSPARK_PYTHON`` when the context starts (``spark.pyspark.python`` is read
    only by ``spark-submit``), else ``python3`` from the executor's ``PATH``: on this machine's
    standalone cluster that was the system Python, without pyarrow (measured: ``ModuleNotFoundError``
    in the first Arrow batch). Precedence: ``spark.pyspark.python`` in ``spark.conf``, then
    ``PYSPARK_PYTHON``, then the driver's own interpreter (right in local mode and for a cluster on
    the same machine). On other hosts name the executors' interpreter, which must have this workbench
    version installed: functions from its modules travel to executors by reference, not by value.
    """
    python = conf.get("spark.pyspark.python") or os.environ.get("PYSPARK_PYTHON") or sys.executable
    os.environ["PYSPARK_PYTHON"] = str(python)
