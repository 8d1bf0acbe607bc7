"""The campaign table in the engine: register it, check it, write it prepared (one SQL text, both engines).

Both input paths register the table as ``prep_campaigns`` with one text column per role
(:func:`register_campaigns`: a DataFrame read on the pandas path, or the files themselves on the engine
path), so the values are parsed and checked by the same queries on DuckDB and Spark:

* :func:`campaign_checks_query`: one row of counts (bad arms, unparseable or late ``assigned_at``, a
  customer in both arms, campaigns without control customers, ids of unknown customers, bad
  responses or revenues) and :func:`campaign_problems` words them, naming the column and the fix and
  never an id;
* :func:`prepared_campaigns_query`: the kept customers' rows (erased and opted-out customers are not in
  ``prep_pseudonyms``), the id replaced by its pseudonym; without a ``response`` column the response is
  at least one purchase within ``response_days`` after ``assigned_at`` and the revenue the net spend in
  that window, both computed from ``prep_transactions`` here.
"""

from __future__ import annotations

import pandas as pd

from ..data._campaigns import CAMPAIGN_ROLES, REQUIRED_CAMPAIGN_ROLES
from ..data._reading import match_headers
from ..data._schema import _FALSE_VALUES, _TRUE_VALUES, InputError
from ._prepare_queries import FLAGS, KEPT, PSEUDONYMS, ROW, TRANSACTIONS
from ._queries import _ident

__all__ = [
    "CAMPAIGNS", "campaign_checks_query", "campaign_counts_query", "campaign_problems", "no_control_query", "prepared_campaigns_query",
    "register_campaigns",
]

CAMPAIGNS = "prep_campaigns"
_RAW = "raw_campaigns"
#: Responses read as yes / no (pandas writes a whole number read with gaps as "1.0").
_YES = sorted(_TRUE_VALUES | {"1.0"})
_NO = sorted(_FALSE_VALUES | {"0.0"})


def _list(values) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)


def register_campaigns(eng, data, roles: dict[str, str] | None = None) -> list[str]:
    """Register ``prep_campaigns`` (one text column per role present); return the roles present.

    Parameters
    ----------
    eng : Engine
    data : DataFrame or path(s)
        A DataFrame whose columns are already the role names (the pandas path and the built-in
        synthetic world), or CSV/Parquet paths the engine reads itself (``dataset.read: engine``).
    roles : dict, optional
        ``{role: column}`` for paths (headers matched ignoring case and spaces).
    """
    if isinstance(data, pd.DataFrame):
        eng.register_rows(_RAW, data)
        columns = {role: role for role in CAMPAIGN_ROLES if role in data.columns}
    else:
        eng.register(_RAW, data, text=True)
        headers = list(eng.sql(f"SELECT * FROM {_RAW} LIMIT 0").columns)
        rename = match_headers(headers, list((roles or {}).values()))
        present = {rename.get(h, h) for h in headers}
        missing = [f"{col!r} (role {role})" for role, col in (roles or {}).items()
                   if role in REQUIRED_CAMPAIGN_ROLES and col not in present]
        if missing:
            raise InputError(f"Input error in table 'campaigns': column(s) {', '.join(missing)} missing; the file "
                             f"has {headers}. Name the columns under dataset.roles.campaigns.")
        by_name = {rename.get(h, h): h for h in headers}
        columns = {role: by_name[col] for role, col in (roles or {}).items() if col in by_name}
        for role in ("response", "revenue"):
            if role not in columns and role in by_name:
                columns[role] = by_name[role]
    select = ", ".join(f"trim(CAST({_ident(col)} AS VARCHAR)) AS {role}" for role, col in columns.items())
    eng.register_view(CAMPAIGNS, f"SELECT {select} FROM {_RAW}")
    return list(columns)


def _parsed(present: list[str]) -> str:
    """``prep_campaigns`` with typed columns: ``arm`` lower case, ``ts`` the parsed ``assigned_at``."""
    response = (f"CASE WHEN lower(response) IN ({_list(_YES)}) THEN 1 WHEN lower(response) IN ({_list(_NO)}) "
                "THEN 0 END" if "response" in present else "CAST(NULL AS INTEGER)")
    revenue = "TRY_CAST(revenue AS DOUBLE)" if "revenue" in present else "CAST(NULL AS DOUBLE)"
    return (f"SELECT id, campaign, lower(arm) AS arm, assigned_at, TRY_CAST(assigned_at AS TIMESTAMP) AS ts, "
            f"{'response' if 'response' in present else 'CAST(NULL AS VARCHAR)'} AS response_text, "
            f"{response} AS response, {'revenue' if 'revenue' in present else 'CAST(NULL AS VARCHAR)'} AS revenue_text, "
            f"{revenue} AS revenue FROM {CAMPAIGNS}")


