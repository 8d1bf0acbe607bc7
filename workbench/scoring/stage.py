"""The only module of :mod:`workbench.scoring` that reads or writes a run directory.

:func:`export_sql` writes a run's segmentation as one SQL file for the customer's warehouse.
"""

from __future__ import annotations

import hashlib
import os
from functools import cached_property
from pathlib import Path

import pandas as pd

from .. import __version__ as WORKBENCH_VERSION
from .. import engine
from ..data import InputError
from ..features import DEFAULTS as FEATURE_DEFAULTS
from ..features import default_as_of, level_column
from ..pipeline._provenance import config_hash
from ..rundir import Run
from ._sql import TRANSACTION_COLUMNS, FrozenFeatures, Warehouse, export_query, header, transpile

_MODEL = "artifacts/segments/model.joblib"
_SEGMENTS = "artifacts/segments/segments.json"
_OPT_OUT_PURPOSE = "profiling_opt_out"


class _ReadRun(Run):
    """A run read by one call: its config parsed once (``Run.config`` parses ``config.yaml`` on every use)."""

    @cached_property
    def config(self) -> dict:
        return Run.config.fget(self)


def _open(run_dir) -> Run:
    run = _ReadRun(run_dir)
    if not run.prepared:
        raise InputError(f"{run_dir} is not a run directory (no data/prepare.json): run `workbench run` first.")
    return run


def load_centroid_model(run: Run):
    """The run's fitted model, refused with the reason when it is absent or not a nearest-centre model."""
    import joblib

    path = run.path / _MODEL
    if not path.exists():
        info = run.read_json(_SEGMENTS) if (run.path / _SEGMENTS).exists() else {}
        if info.get("method") == "external labels":
            raise InputError(f"{run.path} audits segments given as labels: there is no fitted model to score "
                             "customers with. Their segment comes from the system that assigned the labels.")
        raise InputError(f"{run.path} holds no fitted segmentation model ({_MODEL}); run notebook 02 first.")
    model = joblib.load(path)
    if getattr(model, "cluster_centers_", None) is None:
        raise InputError(
            f"{run.path}'s model is a {model.method} model, not a nearest-centre (centroid) model: a Gaussian "
            "mixture assigns by its covariances and posterior, which are not a margin to a centre. Only kmeans and "
            "ward runs can be exported or re-scored incrementally (segmentation.method: kmeans)."
        )
    return model


def model_version(run: Run) -> str:
    """The first 16 hex digits of the SHA-256 of the saved model: equal files, equal version."""
    return hashlib.sha256((run.path / _MODEL).read_bytes()).hexdigest()[:16]


_FROZEN = "artifacts/assignments/frozen.json"  # the run's as_of, last transaction and share levels


def _run_facts(run: Run, from_tx: pd.DataFrame) -> dict:
    """The run's last transaction and share levels: read from its transactions once, then from a small file."""
    if (run.path / _FROZEN).exists():
        return run.read_json(_FROZEN)
    facts = {"last_transaction": None, "levels": {}}
    with engine.DuckDBEngine(threads=1) as con:
        con.register("tx", [str(run.path / "data" / "transactions.parquet")])
        facts["last_transaction"] = con.sql("SELECT max(timestamp) AS t FROM tx")["t"].iloc[0]
        for column in ("category", "channel"):
            names = set(from_tx.loc[from_tx["family"] == f"{column}_shares", "feature"])
            if names:
                values = con.sql(f"SELECT DISTINCT CAST({column} AS VARCHAR) AS v FROM tx WHERE {column} IS NOT NULL")
                facts["levels"][column] = sorted(v for v in values["v"] if level_column(column + "_", v) in names)
    if _history_parts(run):  # the history's companion: written with it, read by every later batch
        run.write_json(_FROZEN, facts)
    return facts


def frozen_features(run: Run, as_of=None) -> FrozenFeatures:
    """The run's feature definitions: used families, share levels, settings and ``as_of`` (default: the run's)."""
    inputs = run.read_table("segments/inputs.parquet")
    used = inputs[inputs["used"].astype(bool)]
    from_tx = used[used["source"] == "transactions"]
    settings = {**FEATURE_DEFAULTS, **(run.settings("segmentation", {}).get("features") or {})}
    facts = _run_facts(run, from_tx) if len(from_tx) else {"last_transaction": None, "levels": {}}
    run_as_of = None if facts["last_transaction"] is None else default_as_of(
        pd.DataFrame({"timestamp": [pd.Timestamp(facts["last_transaction"])]}))
    return FrozenFeatures(
        families=list(dict.fromkeys(from_tx["family"])), levels=facts["levels"], settings=settings,
        as_of=_as_of(as_of) if as_of is not None else run_as_of,
        customer_columns=list(used.loc[used["source"] == "customers", "feature"]),
    )


