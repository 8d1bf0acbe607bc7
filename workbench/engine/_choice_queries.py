"""The customer choices register as queries, one SQL text for both engines.

The register (``dataset.choices``) is append-only: one row per thing a customer told us, with the
customer's raw id, a ``kind``, an optional ``value`` and ``recorded_at``. Its files (or, for the built-in
world, its DataFrame) are registered with every column as text and a ``_file`` column; then:

* :func:`typed_choices_query` is the view ``prep_choice_rows``: ``_id`` (raw id as text), ``kind``
  (lower case), ``value`` (trimmed), ``target`` (what the record is about: the action of an
  ``object_action``, the column of a ``rectify``, the kind a ``withdraw`` cancels), ``fix`` (the
  corrected value of a ``rectify``), ``recorded_at`` (a TIMESTAMP), ``recorded_text``, ``_file``;
* the ``*_problems_query`` checks count what makes the register unusable (an input error);
* :func:`choice_state_query` is the view ``prep_choices_active``: the records in force at ``as_of``,
  records dated after it and records of unknown customers left out, the latest record per
  (customer, kind, target) kept, ``withdraw`` (and ``resolved`` for a contest) cancelling every earlier
  record of its kind;
* :func:`choice_counts_query` counts records per kind: in the file, excluded and why, in force.

The free text of a contest never leaves the engine: no query here selects ``value`` of a contest.
"""

from __future__ import annotations

from ._queries import _ident, pseudonym_query
from ._validation_queries import FILE, NUMBER_RE, INTEGER_RE, problem_query, text, timestamp_expr

#: Names of the engine views the register uses.
CHOICE_ROWS, CHOICES_ACTIVE = "prep_choice_rows", "prep_choices_active"
#: The kinds a customer's record may have; ``withdraw`` and ``resolved`` cancel earlier records.
CHOICE_KINDS = ("object_profiling", "object_action", "contest", "declare_segment", "rectify", "withdraw",
                "resolved")
#: The kinds a ``withdraw`` may name (its value).
WITHDRAWABLE = ("object_profiling", "object_action", "contest", "declare_segment", "rectify")


def _list(values) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)


def _equals_at(column: str) -> str:
    # POSITION is standard SQL: SQLGlot writes Spark's LOCATE
    return f"POSITION('=' IN {column})"


def typed_choices_query(view: str, columns: dict[str, str | None], typed_time: bool) -> str:
    """The register's rows typed: ``{role: column}`` of ``id``, ``kind``, ``value`` (or None), ``recorded_at``."""
    value = text(_ident(columns["value"])) if columns.get("value") else "CAST(NULL AS VARCHAR)"
    kind = f"lower({text(_ident(columns['kind']))})"
    eq = _equals_at("v.value")
    return (
        "SELECT v._id, v.kind, v.value, v.recorded_at, v.recorded_text, v._file, "
        f"CASE WHEN v.kind = 'rectify' AND {eq} > 1 THEN trim(substr(v.value, 1, {eq} - 1)) "
        "WHEN v.kind IN ('object_action', 'withdraw') THEN v.value ELSE '' END AS target, "
        f"CASE WHEN v.kind = 'rectify' AND {eq} > 1 THEN trim(substr(v.value, {eq} + 1)) END AS fix "
        f"FROM (SELECT CAST({_ident(columns['id'])} AS VARCHAR) AS _id, {kind} AS kind, {value} AS value, "
        f"{timestamp_expr(columns['recorded_at'], typed_time)} AS recorded_at, "
        f"CAST({_ident(columns['recorded_at'])} AS VARCHAR) AS recorded_text, {FILE} FROM {view}) AS v"
    )


def missing_problems_query(column: str) -> str:
    """Rows whose ``column`` of ``prep_choice_rows`` (``_id``, ``kind`` or ``recorded_text``) is empty."""
    return problem_query(CHOICE_ROWS, f"{column} IS NULL", None)


def unknown_kind_query() -> str:
    """Rows whose kind is none of :data:`CHOICE_KINDS` (the kind shown: it is the register's vocabulary)."""
    return problem_query(CHOICE_ROWS, f"kind IS NOT NULL AND kind NOT IN ({_list(CHOICE_KINDS)})", "kind")


def bad_time_query() -> str:
    """Rows whose ``recorded_at`` is present but not a date/time."""
    return problem_query(CHOICE_ROWS, "recorded_text IS NOT NULL AND recorded_at IS NULL", "recorded_text")


