"""One incremental batch: its tables under canonical names, what is new in them, and why each customer is re-scored.

A batch (``workbench assign --since T``) may carry new transactions, changed customer rows and new
records of the customer choices register (issue 27), each with the customer's own ids. This module
turns them into canonical frames (still raw ids: :mod:`.stage` pseudonymises them), keeps only what
is not stored yet (so the same batch twice adds nothing), and decides each customer's fate:
re-scored for ``new data`` or a ``choice``, left without a segment (an objection to profiling in
force), or held (an earlier objection still in force). The SQL that decides objections is the
exported query's (:func:`workbench.scoring._sql.objecting_query`): the warehouse and the incremental
path apply the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import InputError
from . import _keyed as keyed
from ._sql import CHOICE_COLUMNS, objecting_query, rectifying_query

#: Columns of a stored choice record (pseudonymised; a contest's free text is never kept).
RECORD_COLUMNS = ["customer_id", "kind", "value", "recorded_at"]


def as_timestamp(value, option: str = "--as-of") -> pd.Timestamp:
    """A time as a naive UTC timestamp; anything else is bad input naming ``option``."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{option} {value!r} is not a date or time (use e.g. 2026-12-01).") from exc
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp


def check_known(eng, index: Path, customers: Path, batch: dict) -> None:
    """Rows of customers who are not in the run are bad input, counted per table.

    ``index`` is the customers' keyed store (built with the history): a lookup; before it exists, one
    scan of ``customers`` (the run's prepared table) in the engine.
    """
    if not keyed.has_keyed(index):
        eng.register("known", [str(customers)])
    for label, frame in (("new transactions", batch["transactions"]), ("changed customers", batch["customers"]),
                         ("new choices", batch["records"])):
        if frame is None or not len(frame):
            continue
        if keyed.has_keyed(index):
            rows, ids = pd.factorize(frame["customer_id"].to_numpy(dtype=object))  # a hash, not a sort of text
            strangers = frame.loc[~keyed.known(index, ids)[rows], "customer_id"]
            n_rows, n_customers = len(strangers), strangers.nunique()
        else:
            eng.register_rows("batch", frame[["customer_id"]])
            counts = eng.sql("SELECT count(*) AS n_rows, count(DISTINCT customer_id) AS n_customers FROM batch "
                             "WHERE customer_id NOT IN (SELECT customer_id FROM known)")
            n_rows, n_customers = int(counts["n_rows"].iloc[0]), int(counts["n_customers"].iloc[0])
        if n_rows:
            raise InputError(
                f"{label}: {n_rows} rows of {n_customers} customers "
                "who are not in this run (unknown ids, or customers opted out or erased at preparation). Remove "
                "them, or run the audit again with the new customers; nothing was written.")


def pseudonymised(new: pd.DataFrame, key) -> pd.DataFrame:
    """``new`` with its raw ``customer_id`` replaced by pseudonyms under ``key`` (one HMAC per distinct id)."""
    import pyarrow as pa

    from ..privacy import pseudonymise

    # through pyarrow: pandas' Arrow-backed strings are converted one element at a time by to_numpy
    raw = pa.array(new["customer_id"].astype(str)).to_numpy(zero_copy_only=False)
    codes, ids = pd.factorize(raw)  # a hash, not a sort of text
    pseudonyms = pseudonymise(pd.Series(ids, dtype=object), key).to_numpy(dtype=object)[codes]
    return new.assign(customer_id=pd.Series(pseudonyms, index=new.index, dtype=object))  # object: iterated below


