"""A frozen segmentation as one SQL text: transaction features plus nearest-centre scoring, any dialect.

The text is built in DuckDB's dialect from the same pieces the run used
(:func:`workbench.features.feature_select` for the transaction features,
:func:`workbench.engine.score_query` for the model's transforms and centres) and translated by
SQLGlot; nothing is hand-written per dialect. Only DuckDB and Spark are checked by execution (tests);
the other dialects are SQLGlot's translation of the same text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..data import InputError
from ..engine import score_parts
from ..features import TRANSACTION_FAMILIES, feature_select, level_column, timestamp_literal

#: Dialects the README shows and the tests transpile; any other dialect SQLGlot knows is accepted too.
DIALECTS = ("duckdb", "spark", "postgres", "snowflake", "bigquery")
#: Transaction-table roles and their default column names (the run's prepared names).
TRANSACTION_COLUMNS = {"id": "customer_id", "timestamp": "timestamp", "amount": "amount",
                       "category": "category", "channel": "channel"}
#: Choices-register roles and their default column names (``dataset.roles.choices`` overrides them).
CHOICE_COLUMNS = {"id": "id", "kind": "kind", "value": "value", "recorded_at": "recorded_at"}
# Filled where a customer has no transaction before as_of, as features.build_features fills them.
_FILLED = {"frequency": "0", "monetary": "CAST('0.0' AS DOUBLE)", "trend": "CAST('0.0' AS DOUBLE)"}


@dataclass
class Warehouse:
    """Where the customer's own tables live and what their columns are called.

    Attributes
    ----------
    customers, transactions : str
        Table names (qualified names such as ``crm.customers`` are written as given).
    customer_id : str
        The customer table's id column (also the output's id column).
    columns : dict
        Transaction role (``id``, ``timestamp``, ``amount``, ``category``, ``channel``) -> column.
    opt_out : str or None
        The profiling opt-out flag: customers with it true are never scored.
    blank_opts_out : bool
        Whether a blank opt-out flag counts as opted out (the run's ``dataset.blank_consent``).
    choices : str or None
        The customer choices register (issue 27): customers whose objection to profiling is in force
        there are never scored, and its corrections in force replace the customer table's values.
        None: no register is read.
    choice_columns : dict
        Register role (``id``, ``kind``, ``value``, ``recorded_at``) -> column.
    corrections_until : str or None
        A timestamp expression: corrections (and their withdrawals) recorded after it are not in
        force, as preparation leaves out records after the run's ``dataset.as_of`` (or after the
        time it ran). None: every record counts (the incremental path: a batch's records are in
        force from the batch on).
    """

    customers: str = "customers"
    transactions: str = "transactions"
    customer_id: str = "customer_id"
    columns: dict = field(default_factory=lambda: dict(TRANSACTION_COLUMNS))
    opt_out: str | None = None
    blank_opts_out: bool = True
    choices: str | None = None
    choice_columns: dict = field(default_factory=lambda: dict(CHOICE_COLUMNS))
    corrections_until: str | None = None


@dataclass
class FrozenFeatures:
    """What the run's feature query computed: families, share levels, settings and ``as_of``.

    ``customer_types`` maps each of ``customer_columns`` to its SQL type in the run's prepared table
    (:func:`sql_types`): a correction in force is read as that type, as the incremental path reads it.
    """

    families: list[str]
    levels: dict[str, list[str]]
    settings: dict
    as_of: pd.Timestamp
    customer_columns: list[str]
    customer_types: dict[str, str] = field(default_factory=dict)


def sql_types(schema) -> dict[str, str]:
    """A pyarrow schema's columns -> ``BOOLEAN``, ``BIGINT``, ``DOUBLE``, ``TIMESTAMP`` or ``VARCHAR``."""
    import pyarrow as pa

    out = {}
    for fld in schema:
        kind = fld.type.value_type if pa.types.is_dictionary(fld.type) else fld.type
        out[fld.name] = ("BOOLEAN" if pa.types.is_boolean(kind) else "BIGINT" if pa.types.is_integer(kind)
                         else "DOUBLE" if pa.types.is_floating(kind) or pa.types.is_decimal(kind)
                         else "TIMESTAMP" if pa.types.is_timestamp(kind) or pa.types.is_date(kind) else "VARCHAR")
    return out


