"""Notebooks 01 and 06 as run-directory stages: the privacy audit and the private release.

With :mod:`.publish` (the registry of published counts every stage calls), the only modules of
:mod:`workbench.privacy` that read or write the run directory.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .. import engine
from ..data import InputError
from ..rundir import register_stage
from ._audit_queries import CUSTOMERS, TRANSACTIONS, check_facts, column_kinds, quality_from_engine, risk_from_engine
from ._checks import checks_from_facts
from ._defaults import DEFAULTS
from ._dp import DPRelease, dp_budget_tradeoff, dp_release, dp_utility
from ._joint import TOTAL
from ._ledger import BudgetExceeded, append_release, check_budget, default_ledger_path, ledger_population
from ._partition import disjoint_partition
from ._suppression import suppress_rows
from .publish import _suppression_k, suppress_and_publish
from .views import excluded_transactions_sentence, methodology_page, minimisation_summary, replaced_values_sentence

if TYPE_CHECKING:  # pragma: no cover
    from ..rundir import Run

__all__ = [
    "RELEASE_DIR",
    "TOTAL",
    "check_release_budget",
    "load_private_release",
    "privacy_audit_run",
    "private_release_run",
    "validation_checks",
]


_AUDIT_TABLES = ("reid_combinations", "reid_drivers", "reid_class_sizes", "quality_missing", "quality_outliers")


def validation_checks(run: "Run") -> pd.DataFrame:
    """The checks the input passed, and checks of the prepared data against the privacy rules.

    Input validation (roles, ids, consent flags, timestamps, amounts) happens at load: a failing
    check stops the run with a message naming the column and rows, so a prepared run has passed all
    of them. The prepared-data checks are re-run here on what the notebooks actually see.

    Parameters
    ----------
    run : Run

    Returns
    -------
    DataFrame
        ``check``, ``passed``, ``detail``.
    """
    with _prepared_tables(run) as (eng, kinds, tx_columns):
        facts = check_facts(eng, kinds, tx_columns is not None)
    return checks_from_facts(run.read_json("data/prepare.json"), facts)


@contextlib.contextmanager
def _prepared_tables(run: "Run"):
    """The run's engine with the prepared tables registered (:mod:`._audit_queries`' table names).

    Yields the engine, the customer table's columns by kind (from its Parquet schema) and the
    transaction table's columns (None without one): only aggregates come back to the driver.
    """
    import pyarrow.parquet as pq

    data = run.path / "data"
    with engine.make_engine(run.config) as eng:
        eng.register(CUSTOMERS, [str(data / "customers.parquet")])
        tx_columns = None
        if run.has_transactions:
            eng.register(TRANSACTIONS, [str(data / "transactions.parquet")])
            tx_columns = pq.read_schema(data / "transactions.parquet").names
        yield eng, column_kinds(pq.read_schema(data / "customers.parquet")), tx_columns


# -- notebook 01: the audit -------------------------------------------------------------------------
def _write_audit(run: "Run", checks: pd.DataFrame, risk: dict, quality: dict, k: int) -> None:
    """The audit's tables (Parquet) and ``artifacts/privacy/audit.json``."""
    tables = [risk["combinations"], risk["drivers"], risk["class_sizes"], quality["missing"], quality["outliers"]]
    for name, table in zip(_AUDIT_TABLES, tables):
        run.write_table(f"privacy/{name}.parquet", pd.DataFrame(table))
    run.write_json("artifacts/privacy/audit.json", {
        "checks": checks, "overall_risk": risk["overall"], "duplicates": quality["duplicates"],
        "transactions": quality.get("transactions"), "suppression_k": k,
    })


