"""Reading and validating bring-your-own tables in the engine (``dataset.read: engine``, :func:`workbench.data.read_mode`).

At 100M customers the pandas read of :func:`~workbench.data.from_config` cannot start. On this path
the run's engine (DuckDB or Spark) registers the files themselves: one file, a list, a folder or a
glob, Parquet typed and every CSV column as text. Headers are matched to the role names ignoring case
and surrounding spaces (:func:`~workbench.data._reading.match_headers`), pandas' spellings of a
missing value read as missing, and each text column is typed as pandas' CSV reader would type it
(whole numbers, numbers, true/false, else text) from one query of counts. The checks of
:mod:`workbench.engine._input_checks` then run as count queries and raise :class:`InputError` listing
every problem at once. What passes is registered as the views preparation reads
(``prep_customers`` with ``_row``, ``prep_transactions``), typed and with out-of-period transactions
left out; only counts and a few example values ever reach the driver.

``_row``, the order of the prepared customers, is the raw id as text here (the input order of many
files is not the same on two engines); prepared transactions are ordered by their columns.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..data._checks import blank_consent, future_rows
from ..data._config import DATASET_DEFAULTS
from ..data._reading import match_headers
from ..data._schema import _FALSE_VALUES, _TRUE_VALUES, InputError, Roles
from . import _validation_queries as vq
from ._input_checks import TableShape, customer_lines, missing_columns_line, numeric_columns, transaction_lines
from ._prepare_queries import CUSTOMERS as PREP_CUSTOMERS, ROW, TRANSACTIONS as PREP_TRANSACTIONS
from ._queries import _ident

__all__ = ["EngineInput", "register_input"]

_FINITE = "abs({x}) <= 1.7976931348623157e308"


@dataclass
class EngineInput:
    """What the engine path knows of the input: the :class:`~workbench.data.Dataset` fields preparation
    records, and the columns of the registered views (never their rows)."""

    name: str
    source: str
    roles: Roles
    paths: dict[str, str]
    read_as: dict[str, dict]
    checks: dict[str, Any]
    columns: list[str]
    transaction_columns: list[str] | None
    label_counts: dict | None = None
    truth: None = None


def _files(path_spec, base_dir: Path, table: str) -> tuple[list[str], str]:
    """The paths the engine reads (a folder becomes a glob of its data files) and their format."""
    items = path_spec if isinstance(path_spec, list) else [path_spec]
    out = []
    for item in items:
        path = Path(str(item)).expanduser()
        path = path if path.is_absolute() else base_dir / path
        if path.is_dir():
            kinds = [s for s in ("parquet", "csv") if any(path.glob(f"*.{s}"))]
            if not kinds:
                raise InputError(f"Input error in table '{table}': folder {path} holds no *.parquet or *.csv "
                                 "file. Check the path in the config.")
            path = path / f"*.{kinds[0]}"
        if not glob.glob(str(path)):
            raise InputError(
                f"Input error in table '{table}': file {path} does not exist. "
                "Check the path in the config (relative paths are relative to the config file)."
            )
        out.append(str(path))
    suffixes = {Path(p).suffix.lower() for p in out}
    if suffixes <= {".parquet", ".pq"}:
        return out, "parquet"
    if suffixes == {".csv"}:
        return out, "csv"
    raise InputError(f"Input error in table '{table}': {', '.join(out)} mix formats or are neither Parquet "
                     "(*.parquet) nor CSV (*.csv). Give one format per table.")


def _register(eng, table: str, path_spec, base_dir: Path, wanted: list[str], delimiter) -> tuple:
    """Register one table's files and its clean view.

    Returns its :class:`TableShape`, the files' headers and how they were read (for ``read_as``).
    """
    paths, fmt = _files(path_spec, base_dir, table)
    raw, view = f"raw_{table}", f"clean_{table}"
    how = {"engine": eng.name, "format": fmt, "paths": len(paths)}
    try:
        eng.register(raw, paths, text=True, delimiter=(delimiter or ",") if fmt == "csv" else None,
                     file_column=vq.FILE)
        empty = eng.sql(f"SELECT * FROM {raw} LIMIT 0")
    except Exception as exc:  # each engine's reader errors carry their own detail
        raise InputError(f"Input error in table '{table}' ({', '.join(paths)}): the files cannot be read as "
                         f"{fmt} by {eng.name}: {str(exc).splitlines()[0]}") from None
    headers = [c for c in empty.columns if c != vq.FILE]
    rename = match_headers(headers, wanted)
    csv = fmt == "csv"
    # CSV cells spelt as pandas' missing values are missing; a Parquet NaN is missing, as pandas reads it
    kinds = {rename.get(h, h): (h, "text" if csv else "float" if pd.api.types.is_float_dtype(empty[h]) else "other")
             for h in headers}
    eng.register_view(view, vq.clean_view_query(raw, kinds))
    dtypes = {rename.get(h, h): empty[h].dtype for h in headers}
    typed = {c for c, d in dtypes.items() if pd.api.types.is_numeric_dtype(d) and not pd.api.types.is_bool_dtype(d)}
    # an empty result's text columns come back as object, a full one's as pandas' string dtype
    text = {c for c, d in dtypes.items() if pd.api.types.is_object_dtype(d) or pd.api.types.is_string_dtype(d)}
    profile = eng.sql(vq.profile_query(view, sorted(text))).iloc[0].to_dict()
    shape = TableShape(view=view, columns=list(kinds), typed=typed, text=text, profile=profile, csv=csv,
                       source=", ".join(paths))
    if int(profile["n"]) == 0:
        raise InputError(f"Input error in table '{table}' ({', '.join(paths)}): the file has a header but no rows. "
                         "Export the table again with its data.")
    return shape, headers, how


def _inferred(shape: TableShape, column: str) -> str:
    """A CSV column typed as pandas' CSV reader types it: BIGINT, DOUBLE, BOOLEAN or text (Parquet: as typed)."""
    col = _ident(column)
    if not shape.csv:
        return col
    n, present = int(shape.profile["n"]), shape.count(column, "present")
    if present == 0:
        return "CAST(NULL AS DOUBLE)"
    if shape.count(column, "integer") == present == n:
        return f"CAST({vq.text(col)} AS BIGINT)"
    if shape.count(column, "number") == present:
        return f"TRY_CAST({vq.text(col)} AS DOUBLE)"
    if shape.count(column, "bool") == present == n:
        return f"lower({vq.text(col)}) = 'true'"
    return col