def record_cutoff(as_of) -> str:
    """Preparation's cut-off of the choices register as SQL: the end of ``as_of``'s day (the run's
    ``dataset.as_of``), or the time the query runs when None (preparation cut it at the time it ran)."""
    from ..data._checks import future_rows

    if as_of is None:
        return "CAST(CURRENT_TIMESTAMP AS TIMESTAMP)"
    return timestamp_literal(future_rows(pd.Series([], dtype="datetime64[ns]"), as_of)[1])


def _ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _table(name: str) -> str:
    """A possibly qualified table name, each part quoted."""
    return ".".join(_ident(part) for part in str(name).split("."))


def _text(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _transaction_cte(frozen: FrozenFeatures, wh: Warehouse) -> str:
    """The transactions before ``as_of`` under the feature query's names."""
    cols = wh.columns
    picked = [f"t.{_ident(cols['id'])} AS customer_id",
              f"CAST(t.{_ident(cols['timestamp'])} AS TIMESTAMP) AS timestamp",
              f"CAST(t.{_ident(cols['amount'])} AS DOUBLE) AS amount"]
    picked += [f"CAST(t.{_ident(cols[c])} AS VARCHAR) AS {c}" for c in frozen.levels]
    return (f"tx AS (SELECT {', '.join(picked)} FROM {_table(wh.transactions)} AS t "
            f"WHERE CAST(t.{_ident(cols['timestamp'])} AS TIMESTAMP) < {timestamp_literal(frozen.as_of)})")


def _kept_condition(wh: Warehouse) -> str:
    """Profiling opt-outs are never scored (as preparation drops them); erased customers are gone already."""
    if not wh.opt_out:
        return "TRUE"
    blank = "TRUE" if wh.blank_opts_out else "FALSE"
    return f"NOT coalesce(CAST(c.{_ident(wh.opt_out)} AS BOOLEAN), {blank})"


def _objecting_ctes(wh: Warehouse) -> list[str]:
    """``objecting``: ids (as text) whose latest ``object_profiling`` is later than their latest withdrawal of it.

    The register's rule (:func:`workbench.engine._choice_queries.choice_state_query`): a ``withdraw``
    whose value is ``object_profiling`` cancels every objection recorded at or before it. Every record
    counts whatever its date, so an objection recorded after ``as_of`` is honoured too.
    """
    cols, table = wh.choice_columns, _table(wh.choices)
    rid = f"CAST(r.{_ident(cols['id'])} AS VARCHAR)"
    when = f"CAST(r.{_ident(cols['recorded_at'])} AS TIMESTAMP)"
    kind = f"lower(trim(CAST(r.{_ident(cols['kind'])} AS VARCHAR)))"
    value = f"lower(trim(CAST(r.{_ident(cols['value'])} AS VARCHAR)))"
    return [
        f"objected AS (SELECT {rid} AS _id, max({when}) AS _at FROM {table} AS r "
        f"WHERE {kind} = 'object_profiling' GROUP BY {rid})",
        f"withdrawn AS (SELECT {rid} AS _id, max({when}) AS _at FROM {table} AS r "
        f"WHERE {kind} = 'withdraw' AND {value} = 'object_profiling' GROUP BY {rid})",
        "objecting AS (SELECT o._id AS _id FROM objected AS o LEFT JOIN withdrawn AS w ON o._id = w._id "
        "WHERE w._at IS NULL OR o._at > w._at)",
    ]


def objecting_query(table: str, columns: dict | None = None) -> str:
    """The ids (``_id``, as text) of ``table``'s register whose objection to profiling is in force."""
    wh = Warehouse(choices=table, choice_columns={**CHOICE_COLUMNS, **(columns or {})})
    return f"WITH {', '.join(_objecting_ctes(wh))} SELECT _id FROM objecting"


def _rectifying_ctes(table: str, columns: dict, until: str | None = None) -> list[str]:
    """``fixed``: the corrections in force, ``_id`` (as text), ``target`` (the column) and ``fix`` (text).

    The register's rule (:func:`workbench.engine._choice_queries.choice_state_query`): per customer
    and column the latest ``rectify`` (value ``column=value``) counts, unless a ``withdraw`` with
    value ``rectify`` was recorded at or after it. With ``until`` (a timestamp expression), records
    after it do not count, as preparation leaves out records after its cut-off; without, every record.
    """
    rid = f"CAST(r.{_ident(columns['id'])} AS VARCHAR)"
    when = f"CAST(r.{_ident(columns['recorded_at'])} AS TIMESTAMP)"
    kind = f"lower(trim(CAST(r.{_ident(columns['kind'])} AS VARCHAR)))"
    if until is not None:
        kind = f"CASE WHEN {when} <= {until} THEN {kind} END"  # a later record is of no kind: it counts for nothing
    value = f"CAST(r.{_ident(columns['value'])} AS VARCHAR)"
    eq = f"POSITION('=' IN {value})"  # standard SQL: SQLGlot writes Spark's LOCATE
    target = f"trim(substr({value}, 1, {eq} - 1))"
    return [
        f"fixes AS (SELECT {rid} AS _id, {target} AS target, trim(substr({value}, {eq} + 1)) AS fix, "
        f"{when} AS _at, row_number() OVER (PARTITION BY {rid}, {target} ORDER BY {when} DESC, {value} DESC) "
        f"AS _rank FROM {_table(table)} AS r WHERE {kind} = 'rectify' AND {eq} > 1)",
        f"fixes_withdrawn AS (SELECT {rid} AS _id, max({when}) AS _at FROM {_table(table)} AS r "
        f"WHERE {kind} = 'withdraw' AND lower(trim({value})) = 'rectify' GROUP BY {rid})",
        "fixed AS (SELECT f._id AS _id, f.target AS target, f.fix AS fix FROM fixes AS f "
        "LEFT JOIN fixes_withdrawn AS w ON f._id = w._id WHERE f._rank = 1 AND (w._at IS NULL OR f._at > w._at))",
    ]


def rectifying_query(table: str, columns: dict | None = None) -> str:
    """The corrections in force in ``table``'s register: ``_id`` (as text), ``target`` (the column), ``fix``."""
    ctes = _rectifying_ctes(table, {**CHOICE_COLUMNS, **(columns or {})})
    return f"WITH {', '.join(ctes)} SELECT _id, target, fix FROM fixed ORDER BY _id, target"


def _typed_fix(fix: str, sql_type: str, column: str) -> str:
    """A corrected value (trimmed text) as ``sql_type``, or the query stops with a message naming ``column``.

    Read as preparation and the incremental path read a correction (:data:`workbench.engine._choice_queries`'
    ``rectify_type_query``, :func:`workbench.scoring._batch.rectified`): a flag by its yes/no words, an
    integer or a number by the same patterns, a time by a cast. A value of another form is not quietly
    read as NULL or false (Spark's cast would): :func:`refusal` stops the query, as the other paths refuse it.
    """
    from ..engine._choice_queries import FLAG_WORDS, TRUE_WORDS
    from ..engine._validation_queries import INTEGER_RE, NUMBER_RE

    if sql_type == "VARCHAR":
        return fix
    valid, value = {
        "BOOLEAN": (f"lower({fix}) IN ({', '.join(_text(w) for w in FLAG_WORDS)})",
                    f"lower({fix}) IN ({', '.join(_text(w) for w in TRUE_WORDS)})"),
        "BIGINT": (f"regexp_matches({fix}, {_text(INTEGER_RE)})", f"CAST(CAST({fix} AS DOUBLE) AS BIGINT)"),
        "DOUBLE": (f"regexp_matches({fix}, {_text(NUMBER_RE)})", f"CAST({fix} AS DOUBLE)"),
    }.get(sql_type, (f"TRY_CAST({fix} AS {sql_type}) IS NOT NULL", f"CAST({fix} AS {sql_type})"))
    message = (f"choices register: a rectify in force for column {column} holds a value that is not of the "
               f"column's type ({sql_type}); fix the record or withdraw it (kind withdraw, value rectify)")
    return f"CASE WHEN {valid} THEN {value} ELSE {refusal(message, fix, sql_type)} END"


def refusal(message: str, row_text: str, sql_type: str) -> str:
    """An expression that stops the query with ``message`` (DuckDB's ``error``; see :func:`transpile`).

    ``row_text`` (a text expression of the row, never shown: an empty piece of it) keeps the call
    from being a constant, which an engine may fold, and raise, before reading any row.
    """
    return f"CAST(error({_text(message)} || substr({row_text}, 1, 0)) AS {sql_type})"


def _rectified_cte(frozen: FrozenFeatures, wh: Warehouse) -> str:
    """``rectified``: the customer table's id, opt-out flag and model inputs, each corrected where a
    ``rectify`` in force names it (one pivot row per corrected customer, joined on the id as text)."""
    cid = _ident(wh.customer_id)
    items = [f"c.{cid} AS {cid}"] + ([f"c.{_ident(wh.opt_out)} AS {_ident(wh.opt_out)}"]
                                     if wh.opt_out and wh.opt_out != wh.customer_id else [])
    pivot = []
    for n, col in enumerate(c for c in frozen.customer_columns if c not in (wh.customer_id, wh.opt_out)):
        pivot.append(f"max(CASE WHEN target = {_text(col)} THEN fix END) AS _fix{n}")
        typed = _typed_fix(f"f._fix{n}", frozen.customer_types.get(col, "VARCHAR"), col)
        items.append(f"CASE WHEN f._fix{n} IS NULL THEN c.{_ident(col)} ELSE {typed} END AS {_ident(col)}")
    if not pivot:
        return f"rectified AS (SELECT {', '.join(items)} FROM {_table(wh.customers)} AS c)"
    return (f"rectified AS (SELECT {', '.join(items)} FROM {_table(wh.customers)} AS c "
            f"LEFT JOIN (SELECT _id, {', '.join(pivot)} FROM fixed GROUP BY _id) AS f "
            f"ON CAST(c.{cid} AS VARCHAR) = f._id)")


def _features_cte(frozen: FrozenFeatures, wh: Warehouse, model_inputs: list[str]) -> str:
    """One row per kept customer: the model's raw inputs in original units (NULL where undefined)."""
    items = [f"c.{_ident(wh.customer_id)} AS customer_id"]
    items += [f"c.{_ident(col)} AS {_ident(col)}" for col in frozen.customer_columns]
    for col in model_inputs:
        if col in frozen.customer_columns:
            continue
        value = f"agg.{_ident(col)}"
        items.append(f"coalesce({value}, {_FILLED[col]}) AS {_ident(col)}" if col in _FILLED
                     else f"{value} AS {_ident(col)}")
    join = f"LEFT JOIN agg ON c.{_ident(wh.customer_id)} = agg.customer_id " if frozen.families else ""
    kept = _kept_condition(wh)
    source = "rectified" if wh.choices and frozen.customer_columns else _table(wh.customers)
    if wh.choices:  # an anti-join: NOT IN would drop everyone if the register held a NULL id
        join += f"LEFT JOIN objecting AS ob ON CAST(c.{_ident(wh.customer_id)} AS VARCHAR) = ob._id "
        kept += " AND ob._id IS NULL"
    return f"features AS (SELECT {', '.join(items)} FROM {source} AS c {join}WHERE {kept})"


def export_query(model, frozen: FrozenFeatures, warehouse: Warehouse) -> str:
    """The whole segmentation of a run as one DuckDB-dialect query over the customer's own tables.

    Parameters
    ----------
    model : SegmentationModel
        A fitted nearest-centre model (``cluster_centers_`` not None) with ``segment_names_``.
    frozen : FrozenFeatures
        The run's feature definitions: families, share levels, settings, ``as_of`` and the inputs
        read straight from the customer table.
    warehouse : Warehouse
        Table and column names in the warehouse.

    Returns
    -------
    str
        A query with columns ``<customer id column>``, ``segment``, ``segment_name`` and ``margin``
        (to the runner-up), one row per customer who has not opted out of profiling (nor objected to it
        in ``warehouse.choices``).
    """
    if getattr(model, "cluster_centers_", None) is None:
        raise InputError(
            f"The run's model ({model.method}) is not a nearest-centre model: its segment depends on the "
            "mixture's covariances and posterior, which are not exported as SQL. Export a kmeans or ward run."
        )
    ctes = feature_ctes(model, frozen, warehouse)
    score_ctes, final = score_parts(model, "features", margin=True)
    names = " ".join(f"WHEN {int(j)} THEN {_text(n)}" for j, n in sorted(model.segment_names_.items()))
    return (
        f"WITH {', '.join(ctes)}, "
        f"{', '.join(score_ctes)}, scored AS ({final}) "
        f"SELECT customer_id AS {_ident(warehouse.customer_id)}, segment, "
        f"CASE segment {names} END AS segment_name, margin FROM scored"
    )


def feature_ctes(model, frozen: FrozenFeatures, warehouse: Warehouse) -> list[str]:
    """The subqueries of :func:`export_query` up to ``features``: one row per kept customer, the model's raw inputs."""
    inputs = list(model.feature_names_in_)
    unknown = [c for c in inputs if c not in frozen.customer_columns and not _is_transaction_feature(c, frozen)]
    if unknown:
        raise InputError(f"The model's inputs {unknown} are neither customer columns nor transaction features "
                         "(e.g. predicted value): the SQL cannot compute them in the warehouse.")
    ctes = []
    if frozen.families:
        sel = feature_select(frozen.families, frozen.settings, frozen.as_of, frozen.levels)
        ctes = [_transaction_cte(frozen, warehouse), f"agg AS (SELECT {', '.join(sel)} FROM tx GROUP BY customer_id)"]
    if warehouse.choices:
        ctes += _objecting_ctes(warehouse)
        if frozen.customer_columns:  # corrections in force replace the stored values before the features
            ctes += [*_rectifying_ctes(warehouse.choices, warehouse.choice_columns, warehouse.corrections_until),
                     _rectified_cte(frozen, warehouse)]
    ctes.append(_features_cte(frozen, warehouse, inputs))
    return ctes


def _is_transaction_feature(column: str, frozen: FrozenFeatures) -> bool:
    if column in TRANSACTION_FAMILIES or column == "frequency":
        return True
    return any(level_column(prefix + "_", v) == column for prefix, values in frozen.levels.items() for v in values)


def transpile(text: str, dialect: str) -> str:
    """Translate a DuckDB-dialect query with SQLGlot; unsupported constructs raise instead of warning."""
    import sqlglot
    from sqlglot.errors import ErrorLevel, SqlglotError

    known = sorted(d.value for d in sqlglot.Dialects if d.value)
    if dialect not in known:
        raise InputError(f"Unknown SQL dialect {dialect!r}: choose one of {', '.join(DIALECTS)} "
                         f"(or another that SQLGlot knows: {', '.join(k for k in known if k not in DIALECTS)}).")
    try:
        tree = sqlglot.parse_one(text, read="duckdb").transform(lambda node: _stop_in(node, dialect))
        return tree.sql(dialect=dialect, pretty=True, unsupported_level=ErrorLevel.RAISE)
    except SqlglotError as exc:
        raise InputError(f"SQLGlot cannot translate the segmentation to {dialect}: {exc}. "
                         f"Export to one of {', '.join(DIALECTS)}.") from exc


def _stop_in(node, dialect: str):
    """DuckDB's ``error(message)`` (:func:`refusal`) in ``dialect``: Spark's ``raise_error``, BigQuery's
    ``ERROR``; elsewhere the message itself, which the enclosing cast to a number, flag or time then
    refuses with the message in its error (SQLGlot would pass ``error`` through to dialects without it)."""
    from sqlglot import exp

    if not (isinstance(node, exp.Anonymous) and str(node.this).lower() == "error") or dialect in ("duckdb", "bigquery"):
        return node
    if dialect in ("spark", "spark2", "databricks", "hive"):
        return exp.Anonymous(this="raise_error", expressions=node.expressions)
    return node.expressions[0]


def register_fact(wh: Warehouse) -> str:
    """The header's line on how the query reads the warehouse's choices register ``wh.choices``."""
    c = wh.choice_columns
    until = ("every record whatever its date" if wh.corrections_until is None else
             f"records until {wh.corrections_until} (the run's dataset.as_of, or the time the query runs when it "
             "had none, as preparation cut the register)")
    return (f"{wh.choices} ({c['id']}, {c['kind']}, {c['value']}, {c['recorded_at']}): customers whose objection "
            "to profiling is in force (kind object_profiling not cancelled by a later withdraw with value "
            "object_profiling; every record whatever its date) are excluded; corrections in force (per customer "
            "and column the latest rectify with value column=value, not cancelled by a later withdraw with value "
            f"rectify; {until}) replace the customer table's values, read as the run's column types (a value of "
            "another type stops the query with a message naming the column)")


def header_facts(model, frozen: FrozenFeatures, wh: Warehouse, dialect: str) -> dict:
    """The header's facts on the model's segments, ``as_of``, the tables read, who is left out, the output."""
    choices = register_fact(wh) if wh.choices else (
        "NOT APPLIED: no choices table was given (the run had no register). Objections to profiling "
        "recorded in the warehouse are not honoured by this query; re-export with --choices-table NAME")
    return {
        "segments": "; ".join(f"{j} = {n}" for j, n in sorted(model.segment_names_.items())),
        "as_of": "not used (no transaction features)" if frozen.as_of is None else
                 f"{frozen.as_of.isoformat(sep=' ')}: only transactions strictly before it count; recency and "
                 "tenure are calendar days to it (re-export with --as-of to move it)",
        "reads": f"{wh.customers} (id {wh.customer_id}), {wh.transactions} "
                 f"({', '.join(f'{r}={c}' for r, c in wh.columns.items())})",
        "excluded": (f"customers whose {wh.opt_out} is true{' or blank' if wh.blank_opts_out else ''} (profiling "
                     "opt-out); erased customers must already be deleted") if wh.opt_out else
                    "nobody by consent (the run had no profiling opt-out flag)",
        "choices": choices,
        "output": f"{wh.customer_id}, segment, segment_name, margin (to the runner-up, in squared model-space units)",
        "dialect": f"{dialect} (SQLGlot translation of DuckDB SQL)",
    }


def header(facts: dict) -> str:
    """The comment block that opens an exported file: one ``-- key: value`` line per fact."""
    lines = ["-- Segment assignment exported by workbench (export-sql): the run's frozen features and model."]
    lines += [f"-- {key}: {value}" for key, value in facts.items()]
    return "\n".join(lines) + "\n"