def _audit_headline(prep: dict, inv: pd.DataFrame, kept: int, n_direct: int, risk: dict) -> list[str]:
    counts = prep["counts"]
    headline = [
        f"{counts['customers_kept']:,} of {counts['customers_in_input']:,} customers analysed: "
        f"{counts['opted_out_of_profiling']:,} opted out of profiling, {counts['erased']:,} erased on request.",
        f"{kept} of {len(inv)} input columns kept (declared purpose); {n_direct} direct identifier(s) dropped at load.",
        "Customer ids are keyed pseudonyms" + (
            " under a configured key." if prep["pseudonyms_persistent"]
            else " under a random per-run key: they cannot be linked across runs."),
    ]
    headline += [s for s in (excluded_transactions_sentence(prep), replaced_values_sentence(prep)) if s]
    if risk["overall"]:
        o = risk["overall"]
        headline.append(
            f"Re-identification risk: {o['share_unique']:.1%} of customers are unique on their "
            f"quasi-identifiers ({o['quasi_identifiers']}); k-anonymity level {o['k_anonymity']}."
        )
    return headline


def _summarise_audit(run: "Run", prep: dict, inv: pd.DataFrame, checks: pd.DataFrame, risk: dict, k: int) -> None:
    kept = int(inv["kept"].sum()) if len(inv) else 0
    n_direct = int(inv["role"].str.contains("direct_identifier").sum()) if len(inv) else 0
    run.summarise(
        "01_data_privacy",
        checks_passed=bool(checks["passed"].all()),
        columns_in=len(inv),
        columns_kept=kept,
        direct_identifiers_dropped=n_direct,
        pseudonyms_persistent=bool(prep["pseudonyms_persistent"]),
        suppression_k=k,
        k_anonymity=risk["overall"]["k_anonymity"] if risk["overall"] else None,
        share_unique=round(risk["overall"]["share_unique"], 4) if risk["overall"] else None,
        headline=_audit_headline(prep, inv, kept, n_direct, risk),
    )


@register_stage("privacy/audit.json")
def privacy_audit_run(run: "Run") -> dict[str, Any]:
    """Notebook 01's audit of the prepared data: validation, minimisation, risk, quality.

    Writes ``artifacts/privacy/audit.json`` (checks, overall risk, duplicates) and Parquet tables
    (``reid_combinations``, ``reid_drivers``, ``reid_class_sizes``, ``quality_missing``,
    ``quality_outliers``), and the key numbers to ``summary.json`` (``01_data_privacy``).

    Parameters
    ----------
    run : Run

    Returns
    -------
    dict
        ``prepare`` (data/prepare.json), ``checks``, ``inventory``, ``minimisation``, ``risk``
        (see :func:`reidentification_risk`), ``quality`` (see :func:`data_quality`), ``k``, ``settings``
        (the ``privacy`` config section, for the methodology).
    """
    settings = run.settings("privacy", DEFAULTS)
    prep = run.read_json("data/prepare.json")
    k = _suppression_k(run)
    inv = pd.DataFrame(prep["inventory"])
    with _prepared_tables(run) as (eng, kinds, tx_columns):  # counts, histograms and quantiles come back
        facts = check_facts(eng, kinds, tx_columns is not None)
        risk = risk_from_engine(eng, list(kinds), run.roles.quasi_identifiers, facts["customers"], k,
                                int(settings["risk"].get("max_combination", 3)))
        quality = quality_from_engine(eng, kinds, tx_columns, float(settings["quality"].get("iqr_factor", 3.0)))
    checks = checks_from_facts(prep, facts)
    mini = minimisation_summary(inv) if len(inv) else pd.DataFrame(columns=["outcome", "columns", "which"])
    if len(quality["outliers"]):  # small outlier counts are small cells too
        quality["outliers"] = suppress_rows(
            quality["outliers"], "outliers", k, keep=["table", "column", "lower_fence", "upper_fence"],
            total_known=False,
        )
    _write_audit(run, checks, risk, quality, k)
    _summarise_audit(run, prep, inv, checks, risk, k)
    prep = {**prep, "consent": _published_consent(run, prep, k)}
    return {"prepare": prep, "checks": checks, "inventory": inv, "minimisation": mini,
            "risk": risk, "quality": quality, "k": k, "settings": settings, "choices": _published_choices(run, prep, k)}


#: What became of the choices register's records, one column each (they add up to the records).
CHOICE_STATUS = ("in force", "no longer in force", "dated after as_of (excluded)", "unknown customer (excluded)")


