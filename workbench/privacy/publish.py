"""The registry of published counts: every count table a run prints, suppressed once, perturbed once.

A stage module (it reads and writes the run directory), split from :mod:`.stage` because the registry is
what every other stage calls. Each published table is kept twice:

* ``artifacts/disclosure/<name>.parquet``: what is printed, long form, counts perturbed by the cell-key
  method (:mod:`._cellkey`) after suppression; the only form any report, ``summary.json`` or
  ``compare.json`` number may come from;
* ``artifacts/privacy/exact_counts/<name>.parquet``: the exact counts behind it, internal like
  ``dp_utility.parquet``: complementary suppression of later tables (:func:`suppress_jointly`) and the
  whole-run attacker (:func:`disclosure_check`) work on them, never a page a reader gets.

``artifacts/privacy/registration_order.json`` lists the tables in the order they were first registered.
A notebook executed again in the same run directory (a researcher's lab) suppresses each table against
the tables registered before it the first time, not against the later stages' tables the first pass
left behind: the same inputs hide the same cells however often a notebook is re-run.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING

import pandas as pd

from ..data import InputError
from ._cellkey import (PERTURBATION_DEFAULTS, CellKeySettings, perturb_long, perturb_magnitudes, perturb_table,
                       population_key)
from ._defaults import DEFAULTS
from ._joint import LONG_COLUMNS, TOTAL, DisclosureCheck, _long_form, joint_disclosure, suppress_jointly
from ._pseudonyms import resolve_key

if TYPE_CHECKING:  # pragma: no cover
    from ..rundir import Run

__all__ = ["DISCLOSURE_DIR", "EXACT_DIR", "disclosure_check", "perturbation_settings", "printed_table",
           "printed_tables", "protection_width", "publish_counts", "publish_magnitudes", "published_tables",
           "suppress_and_publish", "suppress_printed", "two_run_perturbation"]

#: Where every published table of counts is registered (under ``artifacts/``) as printed: one Parquet
#: file per table, long form, counts perturbed.
DISCLOSURE_DIR = "disclosure"
#: The exact counts of the same tables (under ``artifacts/``): internal, for suppression and the attacker.
EXACT_DIR = "privacy/exact_counts"
ORDER_FILE = "artifacts/privacy/registration_order.json"


def publish_counts(run: "Run", name: str, table: pd.DataFrame, row_dim: str, col_dim: str,
                   population: str = "", within: str | None = None) -> pd.DataFrame:
    """Register a published (already suppressed) 2-D table of counts for the whole-run disclosure check.

    Every stage that publishes counts, or anything derived from counts (shares, rates, intervals,
    sentences, plots), suppresses the table once with :func:`suppress_counts` (``margins=True``)
    and registers the result here; everything it shows is then derived from that table. The
    whole-run check attacks all registered tables jointly: a cell is identified by its dimension
    values, so the same quantity published in two tables is one unknown, and a cell labelled
    ``"Total"`` on a dimension is the sum over that dimension.

    Parameters
    ----------
    run : Run
    name : str
        A name unique within the run, e.g. ``"composition_gender"`` (file name safe).
    table : DataFrame
        The published table: rows are values of ``row_dim``, columns values of ``col_dim``,
        margins labelled ``"Total"``, suppressed cells ``NaN``.
    row_dim, col_dim : str
        What the rows and columns are, e.g. ``"segment"`` and ``"gender"``. Use the same names
        for the same dimension across tables (``"segment"`` for segment ids), so the check can
        link them.
    population : str, default ""
        What the table counts when it is not the run's customers, e.g. ``"customers with a predicted
        value"`` or ``"customer-windows"``: its cells are then other quantities than the same
        dimension values of the run's customers, and are linked only to tables of that population.
    within : str, optional
        The population ``population`` is a subset of (``""``: the run's customers). The attack then
        knows that the same cell there and here differ by a count of customers nobody published
        (369 aged 60+, 368 of them with a predicted value: one without).

    Returns
    -------
    DataFrame
        The long form as printed, written to ``artifacts/disclosure/<name>.parquet``: ``table``,
        ``row_dim``, ``row``, ``col_dim``, ``column``, ``n`` (perturbed; NaN where suppressed),
        ``suppressed``, ``population``, ``marker`` (how a hidden cell is printed, from
        ``table.attrs["complementary"]``), ``within``. The exact long form goes to
        ``artifacts/privacy/exact_counts/<name>.parquet`` (internal).
    """
    if row_dim == col_dim:
        raise ValueError(f"a published table needs two different dimensions, got {row_dim!r} twice")
    long = _long_form(name, table, row_dim, col_dim, population, within)
    settings = perturbation_settings(run)
    if settings is not None and not table.attrs.get("decided_on_perturbed"):
        # a "< k" decided on the exact count gives it away across runs: one erasure moves a cell from 10
        # (shown) to 9 ("< k"). The seam that decides on the printed count is suppress_and_publish.
        raise ValueError(f"table {name!r} was suppressed on its exact counts, but this run perturbs them: "
                         "suppress it with workbench.privacy.suppress_and_publish (exact counts in), which "
                         "decides what is hidden on the perturbed count")
    printed = long if settings is None else perturb_long(long, settings, bool(table.attrs.get("decided_on_perturbed")))
    run.write_table(f"{EXACT_DIR}/{name}.parquet", long)
    run.write_table(f"{DISCLOSURE_DIR}/{name}.parquet", printed)
    order = registration_order(run)
    if name not in order:
        run.write_json(ORDER_FILE, [*order, name])
    return printed


def registration_order(run: "Run") -> list[str]:
    """The registered tables' names in the order they were first registered (empty for a new run)."""
    return run.read_json(ORDER_FILE) if (run.path / ORDER_FILE).exists() else []


def tables_before(run: "Run", name: str) -> pd.DataFrame:
    """The exact long form of the tables a table called ``name`` is suppressed against.

    Every registered table for a new name; for a name registered before (its notebook executed again),
    only the tables registered before it then, so a re-run decides as the first pass did.
    """
    earlier = published_tables(run)
    order = registration_order(run)
    if name in order:
        return earlier.loc[earlier["table"].isin(order[:order.index(name)])]
    return earlier.loc[earlier["table"] != name]


def publish_magnitudes(run: "Run", name: str, values, tops, row_dim: str, rows, col_dim: str,
                       column: str = "Total", population: str = ""):
    """Published magnitudes (sums of money, sums of squares) perturbed by the cell-key method for magnitudes.

    Each value moves by ``m × p(cell key) × top`` (:func:`._cellkey.perturb_magnitudes`): ``top`` is its
    cell's largest absolute contribution, computed in the engine with the sum and never published. Every
    mean and interval a stage prints derives from the returned values and the printed counts; two runs one
    erasure apart then differ by noise of the scale of the cell's largest contribution, not by exactly the
    erased customer's amount.

    Parameters
    ----------
    run : Run
    name : str
        What the values are, e.g. ``"revenue"`` or ``"revenue²"``: part of each cell key, so the sum and
        the sum of squares of one cell get independent draws.
    values, tops : array
        The exact totals and each cell's largest absolute contribution.
    row_dim, rows, col_dim, column, population
        The cells, as the count table they belong to names them (:func:`publish_counts`): ``rows`` one
        value of ``row_dim`` per value, all in ``column`` of ``col_dim``.

    Returns
    -------
    ndarray
        The values as printed (exact where ``privacy.perturbation.method`` is ``none``).
    """
    import numpy as np

    from ._linked import cell_key

    settings = perturbation_settings(run)
    if settings is None:
        return np.asarray(values, dtype=float)
    identities = [(("magnitude", name),) + cell_key(row_dim, str(r), col_dim, column, population) for r in rows]
    return perturb_magnitudes(values, tops, identities, settings)


def _read_all(folder) -> pd.DataFrame:
    files = sorted(folder.glob("*.parquet")) if folder.exists() else []
    if not files:
        return pd.DataFrame(columns=LONG_COLUMNS)
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def published_tables(run: "Run") -> pd.DataFrame:
    """The exact counts of every table registered with :func:`publish_counts`, long form (empty if none).

    Internal: what suppression of later tables and the whole-run attacker work on (a run made before
    counts were perturbed has only ``artifacts/disclosure/``, whose counts are then the exact ones).
    What a reader sees is :func:`printed_tables`.
    """
    exact = run.path / "artifacts" / EXACT_DIR
    return _read_all(exact if exact.exists() else run.path / "artifacts" / DISCLOSURE_DIR)


def printed_tables(run: "Run") -> pd.DataFrame:
    """Every registered table as printed (perturbed counts), long form (empty if none)."""
    return _read_all(run.path / "artifacts" / DISCLOSURE_DIR)


def printed_table(run: "Run", name: str) -> pd.DataFrame:
    """One registered table as printed, wide (rows ``row``, columns ``column``, margins ``"Total"``)."""
    long = pd.read_parquet(run.path / "artifacts" / DISCLOSURE_DIR / f"{name}.parquet")
    rows, cols = list(dict.fromkeys(long["row"])), list(dict.fromkeys(long["column"]))
    wide = long.pivot(index="row", columns="column", values="n").reindex(index=rows, columns=cols)
    wide.index.name, wide.columns.name = long["row_dim"].iloc[0], long["col_dim"].iloc[0]
    return wide


def perturbation_settings(run: "Run") -> CellKeySettings | None:
    """``privacy.perturbation`` of the run and its keys; None when switched off (``method: none``) or
    for a bare run directory without a config or customers (a researcher's own tables, unit tests).

    Raises
    ------
    InputError
        An unknown method, ``max_perturbation`` below 1, ``variance`` outside (0, max_perturbation²] or a
        negative ``magnitude_scale``.
    """
    if not (run.path / "config.yaml").exists() or not (run.path / "data" / "customers.parquet").exists():
        return None
    conf = {**PERTURBATION_DEFAULTS, **(run.settings("privacy", DEFAULTS).get("perturbation") or {})}
    method, D, V = str(conf["method"]).lower(), conf["max_perturbation"], conf["variance"]
    m = conf["magnitude_scale"]
    if method == "none":
        return None
    if method != "cell key" or not isinstance(D, int) or D < 1 or not 0 < float(V) <= D * D or \
            not isinstance(m, (int, float)) or m < 0:
        raise InputError(
            "Config error: privacy.perturbation must have method 'cell key' (or 'none' to switch it off), "
            "max_perturbation a whole number >= 1, 0 < variance <= max_perturbation² and magnitude_scale a "
            f"number >= 0; got method={method!r}, max_perturbation={D!r}, variance={V!r}, magnitude_scale={m!r}.")
    key = resolve_key(run.settings("privacy", DEFAULTS))
    customers = run.path / "data" / "customers.parquet"
    # A random per-run key is gone after preparation, and the pseudonyms it made differ on every run:
    # the population is then keyed by the prepared rows' content, so the same data prints the same
    # numbers (summary.json stays deterministic) and one erasure still redraws every cell. Computing
    # that key takes every prepared customer's row: an attacker who has them needs no report.
    return CellKeySettings(D, float(V), _suppression_k(run), key.secret if key.persistent else b"",
                           _population_key(str(customers), customers.stat().st_mtime_ns, key.persistent), float(m))


@lru_cache(maxsize=8)
def _population_key(path: str, modified: int, by_pseudonym: bool) -> bytes:
    """:func:`population_key` of a prepared customer table, once per file version (every table needs it):
    of its pseudonyms, or (``by_pseudonym=False``) of each row's other columns."""
    table = pd.read_parquet(path)
    if by_pseudonym:
        return population_key(table["customer_id"])
    rows = table.drop(columns="customer_id")
    return population_key(pd.util.hash_pandas_object(rows[sorted(rows.columns)], index=False))


def suppress_and_publish(
    run: "Run", name: str, counts: pd.DataFrame, row_dim: str, col_dim: str, k: int | None = None,
    population: str = "", within: str | None = None, sizes_only: bool = False,
) -> pd.DataFrame:
    """Suppress a table of counts (with margins) so that it agrees with every table published
    before it, and register it: the one call a stage needs for a published count table.

    The table is suppressed against every table registered before it (:func:`suppress_jointly`):
    a quantity an earlier table hides (the same dimension values: e.g. the gender totals of
    segment x gender, when action x gender comes next) is hidden here too, one it shows is
    known, and complementary cells are chosen so that the joint attack recovers nothing.

    Parameters
    ----------
    run : Run
    name : str
        Unique within the run (file name safe).
    counts : DataFrame
        Exact counts, rows = values of ``row_dim``, columns = values of ``col_dim``, no totals.
    row_dim, col_dim : str
    k : int, optional
        The threshold (default: the run's ``suppression_k``).
    population : str, default ""
        What the table counts when not the run's customers (see :func:`publish_counts`).
    within : str, optional
        The population ``population`` is a subset of (see :func:`publish_counts`).
    sizes_only : bool, default False
        ``counts`` is one column of sizes (customers per segment, per RFM group): only its ``"Total"``
        column is published and registered. The column itself is the same quantity under another cell
        key, and printing it beside the total would print one count with two independent perturbations.

    Returns
    -------
    DataFrame
        The publishable table: margins ``"Total"``, suppressed cells NaN, every other count perturbed
        by the cell-key method (:mod:`._cellkey`; unless ``privacy.perturbation.method`` is ``none``).
        Derive every rate, share and sentence from these counts, never from the exact ones: cells
        need not add up to the printed margins, by design.
    """
    k = _suppression_k(run) if k is None else int(k)
    earlier = tables_before(run, name)
    if population and within is None and len(earlier):
        # a population of its own is linked only to tables of it and to tables declared within it
        # (:mod:`._linked`): the rest cannot narrow its cells, nor it theirs. Leaving them out also keeps
        # their own differences, which no cell of this table can protect, out of its suppression.
        declared = earlier["within"] if "within" in earlier else pd.Series(None, index=earlier.index)
        earlier = earlier.loc[(earlier["population"].fillna("") == population) | (declared == population)]
    table = suppress_jointly(counts, row_dim, col_dim, earlier, k, population,
                             within, protection_width(run), perturbation=perturbation_settings(run))
    if sizes_only:
        if counts.shape[1] != 1:
            raise ValueError(f"sizes_only publishes one column of sizes; {name!r} has {counts.shape[1]} columns")
        table = table[[TOTAL]]  # attrs (complementary cells, decided_on_perturbed) are kept
    return publish_printed(run, name, table, row_dim, col_dim, population, within)


def suppress_printed(counts: pd.DataFrame, row_dim: str, col_dim: str, k: int, settings: CellKeySettings | None,
                     published: pd.DataFrame | None = None, population: str = "",
                     width: int = int(DEFAULTS["protection_width"])) -> pd.DataFrame:
    """A table no single run registers (``compare``'s two-run tables), suppressed and printed by the mechanism.

    :func:`suppress_and_publish` for a table outside a run's registry: suppressed jointly with
    ``published`` (long form, exact counts: e.g. both runs' registered tables) with primary cells decided on
    the perturbed count, then every shown count perturbed with the same cell keys.

    Parameters
    ----------
    counts : DataFrame
        Exact counts, no totals.
    row_dim, col_dim : str
    k : int
    settings : CellKeySettings or None
        The cell keys (:func:`two_run_perturbation` for two runs); None prints exact counts, as a run with
        ``privacy.perturbation.method: none`` does.
    published : DataFrame, optional
        Tables the reader also holds (long form, exact counts).
    population : str, default ""
    width : int
        The protection width.

    Returns
    -------
    DataFrame
        The table as printed: margins ``"Total"``, hidden cells NaN, shown counts perturbed; attrs as
        :func:`suppress_jointly` sets them.
    """
    earlier = published if published is not None else pd.DataFrame(columns=LONG_COLUMNS)
    table = suppress_jointly(counts, row_dim, col_dim, earlier, k, population, None, width, perturbation=settings)
    if settings is None:
        return table
    return perturb_table(table, perturb_long(_long_form("printed", table, row_dim, col_dim, population), settings))


def two_run_perturbation(earlier: CellKeySettings | None, later: CellKeySettings | None) -> CellKeySettings | None:
    """The cell keys of a table about two runs (:func:`perturbation_settings` of each): keyed by both runs'
    populations, None when either run does not perturb. Removing a customer from either run redraws every
    cell, as within one run; the same two runs print the same numbers."""
    if earlier is None or later is None:
        return None
    return replace(later, population=earlier.population + b"|" + later.population, k=max(earlier.k, later.k))


def publish_printed(run: "Run", name: str, table: pd.DataFrame, row_dim: str, col_dim: str,
                    population: str = "", within: str | None = None) -> pd.DataFrame:
    """:func:`publish_counts`, returning the table as printed in its own shape (index, columns, attrs).

    For a stage that suppressed a table itself: every size, share and sentence it shows must come from
    this table, not from the exact counts, or two runs one erasure apart differ by exactly the erased
    customer there (issue 24).
    """
    return perturb_table(table, publish_counts(run, name, table, row_dim, col_dim, population, within))


def protection_width(run: "Run") -> int:
    """``privacy.protection_width``: no hidden count may be narrowed to ``high - low`` below it."""
    if not (run.path / "config.yaml").exists():  # a bare run directory (tests, a researcher's own tables)
        return int(DEFAULTS["protection_width"])
    return int(run.settings("privacy", DEFAULTS).get("protection_width", DEFAULTS["protection_width"]))


def disclosure_check(run: "Run | str", k: int | None = None) -> DisclosureCheck:
    """The whole-run disclosure check: every registered table attacked jointly.

    Collects every table registered with :func:`publish_counts` (``artifacts/disclosure/``) and
    runs :func:`joint_disclosure` over all of them; writes ``artifacts/privacy/disclosure_check.json``
    and the one-line result to ``summary.json`` (``disclosure``), which the run's index shows.

    Parameters
    ----------
    run : Run or path
        The run (or its directory) after the stages that publish counts.
    k : int, optional
        The threshold to judge by (default: the run's ``suppression_k``). A control run with
        suppression switched off (``privacy.suppression_k: 1``) is judged at the usual 10.

    Returns
    -------
    DisclosureCheck
    """
    if not hasattr(run, "read_json"):
        from ..rundir import Run

        run = Run(run)
    k = _suppression_k(run) if k is None else int(k)
    width = protection_width(run)
    settings = perturbation_settings(run)
    slack = 0 if settings is None else settings.max_perturbation  # "< k" decided on the perturbed count
    check = joint_disclosure(published_tables(run), k, width, slack)
    run.write_json("artifacts/privacy/disclosure_check.json", {
        "tables": check.n_tables, "cells": check.n_cells, "hidden": check.n_hidden,
        "recoverable": check.recoverable, "k": k, "passed": check.passed, "protection_width": width,
        "rule_slack": slack,
        "population_differences": check.n_differences, "inconsistent": check.inconsistent,
        "findings": check.findings, "conflicts": check.conflicts, "unlinked_tables": check.unlinked,
    })
    run.summarise("disclosure", tables=check.n_tables, hidden_cells=check.n_hidden,
                  recoverable_cells=check.recoverable, findings=len(check.findings), k=k,
                  unlinked_tables=len(check.unlinked), protection_width=width,
                  population_differences=check.n_differences,
                  headline=[f"Disclosure check of the whole report: {check.sentence}"])
    return check


def _suppression_k(run: "Run") -> int:
    return int(run.read_json("data/prepare.json").get("suppression_k", DEFAULTS["suppression_k"]))


