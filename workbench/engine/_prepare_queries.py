"""Preparation as queries, one SQL text for both engines: consent and erasure, pseudonyms, counts.

The input tables are registered on an engine with a ``_row`` column (their row number, so the
prepared tables keep the input order on both engines; on the engine input path, where many files have
no input order both engines share, the customers' ``_row`` is their raw id as text). :func:`register_flags` adds the view
``_flags``: one row per customer with its raw id as text and whether it opted out of profiling, left
the flag blank, or is on the erasure list. Everything else reads that view:

* :func:`exclusion_counts_query`: what was dropped and why (one row of counts);
* :func:`kept_view_query`: the customers kept, an anti-join against the dropped ones;
* :func:`prepared_customers_query`: kept customers, id replaced by the keyed pseudonym of
  :func:`~workbench.engine.pseudonym_query`, consent per purpose as booleans, minimised columns;
* :func:`transaction_counts_query` / :func:`prepared_transactions_query`: the same for transactions
  (unknown customers counted, excluded customers' rows dropped, canonical column names);
* :func:`truth_query`: synthetic data only, the planted segments keyed by pseudonym.
"""

from __future__ import annotations

from ._queries import _ident

#: Names of the engine tables and views preparation uses.
CUSTOMERS, TRANSACTIONS, FORGET, FLAGS, KEPT, PSEUDONYMS, TRUTH = (
    "prep_customers", "prep_transactions", "prep_forget", "prep_flags", "prep_kept", "prep_pseudonyms",
    "prep_truth",
)
ROW = "_row"


def _text(expr: str) -> str:
    return f"CAST({expr} AS VARCHAR)"


def _bool(value: bool) -> str:
    return "TRUE" if value else "FALSE"


def _dropped(blank_consent: str) -> str:
    """The SQL condition over ``_flags`` for a customer preparation removes."""
    blank = " OR _blank" if blank_consent == "no_consent" else ""
    return f"(_opted_out{blank} OR _forgotten OR _objected)"


def _forget_ids() -> str:
    """The erasure list's distinct ids as text. ``prep_forget`` holds a NULL row besides them (Spark cannot
    register an empty table), left out here."""
    return f"SELECT DISTINCT {_text('id')} AS _id FROM {FORGET} WHERE id IS NOT NULL"


def flags_query(id_column: str, opt_out_column: str | None, objecting: str | None = None) -> str:
    """One row per customer: ``_row``, ``_id`` (raw id as text), ``_opted_out``, ``_blank``, ``_forgotten``,
    ``_objected``.

    The erasure list (table ``prep_forget``, column ``id``) is matched as text, de-duplicated first
    so that a customer named twice is still one row. A missing opt-out flag is "not opted out" and
    "blank"; what a blank means is decided by the policy in :func:`_dropped`. ``objecting`` is a query
    of the raw ids (``_id``, distinct) whose objection to profiling is in force (the choices register).
    """
    cid = _text(f"c.{_ident(id_column)}")
    if opt_out_column:
        flag = f"c.{_ident(opt_out_column)}"
        consent = f"coalesce({flag}, FALSE) AS _opted_out, {flag} IS NULL AS _blank"
    else:
        consent = "FALSE AS _opted_out, FALSE AS _blank"
    if objecting:
        objected, join = "o._id IS NOT NULL AS _objected", f" LEFT JOIN ({objecting}) AS o ON {cid} = o._id"
    else:
        objected, join = "FALSE AS _objected", ""
    return (
        f"SELECT c.{ROW} AS {ROW}, {cid} AS _id, {consent}, f._id IS NOT NULL AS _forgotten, {objected} "
        f"FROM {CUSTOMERS} AS c LEFT JOIN ({_forget_ids()}) AS f "
        f"ON {cid} = f._id{join}"
    )


def register_flags(eng, id_column: str, opt_out_column: str | None, blank_consent: str,
                   objecting: str | None = None, source: str = CUSTOMERS) -> None:
    """Register ``prep_flags``, ``prep_kept`` and ``prep_pseudonyms`` on ``eng`` (views, computed when used).

    Needs ``prep_customers`` (with ``_row``), ``prep_forget`` (column ``id``) and ``hmac_key``
    (:func:`~workbench.engine.hmac_key_table`) registered first. With a choices register, ``objecting``
    is the query of the objecting customers' raw ids and ``source`` the customers with the choices in
    force applied (:mod:`workbench.engine._choice_queries`): the kept customers are read from it.
    """
    from ._queries import pseudonym_query

    eng.register_view(FLAGS, flags_query(id_column, opt_out_column, objecting))
    eng.register_view(KEPT, kept_view_query(blank_consent, source))
    eng.register_view(PSEUDONYMS, pseudonym_query(KEPT, id_column))


def kept_view_query(blank_consent: str, source: str = CUSTOMERS) -> str:
    """The customers preparation keeps: every column of ``source`` (``prep_customers``, or the customers
    with their choices applied), dropped ones anti-joined away."""
    return (
        f"SELECT c.* FROM {source} AS c LEFT JOIN (SELECT {ROW} FROM {FLAGS} WHERE {_dropped(blank_consent)}) AS d "
        f"ON c.{ROW} = d.{ROW} WHERE d.{ROW} IS NULL"
    )


