"""Column roles and validation of input tables.

Every table the workbench reads is described by *roles*: which column is the customer id, which are
direct identifiers (dropped at load), quasi-identifiers, sensitive attributes, features (grouped in
families), the outcome, consent flags and externally assigned segment labels; for a transaction table,
the customer id, timestamp, amount, category and channel.

:func:`validate_customers` and :func:`validate_transactions` check a table against its roles with
pandera and raise :class:`InputError`, whose message names the table, the column, a few offending rows
and what to do. The CLI prints that message without a traceback and exits non-zero.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    import pandera.pandas as pa

from ._checks import AMOUNT_RANGE, blank_consent as _blank_as, looks_numeric, numeric_problems, parse_timestamps

__all__ = [
    "CONSENT_PURPOSES",
    "FEATURE_FAMILIES",
    "InputError",
    "Roles",
    "TransactionRoles",
    "validate_labels",
    "validate_customers",
    "validate_transactions",
]

FEATURE_FAMILIES = (
    "demographic",
    "geographic",
    "psychographic",
    "technographic",
    "engagement",
    "behavioural",
    "value",
    "other",
)
CONSENT_PURPOSES = ("profiling_opt_out", "marketing_opt_in")
_TRUE_VALUES = {"1", "true", "yes", "y", "t"}
_FALSE_VALUES = {"0", "false", "no", "n", "f"}


class InputError(ValueError):
    """An input table or config does not match its declared roles.

    The message is meant for the user as it is: it names the table, the column, a few offending
    rows and what to do.
    """


@dataclass
class TransactionRoles:
    """Roles of the columns of a transaction table (one row per purchase or return)."""

    id: str
    timestamp: str
    amount: str
    category: str | None = None
    channel: str | None = None

    def columns(self) -> list[str]:
        return [c for c in (self.id, self.timestamp, self.amount, self.category, self.channel) if c]


@dataclass
class Roles:
    """Roles of the customer table's columns, plus the transaction table's roles if there is one.

    A column may appear under several roles: ``age`` can be a quasi-identifier, a feature and
    sensitive at once.
    """

    id: str
    direct_identifiers: list[str] = field(default_factory=list)
    quasi_identifiers: list[str] = field(default_factory=list)
    sensitive: list[str] = field(default_factory=list)
    features: dict[str, list[str]] = field(default_factory=dict)
    outcome: str | None = None
    consent: dict[str, str] = field(default_factory=dict)
    segment: str | None = None
    assigned_at: str | None = None
    transactions: TransactionRoles | None = None

    @property
    def feature_columns(self) -> list[str]:
        seen: list[str] = []
        for cols in self.features.values():
            seen.extend(c for c in cols if c not in seen)
        return seen

    def family_of(self, column: str) -> str | None:
        for family, cols in self.features.items():
            if column in cols:
                return family
        return None

    def customer_columns(self) -> list[str]:
        """Every customer-table column that has a role, in a stable order."""
        cols = [self.id, *self.direct_identifiers, *self.quasi_identifiers, *self.sensitive]
        cols += self.feature_columns
        cols += [c for c in (self.outcome, self.segment, self.assigned_at) if c]
        cols += list(self.consent.values())
        return list(dict.fromkeys(cols))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Roles:
        data = dict(data)
        tx = data.pop("transactions", None)
        return cls(**data, transactions=TransactionRoles(**tx) if tx else None)

    @classmethod
    def from_config(cls, customers: dict[str, Any], transactions: dict[str, Any] | None) -> Roles:
        """Build roles from the ``roles:`` section of a bring-your-own config.

        ``customers`` maps role names to columns, e.g. ``{"id": "customer_id", "direct_identifier":
        ["name", "email"], "feature": {"demographic": ["age"]}}``.
        """
        known = {
            "id", "direct_identifier", "quasi_identifier", "sensitive", "feature", "outcome",
            "consent", "segment", "assigned_at",
        }
        unknown = set(customers) - known
        if unknown:
            raise InputError(
                f"Config error: unknown customer role(s) {sorted(unknown)}. "
                f"Known roles: {sorted(known)}."
            )
        if not customers.get("id"):
            raise InputError(
                "Config error: roles.customers.id is missing. Name the column that holds the "
                "customer id, e.g. `id: customer_id`."
            )
        features = customers.get("feature") or {}
        if isinstance(features, list):
            features = {"other": features}
        bad_families = set(features) - set(FEATURE_FAMILIES)
        if bad_families:
            raise InputError(
                f"Config error: unknown feature family {sorted(bad_families)} under "
                f"roles.customers.feature. Use one of {list(FEATURE_FAMILIES)}."
            )
        consent = customers.get("consent") or {}
        if isinstance(consent, str):
            consent = {"profiling_opt_out": consent}
        bad_purposes = set(consent) - set(CONSENT_PURPOSES)
        if bad_purposes:
            raise InputError(
                f"Config error: unknown consent purpose {sorted(bad_purposes)}. "
                f"Use {list(CONSENT_PURPOSES)}."
            )
        tx_roles = None
        if transactions:
            missing = [r for r in ("id", "timestamp", "amount") if not transactions.get(r)]
            if missing:
                raise InputError(
                    f"Config error: roles.transactions lacks {missing}. A transaction table needs "
                    "the customer id, a timestamp and an amount column."
                )
            tx_roles = TransactionRoles(**transactions)
        return cls(
            id=customers["id"],
            direct_identifiers=_as_list(customers.get("direct_identifier")),
            quasi_identifiers=_as_list(customers.get("quasi_identifier")),
            sensitive=_as_list(customers.get("sensitive")),
            features={k: _as_list(v) for k, v in features.items()},
            outcome=customers.get("outcome"),
            consent=dict(consent),
            segment=customers.get("segment"),
            assigned_at=customers.get("assigned_at"),
            transactions=tx_roles,
        )


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


_ADVICE = {
    "column_in_dataframe": "add the column to the table, or map the role to an existing column in "
    "the config's roles section",
    "not_nullable": "fill in the missing values or remove those rows",
    "field_uniqueness": "each customer must appear once: remove or merge the duplicate rows",
    "numeric": "make the column numeric (digits and '.' only, no currency symbols or thousands "
    "separators), or map the role to a numeric column",
    "timestamp": "use ISO dates such as 2024-03-31 or 2024-03-31T14:05:00",
    "boolean": "use 1/0, true/false or yes/no",
}


_SHOWN_KINDS = ("numeric", "timestamp", "boolean")
#: How a message line says what is wrong, per kind of check (pandas and engine paths alike).
WHAT = {
    "not_nullable": "is empty",
    "field_uniqueness": "has duplicate values",
    "numeric": "holds values that are not numbers",
    "timestamp": "holds values that are not dates/times",
    "boolean": "holds values that are not yes/no flags",
}


def _check_kind(check: str) -> str:
    if check.startswith("coerce_dtype('float") or check.startswith("dtype('float"):
        return "numeric"
    if "datetime" in check:
        return "timestamp"
    if check.startswith("isin") or "boolean" in check:
        return "boolean"
    return check


def _validate(schema: pa.DataFrameSchema, df: pd.DataFrame, table: str, source: str, extra: list[str]) -> pd.DataFrame:
    """Validate with pandera, then raise one error listing pandera's findings and ``extra`` lines."""
    import pandera.pandas as pa

    try:
        out = schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as errors:
        _raise_for(errors, table, source, df, extra)
    if extra:
        raise InputError(f"Input error in table '{table}' ({source}):\n" + "\n".join(f"  {x}" for x in extra))
    return out


