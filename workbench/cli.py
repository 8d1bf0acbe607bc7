"""``workbench`` command line: run the notebook sequence, the default suite, and per-run tools.

Bad input (and a run directory another run is writing) is reported as a plain message (no
traceback) with exit code 2; a failing notebook or a write error (naming the path) gives exit code 1; an
interrupted run exits with 130 and leaves nothing half-written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NoReturn, Optional

import typer

from .data import InputError, apply_overrides, load_config, read_table
from .rundir import Run

# This process never checks IRIs against a JSON schema; without this, jsonschema (under nbformat and
# papermill) imports rfc3987_syntax, which builds a parser grammar at import: 1.5-3.5 s of every command
# that executes or exports a notebook.
sys.modules.setdefault("rfc3987_syntax", None)

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.secho(message, err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


@app.command("run")
def run_command(
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Built-in dataset: synthetic, telco, cdnow."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config file."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run directory (default reports/<name>)."),
    param: list[str] = typer.Option([], "--param", "-p", help="Config override key.sub=value (YAML value)."),
    forget: Optional[Path] = typer.Option(None, "--forget", help="File of customer ids to erase before anything runs."),
) -> None:
    """Run the notebook sequence on one dataset and write the run directory."""
    from . import pipeline

    try:
        cfg = load_config(config=config, dataset=dataset, overrides=param)
        if forget is not None:
            cfg = apply_overrides(cfg, [f"privacy.forget={forget.resolve()}"])
        destination = out or Path("reports") / cfg["name"]
        result = pipeline.run(cfg, destination, progress=typer.echo)
    except InputError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail(f"Interrupted: nothing was written to {destination}; an earlier complete run there is untouched.", code=130)
    except OSError as exc:  # disk full, permission denied: say where
        _fail(f"Could not write {exc.filename or destination}: {exc.strerror or exc}. Nothing was written to "
              f"{destination}; free some space or choose another --out.", code=1)
    if not result.ok:
        _fail(f"{result.message}\nThe failed run is kept in {result.out}.", code=1)
    typer.echo(f"Done: {result.out / 'index.html'}")


@app.command("audit")
def audit_command(
    config: Path = typer.Option(..., "--config", "-c", help="YAML config whose dataset carries segment labels."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run directory (default reports/<name>)."),
    param: list[str] = typer.Option([], "--param", "-p", help="Config override key.sub=value (YAML value)."),
    forget: Optional[Path] = typer.Option(None, "--forget", help="File of customer ids to erase before anything runs."),
) -> None:
    """Audit existing segment labels (a CRM/CDP export) without refitting a segmentation."""
    try:
        cfg = load_config(config=config, overrides=param)
    except InputError as exc:
        _fail(str(exc))
    spec = cfg["dataset"]
    has_labels = spec.get("labels") or ((spec.get("roles") or {}).get("customers") or {}).get("segment")
    if not has_labels:
        _fail(
            "Nothing to audit: the config gives no segment labels. Add `labels: FILE` "
            "(customer_id, segment[, assigned_at]) to the dataset section, or a `segment:` role "
            "for a column of the customer table."
        )
    run_command(dataset=None, config=config, out=out, param=param, forget=forget)


@app.command("config")
def config_command(
    show: bool = typer.Option(False, "--show", help="Print the resolved config with every default."),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Built-in dataset: synthetic, telco, cdnow."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config file."),
    param: list[str] = typer.Option([], "--param", "-p", help="Config override key.sub=value (YAML value)."),
) -> None:
    """Check a config (unknown keys, types, ranges); with --show, print what a run of it will use."""
    import yaml

    from . import pipeline
    from .rundir import to_jsonable

    try:
        cfg = load_config(config=config, dataset=dataset, overrides=param)
        pipeline.check_config(cfg)
    except InputError as exc:
        _fail(str(exc))
    if show:
        typer.echo(yaml.safe_dump(to_jsonable(pipeline.resolved_config(cfg)), sort_keys=False), nl=False)
    else:
        typer.echo(f"Config {cfg['name']} is valid.")


@app.command("suite")
def suite_command(
    out: Path = typer.Option(Path("reports"), "--out", "-o", help="Folder for the suite's reports."),
    jobs: int = typer.Option(2, "--jobs", "-j", min=1, help="Runs going on at once, each in its own process."),
) -> None:
    """Run the default suite (every built-in dataset) and write <out>/index.html."""
    from . import pipeline

    ok, index = pipeline.run_suite(out, progress=typer.echo, jobs=jobs)
    if not ok:
        _fail(f"Some runs failed; see {index}.", code=1)
    typer.echo(f"Done: {index}")


@app.command("explain")
def explain_command(
    run_dir: Path = typer.Option(..., "--run", "-r", help="Run directory (after `workbench run`)."),
    customer: str = typer.Option(..., "--customer", help="The customer's pseudonymous id (customer_id in the run)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
    html_file: Optional[Path] = typer.Option(None, "--html", help="Also write a self-contained HTML page here."),
    versus: Optional[str] = typer.Option(None, "--versus", help="Explain against this segment id instead of "
                                         "the runner-up."),
) -> None:
    """Explain one customer's segment (for an access request): looked up by pseudonym only."""
    from . import explain

    run_obj = Run(run_dir)
    if not run_obj.prepared:
        _fail(f"{run_dir} is not a run directory (no data/prepare.json).")
    try:
        result = explain.explain_customer(run_obj, customer, versus=versus)
    except KeyError:
        _fail(f"No customer with pseudonym {customer} in this run.")
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    if html_file is not None:
        html_file.write_text(explain.render_html(result))
    typer.echo(json.dumps(result, indent=2) if as_json else explain.render_text(result))


