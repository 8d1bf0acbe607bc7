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
from . import _batch, _keyed, _local
from ._sql import (CHOICE_COLUMNS, TRANSACTION_COLUMNS, FrozenFeatures, Warehouse, export_query, header, header_facts,
                   record_cutoff, sql_types, transpile)

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
_CARD = "artifacts/assignments/model_card.json"  # the model's scoring numbers (_local.Card), by model version


def _scoring_model(run: Run):
    """What a batch scores with: the model's card when one was written for this very model file (no
    unpickling, no scikit-learn), else the model itself (refused when it is not a centroid model)."""
    if (run.path / _CARD).exists() and (run.path / _MODEL).exists():
        version, card = _local.Card.from_json((run.path / _CARD).read_text())
        if version == model_version(run):
            return card
    return load_centroid_model(run)


def _write_card(run: Run, model) -> None:
    """Keep the card of ``model`` beside the history (once per model file; not ``Run.write_json``, which
    rounds floats: the card must score exactly as the model does)."""
    if not isinstance(model, _local.Card):
        _replace(run.path / _CARD, _local.Card.of(model).to_json(model_version(run)))


def _replace(path: Path, text: str) -> None:
    """Write ``path`` whole: beside it, then renamed (never read half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


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
    import pyarrow.parquet as pq

    inputs = run.read_table("segments/inputs.parquet")
    used = inputs[inputs["used"].astype(bool)]
    from_tx = used[used["source"] == "transactions"]
    settings = {**FEATURE_DEFAULTS, **(run.settings("segmentation", {}).get("features") or {})}
    facts = _run_facts(run, from_tx) if len(from_tx) else {"last_transaction": None, "levels": {}}
    run_as_of = None if facts["last_transaction"] is None else default_as_of(
        pd.DataFrame({"timestamp": [pd.Timestamp(facts["last_transaction"])]}))
    return FrozenFeatures(
        families=list(dict.fromkeys(from_tx["family"])), levels=facts["levels"], settings=settings,
        as_of=_batch.as_timestamp(as_of) if as_of is not None else run_as_of,
        customer_columns=list(used.loc[used["source"] == "customers", "feature"]),
        customer_types=sql_types(pq.read_schema(run.path / "data" / "customers.parquet")))


_CHOICE_ROLES = {f"choice_{role}": role for role in CHOICE_COLUMNS}


def warehouse_of(run: Run, customers: str = "customers", transactions: str = "transactions",
                 columns: dict | None = None, choices: str | None = None) -> Warehouse:
    """Table and column names: the config's roles (the names of the customer's own tables), then ``columns``.

    ``columns`` maps a role to a column: ``id`` (the customer table's id), ``tx_id``, ``timestamp``,
    ``amount``, ``category``, ``channel`` (the transaction table's), ``opt_out``, and the choices
    register's ``choice_id``, ``choice_kind``, ``choice_value``, ``choice_recorded_at`` (default: the
    run's ``dataset.roles.choices``, else the role's own name). ``choices`` names the register's table.
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
    unknown = set(columns) - {"id", "tx_id", "opt_out", *TRANSACTION_COLUMNS, *_CHOICE_ROLES}
    if unknown:
        raise InputError(f"--column: unknown role(s) {sorted(unknown)}; known: id, opt_out, tx_id, "
                         "timestamp, amount, category, channel, choice_id, choice_kind, choice_value, "
                         "choice_recorded_at (e.g. --column timestamp=order_date).")
    register = {**CHOICE_COLUMNS, **(roles.get("choices") or {})}
    register.update({role: columns[name] for name, role in _CHOICE_ROLES.items() if name in columns})
    tx_columns.update({role: columns[role] for role in ("timestamp", "amount", "category", "channel") if role in columns})
    tx_columns["id"] = columns.get("tx_id") or tx_columns.get("id") or raw_id
    return Warehouse(customers=customers, transactions=transactions, customer_id=columns.get("id", raw_id),
                     columns=tx_columns, opt_out=columns.get("opt_out", opt_out),
                     blank_opts_out=dataset.get("blank_consent", "no_consent") == "no_consent",
                     choices=choices, choice_columns=register, corrections_until=record_cutoff(dataset.get("as_of")))


def _facts(run: Run, model, frozen: FrozenFeatures, wh: Warehouse, dialect: str) -> dict:
    """The header's facts (:func:`._sql.header_facts`); refused without a choices table when the run honoured one."""
    prepared = run.read_json("data/prepare.json")
    if not wh.choices and prepared.get("choices"):
        raise InputError(
            f"{run.path} honoured a customer choices register (objections to profiling removed those customers "
            "before the fit), but no choices table was given: the SQL would score customers who objected. Name "
            "the warehouse's register with --choices-table NAME (its columns with --column choice_id=…, "
            "choice_kind=…, choice_value=…, choice_recorded_at=… where they differ).")
    return {"run": run.path.name, "dataset": prepared.get("dataset"), "config_sha256": config_hash(run.config),
            "model_version": f"sha256:{model_version(run)} ({model.method}, k={model.k})",
            **header_facts(model, frozen, wh, dialect), "workbench": WORKBENCH_VERSION}


def export_sql(run_dir, dialect: str, out=None, *, customers: str = "customers", transactions: str = "transactions",
               columns: dict | None = None, as_of=None, choices: str | None = None) -> str:
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
    choices : str, optional
        The warehouse's customer choices register (issue 27): customers whose objection to profiling
        is in force there get no row; its corrections in force replace the customer table's values.
        Required when the run was prepared with a register.

    Returns
    -------
    str
        The header comment and the translated query.
    """
    run = _open(run_dir)
    model = load_centroid_model(run)
    wh = warehouse_of(run, customers, transactions, columns, choices)
    frozen = frozen_features(run, as_of)
    text = transpile(export_query(model, frozen, wh), dialect)
    text = header(_facts(run, model, frozen, wh, dialect)) + text + ";\n"
    if out is not None:
        _replace(Path(out), text)
    return text


# -- incremental assignment with history --------------------------------------------------------------
_STORE = "assignments"  # under artifacts/: what batches added since the run, one Parquet part per batch
_PARTS = "assignments/transactions"  # the new transactions (customers/: changed rows, choices/: new records)
_BATCHES = "artifacts/assignments/batches.json"
_CANONICAL = ("customer_id", "timestamp", "amount", "category", "channel")


def _stored_transactions(run: Run) -> list[str]:
    """The run's prepared transactions and every batch added since, as Parquet paths."""
    parts = sorted((run.path / "artifacts" / _PARTS).glob("part-*.parquet"))
    return [str(run.path / "data" / "transactions.parquet"), *map(str, parts)]


def _register_scope(eng, run: Run, frozen: FrozenFeatures, scope: tuple | None = None) -> Warehouse:
    """Views ``customers`` and ``transactions``: the whole prepared run, or ``scope``'s rows.

    ``scope`` is ``(customers, transactions)``: the re-scored customers' current rows and every
    transaction of theirs (stored and new) under canonical names.
    """
    cols = ", ".join(["customer_id", "timestamp", "amount", *frozen.levels])
    if scope is None:
        eng.register("run_customers", [str(run.path / "data" / "customers.parquet")])
        eng.register("stored_tx", _stored_transactions(run))
        eng.register_view("customers", "SELECT * FROM run_customers")
        eng.register_view("transactions", f"SELECT {cols} FROM stored_tx")
    else:
        eng.register_rows("scope_customers", scope[0])
        eng.register_rows("scope_tx", scope[1].select(["customer_id", "timestamp", "amount", *frozen.levels]))
        eng.register_view("customers", "SELECT * FROM scope_customers")
        eng.register_view("transactions", f"SELECT {cols} FROM scope_tx")
    return Warehouse(customers="customers", transactions="transactions", customer_id="customer_id",
                     columns={c: c for c in _CANONICAL if c != "customer_id"} | {"id": "customer_id"}, opt_out=None)


def _score(eng, model, frozen: FrozenFeatures, wh: Warehouse, n: int | None = None) -> pd.DataFrame:
    """``pseudonym``, ``segment``, ``margin`` of the (``n``) customers in scope (:func:`._local.score_in`)."""
    out = _local.score_in(eng, model, frozen, wh, n)
    out = out.rename(columns={"customer_id": "pseudonym"})[["pseudonym", "segment", "margin"]]
    return out.astype({"pseudonym": object})


def _history_parts(run: Run) -> list[Path]:
    return [Path(p) for p in _parts(run, "history.parquet")]


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
    """The consolidated intervals of some customers: the seed's from its keyed store, later parts by one scan."""
    from ._history import COLUMNS, consolidate

    parts = _history_parts(run)
    seed = _keyed.read_keyed(_index(run, "history"), pseudonyms.to_numpy(), COLUMNS, "pseudonym").to_pandas()
    rows = [seed]
    if len(parts) > 1:
        with engine.DuckDBEngine() as con:
            con.register("history", [str(p) for p in parts[1:]], file_column="part")
            con.register("wanted", pd.DataFrame({"pseudonym": pseudonyms.to_numpy()}))
            later = con.sql(f"SELECT {', '.join(COLUMNS)}, part FROM history "
                            "WHERE pseudonym IN (SELECT pseudonym FROM wanted)")
        order = later["part"].map({p.name: i for i, p in enumerate(parts)})
        rows.append(later.assign(order_=order.to_numpy()).sort_values("order_", kind="stable"))
    types = {"pseudonym": object, "segment": "Int64", "valid_from": "datetime64[us]", "valid_to": "datetime64[us]"}
    rows = [r[COLUMNS].astype(types) for r in rows]
    return consolidate(rows) if len(rows) > 1 else rows[0]  # the seed alone: one interval per customer already


def _index(run: Run, name: str) -> Path:
    return run.path / "artifacts" / _STORE / "index" / name


def _build_indexes(run: Run) -> None:
    """Keyed stores of the run's transactions, customers and seeded history (once; see :mod:`._keyed`)."""
    import pyarrow.parquet as pq

    sources = {"transactions": (run.path / "data" / "transactions.parquet", "customer_id"),
               "customers": (run.path / "data" / "customers.parquet", "customer_id"),
               "history": (_history_parts(run)[0], "pseudonym")}
    for name, (path, key) in sources.items():
        if not _keyed.has_keyed(_index(run, name)):
            _keyed.write_keyed(pq.read_table(path), _index(run, name), key)


def assignment_ages(run_dir) -> dict | None:
    """How long since each current assignment was last confirmed by data (None: no history yet).

    Counted in the engine to the latest ``as_of`` (the run's or the last batch's): ``assigned``,
    ``without_segment`` (an objection in force), ``median_days``, ``share_over_90``, ``share_over_365``.
    """
    from ._history import ages_query

    run = run_dir if isinstance(run_dir, Run) else _open(run_dir)
    if not _history_parts(run):
        return None
    batches = run.read_json(_BATCHES) if (run.path / _BATCHES).exists() else []
    as_of = max([frozen_features(run).as_of, *[pd.Timestamp(b["as_of"]) for b in batches if b.get("as_of")]])
    with engine.DuckDBEngine() as con:
        con.register("history", [str(p) for p in _history_parts(run)])
        confirmed = _parts(run, "confirmed")
        if confirmed:
            con.register("confirmed", confirmed)
        row = con.sql(ages_query("history", "confirmed" if confirmed else None, as_of)).iloc[0]
    return {"as_of": as_of, "batches": len(batches), **{k: (None if pd.isna(v) else float(v)) for k, v in row.items()}}


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
    _add_part(run, "history.parquet", history)
    frozen_features(run)  # now that the history exists, its facts file is written
    _build_indexes(run)
    _write_card(run, model)
    return history


def _parts(run: Run, what: str) -> list[str]:
    """Paths of the parts a batch added under ``artifacts/assignments/<what>/`` (oldest first)."""
    return [str(p) for p in sorted((run.path / "artifacts" / _STORE / what).glob("part-*.parquet"))]


def _add_part(run: Run, what: str, frame: pd.DataFrame) -> None:
    """Add ``frame`` as the next part of ``what`` (written beside it, then renamed: never read half-written)."""
    if len(frame):
        part = run.artifact(f"{_STORE}/{what}/part-{len(_parts(run, what)):05d}.parquet")
        tmp = part.with_name(f".{part.name}.tmp")  # a half-written part would be read as stored rows
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, part)