def empty_value_query(kind: str) -> str:
    """Rows of ``kind`` without a value (a declaration naming no segment, an objection naming no action)."""
    return problem_query(CHOICE_ROWS, f"kind = '{kind}' AND (value IS NULL OR value = '')", None)


def bad_withdraw_query() -> str:
    """``withdraw`` rows whose value names no kind that can be withdrawn (the value shown)."""
    return problem_query(CHOICE_ROWS, f"kind = 'withdraw' AND value IS NOT NULL AND value <> '' "
                         f"AND lower(value) NOT IN ({_list(WITHDRAWABLE)})", "value")


def rectify_shape_query() -> str:
    """``rectify`` rows whose value is not ``column=value`` (no value shown: it is the customer's data)."""
    return problem_query(CHOICE_ROWS, "kind = 'rectify' AND target = ''", None)


def rectify_column_query(allowed: list[str]) -> str:
    """``rectify`` rows naming a column outside ``allowed`` (the column shown, never the value)."""
    inside = f"target IN ({_list(allowed)})" if allowed else "FALSE"
    return problem_query(CHOICE_ROWS, f"kind = 'rectify' AND target <> '' AND NOT {inside}", "target")


def rectify_type_query(column: str, kind: str) -> str:
    """``rectify`` rows of ``column`` whose corrected value is not of the column's ``kind``
    (``integer``, ``number``, ``flag`` or ``time``); the column shown, never the value."""
    fix = "trim(fix)"
    good = {
        "integer": f"regexp_matches({fix}, '{INTEGER_RE}')",
        "number": f"regexp_matches({fix}, '{NUMBER_RE}')",
        "flag": f"lower({fix}) IN ({_list(FLAG_WORDS)})",
        "time": f"TRY_CAST({fix} AS TIMESTAMP) IS NOT NULL",
    }[kind]
    return problem_query(CHOICE_ROWS, f"kind = 'rectify' AND target = '{column}' "
                         f"AND (fix IS NULL OR NOT coalesce({good}, FALSE))", "target")


#: The spellings of a yes/no value in a rectification.
TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "y", "t"), ("0", "false", "no", "n", "f")
FLAG_WORDS = TRUE_WORDS + FALSE_WORDS


def _with_known(known_ids: str) -> str:
    """The register's rows with ``_known``: whether the customer table holds the id (a left join, not a
    correlated subquery: Spark allows none inside an aggregate's FILTER)."""
    return (f"SELECT r.*, k._id IS NOT NULL AS _known FROM {CHOICE_ROWS} AS r "
            f"LEFT JOIN (SELECT DISTINCT _id FROM {known_ids}) AS k ON r._id = k._id")


def choice_counts_query(known_ids: str, cutoff: str) -> str:
    """Per kind: ``records`` in the register, ``future`` (dated after ``cutoff``, excluded),
    ``unknown_customer`` (no such customer, excluded; never which) and ``usable`` (the rest)."""
    later = f"r.recorded_at > TIMESTAMP '{cutoff}'"
    return (
        "SELECT r.kind AS kind, count(*) AS records, "
        f"count(*) FILTER (WHERE {later}) AS future, "
        f"count(*) FILTER (WHERE NOT {later} AND NOT r._known) AS unknown_customer, "
        f"count(*) FILTER (WHERE NOT {later} AND r._known) AS usable "
        f"FROM ({_with_known(known_ids)}) AS r GROUP BY r.kind ORDER BY r.kind"
    )