def _published_choices(run: "Run", prep: dict, k: int) -> pd.DataFrame | None:
    """The register's records per kind by what became of them, suppressed and registered (None: no register).

    The population is the register's records, not the run's customers: the table links to no customer table.
    """
    kinds = (prep.get("choices") or {}).get("kinds")
    if not kinds:
        return None
    rows = {kind: [c["in_force"], c["records"] - c["excluded_future"] - c["excluded_unknown_customer"] - c["in_force"],
                   c["excluded_future"], c["excluded_unknown_customer"]] for kind, c in sorted(kinds.items())}
    counts = pd.DataFrame.from_dict(rows, orient="index", columns=list(CHOICE_STATUS))
    counts.index.name, counts.columns.name = "kind", "register status"
    return suppress_and_publish(run, "choices_register", counts, "kind", "register status", k,
                                population="choices register records")


def _published_consent(run: "Run", prep: dict, k: int) -> dict:
    """The consent record of ``data/prepare.json`` as published: counts through the one mechanism.

    Per purpose kept for per-action use, the kept customers by consent (``consented`` / ``not consented``,
    the dimension ``consent_<purpose>`` of notebook 04's consent-rate tables, so the two are linked)
    and by whether the flag was blank are suppressed jointly with every table published before and
    registered; the record's counts become the published margins (NaN where hidden).
    """
    blank_means_consent = prep.get("data_checks", {}).get("blank_consent_policy") == "consent"
    record = {}
    for purpose, r in (prep.get("consent") or {}).items():
        if r.get("with_consent") is None:
            record[purpose] = r
            continue
        with_, without, blank = int(r["with_consent"]), int(r["without_consent"]), int(r["blank"] or 0)
        rows = ([[with_ - blank, blank], [without, 0]] if blank_means_consent
                else [[with_, 0], [without - blank, blank]])
        counts = pd.DataFrame(rows, index=pd.Index(["consented", "not consented"], name=f"consent_{purpose}"),
                              columns=pd.Index(["flag given", "flag blank"], name="consent flag"))
        shown = suppress_and_publish(run, f"consent_record_{purpose}", counts, f"consent_{purpose}",
                                     "consent flag", k)
        record[purpose] = {**r, "with_consent": shown.loc["consented", TOTAL],
                           "without_consent": shown.loc["not consented", TOTAL],
                           "blank": shown.loc[TOTAL, "flag blank"]}
    return record


# -- notebook 06: the private release ---------------------------------------------------------------
#: The publishable release folder of a run: DP values, their accuracy, the ledger, the methodology.
RELEASE_DIR = "release"


def _columns(path: Path, wanted) -> list[str]:
    """Those of ``wanted`` the Parquet file at ``path`` has, in the order asked, without repeats."""
    import pyarrow.parquet as pq

    present = set(pq.read_schema(path).names)
    return [c for c in dict.fromkeys(wanted) if c in present]


def _bounded_values(run: "Run", customer_ids: pd.Series, bounds: dict) -> pd.DataFrame:
    """Every bounded feature found in the run (original units), one row per customer in order.

    Only the bounded columns are read (of the feature table, then of the customer table); recency,
    frequency and monetary, where no table has them, are one query on the run's engine over the
    transaction file (:class:`~workbench.features.ParquetTransactions`): no transaction reaches pandas.
    """
    frame = pd.DataFrame({"customer_id": customer_ids.to_numpy()})
    features = run.path / "artifacts" / "segments" / "features.parquet"
    if run.has("segments/features.parquet"):
        feats = pd.read_parquet(features, columns=_columns(features, ["customer_id", *bounds]))
        frame = frame.merge(feats, on="customer_id", how="left")
    path = run.path / "data" / "customers.parquet"
    cols = [c for c in _columns(path, bounds) if c not in frame.columns]
    if cols:
        frame = frame.merge(pd.read_parquet(path, columns=["customer_id", *cols]), on="customer_id", how="left")
    wanted_rfm = [c for c in ("recency", "frequency", "monetary") if c in bounds and c not in frame.columns]
    if wanted_rfm and run.has_transactions:
        from ..features import ParquetTransactions, rfm

        log = ParquetTransactions.of(run.path / "data" / "transactions.parquet")
        frame = frame.merge(rfm(log)[["customer_id", *wanted_rfm]], on="customer_id", how="left")
    return frame.drop(columns=["customer_id"])