def _read_batch(run: Run, frozen: FrozenFeatures, since, transactions, customers, choices) -> dict:
    """The batch's tables under canonical names with pseudonyms, and the rows left out as older than ``since``."""
    from ..data import read_table

    wh = warehouse_of(run)
    batch = {"transactions": pd.DataFrame(columns=["customer_id", "timestamp", "amount", *frozen.levels]),
             "customers": None, "flags": pd.DataFrame({"customer_id": pd.Series([], dtype=object), "opted_out": False}),
             "records": pd.DataFrame(columns=_batch.RECORD_COLUMNS), "before_since": 0, "choices_before_since": 0}
    if transactions is not None:
        roles = {"id": wh.columns["id"], **{r: c for r, c in wh.columns.items() if r != "id"}}
        frame = transactions if isinstance(transactions, pd.DataFrame) else read_table(
            transactions, "new transactions", columns=list(roles.values()))
        new, batch["before_since"] = _batch.canonical_transactions(frame, roles, since)
        lacking = [c for c in frozen.levels if c not in new]
        if lacking:
            raise InputError(f"new transactions: column(s) {lacking} missing; the model uses their shares.")
        batch["transactions"] = _pseudonymised(run, new)
    if customers is not None:
        frame = customers if isinstance(customers, pd.DataFrame) else read_table(customers, "changed customers")
        rows = _batch.canonical_customers(frame, wh.customer_id, _customer_columns(run), wh.opt_out)
        if wh.opt_out and wh.opt_out in frame:  # the profiling opt-out flag: set, an objection; reset, lifted
            batch["flags"] = _pseudonymised(run, _batch.opt_out_flags(frame, wh.customer_id, wh.opt_out,
                                                                     wh.blank_opts_out))
        batch["customers"] = _pseudonymised(run, rows)
    if choices is not None:
        columns = {**CHOICE_COLUMNS, **(((run.config.get("dataset") or {}).get("roles") or {}).get("choices") or {})}
        frame = choices if isinstance(choices, pd.DataFrame) else read_table(choices, "new choices")
        records, batch["choices_before_since"] = _batch.canonical_records(frame, columns, since,
                                                                          _customer_columns(run)[1:])
        batch["records"] = _pseudonymised(run, records)
    return batch