def choice_state_query(known_ids: str, cutoff: str) -> str:
    """The records in force at ``cutoff`` (view ``prep_choices_active``): ``_id``, ``kind``, ``target``,
    ``value`` (NULL for a contest: its text stays in the register), ``fix``, ``recorded_at``.

    ``known_ids`` is a table or view with the known customers' raw ids as text in ``_id``. A ``withdraw``
    (value: the kind) or ``resolved`` (of a contest) cancels every record of that kind recorded at or
    before it; a later record of the kind is in force again.
    """
    usable = (f"SELECT r._id, r.kind, r.target, r.value, r.fix, r.recorded_at FROM ({_with_known(known_ids)}) AS r "
              f"WHERE r.recorded_at <= TIMESTAMP '{cutoff}' AND r._known")
    latest = (
        "SELECT _id, kind, target, value, fix, recorded_at, row_number() OVER (PARTITION BY _id, kind, target "
        "ORDER BY recorded_at DESC, value DESC) AS _rank FROM u "
        "WHERE kind NOT IN ('withdraw', 'resolved')"
    )
    cancels = (
        "SELECT _id, CASE WHEN kind = 'resolved' THEN 'contest' ELSE lower(value) END AS cancels, "
        "max(recorded_at) AS cancelled_at FROM u WHERE kind IN ('withdraw', 'resolved') "
        "GROUP BY _id, CASE WHEN kind = 'resolved' THEN 'contest' ELSE lower(value) END"
    )
    return (
        f"WITH u AS ({usable}), l AS ({latest}), c AS ({cancels}) "
        "SELECT l._id AS _id, l.kind AS kind, l.target AS target, "
        "CASE WHEN l.kind = 'contest' THEN CAST(NULL AS VARCHAR) ELSE l.value END AS value, "
        "l.fix AS fix, l.recorded_at AS recorded_at FROM l LEFT JOIN c ON l._id = c._id AND l.kind = c.cancels "
        "WHERE l._rank = 1 AND (c.cancelled_at IS NULL OR l.recorded_at > c.cancelled_at)"
    )


def active_counts_query() -> str:
    """Per kind, the records in force and the customers they concern."""
    return (f"SELECT kind, count(*) AS in_force, count(DISTINCT _id) AS customers FROM {CHOICES_ACTIVE} "
            "GROUP BY kind ORDER BY kind")


def objecting_ids_query() -> str:
    """Raw ids (as text) of the customers whose objection to profiling is in force."""
    return f"SELECT DISTINCT _id FROM {CHOICES_ACTIVE} WHERE kind = 'object_profiling'"


def rectified_customers_query(customers: str, columns: dict[str, str], id_column: str, row: str,
                              consent: dict[str, str] | None = None) -> str:
    """``customers`` with every choice in force that changes a value applied (a view preparation reads).

    Parameters
    ----------
    customers : str
        The registered customer table (with ``row``).
    columns : dict
        Every customer column in order -> its SQL type when a rectification may replace it
        (``BIGINT``, ``DOUBLE``, ``BOOLEAN``, ``TIMESTAMP``, ``VARCHAR``), or ``""`` when none may.
    id_column, row : str
        The raw id column and the row-number column.
    consent : dict, optional
        ``{consent column: purpose}``: an ``object_action`` naming the purpose makes the flag FALSE.
    """
    consent = {c: p for c, p in (consent or {}).items() if c in columns}
    fixes = [c for c, t in columns.items() if t]
    pivot = [f"max(CASE WHEN kind = 'rectify' AND target = '{c}' THEN fix END) AS {_ident('_fix_' + c)}"
             for c in fixes]
    pivot += [f"max(CASE WHEN kind = 'object_action' AND target = '{p}' THEN 1 ELSE 0 END) AS {_ident('_no_' + c)}"
              for c, p in consent.items()]
    select = []
    for col, sql_type in [*columns.items(), (row, "")]:
        expr = f"c.{_ident(col)}"
        if sql_type:
            fix = "f." + _ident("_fix_" + col)
            expr = f"CASE WHEN {fix} IS NULL THEN {expr} ELSE {_typed_fix(fix, sql_type)} END"
        if col in consent:
            expr = f"CASE WHEN f.{_ident('_no_' + col)} = 1 THEN FALSE ELSE {expr} END"
        select.append(f"{expr} AS {_ident(col)}")
    if not pivot:
        return f"SELECT * FROM {customers}"
    return (
        f"SELECT {', '.join(select)} FROM {customers} AS c LEFT JOIN (SELECT _id, {', '.join(pivot)} "
        f"FROM {CHOICES_ACTIVE} GROUP BY _id) AS f ON CAST(c.{_ident(id_column)} AS VARCHAR) = f._id"
    )


