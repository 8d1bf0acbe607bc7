"""One SQL text, two engines: DuckDB runs it as written, Spark runs SQLGlot's Spark translation."""

from __future__ import annotations

import contextlib
import itertools
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ..data import InputError
from ._session import duckdb_settings, engine_settings, spark_session


@lru_cache(maxsize=256)
def to_spark_sql(text: str) -> str:
    """Translate one DuckDB statement to Spark SQL with SQLGlot (no hand-written rewriting).

    The project's queries are written in DuckDB's dialect, kept to constructs both engines share
    (aggregate ``FILTER``, ``CASE``, ``greatest``, ``sha256``/``unhex``); SQLGlot renames the few
    functions that differ (``sha256(x)`` -> ``SHA2(x, 256)``, ``date_diff`` -> ``DATEDIFF``). One
    node is mapped before SQLGlot writes it: the exact quantile ``quantile_cont(x, p)`` becomes Spark's
    exact ``percentile(x, p)`` (SQLGlot writes ``percentile_cont(x, p)``, which Spark 4 does not accept
    in that form; both interpolate linearly between the two nearest values).
    """
    import sqlglot
    from sqlglot import exp

    def exact_quantile(node):
        if isinstance(node, exp.PercentileCont) and node.expression is not None:
            return exp.Quantile(this=node.this, quantile=node.expression)
        return node

    return sqlglot.parse_one(text, read="duckdb").transform(exact_quantile).sql(dialect="spark")


def _paths(data) -> list[str] | None:
    """File paths of a registration, or ``None`` when ``data`` is a DataFrame (pandas, or a pyarrow Table)."""
    if isinstance(data, pd.DataFrame) or hasattr(data, "num_rows"):
        return None
    items = [data] if isinstance(data, (str, Path)) else list(data)
    return [str(p) for p in items]


def _format(paths: list[str]) -> str:
    first = Path(paths[0])
    if first.is_dir() or first.suffix in (".parquet", ".pq") or "*.parquet" in first.name:
        return "parquet"
    if first.suffix in (".csv", ".gz") or first.name.endswith(".csv.gz"):
        return "csv"
    raise ValueError(f"Cannot tell the format of {paths[0]}: name Parquet files *.parquet and CSV files *.csv.")


#: Rows per Parquet row group when the driver writes a per-customer table: the driver holds one
#: slice's Arrow copy at a time, not a second copy of the table.
WRITE_BATCH_ROWS = 250_000