def _release_frame(run: "Run", bounds: dict, fit_share: float) -> tuple[pd.DataFrame, list, dict]:
    """The released customers (segment + bounded features), the public segment ids, the partition.

    Learned segments are refitted on a seeded disjoint fit sample that the release leaves out
    (:func:`disjoint_partition`); given labels (audit mode) are external, so all customers are released.
    """
    info = run.read_json("artifacts/segments/segments.json") if run.has("segments/segments.json") else {}
    assignments = pd.read_parquet(run.require("segments/assignments.parquet"), columns=["customer_id", "segment"])
    if info.get("method") == "external labels" or not run.has("segments/features.parquet"):
        keys = sorted(int(s) for s in (info.get("names") or dict.fromkeys(assignments["segment"].unique())))
        frame = _bounded_values(run, assignments["customer_id"], bounds)
        frame.insert(0, "segment", assignments["segment"].astype(int).to_numpy())
        partition = {"partition": "the given segment labels (assigned outside this workbench)",
                     "fit_share": 0.0, "names": {int(k): str(v) for k, v in (info.get("names") or {}).items()}}
        return frame, keys, partition
    feats = pd.read_parquet(run.path / "artifacts" / "segments" / "features.parquet")
    k = int(info.get("k") or assignments["segment"].nunique())
    released, segment = disjoint_partition(feats, list(info.get("inputs") or feats.columns[1:]), k, run.seed, fit_share)
    frame = _bounded_values(run, feats.loc[released, "customer_id"], bounds)
    frame.insert(0, "segment", segment[released])
    partition = {
        "partition": f"k-means with k={k} on the segmentation inputs of notebook 02, fitted on a fit sample of "
                     f"about {fit_share:.0%} of the customers that this release leaves out, chosen by a keyed hash "
                     "of each customer's pseudonym (so whoever else is in the data, the same customers are in it); "
                     "the other customers are assigned to those fixed centroids and released",
        "fit_share": fit_share, "names": {i: f"release segment {i}" for i in range(k)},
    }
    return frame, list(range(k)), partition


def _ledger_path(run: "Run", settings: dict) -> Path:
    """``privacy.dp.ledger`` (relative to the config's folder), else :func:`default_ledger_path`:
    one file outside every output folder, whichever folder a run is written to."""
    if settings.get("ledger"):
        path = Path(str(settings["ledger"])).expanduser()
        return path if path.is_absolute() else Path(run.config.get("_base_dir", ".")) / path
    return default_ledger_path()


def check_release_budget(run: "Run") -> None:
    """Check, before anything runs, that the dataset's budget still allows the configured DP release.

    ``workbench run`` calls this right after preparing the data and prints the ledger's message as a
    warning: the rest of the audit still runs, and notebook 06 shows the release as refused (a fairness
    audit is not withheld because a release is). Nothing when the release is switched off.

    Raises
    ------
    BudgetExceeded
        ``privacy.dp.epsilon`` more would take the dataset over ``privacy.dp.total_epsilon``.
    """
    settings = run.settings("privacy", DEFAULTS)["dp"]
    if settings.get("enabled"):
        check_budget(_ledger_path(run, settings), ledger_population(run.read_json("manifest_parts/dataset.json"), settings),
                     float(settings["epsilon"]), float(settings.get("total_epsilon", 10.0)))