def _raise_for(errors: pa.errors.SchemaErrors, table: str, source: str, df: pd.DataFrame | None = None,
               extra: list[str] = ()) -> None:
    cases = errors.failure_cases
    cases = cases[~cases["check"].astype(str).str.startswith("dtype(")]
    lines = []
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
        kind = _check_kind(str(check))
        if kind == "column_in_dataframe":
            missing = ", ".join(f"'{c}'" for c in group["failure_case"])
            lines.append(f"  missing column(s) {missing}: {_ADVICE[kind]}.{_headers_hint(df)}")
            continue
        rows = [int(i) for i in group["index"].dropna()][:5]
        # values are shown only for kinds of value (a word in an amount column); never an id or
        # any other value that may identify a customer: duplicates and blanks name rows only
        values = [repr(v) for v in group["failure_case"].head(5)] if kind in _SHOWN_KINDS else []
        what = WHAT.get(kind, f"fails check {check}")
        shown = (
            f"data rows {', '.join(map(str, rows))} (first data row = 0; in a CSV, file lines "
            f"{', '.join(str(r + 2) for r in rows)})"
            if rows else "rows"
        )
        lines.append(
            f"  column '{column}' {what} in {len(group)} row(s), e.g. {shown}"
            f"{': ' + ', '.join(values) if values else ''}. What to do: "
            f"{_ADVICE.get(kind, 'fix the values or the role mapping')}."
        )
    lines += [f"  {x}" for x in extra]
    raise InputError(f"Input error in table '{table}' ({source}):\n" + "\n".join(lines)) from None


def _headers_hint(df: pd.DataFrame | None) -> str:
    """The file's real headers (and how it was read), so a misspelt or mis-split header shows."""
    if df is None:
        return ""
    shown = ", ".join(repr(c) for c in list(df.columns)[:30])
    how = df.attrs.get("read") or {}
    hint = f" The table's columns are: {shown}"
    if how.get("encoding"):
        hint += f" (read as {how['encoding']}, delimiter {how['delimiter']!r}"
        if len(df.columns) == 1:
            hint += "; one column only: is the delimiter right? Set `dataset.delimiter` in the config"
        hint += ")"
    return hint + "."


def _flag_check() -> pa.Check:
    import pandera.pandas as pa

    allowed = _TRUE_VALUES | _FALSE_VALUES | {"true", "false"}
    return pa.Check(
        lambda s: s.isna() | s.astype(str).str.strip().str.lower().isin(allowed),
        element_wise=False,
        error="boolean flag",
        name="boolean",
    )