def _customer_columns(run: Run) -> list[str]:
    import pyarrow.parquet as pq

    return pq.read_schema(run.path / "data" / "customers.parquet").names


def _pseudonymised(run: Run, new: pd.DataFrame) -> pd.DataFrame:
    """Raw ids replaced by the run's pseudonyms (its persistent key; :func:`._batch.pseudonymised`)."""
    from .. import privacy

    key = privacy.resolve_key(run.settings("privacy", privacy.DEFAULTS))
    if key.origin == "random":
        raise InputError("The run has no persistent pseudonym key (privacy.key_env / key_file): new data "
                         "cannot be linked to its customers. Set the key the run was made with.")
    return _batch.pseudonymised(new, key)


def _stored_of(eng, run: Run, ids: pd.Series, columns: list[str]) -> dict:
    """The stored transactions, current customer rows and choice records of ``ids``.

    The run's own rows come from the keyed stores (no scan); what batches added since, from one
    semi-join over their (small) parts.
    """
    eng.register_rows("batch_ids", pd.DataFrame({"customer_id": ids.to_numpy()}))
    wanted = "WHERE customer_id IN (SELECT customer_id FROM batch_ids)"
    tx = [_keyed.read_keyed(_index(run, "transactions"), ids.to_numpy(), columns)]  # Arrow: no pandas copy
    if _parts(run, "transactions"):
        eng.register("added_tx", _parts(run, "transactions"))
        added = eng.fetch_rows(f"SELECT {', '.join(columns)} FROM added_tx {wanted}")
        tx.append(_batch.as_arrow(added, tx[0].schema))
    out = {"transactions": tx[0] if len(tx) == 1 else _batch.concat_arrow(tx)}
    rows = [_keyed.read_keyed(_index(run, "customers"), ids.to_numpy()).to_pandas()]
    for part in _parts(run, "customers"):  # later parts hold later versions of a row
        eng.register("customer_part", [part])
        rows.append(eng.fetch_rows(f"SELECT * FROM customer_part {wanted}"))
    out["customers"] = pd.concat(rows, ignore_index=True).drop_duplicates("customer_id", keep="last")
    for what, columns in (("records", _batch.RECORD_COLUMNS), ("flags", ["customer_id", "opted_out"])):
        parts = _parts(run, "choices" if what == "records" else what)
        if parts:  # in part order: a later flag is the current one
            eng.register(f"stored_{what}", parts, file_column="part_")
            out[what] = eng.fetch_rows(f"SELECT {', '.join(columns)}, part_ FROM stored_{what} {wanted}").sort_values(
                "part_", kind="stable")[columns].reset_index(drop=True)
        else:
            out[what] = pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    return out


