"""The engine input path's checks, driver side: counts and five examples in, message lines out.

Each check is one query of :mod:`workbench.engine._validation_queries` run on the run's engine; what
comes back (a count, at most five example values and the files holding them) is worded here with the
pandas path's phrases (:data:`~workbench.data._schema.WHAT`, :data:`~workbench.data._checks.NUMERIC_PROBLEMS`),
so a bad file says the same whichever path reads it. Where the pandas path names data rows, this one
names the files: row numbers of a multi-file table are not the same on DuckDB and Spark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath

import pandas as pd

from ..data._checks import AMOUNT_RANGE, NUMERIC_PROBLEMS, TIMESTAMP_PROBLEM, problem_line
from ..data._schema import _ADVICE, _FALSE_VALUES, _TRUE_VALUES, WHAT, Roles
from . import _validation_queries as vq

#: Whether a column holds numbers: at least this share of its present values read as finite numbers
#: (:func:`workbench.data._checks.looks_numeric`).
NUMERIC_SHARE = 0.8
#: The spellings of a yes/no flag (:func:`workbench.data._schema._flag_check`).
FLAG_VALUES = _TRUE_VALUES | _FALSE_VALUES


@dataclass
class TableShape:
    """What the driver knows of one registered table: its clean view, column kinds and text profile.

    ``typed`` names the columns the engine already reads as numbers (Parquet numeric columns);
    ``profile`` holds :func:`~workbench.engine._validation_queries.profile_query`'s counts of the text
    columns (``n`` and ``<column>__present`` etc.).
    """

    view: str
    columns: list[str]
    typed: set[str] = field(default_factory=set)
    text: set[str] = field(default_factory=set)
    profile: dict = field(default_factory=dict)
    csv: bool = False
    #: The resolved paths, for messages.
    source: str = ""

    def count(self, column: str, what: str) -> int:
        return int(self.profile.get(f"{column}__{what}", 0))

    def is_numeric(self, column: str) -> bool:
        """Whether the column has a numeric type: typed so, or a CSV column pandas' reader would read as numbers."""
        present = self.count(column, "present")
        return column in self.typed or (self.csv and present > 0 and self.count(column, "number") == present)

    def looks_numeric(self, column: str) -> bool:
        """Whether ``column`` holds numbers (typed so, or mostly finite numbers as text)."""
        if column in self.typed:
            return True
        present = self.count(column, "present")
        return present > 0 and self.count(column, "finite") >= NUMERIC_SHARE * present


def _where(files) -> str:
    names = sorted({PurePath(str(f)).name for f in files if f is not None and not pd.isna(f)})
    return "in " + ", ".join(names) if names else "rows"


def _run(eng, query: str, column: str, kind: tuple[str, str], show: bool, **fmt) -> list[str]:
    """Run one check; its message line, or nothing when no row fails."""
    result = eng.sql(query)
    n = int(result["n"].iloc[0]) if len(result) else 0
    if n == 0:
        return []
    shown = result.dropna(subset=["file"])
    examples = ", ".join(repr(_plain(v)) for v in shown["example"]) if show else ""
    return [problem_line(column, kind, n, _where(shown["file"]), examples, **fmt)]


def _plain(value):
    """A value as pandas would show it: numpy scalars as Python ones."""
    return value.item() if hasattr(value, "item") else value


def _kind(check: str) -> tuple[str, str]:
    return WHAT[check], _ADVICE[check]


def customer_lines(eng, shape: TableShape, roles: Roles, ranges: dict) -> list[str]:
    """Every problem of the customer table, one line each: ids, consent flags, numeric columns."""
    present = set(shape.columns)
    lines = []
    if roles.id in present:
        lines += _run(eng, vq.missing_query(shape.view, roles.id), roles.id, _kind("not_nullable"), False)
        lines += _run(eng, vq.duplicate_query(shape.view, roles.id), roles.id, _kind("field_uniqueness"), False)
    for col in roles.consent.values():
        if col in present:
            lines += _run(eng, vq.flag_query(shape.view, col, FLAG_VALUES), col, _kind("boolean"), True)
    for col in numeric_columns(shape, roles, ranges):
        lines += numeric_lines(eng, shape, col, (ranges or {}).get(col))
    return lines


def numeric_columns(shape: TableShape, roles: Roles, ranges: dict) -> list[str]:
    """The customer columns parsed as numbers: declared ranges, and sensitive columns that hold numbers
    as text (numeric ones need no parsing), as on the pandas path."""
    out = []
    for col in dict.fromkeys([*roles.sensitive, *(ranges or {})]):
        parse = not shape.is_numeric(col) and col in shape.text and shape.looks_numeric(col)
        if col in shape.columns and (col in (ranges or {}) or parse):
            out.append(col)
    return out


def numeric_lines(eng, shape: TableShape, column: str, bounds, required: bool = False) -> list[str]:
    """Empty (when ``required``), non-numbers, non-finite and out-of-range values of ``column``."""
    typed = column in shape.typed
    lines = []
    if required:
        lines += _run(eng, vq.missing_query(shape.view, column), column, NUMERIC_PROBLEMS["empty"], False)
    lines += _run(eng, vq.not_number_query(shape.view, column, typed), column, NUMERIC_PROBLEMS["not_number"], True)
    lines += _run(eng, vq.non_finite_query(shape.view, column, typed), column, NUMERIC_PROBLEMS["non_finite"], True)
    if bounds is not None:
        low, high = bounds
        lines += _run(eng, vq.outside_query(shape.view, column, typed, low, high), column,
                      NUMERIC_PROBLEMS["outside"], True, low=low, high=high)
    return lines


def transaction_lines(eng, shape: TableShape, roles, ranges: dict) -> list[str]:
    """Every problem of the transaction table: empty ids and timestamps, bad timestamps and amounts."""
    present = set(shape.columns)
    lines = []
    for col in (roles.id, roles.timestamp):
        if col in present:
            lines += _run(eng, vq.missing_query(shape.view, col), col, _kind("not_nullable"), False)
    if roles.timestamp in present:
        typed = roles.timestamp not in shape.text
        lines += _run(eng, vq.bad_timestamp_query(shape.view, roles.timestamp, typed), roles.timestamp,
                      TIMESTAMP_PROBLEM, True)
    if roles.amount in present:
        bounds = (ranges or {}).get(roles.amount, AMOUNT_RANGE)
        lines += numeric_lines(eng, shape, roles.amount, bounds, required=True)
    return lines


def missing_columns_line(shape: TableShape, wanted: list[str], headers: list[str], how: str) -> list[str]:
    """The pandas path's line for role columns absent from the table, with the table's real headers."""
    missing = [c for c in wanted if c not in shape.columns]
    if not missing:
        return []
    # stripped: DuckDB trims header names and Spark does not; the names matched ignore the spaces anyway
    shown = ", ".join(repr(str(c).strip()) for c in headers[:30])
    hint = f" The table's columns are: {shown} ({how}"
    if len(headers) == 1:
        hint += "; one column only: is the delimiter right? Set `dataset.delimiter` in the config"
    return [f"missing column(s) {', '.join(repr(c) for c in missing)}: {_ADVICE['column_in_dataframe']}.{hint})."]