def canonical_transactions(frame: pd.DataFrame, roles: dict, since: pd.Timestamp) -> tuple[pd.DataFrame, int]:
    """New transactions under canonical names, from ``since`` on, and how many rows came before it.

    ``roles`` maps ``id``, ``timestamp``, ``amount`` (and ``category``, ``channel``) to the table's columns.
    """
    missing = [f"{c} ({r})" for r, c in roles.items() if r in ("id", "timestamp", "amount") and c not in frame]
    if missing:
        raise InputError(f"new transactions: column(s) {', '.join(missing)} missing; the table needs the run's "
                         f"transaction columns ({', '.join(f'{r}={c}' for r, c in roles.items())}).")
    renamed = {c: r if r != "id" else "customer_id" for r, c in roles.items() if c in frame}
    out = frame[list(renamed)].rename(columns=renamed)
    out["timestamp"] = pd.to_datetime(out["timestamp"], errors="coerce").astype("datetime64[us]")
    out["amount"] = pd.to_numeric(out["amount"], errors="coerce")
    bad = int(out["timestamp"].isna().sum() + out["amount"].isna().sum())
    if bad:
        raise InputError(f"new transactions: {bad} empty or unreadable value(s) in columns {roles['timestamp']} / "
                         f"{roles['amount']}; fix or remove those rows.")
    for column in ("category", "channel"):
        if column in out:
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    recent = out["timestamp"] >= since
    return out[recent].reset_index(drop=True), int((~recent).sum())


def canonical_records(frame: pd.DataFrame, columns: dict, since: pd.Timestamp,
                      rectifiable: list[str] = ()) -> tuple[pd.DataFrame, int]:
    """New choice records (:data:`RECORD_COLUMNS`, raw ids) recorded from ``since`` on, and how many came before.

    ``columns`` maps the register's roles (``id``, ``kind``, ``value``, ``recorded_at``) to the table's
    columns. A contest's free text is dropped here: it never reaches the run directory. A ``rectify``
    (value ``column=value``) must name one of ``rectifiable`` (the run's prepared customer columns).
    """
    columns = {**CHOICE_COLUMNS, **columns}
    missing = [f"{c} ({r})" for r, c in columns.items() if r != "value" and c not in frame]
    if missing:
        raise InputError(f"new choices: column(s) {', '.join(missing)} missing; the register needs the columns "
                         "id, kind, value, recorded_at (or the run's dataset.roles.choices names).")
    out = pd.DataFrame({
        "customer_id": frame[columns["id"]].astype(str).to_numpy(),
        "kind": frame[columns["kind"]].astype(str).str.strip().str.lower().to_numpy(),
        "value": (frame[columns["value"]] if columns["value"] in frame else pd.Series(None, index=frame.index))
        .astype(object).where(lambda v: v.notna(), None).to_numpy(),
        "recorded_at": pd.to_datetime(frame[columns["recorded_at"]], errors="coerce").astype("datetime64[us]")
        .to_numpy(),
    })
    from ..engine._choice_queries import CHOICE_KINDS

    bad_kind = sorted(set(out["kind"]) - set(CHOICE_KINDS))
    bad_time = int(out["recorded_at"].isna().sum())
    if bad_kind or bad_time:
        raise InputError(f"new choices: {len(bad_kind)} unknown kind(s) {bad_kind} (use one of "
                         f"{', '.join(CHOICE_KINDS)}) and {bad_time} empty or unreadable {columns['recorded_at']} "
                         "value(s); fix or remove those rows." if bad_kind else
                         f"new choices: {bad_time} empty or unreadable {columns['recorded_at']} value(s) "
                         "(dates such as 2026-03-02); fix or remove those rows.")
    out.loc[out["kind"] == "contest", "value"] = None
    _check_rectify(out, rectifiable)
    recent = out["recorded_at"] >= since
    return out[recent].reset_index(drop=True), int((~recent).sum())


def _check_rectify(records: pd.DataFrame, rectifiable) -> None:
    """``rectify`` records must read ``column=value`` of a column the run keeps (the column named, never the value)."""
    values = records.loc[records["kind"] == "rectify", "value"].astype(object).fillna("").astype(str)
    target = values.map(lambda v: v.partition("=")[0].strip())
    shapeless = int((~values.str.contains("=", regex=False) | (target == "")).sum())
    outside = sorted(set(target[target != ""]) - set(rectifiable))
    if shapeless or outside:
        raise InputError(f"new choices: {shapeless} rectify record(s) not of the form column=value and "
                         f"{len(outside)} naming column(s) {outside} that the run does not keep (it keeps "
                         f"{', '.join(rectifiable)}); fix or remove those records.")