def _write_release(run: "Run", release: DPRelease, frame: pd.DataFrame, k: int, partition: dict, book: dict) -> None:
    """``release/`` (DP values, accuracy, ledger, methodology: publishable) and the internal utility."""
    names = partition["names"]
    table = release.table.copy()
    table.insert(1, "segment_name", table["segment"].map(lambda s: names.get(int(s), str(s))))
    run.write_table("privacy/dp_release.parquet", table)
    run.write_table("privacy/dp_accuracy.parquet", release.accuracy)
    utility = dp_utility(release, frame, "segment", k)
    utility.insert(1, "segment_name", utility["segment"].map(lambda s: names.get(int(s), str(s))))
    run.write_table("privacy/dp_utility.parquet", utility)  # internal: exact values, never in release/
    folder = run.path / RELEASE_DIR
    folder.mkdir(exist_ok=True)
    table.round(4).to_csv(folder / "release.csv", index=False)
    release.accuracy.round(4).to_csv(folder / "accuracy.csv", index=False)
    (folder / "ledger.json").write_text(json.dumps(book, indent=2, default=str))
    (folder / "methodology.html").write_text(methodology_page(book, partition))


def _refuse(run: "Run", message: str, why: str = "the dataset's privacy budget would be exceeded") -> None:
    folder = run.path / RELEASE_DIR
    folder.mkdir(exist_ok=True)
    (folder / "REFUSED.txt").write_text(message + "\n")
    run.write_table("privacy/dp_release.parquet", pd.DataFrame({"segment": pd.Series([], dtype="int64")}))
    run.write_json("artifacts/privacy/dp_release.json", {"enabled": True, "refused": message})
    run.summarise("06_private_release", enabled=True, refused=True,
                  headline=[f"Differentially private release refused: {why}."])


def _summarise_release(run: "Run", release: DPRelease, partition: dict) -> None:
    """The deterministic key numbers only: the noisy values change every run."""
    count_acc = release.ledger[0][next(key for key in release.ledger[0] if key.startswith("accuracy_"))]
    run.summarise(
        "06_private_release", enabled=True, refused=False, epsilon=release.epsilon, delta=release.delta,
        epsilon_spent=round(release.spent["epsilon"], 10), queries=len(release.ledger),
        features=list(release.bounds), count_error_95=round(count_acc, 4), fit_share=partition["fit_share"],
        headline=[
            f"Segment profiles released with differential privacy (OpenDP) in release/: epsilon {release.epsilon:g}"
            f" over {len(release.ledger)} queries (counts and {len(release.bounds)} bounded mean(s));"
            f" counts are within +/-{count_acc:.0f} with 95% probability.",
        ],
    )


@register_stage("privacy/dp_release.parquet")
def private_release_run(run: "Run") -> DPRelease | None:
    """Notebook 06: the differentially private release of segment profiles, once per run.

    The segments released are fitted on a seeded disjoint sample (``privacy.dp.fit_share``,
    default 0.3) that the release leaves out, so the partition does not depend on the released
    customers (given labels in audit mode are used as they are). The budget is checked against
    the dataset's ledger (``privacy.dp.ledger``, default ``dp_ledger.json`` in the reports folder
    holding the run) and ``privacy.dp.total_epsilon``: over budget, the release is refused
    (``release/REFUSED.txt`` says why, the notebook and the run's headline say so) and the rest
    of the run stands. Writes ``release/`` (``release.csv``: DP values only; ``accuracy.csv``;
    ``ledger.json``; ``methodology.html``), the internal utility table
    (``artifacts/privacy/dp_utility.parquet``), the ``dp_ledger`` manifest entry and the
    deterministic key numbers to ``summary.json``.

    Parameters
    ----------
    run : Run

    Returns
    -------
    DPRelease or None
        None when switched off or refused.
    """
    with engine.using(run.config):  # the exact aggregates on the configured engine; noise on the driver
        return _private_release(run)


