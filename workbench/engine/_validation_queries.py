"""Validation of input tables as count queries, one SQL text per check for both engines.

The engine input path (:mod:`workbench.engine._input`) registers each table's files as they are
(CSV columns as text, Parquet typed, plus the column ``_file``: each row's file name), then
:func:`clean_view_query` renames headers to the role names and turns missing-value spellings into
NULL. Every check below reads that clean view and returns at most five rows: ``n`` (how many rows
fail), ``example`` (an offending value, or NULL where values must not be shown, such as ids) and
``file`` (where one such value is). Only those counts and examples reach the driver, which words the
messages (:mod:`workbench.engine._input_checks`).

Values are classified with the same rules on both engines: numbers by a regular expression before
any cast (DuckDB alone would read ``1_000``), missing values by pandas' own list of spellings (so the
engine and pandas paths agree on what is blank), non-finite numbers by ``abs(x) <= MAX_DOUBLE`` (false
for infinities and NaN on both engines).
"""

from __future__ import annotations

from ._queries import _ident

#: Cell spellings pandas reads as missing (``pandas._libs.parsers.STR_NA_VALUES``); the engine path
#: reads them as missing too, so both paths see the same blanks.
NA_TOKENS = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A",
    "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)
#: Text that pandas parses as an infinite or not-a-number value (:data:`workbench.data._checks._NAN_LIKE`).
NAN_LIKE = ("nan", "inf", "-inf", "+inf", "infinity", "-infinity", "+infinity")
#: A plain decimal number: what pandas' CSV reader and ``to_numeric`` read as one (no ``_``, no suffix).
NUMBER_RE = r"^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$"
INTEGER_RE = r"^[+-]?[0-9]+$"
#: The words pandas' CSV reader reads as booleans.
BOOL_WORDS = ("True", "TRUE", "true", "False", "FALSE", "false")
_MAX_DOUBLE = "1.7976931348623157e308"
FILE = "_file"


def _list(values) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)


def text(expr: str) -> str:
    """``expr`` as text, trimmed."""
    return f"trim(CAST({expr} AS VARCHAR))"


def clean_view_query(raw: str, columns: dict[str, tuple[str, str]]) -> str:
    """The clean view of a registered table: role names, missing spellings as NULL, ``_file`` kept.

    Parameters
    ----------
    raw : str
        The registered table (its files as they are, with ``_file``).
    columns : dict
        ``{name in the clean view: (header in the file, kind)}``; kind ``"text"`` (a CSV column, read
        as text: pandas' missing spellings become NULL), ``"float"`` (a floating Parquet column:
        NaN becomes NULL, as pandas reads it) or ``"other"`` (kept as is).
    """
    select = []
    for name, (header, kind) in columns.items():
        col = _ident(header)
        if kind == "text":
            expr = f"CASE WHEN {col} IN ({_list(NA_TOKENS)}) THEN NULL ELSE {col} END"
        elif kind == "float":
            expr = f"CASE WHEN isnan({col}) THEN NULL ELSE {col} END"
        else:
            expr = col
        select.append(f"{expr} AS {_ident(name)}")
    return f"SELECT {', '.join(select)}, {FILE} FROM {_ident(raw)}"


def number_expr(column: str, typed: bool) -> str:
    """``column`` as DOUBLE: a typed numeric column cast, a text one parsed only where it is a plain number."""
    col = _ident(column)
    if typed:
        return f"CAST({col} AS DOUBLE)"
    return f"CASE WHEN regexp_matches({text(col)}, '{NUMBER_RE}') THEN TRY_CAST({text(col)} AS DOUBLE) END"


def timestamp_expr(column: str, typed: bool = False) -> str:
    """``column`` as TIMESTAMP (NULL where it is not one); a typed timestamp stays as it is.

    Text is trimmed first (Spark reads `` 2024-03-31 `` as a date, DuckDB does not). A UTC offset
    (``+02:00``, ``Z``) is ignored by both engines, where the pandas path converts to UTC.
    """
    return f"TRY_CAST({_ident(column) if typed else text(_ident(column))} AS TIMESTAMP)"