def canonical_customers(frame: pd.DataFrame, id_column: str, prepared: list[str],
                        flag: str | None = None) -> pd.DataFrame:
    """Changed customer rows: ``customer_id`` (raw) and the prepared customer columns the table has.

    ``prepared`` is the run's customer columns after minimisation (``customer_id`` first); other
    columns (names, contact details, consent flags) are not kept. A table may hold only the
    profiling opt-out ``flag`` (read by :func:`opt_out_flags`) and no prepared column.
    """
    if id_column not in frame:
        raise InputError(f"changed customers: the id column {id_column!r} is missing; give the run's customer id.")
    kept = [c for c in prepared[1:] if c in frame]
    if not kept and not (flag and flag in frame):
        raise InputError(f"changed customers: none of the run's customer columns ({', '.join(prepared[1:])}) is "
                         "in the table; nothing could have changed.")
    out = frame[[id_column, *kept]].rename(columns={id_column: "customer_id"})
    return out.assign(customer_id=out["customer_id"].astype(str))


def opt_out_flags(frame: pd.DataFrame, id_column: str, flag: str, blank_opts_out: bool) -> pd.DataFrame:
    """``customer_id`` (raw), ``opted_out``: each changed row's profiling opt-out flag (the last row of a customer).

    A row has no date: the flag of the latest batch is the customer's current one, as the warehouse's
    customer table holds only the current row. Blank reads as the run's ``dataset.blank_consent``.
    """
    flags = frame[flag].astype("boolean").fillna(blank_opts_out).to_numpy(dtype=bool)
    out = pd.DataFrame({"customer_id": frame[id_column].astype(str).to_numpy(), "opted_out": flags})
    return out.drop_duplicates("customer_id", keep="last").reset_index(drop=True)


def unseen(new: pd.DataFrame, stored: pd.DataFrame, columns: list[str], time: str | None = None) -> np.ndarray:
    """Which rows of ``new`` equal no row of ``stored`` in every one of ``columns`` (a boolean mask).

    With ``time`` (one of ``columns``), only stored rows at or after the earliest new one are compared:
    a month's rows meet a few of the customers' years of stored rows, not all of them.
    """
    if not len(new):
        return np.zeros(0, dtype=bool)
    if time is not None:
        stored = stored[stored[time].to_numpy() >= new[time].min().to_datetime64()]
    stored = stored[columns].astype({c: new[c].dtype for c in columns})
    for column in columns:
        if new[column].dtype == object:
            stored[column] = stored[column].astype(object).where(stored[column].notna(), None)
    # row hashes instead of a merge on every column (a batch compares ~10x its size of stored rows)
    seen = pd.util.hash_pandas_object(stored, index=False).to_numpy()
    return ~np.isin(pd.util.hash_pandas_object(new[columns], index=False).to_numpy(), seen)


def changed_rows(current: pd.DataFrame, given: pd.DataFrame) -> pd.DataFrame:
    """The given customer rows that differ from the current ones, as whole current rows with the changes applied.

    ``current`` holds every prepared column per ``customer_id``; ``given`` some of them.
    """
    now = current.drop_duplicates("customer_id", keep="last").set_index("customer_id")
    new = given.drop_duplicates("customer_id", keep="last").set_index("customer_id")
    columns = [c for c in new.columns if c in now.columns]
    merged = now.loc[new.index].copy()
    for column in columns:
        merged[column] = new[column].astype(now[column].dtype)
    old, fresh = now.loc[new.index, columns], merged[columns]
    differs = ~((old == fresh) | (old.isna() & fresh.isna())).all(axis=1)
    return merged[differs.to_numpy()].reset_index()


def as_arrow(frame: pd.DataFrame, schema):
    """A pandas frame as a pyarrow Table of ``schema`` (the stored rows' types)."""
    import pyarrow as pa

    return pa.Table.from_pandas(frame[schema.names], preserve_index=False).cast(schema)


def concat_arrow(tables: list):
    import pyarrow as pa

    return pa.concat_tables(tables)


