"""Preparing a run directory: load, validate, minimise, consent and erasure, pseudonyms; write ``data/``."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import yaml

from .. import engine, privacy
from ..data import TransactionRoles, from_config, load_config, section
from ..rundir import Run, to_jsonable
from ._config_schema import check_against_data, check_config

_RUN_FOLDERS = ("data", "artifacts", "summary", "manifest_parts")


def open_run(run_dir: str | Path, config: str | Path | None = None, dataset: str | None = None) -> Run:
    """Open a run directory, preparing it from ``config`` (or a built-in ``dataset``) if needed.

    If the run directory was prepared from a different config, it is prepared again, so that
    changing a notebook's ``config`` parameter in JupyterLab takes effect.

    Parameters
    ----------
    run_dir : str or Path
        The run directory.
    config : str or Path, optional
        YAML config file the run should be prepared from.
    dataset : str, optional
        Built-in dataset name, instead of ``config``.

    Returns
    -------
    Run
        The prepared run directory.

    Notes
    -----
    Opening a run also makes pandas Styler tables escape HTML (``styler.format.escape``), as plain
    DataFrame tables already do: a segment named ``<script>`` in a report is text, never markup.
    """
    escape_tables()
    run = Run(run_dir)
    if config is None and dataset is None:
        if not run.prepared:
            raise FileNotFoundError(f"{run_dir} is not a prepared run directory; give a config.")
        return run
    wanted = load_config(config=config, dataset=dataset)
    if run.prepared and _same_config(run.config, wanted):
        return run
    prepare(wanted, run.path, fresh=True)
    return run


def escape_tables() -> None:
    """Make every pandas table a notebook shows escape HTML, Styler included (it does not by default).

    ``styler.format.escape`` covers a Styler's default formatter only: an explicit ``.format({...})``
    or ``.format_index()`` call passes ``escape=None`` and renders raw HTML again. So those two
    methods are wrapped to read the option when no ``escape`` is given; ``escape=False`` still opts out.
    """
    from pandas.io.formats.style import Styler

    pd.set_option("styler.format.escape", "html")
    for name in ("format", "format_index"):
        method = getattr(Styler, name)
        if getattr(method, "_escapes_by_default", False):
            continue

        def escaping(self, *args, _method=method, escape=None, **kwargs):
            if escape is None:
                escape = pd.get_option("styler.format.escape")
            return _method(self, *args, escape=escape or None, **kwargs)

        escaping._escapes_by_default = True
        escaping.__doc__ = method.__doc__
        setattr(Styler, name, escaping)


def _same_config(a: dict, b: dict) -> bool:
    strip = lambda d: {k: v for k, v in d.items() if not str(k).startswith("_")}  # noqa: E731
    return strip(a) == strip(json.loads(json.dumps(b, default=str)))


def prepare(config: dict, run_dir: str | Path, fresh: bool = False) -> Run:
    """Load, validate, minimise, apply consent and erasure, pseudonymise; write ``data/``.

    Nothing personal leaves this function: the prepared tables hold pseudonymous ids only, no
    direct identifiers, and no opted-out or erased customer.

    Parameters
    ----------
    config : dict
        Resolved config (see :func:`workbench.data.load_config`).
    run_dir : str or Path
        The run directory to write.
    fresh : bool, default False
        Remove earlier data, artifacts, summary and manifest fragments first.

    Returns
    -------
    Run
        The prepared run directory.

    Raises
    ------
    InputError
        The dataset fails validation.
    """
    check_config(config)
    engine.engine_settings(config)  # a bad `engine`/`spark` setting fails here, before anything is written
    run_dir = Path(run_dir)
    if fresh and run_dir.exists():
        for sub in _RUN_FOLDERS:
            shutil.rmtree(run_dir / sub, ignore_errors=True)
    base_dir = Path(config.get("_base_dir", "."))
    dataset = from_config(config["dataset"], base_dir)
    settings = section(config, "privacy", privacy.DEFAULTS)
    forget = privacy.read_id_list(_resolve(settings["forget"], base_dir)) if settings.get("forget") else []

    roles = dataset.roles
    # one policy for blank consent flags, read where the flags are parsed (dataset.blank_consent)
    blank = (config.get("dataset") or {}).get("blank_consent", "no_consent")
    customers, transactions, counts = privacy.exclude_customers(
        dataset.customers, dataset.transactions, roles, forget, blank_consent=blank
    )
    check_against_data(config, len(customers))
    customers, consent = privacy.consent_columns(customers, roles, blank_consent=blank)
    customers, pruned_roles, inventory = privacy.minimise(customers, roles)
    key = privacy.resolve_key(settings)
    customers, mapping = _pseudonymise(customers, roles.id, key)
    pruned_roles.id = "customer_id"

    run = Run(run_dir)
    (run_dir / "data").mkdir(parents=True, exist_ok=True)
    customers.to_parquet(run_dir / "data" / "customers.parquet", index=False)
    transactions = _write_transactions(run, transactions, pruned_roles, mapping)
    if dataset.truth is not None:
        _write_truth(run, dataset.truth, customers, mapping)
    run.write_json("data/roles.json", pruned_roles.to_dict())
    run.write_json("data/prepare.json", _prepare_record(
        dataset, customers, transactions, counts, inventory, pruned_roles, key, settings
    ) | {"consent": consent})
    # ``_base_dir`` stays in config.yaml: open_run compares configs without it.
    (run_dir / "config.yaml").write_text(yaml.safe_dump(to_jsonable(dict(config)), sort_keys=False))
    run.add_to_manifest("dataset", {
        "name": dataset.name,
        "source": dataset.source,
        "fingerprint": _frame_fingerprint(customers, transactions),
        # keyed (HMAC under the pseudonym key): a plain hash of an id list is reversed by
        # hashing candidate ids; with a random per-run key nothing could check it, so None
        "consent_snapshot_hmac_sha256": (
            privacy.fingerprint(privacy.consent_snapshot(dataset.customers, roles), key) if roles.consent else None
        ),
        "erasure_list_given": bool(forget),
        "erasure_list_hmac_sha256": privacy.fingerprint(forget, key) if forget else None,
        "pseudonym_key_origin": key.origin,
        # HMAC of a fixed text under the key: equal for equal keys, so `workbench compare` can check
        # that two runs' pseudonyms name the same customers; None for a random per-run key
        "pseudonym_key_check": privacy.fingerprint(["workbench pseudonym key check"], key),
    })
    return run


def _resolve(path: str, base_dir: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else base_dir / p


def _pseudonymise(customers: pd.DataFrame, id_col: str, key) -> tuple[pd.DataFrame, dict]:
    """Replace the id column by keyed pseudonyms, renamed ``customer_id``; also return raw id -> pseudonym."""
    ids = customers[id_col].astype(str)
    mapping = dict(zip(ids, privacy.pseudonymise(ids, key)))
    customers = customers.assign(**{id_col: ids.map(mapping)})
    return customers.rename(columns={id_col: "customer_id"}).reset_index(drop=True), mapping


def _write_transactions(run: Run, transactions: pd.DataFrame | None, pruned_roles, mapping: dict):
    """Write the kept transaction columns under canonical names; point ``pruned_roles`` at them.

    Returns the transactions as written (or as given, when there are none to write).
    """
    if transactions is None or pruned_roles.transactions is None:
        return transactions
    tx_roles = pruned_roles.transactions
    transactions = transactions[tx_roles.columns()].assign(
        **{tx_roles.id: transactions[tx_roles.id].astype(str).map(mapping)}
    )
    rename = {tx_roles.id: "customer_id", tx_roles.timestamp: "timestamp", tx_roles.amount: "amount"}
    if tx_roles.category:
        rename[tx_roles.category] = "category"
    if tx_roles.channel:
        rename[tx_roles.channel] = "channel"
    transactions = transactions.rename(columns=rename).reset_index(drop=True)
    transactions.to_parquet(run.path / "data" / "transactions.parquet", index=False)
    pruned_roles.transactions = TransactionRoles(
        id="customer_id", timestamp="timestamp", amount="amount",
        category="category" if tx_roles.category else None,
        channel="channel" if tx_roles.channel else None,
    )
    return transactions


def _write_truth(run: Run, truth, customers: pd.DataFrame, mapping: dict) -> None:
    """Synthetic data only: the planted segments per pseudonym, and what else was planted."""
    def planted_by_pseudonym(segments: dict) -> pd.Series:
        return customers["customer_id"].map({mapping[k]: v for k, v in segments.items() if k in mapping})

    planted = pd.DataFrame({
        "customer_id": customers["customer_id"],
        "segment": planted_by_pseudonym(truth.segments),
        "segment_after_migration": planted_by_pseudonym(truth.segments_after_migration),
    })
    planted.to_parquet(run.path / "data" / "truth.parquet", index=False)
    migration = dict(truth.migration or {})
    migration.pop("moved_ids", None)  # raw ids: never written
    run.write_json("data/truth.json", {
        "segment_names": truth.segment_names, "differs_on": truth.differs_on,
        "proxy": truth.proxy, "migration": migration or None,
    })


def _prepare_record(dataset, customers, transactions, counts, inventory, pruned_roles, key, settings) -> dict:
    """Content of ``data/prepare.json``: what entered the run and what was dropped on the way."""
    roles = dataset.roles
    return {
        "dataset": dataset.name,
        "source": dataset.source,
        "counts": counts,
        "n_customers": len(customers),
        "n_transactions": 0 if transactions is None else len(transactions),
        "transaction_columns_dropped": (
            sorted(set(dataset.transactions.columns) - set(roles.transactions.columns()))
            if dataset.transactions is not None and roles.transactions is not None else []
        ),
        "inventory": inventory.to_dict(orient="records"),
        "labels": dataset.label_counts,
        "read_as": dataset.read_as,
        "data_checks": dataset.checks,
        "audit_mode": pruned_roles.segment is not None,
        "pseudonym_key": key.origin,
        "pseudonyms_persistent": key.persistent,
        "suppression_k": settings["suppression_k"],
    }


def _frame_fingerprint(customers: pd.DataFrame, transactions: pd.DataFrame | None) -> str:
    """Hash of the prepared content, independent of the pseudonym key (ids are left out)."""
    digest = hashlib.sha256()
    for frame in (customers, transactions):
        if frame is None:
            continue
        body = frame.drop(columns=["customer_id"])
        digest.update(",".join(body.columns).encode())
        digest.update(pd.util.hash_pandas_object(body, index=False).to_numpy().tobytes())
    return digest.hexdigest()