def _finite(column: str, typed: bool) -> str:
    parsed = vq.number_expr(column, typed)
    return f"CASE WHEN {_FINITE.format(x=parsed)} THEN {parsed} END"


def _customer_select(shape: TableShape, roles: Roles, ranges: dict, policy: str) -> dict[str, str]:
    numeric = set(numeric_columns(shape, roles, ranges))
    flags = {c: p for p, c in roles.consent.items()}
    select = {}
    for col in shape.columns:
        if col == roles.id:
            select[col] = f"CAST({_ident(col)} AS VARCHAR)"
        elif col in flags:
            blank = bool(blank_consent(pd.Series([None]), flags[col], policy).iloc[0])
            select[col] = vq.flag_expr(col, _TRUE_VALUES, _FALSE_VALUES, blank)
        elif col in numeric:
            select[col] = _finite(col, col in shape.typed)
        else:
            select[col] = _inferred(shape, col)
    select[ROW] = f"CAST({_ident(roles.id)} AS VARCHAR)"
    return select


def _transaction_select(shape: TableShape, roles) -> dict[str, str]:
    select = {}
    for col in shape.columns:
        if col == roles.id:
            select[col] = f"CAST({_ident(col)} AS VARCHAR)"
        elif col == roles.timestamp:
            select[col] = vq.timestamp_expr(col, col not in shape.text)
        elif col == roles.amount:
            select[col] = _finite(col, col in shape.typed)
        else:
            select[col] = _inferred(shape, col)
    return select