def write_frame_parquet(frame: pd.DataFrame, path: Path, batch_rows: int = WRITE_BATCH_ROWS) -> Path:
    """Write ``frame`` (index dropped) to one Parquet file with pyarrow, ``batch_rows`` rows at a time.

    Timestamps are written in microseconds: Spark cannot read Parquet's nanosecond timestamps, and
    pandas' naive timestamps stay naive (``TIMESTAMP_NTZ`` on Spark, ``TIMESTAMP`` on DuckDB).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.Schema.from_pandas(frame, preserve_index=False)  # inferred from every row, not the first slice
    with pq.ParquetWriter(path, schema, coerce_timestamps="us", allow_truncated_timestamps=True) as writer:
        for start in range(0, max(len(frame), 1), batch_rows):
            part = frame.iloc[start:start + batch_rows]
            writer.write_table(pa.Table.from_pandas(part, schema=schema, preserve_index=False))
    return path


def read_parquet_folder(path: Path) -> pd.DataFrame:
    """The Parquet parts an engine wrote into folder ``path`` (``to_parquet``), in part order, as pandas."""
    import pyarrow.dataset as ds

    files = sorted(str(p) for p in Path(path).glob("*.parquet") if not p.name.startswith(("_", ".")))
    return ds.dataset(files, format="parquet").to_table().to_pandas()


class Engine:
    """Where the heavy queries run: ``register`` tables, then ``sql`` (small results) or ``to_parquet``.

    Subclasses: :class:`DuckDBEngine` (embedded, the default) and :class:`SparkEngine`. Every query
    is one DuckDB-dialect SQL text; :class:`SparkEngine` runs its SQLGlot translation.
    """

    name = "engine"
    _scratch: Path | None = None  # created by scratch() on first use
    _scratch_root: str | None = None  # where: the system's temporary folder unless set (``spark.scratch``)

    def register(self, name: str, data, *, text: bool = False, delimiter: str | None = None,
                 file_column: str | None = None) -> "Engine":
        """Make ``data`` queryable as table ``name``: a DataFrame, or Parquet/CSV path(s) (files, globs, folders).

        For paths: ``text`` reads every CSV column as text (no type guessing; Parquet stays typed),
        ``delimiter`` is the CSV delimiter (default: DuckDB sniffs, Spark ``,``), and ``file_column``
        adds a column of that name holding each row's file name (without its folder).
        """
        raise NotImplementedError

    def register_rows(self, name: str, frame: pd.DataFrame) -> "Engine":
        """Make a per-customer (large) DataFrame (or pyarrow Table) queryable as table ``name`` without copying it
        through the engine's client.

        DuckDB scans the DataFrame in place. Spark reads it from a Parquet file that the driver writes
        with pyarrow into :meth:`scratch` (no pandas -> Spark conversion of every row through the
        JVM gateway, so the JVM driver's heap does not hold the table). Small tables (keys, weights,
        the erasure list) go through :meth:`register`: the pseudonym key must never be written to disk.
        """
        return self.register(name, frame)

    def register_view(self, name: str, text: str) -> "Engine":
        """Make the query ``text`` queryable as view ``name`` (computed when used, not now)."""
        raise NotImplementedError

    def fetch_rows(self, text: str) -> pd.DataFrame:
        """Run a query with a per-customer (large) result and return it as a DataFrame.

        DuckDB hands over its result in process. Spark writes it as Parquet into :meth:`scratch`
        and the driver reads the files with pyarrow (no ``toPandas``: the rows are not collected
        through the JVM driver). Row order is the query's ``ORDER BY`` on DuckDB and is not kept
        on Spark: carry a row number and restore the order on the driver.
        """
        raise NotImplementedError

    def scratch(self) -> Path:
        """A folder for this engine's temporary files, created on first use and removed by :meth:`close`.

        Spark's executors read what the driver writes there: on a cluster, point ``spark.scratch``
        at storage both see (the default is a local temporary folder).
        """
        if self._scratch is None:
            if self._scratch_root:
                Path(self._scratch_root).mkdir(parents=True, exist_ok=True)
            self._scratch = Path(tempfile.mkdtemp(prefix=f"workbench-{self.name}-", dir=self._scratch_root))
        return self._scratch

    def _remove_scratch(self) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def sql(self, text: str) -> pd.DataFrame:
        """Run a query and return its (small) result as a DataFrame."""
        raise NotImplementedError

    def to_parquet(self, text: str, path: str | Path) -> Path:
        """Run a query and write its (large) result as Parquet files into folder ``path``."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the engine's tables (the SparkSession itself lives as long as the process)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class DuckDBEngine(Engine):
    """An in-memory DuckDB connection.

    Parameters
    ----------
    threads : int, optional
        Worker threads; DuckDB's default (one per core) when None.
    memory_limit : str, optional
        DuckDB's ``memory_limit`` (e.g. ``"2GB"``): above it sorts, joins and group-bys spill to
        ``temp_directory`` rather than growing the process. None keeps DuckDB's default.
    temp_directory : str, optional
        Where DuckDB spills; DuckDB's default when None.
    """

    name = "duckdb"

    def __init__(self, threads: int | None = None, memory_limit: str | None = None,
                 temp_directory: str | None = None):
        import duckdb

        self.con = duckdb.connect()
        settings = {"threads": int(threads) if threads else None, "memory_limit": memory_limit,
                    "temp_directory": temp_directory}
        for key, value in settings.items():
            if value is None:
                continue
            literal = str(value) if key == "threads" else "'" + str(value).replace("'", "''") + "'"
            try:
                self.con.execute(f"SET {key} = {literal}")
            except duckdb.Error as exc:
                self.con.close()
                raise InputError(f"Config error: duckdb.{key} = {value!r} was refused by DuckDB ({exc}); "
                                 f"e.g. duckdb.memory_limit=4GB, duckdb.threads=2.") from None

    def register(self, name, data, *, text=False, delimiter=None, file_column=None):
        paths = _paths(data)
        if paths is None:
            self.con.register(name, data)
            return self
        fmt = _format(paths)
        paths = [str(Path(p) / "*.parquet") if Path(p).is_dir() else p for p in paths]
        listing = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
        options = (", all_varchar = true" if text else "") + (
            ", delim = '" + delimiter.replace("'", "''") + "'" if delimiter else "")
        reader = f"read_parquet({listing})" if fmt == "parquet" else f"read_csv({listing}, header = true{options})"
        extra = f', parse_filename(filename) AS "{file_column}"' if file_column else ""
        self.con.execute(f'CREATE OR REPLACE VIEW "{name}" AS SELECT *{extra} FROM {reader}')
        return self

    def register_view(self, name, text):
        self.con.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS {text}')
        return self

    def sql(self, text):
        return self.con.execute(text).df()

    def fetch_rows(self, text):
        return self.sql(text)

    def to_parquet(self, text, path):
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        target = str(path / "part-0.parquet").replace("'", "''")
        self.con.execute(f"COPY ({text}) TO '{target}' (FORMAT parquet)")
        return path

    def close(self):
        self.con.close()
        self._remove_scratch()