def validate_customers(
    df: pd.DataFrame, roles: Roles, source: str = "customers", ranges: dict | None = None,
    blank_consent: str = "no_consent",
) -> pd.DataFrame:
    """Check the customer table against its roles and return it with consent flags as booleans.

    Parameters
    ----------
    df : DataFrame
    roles : Roles
    source : str
        The file, for messages.
    ranges : dict, optional
        Declared ranges of numeric columns, ``{column: [low, high]}`` (``dataset.ranges``).
    blank_consent : {"no_consent", "consent"}
        What a blank consent flag means (``dataset.blank_consent``); by default no consent, so a blank
        profiling opt-out is read as opted out.

    Raises
    ------
    InputError
        When a role's column is missing, ids are missing or duplicated, a consent flag or the outcome
        holds values that cannot be read, a numeric sensitive attribute holds text, or a value lies
        outside its declared range. Every problem of every column is listed at once.
    """
    import pandera.pandas as pa

    columns: dict[str, pa.Column] = {
        c: pa.Column(required=True, nullable=True) for c in roles.customer_columns()
    }
    columns[roles.id] = pa.Column(required=True, nullable=False, unique=True)
    for col in roles.consent.values():
        columns[col] = pa.Column(required=True, nullable=True, checks=_flag_check())
    out = df.copy()
    extra = []
    for col in dict.fromkeys([*roles.sensitive, *(ranges or {})]):
        if col not in out.columns:
            continue
        numeric = pd.api.types.is_numeric_dtype(out[col]) and not pd.api.types.is_bool_dtype(out[col])
        if col in (ranges or {}) or (not numeric and looks_numeric(out[col])):
            parsed, lines = numeric_problems(out[col], col, (ranges or {}).get(col))
            extra += lines
            out[col] = parsed
    _validate(pa.DataFrameSchema(columns), df, "customers", source, extra)
    for purpose, col in roles.consent.items():
        out[col] = _to_flag(out[col]).where(~_blank(out[col]), _blank_as(out[col], purpose, blank_consent))
    return out


def _to_flag(s: pd.Series) -> pd.Series:
    """Yes/no flags as nullable booleans: a blank stays missing, so the consent policy
    (``dataset.blank_consent``) decides what it means instead of reading it as "no"."""
    text = s.astype(str).str.strip().str.lower()
    blank = s.isna() | (text == "")
    return pd.Series(text.isin(_TRUE_VALUES), index=s.index).astype("boolean").mask(blank)


def _blank(s: pd.Series) -> pd.Series:
    return s.isna() | s.astype(str).str.strip().eq("")


def validate_labels(df: pd.DataFrame, id_column: str, segment_column: str,
                    assigned_at: str | None, source: str = "labels") -> pd.DataFrame:
    """Check an external segment-label table (``customer_id, segment[, assigned_at]``).

    Empty labels are allowed (those customers are audited as "unlabelled"); a customer labelled twice
    is an error, since the audit could not tell which label was acted on.
    """
    import pandera.pandas as pa

    columns = {
        id_column: pa.Column(required=True, nullable=False, unique=True),
        segment_column: pa.Column(required=True, nullable=True),
    }
    if assigned_at:
        columns[assigned_at] = pa.Column("datetime64[ns]", coerce=True, nullable=True)
    return _validate(pa.DataFrameSchema(columns), df, "labels", source, [])


def validate_transactions(
    df: pd.DataFrame, roles: TransactionRoles, source: str = "transactions", ranges: dict | None = None,
) -> pd.DataFrame:
    """Check the transaction table and return it with a datetime timestamp and float amount.

    Raises
    ------
    InputError
        When a column is missing, the customer id is empty, a timestamp cannot be parsed, or an amount
        is empty, not a number, infinite or outside its range (``ranges[amount]``, default
        :data:`AMOUNT_RANGE`). Every problem of every column is listed at once.
    """
    import pandera.pandas as pa

    schema = pa.DataFrameSchema(
        {
            roles.id: pa.Column(required=True, nullable=False),
            roles.timestamp: pa.Column(required=True, nullable=False),
            roles.amount: pa.Column(required=True, nullable=True),
            **{c: pa.Column(required=True, nullable=True) for c in (roles.category, roles.channel) if c},
        }
    )
    extra, parsed = [], {}
    if roles.timestamp in df.columns:
        parsed[roles.timestamp], lines = parse_timestamps(df[roles.timestamp], roles.timestamp)
        extra += lines
    if roles.amount in df.columns:
        bounds = (ranges or {}).get(roles.amount, AMOUNT_RANGE)
        parsed[roles.amount], lines = numeric_problems(df[roles.amount], roles.amount, bounds, required=True)
        extra += lines
    out = _validate(schema, df, "transactions", source, extra)
    return out.assign(**{k: v.to_numpy() for k, v in parsed.items()})