def exclusion_counts_query(blank_consent: str) -> str:
    """One row: customers in the input, opted out, erased (and not already opted out), kept, blank flags,
    and erasure ids that match no customer (an anti-join of the list against the customers)."""
    no_consent = "(_opted_out OR _blank)" if blank_consent == "no_consent" else "_opted_out"
    return (
        "SELECT count(*) AS customers_in_input, "
        "count(*) FILTER (WHERE _opted_out) AS opted_out_of_profiling, "
        f"count(*) FILTER (WHERE _forgotten AND NOT {no_consent}) AS erased, "
        f"count(*) FILTER (WHERE _objected AND NOT _forgotten AND NOT {no_consent}) AS objected_to_profiling, "
        f"count(*) FILTER (WHERE NOT {_dropped(blank_consent)}) AS customers_kept, "
        "count(*) FILTER (WHERE _blank) AS profiling_flag_blank, "
        f"(SELECT count(*) FROM ({_forget_ids()}) AS f "
        f"LEFT JOIN {FLAGS} AS g ON f._id = g._id WHERE g._id IS NULL) AS erasure_ids_not_found "
        f"FROM {FLAGS}"
    )


def consent_expr(column: str, blank_consent: str) -> str:
    """A per-purpose consent flag as a boolean: True only where the customer consents (blank per policy)."""
    return f"coalesce({_ident(column)}, {_bool(blank_consent == 'consent')})"


def consent_counts_query(columns: dict[str, str], blank_consent: str) -> str:
    """Per purpose, over the kept customers: ``<purpose>__with``, ``<purpose>__blank`` and ``n``."""
    parts = ["count(*) AS n"]
    for purpose, col in columns.items():
        parts.append(f"count(*) FILTER (WHERE {consent_expr(col, blank_consent)}) AS {_ident(purpose + '__with')}")
        parts.append(f"count(*) FILTER (WHERE {_ident(col)} IS NULL) AS {_ident(purpose + '__blank')}")
    return f"SELECT {', '.join(parts)} FROM {KEPT}"


def prepared_customers_query(id_column: str, columns: list[str], consent: dict[str, str], blank_consent: str) -> str:
    """The prepared customer table: ``customer_id`` (pseudonym), ``columns``, ``consent_<purpose>``; input order.

    Parameters
    ----------
    id_column : str
        The raw id column (replaced by its pseudonym, in its place).
    columns : list of str
        The kept columns in order (the id among them).
    consent : dict
        ``{purpose: input column}`` of the purposes kept per action.
    blank_consent : str
    """
    select = [
        "p.pseudonym AS customer_id" if col == id_column else f"c.{_ident(col)} AS {_ident(col)}" for col in columns
    ]
    select += [f"{consent_expr(col, blank_consent)} AS {_ident('consent_' + p)}" for p, col in consent.items()]
    return (
        f"SELECT {', '.join(select)} FROM {KEPT} AS c JOIN {PSEUDONYMS} AS p "
        f"ON {_text('c.' + _ident(id_column))} = {_text('p.customer_id')} ORDER BY c.{ROW}"
    )


def transaction_counts_query(id_column: str, blank_consent: str) -> str:
    """One row: transactions in the input, of customers not in the customer table, and kept."""
    return (
        "SELECT count(*) AS transactions_in_input, "
        "count(*) FILTER (WHERE f._id IS NULL) AS transactions_of_unknown_customers, "
        f"count(*) FILTER (WHERE f._id IS NOT NULL AND NOT {_dropped(blank_consent)}) AS transactions_kept "
        f"FROM {TRANSACTIONS} AS t LEFT JOIN {FLAGS} AS f ON {_text('t.' + _ident(id_column))} = f._id"
    )


def kept_transactions_rows_query(id_column: str, blank_consent: str) -> str:
    """Row numbers of the transactions kept: their customer is known and not removed."""
    return (
        f"SELECT t.{ROW} AS {ROW} FROM {TRANSACTIONS} AS t JOIN {FLAGS} AS f "
        f"ON {_text('t.' + _ident(id_column))} = f._id WHERE NOT {_dropped(blank_consent)} ORDER BY t.{ROW}"
    )


def prepared_transactions_query(columns: dict[str, str], id_column: str, by_row: bool = True) -> str:
    """Kept customers' transactions (a join with their pseudonyms), renamed ``{input: canonical}``.

    In input order (``_row``), or, with ``by_row`` false (the engine input path, whose tables have no
    input order both engines share), ordered by the written columns: rows that tie are equal.
    """
    order = f"t.{ROW}" if by_row else ", ".join(f"t.{_ident(col)}" for col in columns)
    select = [
        "p.pseudonym AS customer_id" if col == id_column else f"t.{_ident(col)} AS {_ident(name)}"
        for col, name in columns.items()
    ]
    return (
        f"SELECT {', '.join(select)} FROM {TRANSACTIONS} AS t JOIN {PSEUDONYMS} AS p "
        f"ON {_text('t.' + _ident(id_column))} = {_text('p.customer_id')} ORDER BY {order}"
    )


def truth_query(id_column: str) -> str:
    """Synthetic data: planted segments (table ``prep_truth``: ``id``, ``segment``, ``segment_after_migration``)
    per pseudonym of every kept customer, in the prepared customers' order."""
    return (
        "SELECT p.pseudonym AS customer_id, t.segment AS segment, t.segment_after_migration AS segment_after_migration "
        f"FROM {KEPT} AS c JOIN {PSEUDONYMS} AS p ON {_text('c.' + _ident(id_column))} = {_text('p.customer_id')} "
        f"LEFT JOIN {TRUTH} AS t ON {_text('c.' + _ident(id_column))} = {_text('t.id')} ORDER BY c.{ROW}"
    )