def campaign_checks_query(present: list[str], cutoff: str) -> str:
    """One row of counts of every problem :func:`campaign_problems` words (``cutoff``: the ``as_of`` literal)."""
    c = f"({_parsed(present)})"
    return (
        "SELECT count(*) AS n_rows, "
        "count(*) FILTER (WHERE id IS NULL OR id = '') AS missing_id, "
        "count(*) FILTER (WHERE campaign IS NULL OR campaign = '') AS missing_campaign, "
        "count(*) FILTER (WHERE arm IS NULL OR arm NOT IN ('treatment', 'control')) AS bad_arm, "
        "count(*) FILTER (WHERE ts IS NULL) AS bad_assigned_at, "
        f"count(*) FILTER (WHERE ts > TIMESTAMP '{cutoff}') AS late_assigned_at, "
        "count(*) FILTER (WHERE response_text IS NOT NULL AND response_text <> '' AND response IS NULL) AS bad_response, "
        "count(*) FILTER (WHERE revenue_text IS NOT NULL AND revenue_text <> '' AND revenue IS NULL) AS bad_revenue, "
        f"(SELECT count(*) FROM (SELECT campaign, id FROM {c} AS b WHERE arm IN ('treatment', 'control') "
        "GROUP BY campaign, id HAVING count(DISTINCT arm) > 1) AS x) AS both_arms, "
        f"(SELECT count(*) FROM (SELECT campaign, id FROM {c} AS b GROUP BY campaign, id, arm HAVING count(*) > 1) AS y) "
        "AS repeated, "
        f"(SELECT count(*) FROM (SELECT DISTINCT id FROM {CAMPAIGNS} WHERE id IS NOT NULL) AS i "
        f"LEFT JOIN {FLAGS} AS f ON i.id = f._id WHERE f._id IS NULL) AS unknown_customers "
        f"FROM {c} AS a"
    )


def examples_query(present: list[str], condition: str, column: str) -> str:
    """Up to five distinct values of ``column`` (never an id) on rows meeting ``condition``."""
    return (f"SELECT DISTINCT {column} AS example FROM ({_parsed(present)}) AS a WHERE {condition} "
            f"ORDER BY example LIMIT 5")


def no_control_query(present: list[str]) -> str:
    """The campaigns (names, at most five) without a single control customer."""
    return (f"SELECT campaign FROM ({_parsed(present)}) AS a WHERE campaign IS NOT NULL GROUP BY campaign "
            "HAVING count(*) FILTER (WHERE arm = 'control') = 0 ORDER BY campaign LIMIT 5")


