"""The only module of :mod:`workbench.scoring` that reads or writes a run directory.

:func:`export_sql` writes a run's segmentation as one SQL file for the customer's warehouse.
"""

from __future__ import annotations

import hashlib
import os
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


def _open(run_dir) -> Run:
    run = Run(run_dir)
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


def frozen_features(run: Run, as_of=None) -> FrozenFeatures:
    """The run's feature definitions: used families, share levels, settings and ``as_of`` (default: the run's)."""
    inputs = run.read_table("segments/inputs.parquet")
    used = inputs[inputs["used"].astype(bool)]
    from_tx = used[used["source"] == "transactions"]
    settings = {**FEATURE_DEFAULTS, **(run.settings("segmentation", {}).get("features") or {})}
    levels, run_as_of = {}, None
    if len(from_tx):
        with engine.DuckDBEngine(threads=1) as con:
            con.register("tx", [str(run.path / "data" / "transactions.parquet")])
            run_as_of = default_as_of(con.sql("SELECT max(timestamp) AS timestamp FROM tx"))
            for column in ("category", "channel"):
                names = set(from_tx.loc[from_tx["family"] == f"{column}_shares", "feature"])
                if names:
                    values = con.sql(f"SELECT DISTINCT CAST({column} AS VARCHAR) AS v FROM tx WHERE {column} IS NOT NULL")
                    levels[column] = sorted(v for v in values["v"] if level_column(column + "_", v) in names)
    return FrozenFeatures(
        families=list(dict.fromkeys(from_tx["family"])), levels=levels, settings=settings,
        as_of=_as_of(as_of) if as_of is not None else run_as_of,
        customer_columns=list(used.loc[used["source"] == "customers", "feature"]),
    )


def _as_of(value) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"--as-of {value!r} is not a date or time (use e.g. 2026-12-01).") from exc
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