def _as_of(value, option: str = "--as-of") -> pd.Timestamp:
    """A time as a naive UTC timestamp; anything else is bad input naming ``option``."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{option} {value!r} is not a date or time (use e.g. 2026-12-01).") from exc
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp


def warehouse_of(run: Run, customers: str = "customers", transactions: str = "transactions",
                 columns: dict | None = None) -> Warehouse:
    """Table and column names: the config's roles (the names of the customer's own tables), then ``columns``.

    ``columns`` maps a role to a column: ``id`` (the customer table's id), ``tx_id``, ``timestamp``,
    ``amount``, ``category``, ``channel`` (the transaction table's) and ``opt_out``.
    """
    dataset = run.config.get("dataset") or {}
    roles = dataset.get("roles") or {}
    inventory = run.read_json("data/prepare.json").get("inventory") or []
    raw_id = (roles.get("customers") or {}).get("id") or next(
        (row["column"] for row in inventory if row.get("role", "").split(", ")[0] == "id"), "customer_id")
    opt_out = ((roles.get("customers") or {}).get("consent") or {}).get(_OPT_OUT_PURPOSE) or next(
        (row["column"] for row in inventory if "exclude opted-out" in str(row.get("purpose_or_reason"))), None)
    tx_columns = {**TRANSACTION_COLUMNS, **(roles.get("transactions") or {})}
    columns = dict(columns or {})
    unknown = set(columns) - {"id", "tx_id", "opt_out", *TRANSACTION_COLUMNS}
    if unknown:
        raise InputError(f"--column: unknown role(s) {sorted(unknown)}; known: id, opt_out, tx_id, "
                         "timestamp, amount, category, channel (e.g. --column timestamp=order_date).")
    tx_columns.update({role: columns[role] for role in ("timestamp", "amount", "category", "channel") if role in columns})
    tx_columns["id"] = columns.get("tx_id") or tx_columns.get("id") or raw_id
    return Warehouse(customers=customers, transactions=transactions, customer_id=columns.get("id", raw_id),
                     columns=tx_columns, opt_out=columns.get("opt_out", opt_out),
                     blank_opts_out=dataset.get("blank_consent", "no_consent") == "no_consent")


def _facts(run: Run, model, frozen: FrozenFeatures, wh: Warehouse, dialect: str) -> dict:
    return {
        "run": run.path.name,
        "dataset": run.read_json("data/prepare.json").get("dataset"),
        "config_sha256": config_hash(run.config),
        "model_version": f"sha256:{model_version(run)} ({model.method}, k={model.k})",
        "segments": "; ".join(f"{j} = {n}" for j, n in sorted(model.segment_names_.items())),
        "as_of": "not used (no transaction features)" if frozen.as_of is None else
                 f"{frozen.as_of.isoformat(sep=' ')}: only transactions strictly before it count; recency and "
                 "tenure are calendar days to it (re-export with --as-of to move it)",
        "reads": f"{wh.customers} (id {wh.customer_id}), {wh.transactions} "
                 f"({', '.join(f'{r}={c}' for r, c in wh.columns.items())})",
        "excluded": (f"customers whose {wh.opt_out} is true{' or blank' if wh.blank_opts_out else ''} (profiling "
                     "opt-out); erased customers must already be deleted") if wh.opt_out else
                    "nobody by consent (the run had no profiling opt-out flag)",
        "output": f"{wh.customer_id}, segment, segment_name, margin (to the runner-up, in squared model-space units)",
        "dialect": f"{dialect} (SQLGlot translation of DuckDB SQL)",
        "workbench": WORKBENCH_VERSION,
    }


def export_sql(run_dir, dialect: str, out=None, *, customers: str = "customers", transactions: str = "transactions",
               columns: dict | None = None, as_of=None) -> str:
    """The run's segmentation as one SQL text over the customer's own tables; written to ``out`` if given.

    Parameters
    ----------
    run_dir : path
        A run directory with a nearest-centre model (``segments/model.joblib``).
    dialect : str
        ``duckdb``, ``spark``, ``postgres``, ``snowflake``, ``bigquery`` (or another SQLGlot dialect).
    out : path, optional
        File to write (replaced whole; nothing is written when any check fails).
    customers, transactions : str
        The warehouse's table names.
    columns : dict, optional
        Role -> column overrides (see :func:`warehouse_of`).
    as_of : date-like, optional
        Score as of this time instead of the run's ``as_of`` (the day after its last transaction).

    Returns
    -------
    str
        The header comment and the translated query.
    """
    run = _open(run_dir)
    model = load_centroid_model(run)
    wh = warehouse_of(run, customers, transactions, columns)
    frozen = frozen_features(run, as_of)
    text = transpile(export_query(model, frozen, wh), dialect)
    text = header(_facts(run, model, frozen, wh, dialect)) + text + ";\n"
    if out is not None:
        out = Path(out)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(text)
        os.replace(tmp, out)
    return text


# -- incremental assignment with history --------------------------------------------------------------
_HISTORY = "assignments/history.parquet"  # under artifacts/
_PARTS = "assignments/transactions"  # the transactions added since the run, one Parquet part per batch
_BATCHES = "artifacts/assignments/batches.json"
_CANONICAL = ("customer_id", "timestamp", "amount", "category", "channel")


def _stored_transactions(run: Run) -> list[str]:
    """The run's prepared transactions and every batch added since, as Parquet paths."""
    parts = sorted((run.path / "artifacts" / _PARTS).glob("part-*.parquet"))
    return [str(run.path / "data" / "transactions.parquet"), *map(str, parts)]


def _register_scope(eng, run: Run, frozen: FrozenFeatures, changed: pd.DataFrame | None = None) -> Warehouse:
    """Views ``customers`` and ``transactions``: the whole prepared run, or ``changed`` customers' rows.

    ``changed`` holds the changed customers' every transaction (stored and new) under canonical names.
    """
    eng.register("run_customers", [str(run.path / "data" / "customers.parquet")])
    cols = ", ".join(["customer_id", "timestamp", "amount", *frozen.levels])
    if changed is None:
        eng.register("stored_tx", _stored_transactions(run))
        eng.register_view("customers", "SELECT * FROM run_customers")
        eng.register_view("transactions", f"SELECT {cols} FROM stored_tx")
    else:
        eng.register_rows("changed_tx", changed[["customer_id", "timestamp", "amount", *frozen.levels]])
        eng.register_view("customers", "SELECT * FROM run_customers WHERE customer_id IN "
                                       "(SELECT DISTINCT customer_id FROM changed_tx)")
        eng.register_view("transactions", f"SELECT {cols} FROM changed_tx")
    return Warehouse(customers="customers", transactions="transactions", customer_id="customer_id",
                     columns={c: c for c in _CANONICAL if c != "customer_id"} | {"id": "customer_id"}, opt_out=None)


def _score(eng, model, frozen: FrozenFeatures, wh: Warehouse) -> pd.DataFrame:
    """``pseudonym``, ``segment``, ``margin`` of the customers in scope: the exported query, on the run's engine."""
    out = eng.fetch_rows(export_query(model, frozen, wh))
    return out.rename(columns={"customer_id": "pseudonym"})[["pseudonym", "segment", "margin"]]


def _history_parts(run: Run) -> list[Path]:
    folder = run.path / "artifacts" / _HISTORY
    return sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []


def _add_history_part(run: Run, part: pd.DataFrame) -> Path:
    """Add one part to the history (written beside it, then renamed into place: never half-written)."""
    folder = run.path / "artifacts" / _HISTORY
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"part-{len(_history_parts(run)):05d}.parquet"
    tmp = folder.parent / f".{path.name}.tmp"
    part.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path


def read_history(run_dir, pseudonyms=None) -> pd.DataFrame:
    """The assignment history as one table (:func:`~workbench.scoring._history.consolidate` of its parts).

    Parameters
    ----------
    run_dir : path or Run
    pseudonyms : collection, optional
        Only these customers' intervals (read with a Parquet filter).
    """
    from ._history import COLUMNS, consolidate

    run = run_dir if isinstance(run_dir, Run) else _open(run_dir)
    filters = None if pseudonyms is None else [("pseudonym", "in", list(pseudonyms))]
    return consolidate([pd.read_parquet(p, filters=filters)[COLUMNS] for p in _history_parts(run)])


def _history_of(run: Run, pseudonyms: pd.Series) -> pd.DataFrame:
    """The consolidated intervals of some customers: one DuckDB scan of the parts (a semi-join, not a filter list)."""
    from ._history import COLUMNS, consolidate

    parts = _history_parts(run)
    with engine.DuckDBEngine() as con:
        con.register("history", [str(p) for p in parts], file_column="part")
        con.register("wanted", pd.DataFrame({"pseudonym": pseudonyms.to_numpy()}))
        rows = con.sql(f"SELECT {', '.join(COLUMNS)}, part FROM history "
                       "WHERE pseudonym IN (SELECT pseudonym FROM wanted)")
    order = rows["part"].map({p.name: i for i, p in enumerate(parts)})
    rows = rows.assign(order_=order.to_numpy()).sort_values("order_", kind="stable")
    return consolidate([rows[COLUMNS].astype({"valid_from": "datetime64[us]", "valid_to": "datetime64[us]"})])


def seed_history(run_dir) -> pd.DataFrame:
    """``assignments/history.parquet`` as the run assigned: one open interval per customer (written if absent).

    Every customer is scored by the exported query on the run's engine (a full re-score) for the
    margins; the segments are the run's own (``segments/assignments.parquet``), and a customer whose
    query segment differs from it stops the seeding (the run and its model would disagree).
    """
    from ._history import start_history

    run = run_dir if isinstance(run_dir, Run) else _open(run_dir)
    if _history_parts(run):
        return read_history(run)
    model = load_centroid_model(run)
    frozen = frozen_features(run)
    with engine.make_engine(run.config) as eng:
        scored = _score(eng, model, frozen, _register_scope(eng, run, frozen, None))
    assignments = run.read_table("segments/assignments.parquet")
    scored = scored.set_index("pseudonym").reindex(assignments["customer_id"])
    disagree = int((scored["segment"].to_numpy() != assignments["segment"].to_numpy()).sum())
    if disagree:
        raise RuntimeError(f"{disagree} customers score differently from the run's own assignment: the saved "
                           "model does not reproduce segments/assignments.parquet; re-run notebook 02.")
    history = start_history(assignments, scored["margin"].to_numpy(), frozen.as_of)
    _add_history_part(run, history)
    frozen_features(run)  # now that the history exists, its facts file is written
    return history


def _new_transactions(run: Run, table, since: pd.Timestamp) -> tuple[pd.DataFrame, int]:
    """The new transactions under canonical names, from ``since`` on, and how many rows came before it."""
    from ..data import read_table

    wh = warehouse_of(run)
    roles = {"id": wh.columns["id"], **{r: c for r, c in wh.columns.items() if r != "id"}}
    frame = table if isinstance(table, pd.DataFrame) else read_table(table, "new transactions",
                                                                      columns=list(roles.values()))
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


def _pseudonymised(run: Run, new: pd.DataFrame) -> pd.DataFrame:
    """Raw ids replaced by the run's pseudonyms (Python's ``hmac``, once per distinct id)."""
    from .. import privacy

    key = privacy.resolve_key(run.settings("privacy", privacy.DEFAULTS))
    if key.origin == "random":
        raise InputError("The run has no persistent pseudonym key (privacy.key_env / key_file): new transactions "
                         "cannot be linked to its customers. Set the key the run was made with.")
    ids = pd.Series(pd.unique(new["customer_id"].astype(str)))
    codes = pd.Index(ids).get_indexer(new["customer_id"].astype(str))
    return new.assign(customer_id=privacy.pseudonymise(ids, key).to_numpy()[codes])


def _check_known(eng, run: Run, new: pd.DataFrame) -> None:
    """Transactions of customers who are not in the run are bad input, counted (in the engine)."""
    eng.register("run_customers", [str(run.path / "data" / "customers.parquet")])
    eng.register_rows("batch", new[["customer_id"]])
    counts = eng.sql("SELECT count(*) AS n_rows, count(DISTINCT customer_id) AS n_customers FROM batch "
                     "WHERE customer_id NOT IN (SELECT customer_id FROM run_customers)")
    if int(counts["n_rows"].iloc[0]):
        raise InputError(
            f"new transactions: {int(counts['n_rows'].iloc[0])} rows of {int(counts['n_customers'].iloc[0])} customers "
            "who are not in this run (unknown ids, or customers opted out or erased at preparation). Remove them, "
            "or run the audit again with the new customers; nothing was written."
        )


def _history_of_changed(eng, run: Run, new: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(stored, fresh)``: the stored transactions of the batch's customers (one scan) and the batch's new rows.

    A row of the batch equal to a stored one in every column is not new, so the same batch twice adds nothing.
    """
    eng.register("stored_tx", _stored_transactions(run))
    cols = list(new.columns)
    stored = eng.fetch_rows(f"SELECT {', '.join(cols)} FROM stored_tx "
                            "WHERE customer_id IN (SELECT DISTINCT customer_id FROM batch)")
    stored = stored.astype({c: new[c].dtype for c in cols})
    for column in ("category", "channel"):
        if column in cols:
            stored[column] = stored[column].astype(object).where(stored[column].notna(), None)
    seen = new.merge(stored.drop_duplicates(), on=cols, how="left", indicator=True)["_merge"].to_numpy() == "both"
    return stored, new[~seen].reset_index(drop=True)


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").tz_localize(None)


def assign_incremental(run_dir, transactions, since, now=None) -> dict:
    """Re-score only the customers with transactions new since ``since``; append to the history.

    Parameters
    ----------
    run_dir : path
        A run with a nearest-centre model and a persistent pseudonym key.
    transactions : DataFrame or path
        New transactions with the customer's own ids and the run's transaction column names.
    since : date-like
        Rows from this time on are new; earlier rows are counted and left out. Not in the future.
    now : Timestamp, optional
        The current time (UTC) that ``since`` is checked against (default: the clock).

    Returns
    -------
    dict
        ``since``, ``as_of`` (the re-scored customers' features are measured there: the day after
        the last stored transaction), ``new_transactions`` (rows added), ``already_stored``,
        ``before_since``, ``rescored`` and ``moved`` (customers), ``history_parts``.
    """
    from ._history import apply_scores

    run = _open(run_dir)
    model = load_centroid_model(run)
    since = _as_of(since, "--since")
    if since > (now or _now()):
        raise InputError(f"--since {since} is in the future: new data can only be since a time that has passed.")
    new, before = _new_transactions(run, transactions, since)
    new = _pseudonymised(run, new)
    frozen = frozen_features(run)
    if frozen.as_of is None:
        raise InputError(f"{run.path}'s model uses no transaction features: new transactions cannot change a segment.")
    lacking = [c for c in frozen.levels if c not in new]
    if lacking:
        raise InputError(f"new transactions: column(s) {lacking} missing; the model uses their shares.")
    report = {"since": since, "before_since": before, "new_transactions": 0, "already_stored": len(new),
              "rescored": 0, "moved": 0}
    with engine.make_engine(run.config) as eng:
        _check_known(eng, run, new)
    if not _history_parts(run):
        seed_history(run)  # its own engine: views of one engine do not outlive it (Spark)
    with engine.make_engine(run.config) as eng:
        eng.register_rows("batch", new[["customer_id"]])
        stored, fresh = _history_of_changed(eng, run, new)
        if not len(fresh):
            return {**report, "as_of": None, "history_parts": len(_history_parts(run))}
        batches = run.read_json(_BATCHES) if (run.path / _BATCHES).exists() else []
        last = max([pd.Timestamp(b["last_transaction"]) for b in batches] + [fresh["timestamp"].max()]
                   + [frozen.as_of - pd.Timedelta(days=1)])
        as_of = default_as_of(pd.DataFrame({"timestamp": [last]}))
        frozen.as_of = as_of
        changed = pd.concat([stored[stored["customer_id"].isin(set(fresh["customer_id"]))], fresh], ignore_index=True)
        scored = _score(eng, model, frozen, _register_scope(eng, run, frozen, changed))
    history = _history_of(run, scored["pseudonym"])
    part, moved = apply_scores(history, scored.sort_values(["segment", "margin"], kind="stable"), as_of)
    if moved:  # first: a batch whose transactions part is missing is simply applied again
        _add_history_part(run, part)
    part = run.artifact(f"{_PARTS}/part-{len(_stored_transactions(run)):05d}.parquet")
    tmp = part.with_name(f".{part.name}.tmp")  # a half-written part would be read as stored rows
    fresh.to_parquet(tmp, index=False)
    os.replace(tmp, part)
    report.update(new_transactions=len(fresh), already_stored=len(new) - len(fresh), as_of=as_of,
                  rescored=len(scored), moved=moved, history_parts=len(_history_parts(run)), last_transaction=last)
    run.write_json(_BATCHES, [*batches, report])
    return report