@app.command("assign")
def assign_command(
    data: Optional[Path] = typer.Argument(None, help="CSV (or Parquet) of new customers: id column + the model's "
                                          "raw inputs (not with --transactions)."),
    run_dir: Path = typer.Option(..., "--run", help="Run directory holding the fitted segmentation model."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the assignments to this CSV instead of printing."),
    id_column: Optional[str] = typer.Option(None, "--id-column", help="Id column (default: the run's id role)."),
    transactions: Optional[Path] = typer.Option(None, "--transactions", help="New transactions of the run's "
                                                "customers: re-score only those customers, append to the history."),
    since: Optional[str] = typer.Option(None, "--since", help="With --transactions/--customers/--choices: rows from "
                                        "this time on are new."),
    customers: Optional[Path] = typer.Option(None, "--customers", help="Changed rows of the run's customers (its id "
                                             "and customer columns, and/or the profiling opt-out flag): re-score those "
                                             "whose row changed; a set flag unassigns, a reset one re-scores."),
    choices: Optional[Path] = typer.Option(None, "--choices", help="New records of the customer choices register: "
                                           "objections to profiling unassign (in the order of their recorded_at), "
                                           "rectify records change the value scored, other choices re-score."),
) -> None:
    """Assign new customers to a run's segments, or re-score the customers with new data or choices (--since)."""
    if any(x is not None for x in (transactions, since, customers, choices)):
        _assign_incremental(run_dir, {"transactions": transactions, "customers": customers, "choices": choices},
                            since, data)
        return
    from .segment import assign_new

    if data is None:
        _fail("Give a table of new customers (DATA), or --transactions FILE --since TIME.")
    try:
        table = read_table(data, "new customers")
        result, origin = assign_new(run_dir, table, id_column)
    except InputError as exc:
        _fail(str(exc))
    if origin == "random":
        typer.secho(
            "No pseudonym key is configured: ids were pseudonymised with a random key, so they cannot be "
            "linked to the run's pseudonyms.", err=True, fg=typer.colors.YELLOW,
        )
    if out is not None:
        result.to_csv(out, index=False)
        typer.echo(f"Assigned {len(result)} customers: {out}")
    else:
        typer.echo(result.to_csv(index=False), nl=False)


def _assign_incremental(run_dir: Path, tables: dict, since: Optional[str], data: Optional[Path]) -> None:
    from .scoring import assign_incremental

    if since is None or data is not None or all(v is None for v in tables.values()):
        _fail("Incremental assignment needs --since TIME and at least one of --transactions, --customers, "
              "--choices FILE, and no DATA table.")
    try:
        report = assign_incremental(run_dir, tables["transactions"], since, customers=tables["customers"],
                                    choices=tables["choices"])
    except InputError as exc:
        _fail(str(exc))
    added = f"{report['new_transactions']} new transactions, {report['changed_customers']} changed customer rows, " \
            f"{report['changed_flags']} changed opt-out flags, {report['new_choices']} new choice records"
    if not report["moved"] and added.startswith("0 new transactions, 0 changed customer rows, 0 changed opt-out "
                                                "flags, 0 new"):
        typer.echo(f"Nothing new since {report['since']}: {report['already_stored']} rows were already applied; "
                   "the history is unchanged.")
        return
    typer.echo(f"{added} ({report['before_since']} rows before --since left out): {report['rescored']} customers "
               f"re-scored as of {report['as_of']} ({report['rescored_new_data']} for new data, "
               f"{report['rescored_choice']} for a choice), {report['unassigned']} without a segment by their "
               f"objection, {report['moved']} intervals changed; "
               f"history: {run_dir / 'artifacts' / 'assignments' / 'history.parquet'}.")


def _role_columns(pairs: list[str]) -> dict[str, str]:
    """``role=column`` pairs of ``--column`` as a dict; a malformed pair is bad input."""
    columns = {}
    for pair in pairs:
        role, sep, column = pair.partition("=")
        if not sep or not role.strip() or not column.strip():
            _fail(f"--column {pair!r}: write ROLE=COLUMN, e.g. --column timestamp=order_date.")
        columns[role.strip()] = column.strip()
    return columns


@app.command("export-sql")
def export_sql_command(
    run_dir: Path = typer.Option(..., "--run", "-r", help="Run directory with a kmeans or ward model."),
    dialect: str = typer.Option(..., "--dialect", help="duckdb, spark, postgres, snowflake, bigquery (or another "
                                "SQLGlot dialect)."),
    out: Path = typer.Option(..., "--out", "-o", help="SQL file to write."),
    customers: str = typer.Option("customers", "--customers-table", help="The warehouse's customer table."),
    transactions: str = typer.Option("transactions", "--transactions-table", help="The warehouse's transaction table."),
    column: list[str] = typer.Option([], "--column", help="ROLE=COLUMN where the warehouse's names differ from the "
                                     "run's roles (id, tx_id, timestamp, amount, category, channel, opt_out, "
                                     "choice_id, choice_kind, choice_value, choice_recorded_at)."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Score as of this time (default: the run's as_of)."),
    choices: Optional[str] = typer.Option(None, "--choices-table", help="The warehouse's customer choices register: "
                                          "customers objecting to profiling get no segment, corrections (rectify) in "
                                          "force replace the customer table's values (required when the run had a "
                                          "register)."),
) -> None:
    """Write the run's segmentation (features, model, names) as one SQL query for the customer's warehouse."""
    from .scoring import export_sql

    try:
        export_sql(run_dir, dialect, out, customers=customers, transactions=transactions,
                   columns=_role_columns(column), as_of=as_of, choices=choices)
    except InputError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"Could not write {exc.filename or out}: {exc.strerror or exc}.", code=1)
    typer.echo(f"Done: {out} ({dialect})")


@app.command("statement")
def statement_command(
    run_dir: Path = typer.Option(..., "--run", "-r", help="Run directory (made with a persistent pseudonym key)."),
    ids: Path = typer.Option(..., "--ids", help="Text file of raw customer ids, one per line."),
    out: Path = typer.Option(Path("statements"), "--out", "-o", help="Folder for statement-<line>.html files."),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Also print each statement to statement-<line>.pdf."),
    draft: bool = typer.Option(False, "--draft", help="Write statements marked DRAFT although controller texts "
                               "(report.controller, report.legal_basis, …) are missing."),
) -> None:
    """Per-customer segment statements (GDPR Art. 15 access, Art. 21/22 objection): one HTML page (and PDF) per id."""
    from .statement import read_ids, statements_run

    try:
        results = statements_run(run_dir, read_ids(ids), out, pdf=pdf, draft=draft)
    except InputError as exc:
        _fail(str(exc))
    for r in results:
        typer.echo(f"line {r['line']}: {r['file']}" if r["status"] == "written" else r["message"])
    written = sum(r["status"] == "written" for r in results)
    typer.echo(f"{written} of {len(results)} statements written to {out}.")


@app.command("compare")
def compare_command(
    earlier: Path = typer.Argument(..., help="The earlier run directory (RUN_A)."),
    later: Path = typer.Argument(..., help="The later run directory (RUN_B), e.g. a re-audit or after mitigation."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for compare.html and compare.json "
                                       "(default: the later run directory)."),
) -> None:
    """Compare two runs of one dataset: changed verdicts, segments, migration, input drift -> compare.html."""
    from .compare import compare_runs, write_comparison

    try:
        comparison = compare_runs(earlier, later)
        page, _ = write_comparison(comparison, out or later)
    except InputError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"Could not write {exc.filename or out or later}: {exc.strerror or exc}. Nothing half-written was "
              "left; choose another --out.", code=1)
    for line in comparison.summary:
        typer.echo(line)
    typer.echo(f"Done: {page}")


if __name__ == "__main__":  # pragma: no cover
    app()