def _as_of_after(run: Run, frozen: FrozenFeatures, fresh_tx: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The last transaction known after the batch and the ``as_of`` the re-scored customers are measured at."""
    if frozen.as_of is None:  # no transaction features: nothing is measured at a time
        return None, None
    batches = run.read_json(_BATCHES) if (run.path / _BATCHES).exists() else []
    last = max([pd.Timestamp(b["last_transaction"]) for b in batches if b.get("last_transaction")]
               + ([fresh_tx["timestamp"].max()] if len(fresh_tx) else [])
               + [frozen.as_of - pd.Timedelta(days=1)])
    return last, default_as_of(pd.DataFrame({"timestamp": [last]}))


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").tz_localize(None)


def assign_incremental(run_dir, transactions=None, since=None, now=None, *, customers=None, choices=None) -> dict:
    """Re-score only the customers with new transactions, changed rows or new choices since ``since``.

    Parameters
    ----------
    run_dir : path
        A run with a nearest-centre model and a persistent pseudonym key.
    transactions : DataFrame or path, optional
        New transactions with the customer's own ids and the run's transaction column names.
    since : date-like
        Rows (transactions, choice records) from this time on are new; earlier rows are counted and
        left out. Not in the future.
    now : Timestamp, optional
        The current time (UTC) that ``since`` is checked against (default: the clock).
    customers : DataFrame or path, optional
        Changed customer rows: the run's id column and any of its prepared customer columns; a row
        whose profiling opt-out flag is set counts as an objection.
    choices : DataFrame or path, optional
        New records of the customer choices register (its roles: id, kind, value, recorded_at). An
        objection to profiling in force closes the customer's interval and opens one without a
        segment (reason ``choice``); its withdrawal re-scores them.

    Returns
    -------
    dict
        ``since``, ``as_of`` (the re-scored customers' features are measured there: the day after
        the last stored transaction), ``new_transactions``, ``changed_customers``, ``new_choices``
        (rows added), ``already_stored``, ``before_since``, ``rescored`` (customers, and per reason
        ``rescored_new_data`` / ``rescored_choice``), ``unassigned`` (by an objection), ``held``
        (objection still in force), ``moved``, ``history_parts``.
    """
    run = _open(run_dir)
    model = _scoring_model(run)
    if since is None or (transactions is None and customers is None and choices is None):
        raise InputError("Incremental assignment needs --since TIME and at least one of --transactions, "
                         "--customers, --choices.")
    since = _batch.as_timestamp(since, "--since")
    if since > (now or _now()):
        raise InputError(f"--since {since} is in the future: new data can only be since a time that has passed.")
    frozen = frozen_features(run)
    if frozen.as_of is None and transactions is not None:
        raise InputError(f"{run.path}'s model uses no transaction features: new transactions cannot change a segment.")
    batch = _read_batch(run, frozen, since, transactions, customers, choices)
    if _keyed.has_keyed(_index(run, "customers")):  # a lookup: no engine needed
        _batch.check_known(None, _index(run, "customers"), run.path / "data" / "customers.parquet", batch)
    else:
        with engine.make_engine(run.config) as eng:
            _batch.check_known(eng, _index(run, "customers"), run.path / "data" / "customers.parquet", batch)
    if not _history_parts(run):
        seed_history(run)  # its own engine: views of one engine do not outlive it (Spark)
    _build_indexes(run)  # a run seeded before the keyed stores existed
    _write_card(run, model)  # nor its card
    given = sum(len(batch[k]) for k in ("transactions", "records")) + (
        0 if batch["customers"] is None else len(batch["customers"]))
    ids = pd.Series(pd.unique(pd.concat([batch["transactions"]["customer_id"], batch["records"]["customer_id"],
                                         *([] if batch["customers"] is None else [batch["customers"]["customer_id"]])],
                                        ignore_index=True)))
    with engine.make_engine(run.config) as eng:
        stored = _stored_of(eng, run, ids, list(batch["transactions"].columns))
        fresh = _batch.fresh_rows(batch, stored)
        kinds = (run.read_json("data/prepare.json").get("choices") or {}).get("kinds") or {}
        _batch.check_withdrawals(stored, fresh, batch["customers"], (kinds.get("rectify") or {}).get("in_force", 0))
        data_ids = [*fresh["transactions"]["customer_id"], *fresh["customers"]["customer_id"]]
        choice_ids = [*fresh["records"]["customer_id"], *fresh["flags"]["customer_id"]]
        history = _history_of(run, pd.Series(pd.unique(pd.Series([*data_ids, *choice_ids], dtype=object))))
        opened = history[history["valid_to"].isna()]
        fate = _batch.fates(data_ids, choice_ids, _batch.objecting(eng, stored, fresh),
                            opened.loc[opened["segment"].isna(), "pseudonym"])
        last, as_of = _as_of_after(run, frozen, fresh["transactions"])
        scored = _score_scope(eng, run, model, frozen, as_of, fate, stored, fresh)
    report = _apply(run, history, scored, fate, as_of, fresh)
    changed_rows = len(set(fresh["customers"]["customer_id"]) | set(fresh["flags"]["customer_id"]))
    report.update(since=since, before_since=batch["before_since"] + batch["choices_before_since"],
                  already_stored=given - report["new_transactions"] - changed_rows - report["new_choices"],
                  last_transaction=last)
    if report["moved"] or any(len(f) for f in fresh.values()):
        run.write_json(_BATCHES, [*(run.read_json(_BATCHES) if (run.path / _BATCHES).exists() else []), report])
    return report


def _score_scope(eng, run: Run, model, frozen: FrozenFeatures, as_of, fate, stored: dict, fresh: dict) -> pd.DataFrame:
    """``pseudonym``, ``segment``, ``margin``, ``reason`` of the customers the batch re-scores."""
    if not len(fate.scored):
        return pd.DataFrame({"pseudonym": [], "segment": [], "margin": [], "reason": []})
    who = set(fate.scored["pseudonym"])
    tx = _batch.concat_arrow([stored["transactions"], _batch.as_arrow(fresh["transactions"],
                                                                      stored["transactions"].schema)])
    rows = pd.concat([stored["customers"], fresh["customers"]], ignore_index=True)
    if len(who) < len(stored["customers"]):  # someone of the batch is not scored (an objection)
        tx, rows = _batch.of_customers(tx, who), rows[rows["customer_id"].isin(who)]
    rows = _batch.rectified(eng, stored, fresh, rows.drop_duplicates("customer_id", keep="last"))
    frozen.as_of = as_of
    if isinstance(model, _local.Card) and len(rows) > _local.MAX_ROWS:  # scored by the engine: the model's SQL
        model = load_centroid_model(run)
    scored = _score(eng, model, frozen, _register_scope(eng, run, frozen, (rows, tx)), len(rows))
    return fate.scored.merge(scored, on="pseudonym", how="inner")


def _apply(run: Run, history: pd.DataFrame, scored: pd.DataFrame, fate, as_of, fresh: dict) -> dict:
    """Write the batch: the history's new part first (a batch whose stored rows are missing is applied again)."""
    from ._history import apply_scores

    order = scored.sort_values(["segment", "margin"], kind="stable")  # never by pseudonym
    part, moved = apply_scores(history, order, as_of, order["reason"].to_numpy(), fate.unassigned)
    if moved:
        _add_part(run, "history.parquet", part)
    _add_part(run, "transactions", fresh["transactions"])
    _add_part(run, "customers", fresh["customers"])
    _add_part(run, "choices", fresh["records"])
    _add_part(run, "flags", fresh["flags"])
    _add_part(run, "confirmed", pd.DataFrame({"pseudonym": scored["pseudonym"].to_numpy(), "confirmed_at": as_of}))
    return {"as_of": as_of, "new_transactions": len(fresh["transactions"]),
            "changed_customers": len(fresh["customers"]), "new_choices": len(fresh["records"]),
            "changed_flags": len(fresh["flags"]),
            "rescored": len(scored), "rescored_new_data": int((scored["reason"] == "new data").sum()),
            "rescored_choice": int((scored["reason"] == "choice").sum()), "unassigned": len(fate.unassigned),
            "held": len(fate.held), "moved": moved, "history_parts": len(_history_parts(run))}