class SparkEngine(Engine):
    """The process's SparkSession (see :func:`spark_session`); tables are temporary views."""

    name = "spark"

    def __init__(self, settings: dict | None = None):
        self.spark = spark_session(settings)
        self._views: list[str] = []
        self._scratch_root = (settings or {}).get("scratch")
        self._files = itertools.count()

    def register(self, name, data, *, text=False, delimiter=None, file_column=None):
        from pyspark.sql import functions as F

        paths = _paths(data)
        if paths is None:
            frame = self.spark.createDataFrame(data)
        elif _format(paths) == "parquet":
            frame = self.spark.read.parquet(*paths)
        else:
            frame = self.spark.read.csv(paths, header=True, inferSchema=not text, sep=delimiter or ",")
        if file_column and paths is not None:
            # Spark's file_name is URL-encoded ("my%20file.csv"); decode it, keeping a literal "+" a "+"
            decoded = F.expr("url_decode(replace(_metadata.file_name, '+', '%2B'))")
            frame = frame.select("*", decoded.alias(file_column))
        frame.createOrReplaceTempView(name)
        self._views.append(name)
        return self

    def register_rows(self, name, frame):
        # a new file per registration: a view registered earlier may still read the previous one
        path = self.scratch() / f"{name}-{next(self._files)}.parquet"
        if isinstance(frame, pd.DataFrame):
            write_frame_parquet(frame, path)
        else:  # a pyarrow Table
            import pyarrow.parquet as pq

            pq.write_table(frame, path, coerce_timestamps="us", allow_truncated_timestamps=True)
        return self.register(name, path)

    def register_view(self, name, text):
        self.spark.sql(to_spark_sql(text)).createOrReplaceTempView(name)
        self._views.append(name)
        return self

    def sql(self, text):
        return self.spark.sql(to_spark_sql(text)).toPandas()

    def fetch_rows(self, text):
        return read_parquet_folder(self.to_parquet(text, self.scratch() / f"result-{next(self._files)}"))

    def to_parquet(self, text, path):
        self.spark.sql(to_spark_sql(text)).write.mode("overwrite").parquet(str(path))
        return Path(path)

    def close(self):
        for name in self._views:
            self.spark.catalog.dropTempView(name)
        self._views.clear()
        self._remove_scratch()


def make_engine(config: dict | None = None, threads: int | None = None) -> Engine:
    """The engine a run config asks for (top-level ``engine`` and ``spark`` keys).

    Parameters
    ----------
    config : dict, optional
        ``engine: duckdb`` (default, with ``duckdb: {memory_limit, threads, temp_directory}``) or
        ``engine: spark`` with ``spark: {master, conf}``.
    threads : int, optional
        DuckDB worker threads (over ``duckdb.threads``).

    Returns
    -------
    Engine
        Use it as a context manager, or call ``close`` when done.
    """
    name, spark = engine_settings(config)
    if name == "spark":
        return SparkEngine(spark)
    duck = duckdb_settings(config)
    return DuckDBEngine(threads or duck["threads"], duck["memory_limit"], duck["temp_directory"])


_ACTIVE: list[dict] = []


@contextlib.contextmanager
def using(config: dict | None):
    """Within this block, :func:`active_config` is ``config``: the engine heavy queries run on.

    Stage code calls ``with using(run.config):`` once; the queries inside (for example
    :func:`workbench.features.transaction_features`) open their engine with
    ``make_engine(active_config())``, so no signature in between has to carry it.
    """
    _ACTIVE.append(config or {})
    try:
        yield
    finally:
        _ACTIVE.pop()


def active_config() -> dict:
    """The config of the innermost :func:`using` block, or ``{}`` (DuckDB) outside any."""
    return _ACTIVE[-1] if _ACTIVE else {}