def flag_expr(column: str, true_values, false_values, blank: bool) -> str:
    """A yes/no flag as BOOLEAN; a blank one is ``blank`` (the consent policy decides, as on the pandas path)."""
    t = text(_ident(column))
    return (f"CASE WHEN lower({t}) IN ({_list(sorted(true_values))}) THEN TRUE "
            f"WHEN lower({t}) IN ({_list(sorted(false_values))}) THEN FALSE ELSE {'TRUE' if blank else 'FALSE'} END")


def problem_query(table: str, condition: str, example: str | None) -> str:
    """The check every other builds on: how many rows of ``table`` meet ``condition``, and five examples.

    ``example`` is the expression shown (its five smallest distinct values, each with the first file
    holding it); None shows no value, only the five first files holding such rows. One row comes back
    even when nothing fails (``n`` = 0, example and file NULL).
    """
    if example is None:
        examples = (f"SELECT CAST(NULL AS VARCHAR) AS example, {FILE} AS file FROM {table} WHERE {condition} "
                    f"GROUP BY {FILE} ORDER BY {FILE} LIMIT 5")
    else:
        examples = (f"SELECT {example} AS example, min({FILE}) AS file FROM {table} WHERE {condition} "
                    f"GROUP BY {example} ORDER BY {example} LIMIT 5")
    return (f"SELECT c.n AS n, e.example AS example, e.file AS file FROM "
            f"(SELECT count(*) AS n FROM {table} WHERE {condition}) AS c LEFT JOIN ({examples}) AS e ON TRUE "
            "ORDER BY e.example, e.file")


def missing_query(table: str, column: str) -> str:
    """Rows whose ``column`` is empty (no value shown: it may be an id)."""
    return problem_query(table, f"{_ident(column)} IS NULL", None)


def duplicate_query(table: str, column: str) -> str:
    """Rows whose ``column`` value appears more than once, every one of them counted (no value shown)."""
    col = _ident(column)
    dupes = (f"(SELECT t.* FROM {table} AS t JOIN (SELECT {col} AS _v FROM {table} WHERE {col} IS NOT NULL "
             f"GROUP BY {col} HAVING count(*) > 1) AS d ON t.{col} = d._v) AS dup")
    return problem_query(dupes, "TRUE", None)


def flag_query(table: str, column: str, allowed) -> str:
    """Rows whose ``column`` is present but not one of the ``allowed`` yes/no spellings (any case)."""
    col = _ident(column)
    return problem_query(table, f"{col} IS NOT NULL AND lower({text(col)}) NOT IN ({_list(sorted(allowed))})",
                         f"CAST({col} AS VARCHAR)")


def _non_finite(column: str, typed: bool) -> str:
    parsed = number_expr(column, typed)
    # coalesce: a value that is no number at all is not "non-finite" (NOT NULL would drop it from both checks)
    return (f"(lower({text(_ident(column))}) IN ({_list(NAN_LIKE)}) "
            f"OR coalesce(NOT abs({parsed}) <= {_MAX_DOUBLE}, FALSE))")


def not_number_query(table: str, column: str, typed: bool) -> str:
    """Rows whose ``column`` is present but holds no number (a word, a currency sign)."""
    col = _ident(column)
    return problem_query(table, f"{col} IS NOT NULL AND {number_expr(column, typed)} IS NULL "
                         f"AND NOT {_non_finite(column, typed)}", col)


def non_finite_query(table: str, column: str, typed: bool) -> str:
    """Rows whose ``column`` holds an infinity or a not-a-number value ("inf", "NaN" spelt in a cell)."""
    return problem_query(table, f"{_ident(column)} IS NOT NULL AND {_non_finite(column, typed)}", _ident(column))


def outside_query(table: str, column: str, typed: bool, low: float, high: float) -> str:
    """Rows whose ``column`` is a finite number outside ``[low, high]``."""
    parsed = number_expr(column, typed)
    return problem_query(table, f"abs({parsed}) <= {_MAX_DOUBLE} AND ({parsed} < {float(low)!r} OR "
                         f"{parsed} > {float(high)!r})", _ident(column))


