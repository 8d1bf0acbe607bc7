"""The customer choices register: objections, contests, declarations and corrections, read and checked.

A register (``dataset.choices``, CSV or Parquet, or the built-in world's table) holds one row per thing
a customer told us, with the roles ``dataset.roles.choices: {id, kind, value, recorded_at}`` (each
defaults to its own name). Kinds (:data:`~workbench.engine._choice_queries.CHOICE_KINDS`):

* ``object_profiling``: the customer is left out of every fit, score, selection and per-customer
  artefact (removed at preparation, like the opt-out flag, but dated and auditable);
* ``object_action`` (value: a policy action or consent purpose): never selected for it;
* ``contest`` (value: free text, never shown): the assignment is held for human review, out of
  automated targeting until a later ``resolved`` record;
* ``declare_segment`` (value: a segment name): the customer's own statement of where they belong;
  with ``choices.declared_overrides_model: true`` targeting uses it instead of the model's segment;
* ``rectify`` (value: ``column=value``): the corrected value replaces the export's before features
  are built (declared feature or sensitive columns only);
* ``withdraw`` (value: a kind) cancels every earlier record of that kind; ``resolved`` closes a contest.

Everything runs in the engine (:mod:`workbench.engine._choice_queries`); the driver gets counts and
the checks' examples. Records dated after ``as_of`` and records of unknown customers are excluded and
counted, never listed; every other problem is an :class:`~workbench.data.InputError` raised before
anything is written.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import engine
from ..data import InputError, Roles
from ..data._checks import TIMESTAMP_PROBLEM, future_rows, problem_line
from ..engine import _choice_queries as cq
from ..engine._queries import _ident
from ..engine._validation_queries import FILE, clean_view_query

#: The ``choices:`` config section.
DEFAULTS = {
    # targeting uses a customer's declared segment instead of the model's assignment
    "declared_overrides_model": False,
}
#: The register's roles and their default column names.
CHOICE_ROLES = ("id", "kind", "value", "recorded_at")
_KNOWN_IDS = "prep_choice_known_ids"
_CHOSEN_CUSTOMERS = "prep_customers_chosen"


def choice_roles(spec: dict) -> dict[str, str | None]:
    """``{role: column}`` of the register from ``dataset.roles.choices`` (each role defaults to its name).

    Raises
    ------
    InputError
        An unknown role name.
    """
    given = dict(((spec.get("roles") or {}).get("choices")) or {})
    unknown = sorted(set(given) - set(CHOICE_ROLES))
    if unknown:
        raise InputError(f"Config error: unknown choices role(s) {unknown} in dataset.roles.choices. "
                         f"Known roles: {list(CHOICE_ROLES)}.")
    return {role: given.get(role, role) for role in CHOICE_ROLES}


def register_choices(eng, table, spec: dict, base_dir: Path | str = ".", detect: bool = False) -> dict:
    """Register the register's rows on ``eng`` as the view ``prep_choice_rows``; return how it was read.

    ``table`` is a DataFrame (the built-in world's register) or the config's path spec (a file, a list,
    a folder or a glob, CSV or Parquet), read with every CSV column as text on either engine. With
    ``detect`` (the pandas input path, :func:`workbench.data.read_mode`) CSV files are read as the
    customer export is: encoding and delimiter detected per file unless ``dataset.encoding`` /
    ``dataset.delimiter`` set them (:func:`workbench.data._reading.read_table`); on the engine path the
    engine reads them, with the configured delimiter, as it reads the customer export.
    """
    columns = choice_roles(spec)
    source, how = "choices", {"format": "table"}
    if detect and not isinstance(table, pd.DataFrame):
        table, source, how = _read_detected(table, spec, Path(base_dir), columns)
    if isinstance(table, pd.DataFrame):
        missing = [c for role, c in columns.items() if c not in table.columns and role != "value"]
        if missing:
            raise InputError(f"Input error in table 'choices' ({source}): missing column(s) {missing}. What to do: "
                             "give the register these columns, or name its columns under dataset.roles.choices "
                             "(id, kind, value, recorded_at).")
        if columns["value"] not in table.columns:
            columns["value"] = None
        frame = table.astype(object).where(table.notna(), None).astype("string").assign(**{FILE: "choices"})
        eng.register_rows("raw_choices", frame)
        kinds = {c: (c, "text") for c in table.columns}
        eng.register_view("clean_choices", clean_view_query("raw_choices", kinds))
        view, typed_time = "clean_choices", False
    else:
        from ..engine._input import _describe, _register
        from ..engine._input_checks import missing_columns_line

        wanted = [c for c in columns.values() if c]
        shape, headers, how = _register(eng, "choices", table, Path(base_dir), wanted, spec.get("delimiter"))
        optional = [columns["value"]] if columns["value"] not in shape.columns else []
        lines = missing_columns_line(shape, [c for c in wanted if c not in optional], headers, _describe(how))
        _raise(lines, shape.source)
        view, typed_time, source = shape.view, columns["recorded_at"] not in shape.text, shape.source
        if optional:
            columns["value"] = None
    eng.register_view(cq.CHOICE_ROWS, cq.typed_choices_query(view, columns, typed_time))
    return {"source": source, "read_as": how}


def _read_detected(table, spec: dict, base_dir: Path, columns: dict) -> tuple:
    """CSV register files read by pandas with the customer export's detection: ``(frame, source, how)``;
    a Parquet register is returned as it was given (the engine reads it typed)."""
    from ..data._reading import read_table
    from ..engine._input import _files

    paths, fmt = _files(table, base_dir, "choices")
    if fmt != "csv":
        return table, "choices", {"format": "table"}
    wanted = [c for c in columns.values() if c]
    frames = [read_table(p, "choices", encoding=spec.get("encoding"), delimiter=spec.get("delimiter"),
                         columns=wanted, text_columns=wanted) for p in paths]
    reads = [f.attrs["read"] for f in frames]
    how = {"engine": "pandas", "format": "csv", "paths": len(paths), **reads[0]}
    if any(r != reads[0] for r in reads):  # files exported differently: say so per file
        how["per_file"] = reads
    return pd.concat(frames, ignore_index=True), ", ".join(paths), how


def _raise(lines: list[str], source: str) -> None:
    if lines:
        raise InputError(f"Input error in table 'choices' ({source}):\n" + "\n".join(f"  {x}" for x in lines))


#: What each problem of the register is and what to do, worded as the other tables' problems.
_PROBLEMS = {
    "missing_id": ("is empty", "give every record the id of the customer it concerns"),
    "missing_kind": ("is empty", "give every record a kind: " + ", ".join(cq.CHOICE_KINDS)),
    "missing_time": ("is empty", "give every record the date it was recorded (ISO 8601, e.g. 2026-03-02)"),
    "unknown_kind": ("holds a kind the register does not know",
                     "use one of " + ", ".join(cq.CHOICE_KINDS) + " (case does not matter)"),
    "declare_segment": ("names no segment for a declare_segment record",
                        "put the segment the customer says they belong to in the value column"),
    "object_action": ("names no action for an object_action record",
                      "put the policy action or consent purpose objected to in the value column"),
    "withdraw": ("names no kind that can be withdrawn", "put the kind withdrawn in the value column: "
                 + ", ".join(cq.WITHDRAWABLE)),
    "rectify_shape": ("is not of the form column=value for a rectify record",
                      "write the corrected column and value as column=value, e.g. age=41"),
    "rectify_column": ("names a column that is not a declared feature or sensitive column in a rectify record",
                       "correct only declared feature or sensitive columns (dataset.roles.customers); "
                       "fix other columns in the source system"),
    "rectify_type": ("holds a corrected value of the wrong type for its column in a rectify record",
                     "give a value of the column's type: {expected}"),
}
_TYPE_WORDS = {"integer": "a whole number", "number": "a number", "flag": "yes or no",
               "time": "a date (ISO 8601)"}


def _check(eng, query: str, column: str, problem: str, show: bool, **fmt) -> list[str]:
    result = eng.sql(query)
    n = int(result["n"].iloc[0]) if len(result) else 0
    if n == 0:
        return []
    examples = ", ".join(repr(v) for v in result["example"].dropna()) if show else ""
    return [problem_line(column, _PROBLEMS[problem], n, "in the register", examples, **fmt)]


def rectifiable_columns(roles: Roles, customer_types: dict[str, str]) -> dict[str, str]:
    """The columns a ``rectify`` may correct (declared features and sensitive columns present in the
    customer table), each with the kind of value it takes: ``integer``, ``number``, ``flag``, ``time``
    or ``text``. ``customer_types`` maps each customer column to its pandas dtype name."""
    allowed = [c for c in dict.fromkeys([*roles.feature_columns, *roles.sensitive]) if c in customer_types]
    return {c: _value_kind(customer_types[c]) for c in allowed}


def _value_kind(dtype: str) -> str:
    d = dtype.lower()
    if d.startswith("bool"):
        return "flag"
    if "int" in d:
        return "integer"
    if "float" in d or "double" in d or "decimal" in d:
        return "number"
    if "datetime" in d or "timestamp" in d:
        return "time"
    return "text"


def check_choices(eng, columns: dict[str, str | None], rectifiable: dict[str, str], source: str) -> None:
    """Every problem of the registered register at once; raise :class:`InputError` naming each.

    Ids and free text are never shown; kinds, withdrawn kinds, column names and unparseable dates are.
    """
    col = lambda role: columns.get(role) or role  # noqa: E731
    lines = _check(eng, cq.missing_problems_query("_id"), col("id"), "missing_id", False)
    lines += _check(eng, cq.missing_problems_query("kind"), col("kind"), "missing_kind", False)
    lines += _check(eng, cq.missing_problems_query("recorded_text"), col("recorded_at"), "missing_time", False)
    lines += _check(eng, cq.unknown_kind_query(), col("kind"), "unknown_kind", True)
    lines += [problem_line(col("recorded_at"), TIMESTAMP_PROBLEM, n, "in the register", ex)
              for n, ex in [_count(eng, cq.bad_time_query())] if n]
    for kind in ("declare_segment", "object_action"):
        lines += _check(eng, cq.empty_value_query(kind), col("value"), kind, False)
    lines += _check(eng, cq.bad_withdraw_query(), col("value"), "withdraw", True)
    lines += _check(eng, cq.rectify_shape_query(), col("value"), "rectify_shape", False)
    lines += _check(eng, cq.rectify_column_query(sorted(rectifiable)), col("value"), "rectify_column", True)
    for column, kind in rectifiable.items():
        if kind != "text":
            lines += _check(eng, cq.rectify_type_query(column, kind), col("value"), "rectify_type", True,
                            expected=_TYPE_WORDS[kind])
    _raise(lines, source)


def _count(eng, query: str) -> tuple[int, str]:
    result = eng.sql(query)
    n = int(result["n"].iloc[0]) if len(result) else 0
    return n, ", ".join(repr(v) for v in result["example"].dropna())


def resolve_choices(eng, id_column: str, as_of) -> dict:
    """Register the records in force (view ``prep_choices_active``) and count the register per kind.

    ``as_of`` is the dataset's date (None: now); records after it are excluded, as are records of
    customers the customer table does not hold. Returns ``{kind: {records, excluded_future,
    excluded_unknown_customer, in_force, customers}}``; needs ``prep_customers`` registered.
    """
    _, cutoff = future_rows(pd.Series([], dtype="datetime64[ns]"), as_of)
    literal = cutoff.strftime("%Y-%m-%d %H:%M:%S.%f")
    eng.register_view(_KNOWN_IDS, f"SELECT CAST({_ident(id_column)} AS VARCHAR) AS _id "
                                  f"FROM {engine.PREP_CUSTOMERS}")
    eng.register_view(cq.CHOICES_ACTIVE, cq.choice_state_query(_KNOWN_IDS, literal))
    counts = {}
    for row in eng.sql(cq.choice_counts_query(_KNOWN_IDS, literal)).itertuples():
        counts[str(row.kind)] = {"records": int(row.records), "excluded_future": int(row.future),
                                 "excluded_unknown_customer": int(row.unknown_customer),
                                 "in_force": 0, "customers": 0}
    for row in eng.sql(cq.active_counts_query()).itertuples():
        counts[str(row.kind)].update(in_force=int(row.in_force), customers=int(row.customers))
    return counts


def register_chosen_customers(eng, roles: Roles, customer_types: dict[str, str], rectifiable: dict[str, str]) -> str:
    """Register the customers with every choice in force applied before anything is derived from them.

    Rectified values replace the export's; a consent purpose the customer objected to
    (``object_action`` naming the purpose) reads "no consent". Returns the view's name, which
    preparation reads its kept customers from.
    """
    sql_type = {"integer": "BIGINT", "number": "DOUBLE", "flag": "BOOLEAN", "time": "TIMESTAMP", "text": "VARCHAR"}
    columns = {c: sql_type[rectifiable[c]] if c in rectifiable else "" for c in customer_types}
    objected = {col: purpose for purpose, col in roles.consent.items() if purpose != "profiling_opt_out"}
    eng.register_view(_CHOSEN_CUSTOMERS, cq.rectified_customers_query(
        engine.PREP_CUSTOMERS, columns, roles.id, "_row", objected))
    return _CHOSEN_CUSTOMERS


def objection_records(eng) -> str:
    """The query of the objection records a statement reads (``data/objections.parquet``): pseudonym and
    date of each objection to profiling in force of a customer not erased. Needs preparation's views."""
    from ..engine._prepare_queries import FLAGS, ROW

    eng.register_view(cq.OBJECTIONS, cq.objection_rows_query(FLAGS, ROW))
    return cq.objections_query(ROW)


def applied_counts(eng, roles: Roles) -> dict:
    """What the choices in force changed at preparation, counted over the customers kept."""
    purposes = [p for p in roles.consent if p != "profiling_opt_out"]
    row = eng.sql(cq.applied_counts_query(engine.PREP_KEPT, roles.id, purposes)).iloc[0]
    return {k: int(v) for k, v in row.items()}