def of_customers(table, who: set):
    """The rows of ``table`` (a pyarrow Table with ``customer_id``) of the customers ``who``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return table.filter(pc.is_in(table["customer_id"], value_set=pa.array(sorted(who), type=pa.string())))


def _stored_since(table, start) -> pd.DataFrame:
    """The stored transactions (a pyarrow Table) at or after ``start``, as pandas: only these can equal a new row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if start is None or pd.isna(start):
        return table.slice(0, 0).to_pandas()
    return table.filter(pc.greater_equal(table["timestamp"], pa.scalar(pd.Timestamp(start).to_pydatetime(),
                                                                       type=table.schema.field("timestamp").type))).to_pandas()


def fresh_rows(batch: dict, stored: dict) -> dict:
    """The batch's rows that are not stored yet: the same batch twice adds nothing."""
    tx = batch["transactions"]
    records = batch["records"].astype({"recorded_at": "datetime64[us]"})
    recent = _stored_since(stored["transactions"], tx["timestamp"].min() if len(tx) else None)
    fresh = {"transactions": tx[unseen(tx, recent, list(tx.columns))].reset_index(drop=True),
             "records": records[unseen(records, stored["records"], RECORD_COLUMNS, "recorded_at")]
             .reset_index(drop=True)}
    fresh["customers"] = (changed_rows(stored["customers"], batch["customers"])
                          if batch["customers"] is not None else stored["customers"].iloc[:0])
    flags = batch["flags"]  # a flag counts when it differs from the customer's latest stored one
    before = stored["flags"].drop_duplicates("customer_id", keep="last").set_index("customer_id")["opted_out"]
    was = before.reindex(flags["customer_id"]).astype("boolean").fillna(False).to_numpy(dtype=bool)
    fresh["flags"] = flags[flags["opted_out"].to_numpy(dtype=bool) != was].reset_index(drop=True)
    return fresh


def _register_records(eng, stored: dict, fresh: dict) -> bool:
    """The batch's customers' stored and new choice records as the engine's table ``records`` (False: none)."""
    records = pd.concat([stored["records"], fresh["records"]], ignore_index=True)
    if len(records):
        eng.register_rows("records", records.rename(columns={"customer_id": "id"}).astype(
            {"id": object, "kind": object, "value": object, "recorded_at": "datetime64[us]"}))
    return bool(len(records))


def objecting(eng, stored: dict, fresh: dict) -> list:
    """Customers of the batch whose objection to profiling is in force after it (the exported SQL's rule).

    Either their latest profiling opt-out flag is set (stored, or changed by the batch), or the
    register's records say so: the latest ``object_profiling`` is later than the latest withdrawal of
    it, in the order of the records' own times (not of the batches that brought them).
    """
    flags = pd.concat([stored["flags"], fresh["flags"]], ignore_index=True).drop_duplicates("customer_id", keep="last")
    out = list(flags.loc[flags["opted_out"].astype(bool).to_numpy(), "customer_id"])
    if _register_records(eng, stored, fresh):
        out += list(eng.sql(objecting_query("records"))["_id"])
    return list(dict.fromkeys(out))