def register_input(eng, spec: dict[str, Any], base_dir: Path | str = ".") -> EngineInput:
    """Register, validate and type a bring-your-own dataset on ``eng``; raise :class:`InputError` if it fails.

    Registers ``prep_customers`` (every column, typed, consent flags as booleans with blanks per
    ``dataset.blank_consent``, plus ``_row``: the raw id as text) and, with a transaction table,
    ``prep_transactions`` (typed, rows after ``as_of`` or before ``since`` left out and counted).

    Parameters
    ----------
    eng : Engine
        The run's engine.
    spec : dict
        The config's ``dataset`` section (paths may be one file, a list, a folder or a glob).
    base_dir : str or Path
        Where relative paths start (the config file's folder).
    """
    from ..data._datasets import _roles_of  # the config checks of the pandas path, shared

    spec = {**DATASET_DEFAULTS, **spec}
    base_dir, roles = Path(base_dir), _roles_of(spec)
    if roles.segment or spec.get("labels"):
        raise InputError("Config error: segment labels (dataset.labels, roles.customers.segment) are read on the "
                         "pandas path only for now; set `dataset.read: pandas`.")
    delimiter = spec.get("delimiter")
    shape, headers, how = _register(eng, "customers", spec["customers"], base_dir, roles.customer_columns(), delimiter)
    lines = missing_columns_line(shape, roles.customer_columns(), headers, _describe(how))
    lines += customer_lines(eng, shape, roles, spec["ranges"])
    _raise(lines, "customers", shape.source)
    counts = eng.sql(vq.blank_counts_query(shape.view, roles.consent)).iloc[0]
    checks: dict[str, Any] = {"blank_consent_policy": spec["blank_consent"],
                              "blank_consent_flags": {p: int(counts[p]) for p in roles.consent}}
    eng.register_view(PREP_CUSTOMERS, vq.typed_view_query(
        shape.view, _customer_select(shape, roles, spec["ranges"], spec["blank_consent"])))
    read_as, tx_columns = {"customers": how}, None
    if spec.get("transactions"):
        tx_columns, read_as["transactions"], checks = _register_transactions(eng, spec, base_dir, roles, checks)
    n = int(counts["n"])
    if n < spec["min_customers"]:
        raise InputError(
            f"Input error in table 'customers' ({shape.source}): {n} customer(s), "
            f"fewer than the minimum of {spec['min_customers']} (dataset.min_customers): segments, rates and "
            "suppressed tables of so few customers say nothing and disclose individuals. Add customers, or "
            "lower dataset.min_customers if you know what you are doing."
        )
    return EngineInput(
        name=spec.get("name") or Path(str(spec["customers"])).stem.strip("*") or "customers",
        source=f"bring-your-own: {spec['customers']}" + (f" + {spec['transactions']}" if tx_columns else ""),
        roles=roles, paths={k: str(spec[k]) for k in ("customers", "transactions") if spec.get(k)},
        read_as=read_as, checks=checks, columns=shape.columns, transaction_columns=tx_columns,
    )


def _register_transactions(eng, spec, base_dir: Path, roles: Roles, checks: dict):
    """Register, validate and type the transaction table; count and leave out rows outside the period."""
    tx_roles = roles.transactions
    shape, headers, how = _register(eng, "transactions", spec["transactions"], base_dir, tx_roles.columns(),
                                    spec.get("delimiter"))
    lines = missing_columns_line(shape, tx_roles.columns(), headers, _describe(how))
    lines += transaction_lines(eng, shape, tx_roles, spec["ranges"])
    _raise(lines, "transactions", shape.source)
    _, cutoff = future_rows(pd.Series([], dtype="datetime64[ns]"), spec["as_of"])
    since = pd.Timestamp(spec["since"]) if spec.get("since") is not None else None
    literal = lambda t: t.strftime("%Y-%m-%d %H:%M:%S.%f")  # noqa: E731
    typed = tx_roles.timestamp not in shape.text
    period = eng.sql(vq.period_counts_query(shape.view, tx_roles.timestamp, literal(cutoff),
                                            literal(since) if since is not None else None, typed)).iloc[0]
    ts = vq.timestamp_expr(tx_roles.timestamp, typed)
    where = f"{ts} <= TIMESTAMP '{literal(cutoff)}'" + (f" AND {ts} >= TIMESTAMP '{literal(since)}'" if since else "")
    eng.register_view(PREP_TRANSACTIONS, vq.typed_view_query(
        shape.view, _transaction_select(shape, tx_roles), where))
    checks = {**checks, "future_transactions_excluded": int(period["future"])}
    if since is not None:
        checks["transactions_before_since_excluded"] = int(period["early"])
    checks["as_of"] = "configured" if spec["as_of"] is not None else "run date"
    return shape.columns, how, checks


def _describe(how: dict) -> str:
    """How the files were read, in words that do not depend on the engine (messages must not)."""
    return "read as CSV, every column as text" if how["format"] == "csv" else "read as Parquet"


def _raise(lines: list[str], table: str, source: str) -> None:
    if lines:
        raise InputError(f"Input error in table '{table}' ({source}):\n" + "\n".join(f"  {x}" for x in lines))