def bad_timestamp_query(table: str, column: str, typed: bool = False) -> str:
    """Rows whose ``column`` is present but not a date/time."""
    col = _ident(column)
    return problem_query(table, f"{col} IS NOT NULL AND {timestamp_expr(column, typed)} IS NULL", col)


def period_counts_query(table: str, column: str, cutoff: str, since: str | None, typed: bool = False) -> str:
    """One row: transactions dated after ``cutoff`` and before ``since`` (timestamps as ISO text)."""
    ts = timestamp_expr(column, typed)
    early = f"count(*) FILTER (WHERE {ts} < TIMESTAMP '{since}')" if since else "0"
    return (f"SELECT count(*) FILTER (WHERE {ts} > TIMESTAMP '{cutoff}') AS future, {early} AS early "
            f"FROM {table}")


def profile_query(table: str, columns: list[str]) -> str:
    """One row of counts per text column ``c``: ``c__present``, ``c__integer``, ``c__number``,
    ``c__finite`` (a plain number, or "inf"/"nan" spelt out: pandas parses those too) and ``c__bool``:
    what the driver needs to type the column as pandas' CSV reader would, and to tell a numeric
    column with a few bad values (:func:`workbench.data._checks.looks_numeric`) from a text one."""
    parts = ["count(*) AS n"]
    for column in columns:
        col, t = _ident(column), text(_ident(column))
        parts += [
            f"count({col}) AS {_ident(column + '__present')}",
            f"count(*) FILTER (WHERE regexp_matches({t}, '{INTEGER_RE}')) AS {_ident(column + '__integer')}",
            f"count(*) FILTER (WHERE regexp_matches({t}, '{NUMBER_RE}') OR lower({t}) IN ({_list(NAN_LIKE)})) "
            f"AS {_ident(column + '__number')}",
            f"count(*) FILTER (WHERE regexp_matches({t}, '{NUMBER_RE}') AND abs(TRY_CAST({t} AS DOUBLE)) <= "
            f"{_MAX_DOUBLE}) AS {_ident(column + '__finite')}",
            f"count(*) FILTER (WHERE CAST({col} AS VARCHAR) IN ({_list(BOOL_WORDS)})) AS {_ident(column + '__bool')}",
        ]
    return f"SELECT {', '.join(parts)} FROM {table}"


def typed_view_query(table: str, select: dict[str, str], where: str | None = None) -> str:
    """The typed table preparation reads: ``{name: expression}`` over the clean view, rows ``where``."""
    cols = ", ".join(f"{expr} AS {_ident(name)}" for name, expr in select.items())
    return f"SELECT {cols} FROM {table}" + (f" WHERE {where}" if where else "")


def consent_snapshot_query(table: str, id_column: str, consent: dict[str, str]) -> str:
    """Every consent flag as one ``purpose<TAB>id<TAB>True|False|blank`` line, sorted as Python sorts text
    (code point order, which is UTF-8 byte order on both engines): what
    :func:`workbench.privacy.fingerprint` digests, streamed instead of collected."""
    lines = [
        f"SELECT '{purpose}' || chr(9) || CAST({_ident(id_column)} AS VARCHAR) || chr(9) || "
        f"CASE WHEN {_ident(col)} IS NULL THEN 'blank' WHEN {_ident(col)} THEN 'True' ELSE 'False' END AS line "
        f"FROM {table}"
        for purpose, col in sorted(consent.items())
    ]
    return f"SELECT line FROM ({' UNION ALL '.join(lines)}) AS s ORDER BY line"


def blank_counts_query(table: str, consent: dict[str, str]) -> str:
    """One row: ``n`` (rows of ``table``) and, per consent purpose, its blank flags (empty or spaces only)."""
    parts = ["count(*) AS n"]
    for purpose, col in consent.items():
        parts.append(f"count(*) FILTER (WHERE {_ident(col)} IS NULL OR {text(_ident(col))} = '') AS {_ident(purpose)}")
    return f"SELECT {', '.join(parts)} FROM {table}"