def applied_counts_query(kept: str, id_column: str, purposes: list[str]) -> str:
    """One row over the kept customers: ``rectified_values``, ``rectified_customers`` and, per consent
    purpose, ``consent_withdrawn_<purpose>`` (objections that turned the purpose's consent off)."""
    cid = f"CAST(c.{_ident(id_column)} AS VARCHAR)"
    parts = ["count(*) FILTER (WHERE a.kind = 'rectify') AS rectified_values",
             "count(DISTINCT CASE WHEN a.kind = 'rectify' THEN a._id END) AS rectified_customers"]
    parts += [f"count(*) FILTER (WHERE a.kind = 'object_action' AND a.target = '{p}') "
              f"AS {_ident('consent_withdrawn_' + p)}" for p in purposes]
    return f"SELECT {', '.join(parts)} FROM {CHOICES_ACTIVE} AS a JOIN {kept} AS c ON a._id = {cid}"


def _typed_fix(expr: str, sql_type: str) -> str:
    if sql_type == "BOOLEAN":
        return f"lower(trim({expr})) IN ({_list(TRUE_WORDS)})"
    if sql_type == "VARCHAR":
        return expr
    return f"CAST(trim({expr}) AS {sql_type})"


def prepared_choices_query(kept: str, pseudonyms: str, id_column: str, row: str) -> str:
    """The register in force for the kept customers, keyed by pseudonym: ``customer_id``, ``kind``,
    ``target`` (the action of an objection), ``segment`` (a declaration's segment name), ``recorded_at``.

    No contest text, no corrected value (that is in the customer table now). Ordered by kind and the
    customer's input row (``row`` of ``kept``): never by pseudonym, the same order on both engines.
    """
    cid = f"CAST(c.{_ident(id_column)} AS VARCHAR)"
    return (
        "SELECT p.pseudonym AS customer_id, a.kind AS kind, a.target AS target, "
        "CASE WHEN a.kind = 'declare_segment' THEN a.value END AS segment, a.recorded_at AS recorded_at "
        f"FROM {CHOICES_ACTIVE} AS a JOIN {kept} AS c ON a._id = {cid} "
        f"JOIN {pseudonyms} AS p ON {cid} = CAST(p.customer_id AS VARCHAR) "
        f"ORDER BY a.kind, c.{row}, a.target"
    )


#: The view of the objections to profiling a statement must be able to report (:func:`objections_query`).
OBJECTIONS = "prep_objections"


def objection_rows_query(flags: str, row: str) -> str:
    """Raw id (``_id``), date and input row of each objection to profiling in force, for customers who
    are not erased (``flags``: preparation's per-customer flags): register it as :data:`OBJECTIONS`."""
    return (f"SELECT a._id AS _id, a.recorded_at AS recorded_at, f.{row} AS {row} FROM {CHOICES_ACTIVE} AS a "
            f"JOIN {flags} AS f ON a._id = f._id WHERE a.kind = 'object_profiling' AND NOT f._forgotten")


def objections_query(row: str) -> str:
    """The objections to profiling in force, keyed by pseudonym: ``customer_id``, ``recorded_at``.

    The one record preparation keeps of a customer it removed for their objection: without it, their
    statement could not say that we hold their objection and honour it. Erased customers have none.
    Needs :data:`OBJECTIONS` and ``hmac_key`` registered; ordered by input row, never by pseudonym.
    """
    return (f"SELECT p.pseudonym AS customer_id, o.recorded_at AS recorded_at FROM {OBJECTIONS} AS o "
            f"JOIN ({pseudonym_query(OBJECTIONS, '_id')}) AS p ON o._id = p.customer_id ORDER BY o.{row}")


def choice_holds_query(customers: str, register: str, actions: list[str]) -> str:
    """Per customer of ``customers`` (``customer_id``, ``_row``): what the register in force holds back
    from automated targeting, from ``register`` (the prepared ``data/choices.parquet``).

    Columns: ``_row``, ``contested`` (a contest awaiting review), ``declared`` (the declared segment's
    name, or NULL) and per action ``a`` of ``actions`` ``objects_<a>`` (an objection to that action).
    """
    parts = ["max(CASE WHEN r.kind = 'contest' THEN 1 ELSE 0 END) AS contested",
             "max(CASE WHEN r.kind = 'declare_segment' THEN r.segment END) AS declared"]
    parts += [f"max(CASE WHEN r.kind = 'object_action' AND r.target = '{a}' THEN 1 ELSE 0 END) "
              f"AS {_ident('objects_' + a)}" for a in actions]
    return (f"SELECT c._row AS _row, {', '.join(parts)} FROM {customers} AS c LEFT JOIN {register} AS r "
            "ON c.customer_id = r.customer_id GROUP BY c._row")