def _private_release(run: "Run") -> DPRelease | None:
    settings = run.settings("privacy", DEFAULTS)["dp"]
    if not settings.get("enabled"):
        _write_disabled(run)
        return None
    bounds = {str(f): tuple(float(b) for b in v) for f, v in (settings.get("bounds") or {}).items()}
    epsilon, total = float(settings["epsilon"]), float(settings.get("total_epsilon", 10.0))
    ledger_path, dataset = _ledger_path(run, settings), run.read_json("manifest_parts/dataset.json")
    try:
        spent_before = check_budget(ledger_path, ledger_population(dataset, settings), epsilon, total)
    except BudgetExceeded as refused:
        _refuse(run, str(refused))
        return None
    try:
        frame, keys, partition = _release_frame(run, bounds, float(settings.get("fit_share", 0.3)))
    except InputError as too_few:
        _refuse(run, str(too_few), "too few customers to fit its segments on a sample it leaves out")
        return None
    release = dp_release(
        frame, "segment", bounds, epsilon, float(settings.get("delta") or 0.0),
        keys=keys, count_weight=float(settings.get("count_weight", 1.0)),
        alpha=float(settings.get("alpha", 0.05)), max_customers=int(settings.get("max_customers", 10**9)),
        impute={str(f): float(v) for f, v in (settings.get("impute") or {}).items()},
    )
    entry = {"epsilon": epsilon, "delta": release.delta, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
             "run": run.config.get("name") or run.path.name, "content_fingerprint": dataset["fingerprint"]}
    releases = append_release(ledger_path, ledger_population(dataset, settings), entry, dataset.get("name", ""))
    book = {"dataset": dataset.get("name", ""), "total_epsilon": total, "spent_before": spent_before,
            "spent_after": spent_before + epsilon, "releases": releases, "queries": release.ledger,
            "bounds": release.bounds, "skipped_features": release.skipped, "partition": partition["partition"],
            "fit_share": partition["fit_share"], "privacy_unit": "one customer (one row)", "alpha": float(settings.get("alpha", 0.05))}
    _write_release(run, release, frame, _suppression_k(run), partition, book)
    run.write_json("artifacts/privacy/dp_release.json", {
        "enabled": True, "refused": None, "epsilon": release.epsilon, "delta": release.delta,
        "spent": release.spent, "count_weight": float(settings.get("count_weight", 1.0)), **book})
    run.add_to_manifest("dp_ledger", {"epsilon": release.epsilon, "delta": release.delta, "spent": release.spent,
                                      "library": "opendp", "queries": release.ledger, "ledger_file": ledger_path.name})
    _summarise_release(run, release, partition)
    return release


def _write_disabled(run: "Run") -> None:
    run.write_table("privacy/dp_release.parquet", pd.DataFrame({"segment": pd.Series([], dtype="int64")}))
    run.write_json("artifacts/privacy/dp_release.json", {"enabled": False})
    run.summarise("06_private_release", enabled=False,
                  headline=["No differentially private release: privacy.dp.enabled is false."])


def load_private_release(run: "Run") -> dict[str, Any]:
    """The run's DP release (made once per run by :func:`private_release_run`) and its ledger.

    Parameters
    ----------
    run : Run

    Returns
    -------
    dict
        ``{"enabled": False}``; or ``refused`` (the message) when over budget; or the contents of
        ``dp_release.json`` plus ``release``, ``accuracy``, ``ledger`` (this release's queries),
        ``history`` (every release of the dataset) and ``tradeoff``: only what may be published. The
        comparison with the exact values is internal (``artifacts/privacy/dp_utility.parquet``,
        :func:`dp_utility`) and is never part of a report.
    """
    run.require("privacy/dp_release.parquet")
    meta = run.read_json("artifacts/privacy/dp_release.json")
    if meta.get("enabled") and "refused" not in meta:  # made by an older version: no ledger, no release/
        private_release_run(run)
        meta = run.read_json("artifacts/privacy/dp_release.json")
    if not meta.get("enabled") or meta.get("refused"):
        return {"enabled": bool(meta.get("enabled")), "refused": meta.get("refused")}
    release = run.read_table("privacy/dp_release.parquet")
    return {
        **meta,
        "release": release,
        "accuracy": run.read_table("privacy/dp_accuracy.parquet"),
        "ledger": pd.DataFrame(meta["queries"]),
        "history": pd.DataFrame(meta["releases"]),
        "tradeoff": dp_budget_tradeoff(
            meta["bounds"], release.set_index("segment")["count"], count_weight=meta["count_weight"],
            alpha=meta["alpha"],
        ),
    }