def campaign_problems(eng, present: list[str], cutoff: pd.Timestamp, source: str) -> list[str]:
    """Every problem of the registered campaign table, one line each (empty: it passed).

    Values are shown only where they are not about a person (arm spellings, dates, campaign names);
    customer ids are counted, never echoed.
    """
    literal = cutoff.strftime("%Y-%m-%d %H:%M:%S.%f")
    row = eng.sql(campaign_checks_query(present, literal)).iloc[0]
    n = {k: int(v) for k, v in row.items()}

    def shown(condition: str, column: str) -> str:
        values = eng.sql(examples_query(present, condition, column))["example"].tolist()
        return ", ".join(repr(v) for v in values)

    lines = []
    if n["missing_id"] or n["missing_campaign"]:
        lines.append(f"column 'id'/'campaign': {n['missing_id']} row(s) without a customer id and "
                     f"{n['missing_campaign']} without a campaign name; fill them in or remove the rows.")
    if n["bad_arm"]:
        lines.append(f"column 'arm': {n['bad_arm']} row(s) hold a value other than treatment or control "
                     f"(e.g. {shown('arm IS NULL OR arm NOT IN (' + _list(['treatment', 'control']) + ')', 'arm')}); "
                     "write treatment or control (any case).")
    if n["bad_assigned_at"]:
        lines.append(f"column 'assigned_at': {n['bad_assigned_at']} row(s) are not a date or timestamp (e.g. "
                     f"{shown('ts IS NULL', 'assigned_at')}); write dates as YYYY-MM-DD.")
    if n["late_assigned_at"]:
        lines.append(f"column 'assigned_at': {n['late_assigned_at']} row(s) are dated after the run's as_of "
                     f"({cutoff:%Y-%m-%d}); set dataset.as_of to the date the data describes or fix the dates.")
    if n["both_arms"]:
        lines.append(f"column 'arm': {n['both_arms']} customer(s) are in both the treatment and the control arm "
                     "of one campaign; a randomised holdout assigns each customer to one arm: fix the export.")
    if n["repeated"]:
        lines.append(f"column 'id': {n['repeated']} customer(s) appear more than once in one arm of one campaign; "
                     "keep one row per customer and campaign.")
    if not n["bad_arm"]:
        no_control = eng.sql(no_control_query(present))["campaign"].tolist()
        if no_control:
            lines.append(f"column 'arm': campaign(s) {', '.join(repr(c) for c in no_control)} have no control "
                         "customers; an effect needs a randomised holdout: add its control rows or drop the campaign.")
    if n["unknown_customers"]:
        lines.append(f"column 'id': {n['unknown_customers']} customer id(s) are not in the customer table (not "
                     "shown: ids are personal data); export campaigns and customers from the same snapshot.")
    if n["bad_response"]:
        lines.append(f"column 'response': {n['bad_response']} row(s) are not yes/no (1/0, true/false); fix them or "
                     "leave the column out to compute the response from the transactions.")
    if n["bad_revenue"]:
        lines.append(f"column 'revenue': {n['bad_revenue']} row(s) are not numbers; fix them or leave the column out.")
    return [f"Input error in table 'campaigns' ({source}): {line}" for line in lines]


def prepared_campaigns_query(present: list[str], id_column: str, tx_id: str | None = None,
                             tx_timestamp: str | None = None, tx_amount: str | None = None,
                             response_days: int = 30) -> str:
    """The kept customers' campaign rows: ``customer_id`` (pseudonym), ``campaign``, ``arm``,
    ``assigned_at``, ``response`` (0/1), ``revenue``; ordered by campaign, arm and the customer's input row.

    Without a ``response`` column (``present``), the response and revenue come from the transactions
    (``tx_*``: the input column names of ``prep_transactions``) in the ``response_days`` after
    ``assigned_at``; a given response without revenue has revenue NULL.
    """
    c = f"({_parsed(present)})"
    join = (f"FROM {c} AS c JOIN {PSEUDONYMS} AS p ON c.id = CAST(p.customer_id AS VARCHAR) "
            f"JOIN {KEPT} AS k ON c.id = CAST(k.{_ident(id_column)} AS VARCHAR)")
    if "response" in present:
        response, revenue = "c.response", "c.revenue"
    else:
        t_id, t_ts, t_amount = (f"t.{_ident(x)}" for x in (tx_id, tx_timestamp, tx_amount))
        window = (f"SELECT c.campaign AS w_campaign, c.id AS w_id, count(*) AS w_n, sum({t_amount}) AS w_revenue "
                  f"FROM {c} AS c JOIN {TRANSACTIONS} AS t ON CAST({t_id} AS VARCHAR) = c.id "
                  f"AND {t_ts} > c.ts AND {t_ts} <= c.ts + INTERVAL {int(response_days)} DAY "
                  "GROUP BY c.campaign, c.id")
        join += f" LEFT JOIN ({window}) AS w ON w.w_campaign = c.campaign AND w.w_id = c.id"
        response = "CASE WHEN w.w_n > 0 THEN 1 ELSE 0 END"
        revenue = "coalesce(w.w_revenue, CAST(0 AS DOUBLE))"
    return (f"SELECT p.pseudonym AS customer_id, c.campaign AS campaign, c.arm AS arm, c.ts AS assigned_at, "
            f"CAST({response} AS INTEGER) AS response, CAST({revenue} AS DOUBLE) AS revenue "
            f"{join} ORDER BY c.campaign, c.arm, k.{ROW}")


def campaign_counts_query() -> str:
    """One row: campaign rows in the input and rows of kept customers (the rest were erased or opted out)."""
    return (f"SELECT count(*) AS campaign_rows_in_input, count(p.pseudonym) AS campaign_rows_kept, "
            f"count(DISTINCT c.campaign) AS campaigns FROM {CAMPAIGNS} AS c LEFT JOIN {PSEUDONYMS} AS p "
            "ON c.id = CAST(p.customer_id AS VARCHAR)")