def rectified(eng, stored: dict, fresh: dict, rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` (current customer rows) with every correction in force applied (the register's rule).

    A ``rectify`` replaces the stored value whenever it is in force, as preparation applies it to
    the export; the corrected value is read as the column's type (an unreadable one is bad input,
    the column named, never the value).
    """
    if not _register_records(eng, stored, fresh):
        return rows
    fixes = eng.sql(rectifying_query("records"))
    fixes = fixes[fixes["_id"].isin(set(rows["customer_id"]))]
    if not len(fixes):
        return rows
    out = rows.set_index("customer_id")
    for column, group in fixes.groupby("target", sort=True):
        out.loc[group["_id"].to_numpy(), column] = _typed(group["fix"], out[column].dtype, column)
    return out.reset_index()


def _typed(fix: pd.Series, dtype, column: str) -> np.ndarray:
    """Corrected values as ``dtype``, read by the same patterns as preparation and the exported SQL
    (:func:`workbench.scoring._sql._typed_fix`); one of another form is bad input, the column named."""
    from ..engine._choice_queries import FLAG_WORDS, TRUE_WORDS
    from ..engine._validation_queries import INTEGER_RE, NUMBER_RE

    text = fix.astype(str).str.strip()
    if pd.api.types.is_bool_dtype(dtype):
        words = text.str.lower()
        value, bad = words.isin(TRUE_WORDS), ~words.isin(FLAG_WORDS)
    elif pd.api.types.is_numeric_dtype(dtype):
        bad = ~text.str.match(INTEGER_RE if pd.api.types.is_integer_dtype(dtype) else NUMBER_RE)
        value = pd.to_numeric(text.where(~bad), errors="coerce")
    elif pd.api.types.is_datetime64_any_dtype(dtype):
        value = pd.to_datetime(text, errors="coerce")
        bad = value.isna()
    else:
        value, bad = text, pd.Series(False, index=text.index)
    if bad.any():
        raise InputError(f"new choices: {int(bad.sum())} rectify record(s) of column {column} hold a value that is "
                         f"not of the column's type ({dtype}); fix or remove those records. Nothing was written.")
    return pd.Series(value).astype(dtype).to_numpy()


def check_withdrawals(stored: dict, fresh: dict, rows, corrected_at_preparation: int) -> None:
    """Withdrawals of corrections that preparation may have applied come with the customer's row, or are refused.

    Preparation applied the corrections in force to the run's customer table, which keeps only the
    corrected values: withdrawing them can only restore the values the warehouse holds, given as the
    customer's row (``rows``, the batch's changed customers; they are then scored on it). Corrections
    that batches brought (stored records) are withdrawn by the register's rule, no row needed.
    ``corrected_at_preparation`` is how many corrections were in force at preparation (none: nothing to check).
    """
    records, kept = fresh["records"], stored["records"]
    withdrawing = records.loc[(records["kind"] == "withdraw")
                              & (records["value"].astype(str).str.strip().str.lower() == "rectify"), "customer_id"]
    own = set(kept.loc[kept["kind"] == "rectify", "customer_id"]) | set(records.loc[records["kind"] == "rectify",
                                                                                    "customer_id"])
    lacking = set(withdrawing) - own - (set() if rows is None else set(rows["customer_id"]))
    if corrected_at_preparation and lacking:
        raise InputError(
            f"new choices: {len(lacking)} customer(s) withdraw corrections (withdraw rectify) that the run may have "
            f"applied when it was prepared ({corrected_at_preparation} were in force then), and the run keeps only the "
            "corrected values. Give these customers' rows as the warehouse holds them with --customers in the same "
            "batch (the values scored from then on), or remove the withdrawals; nothing was written.")


@dataclass
class Fate:
    """What a batch does to each customer it touches (pseudonyms)."""

    scored: pd.DataFrame  # pseudonym, reason: re-scored customers
    unassigned: list  # an objection to profiling newly in force: no segment from now on
    held: list  # without a segment before the batch and still: not scored although they have new data


def fates(data_ids, choice_ids, objecting, holding) -> Fate:
    """Who is re-scored and why, who loses their segment, who stays without one.

    Parameters
    ----------
    data_ids : collection
        Customers with new transactions or changed rows.
    choice_ids : collection
        Customers with new choice records (or a changed opt-out flag).
    objecting : collection
        Customers (among the batch's) whose objection to profiling is in force after the batch.
    holding : collection
        Customers whose open interval has no segment (an objection in force before the batch).
    """
    objecting, holding, choice_ids = set(objecting), set(holding), set(choice_ids)
    released = (holding & choice_ids) - objecting  # withdrew their objection
    touched = list(dict.fromkeys([*data_ids, *choice_ids]))
    scored = [c for c in touched if c not in objecting and (c not in holding or c in released)]
    data = set(data_ids)
    reasons = ["new data" if c in data and c not in released else "choice" for c in scored]
    return Fate(scored=pd.DataFrame({"pseudonym": scored, "reason": reasons}),
                unassigned=[c for c in touched if c in objecting and c not in holding],
                held=[c for c in touched if c in holding and c not in released])
