"""Per-customer statements from a run directory (GDPR Art. 15 access, Art. 21/22 objection to profiling).

The only module of :mod:`workbench.statement` that reads the run directory. Raw ids are pseudonymised
again with the configured persistent key to find the customer; nothing but the pseudonym links the
statement to the run, and every row read is filtered to that one pseudonym first.
"""

from __future__ import annotations

from pathlib import Path

from ..data import InputError
from ..report import CHROMIUM, chromium_available, print_pdfs
from ..rundir import Run
from ._content import (
    CONTROLLER_KEYS, choice_sentences, consequences, data_held, missing_controller_texts, profiling_outputs,
    purchase_summary, segmentation_values,
)
from .views import render_objection, render_statement

DEFAULT_CONTACT = "the data protection contact of the organisation that sent you this statement"


def statement_for(run: Run, pseudonym: str, model: dict) -> dict | None:
    """One customer's statement content (None when the pseudonym is not in the run).

    Parameters
    ----------
    run : Run
    pseudonym : str
        The customer's pseudonym in this run.
    model : dict
        :func:`model_facts` of the run.

    Returns
    -------
    dict or None
        ``data`` (categories held), ``purchases``, ``segmentation_values``, ``explanation`` (from
        :func:`workbench.explain.explain_customer`: segment, reasons, counterfactual) and ``model``.
    """
    from .. import explain

    customers = run.customers()
    own = customers.loc[customers["customer_id"] == pseudonym]
    if len(own) != 1:
        return None
    try:
        explanation = explain.explain_customer(run, pseudonym)
    except KeyError:
        return None
    features = run.read_table("segments/features.parquet")
    own_features = features.loc[features["customer_id"] == pseudonym]
    tx = run.transactions()
    own_tx = None if tx is None else tx.loc[tx["customer_id"] == pseudonym]
    roles = run.read_json("data/roles.json")
    return {
        "data": data_held(own.iloc[0], roles, set(features.columns) - {"customer_id"}),
        "purchases": purchase_summary(own_tx),
        "segmentation_values": segmentation_values(own_features.iloc[0]) if len(own_features) else [],
        "explanation": explanation,
        "model": model,
        "choices": choice_sentences(_own_rows(run.path / "data" / "choices.parquet", pseudonym),
                                    explanation["segment_name"], model["declared_overrides_model"]),
        "consequences": consequences(model["policy"], explanation["segment_name"]),
        "outputs": profiling_outputs(explanation, _own_row(run.path / "artifacts" / "value" / "predicted.parquet",
                                                           pseudonym)),
    }


def objection_statement_for(run: Run, pseudonym: str, model: dict) -> dict | None:
    """The statement content of a customer left out for their objection to profiling (None if they were not).

    Such a customer is in no table of the run but ``data/objections.parquet`` (pseudonym and date): the
    statement says that we hold and honour their objection, that nothing was computed about them, which
    items our customer records hold about every customer (the input's column inventory, no value of
    theirs: the run holds none) and what they can do.

    Returns
    -------
    dict or None
        ``objected_on`` (ISO date), ``items`` (readable names of the input's customer columns),
        ``purchases`` (whether the input held purchases) and ``model``.
    """
    row = _own_row(run.path / "data" / "objections.parquet", pseudonym)
    if row is None:
        return None
    prep = run.read_json("data/prepare.json")
    roles = run.read_json("data/roles.json")
    items = [i["column"] for i in prep.get("inventory", []) if i["column"] != roles.get("id", "customer_id")]
    return {"objected_on": row["recorded_at"].date().isoformat(), "items": items,
            "purchases": bool(prep.get("counts", {}).get("transactions_in_input")), "model": model}


def _own_rows(path: Path, pseudonym: str):
    """This customer's rows of a per-customer table (filtered on read), or an empty table / None."""
    import pandas as pd

    if not path.exists():
        return pd.DataFrame(columns=["customer_id", "kind", "target", "segment", "recorded_at"])
    return pd.read_parquet(path, filters=[("customer_id", "==", pseudonym)])


def _own_row(path: Path, pseudonym: str):
    rows = _own_rows(path, pseudonym) if path.exists() else None
    return rows.iloc[0] if rows is not None and len(rows) == 1 else None


def model_facts(run: Run) -> dict:
    """Model version and date, method, and how to object: from the run's manifest, segments and config."""
    manifest = run.read_json("manifest.json") if (run.path / "manifest.json").exists() else {}
    seginfo = run.read_json("artifacts/segments/segments.json")
    config = run.config
    report = (config or {}).get("report") or {}
    prov = manifest.get("provenance") or {}
    fairness = run.read_json("summary/04_fairness.json") if (run.path / "summary" / "04_fairness.json").exists() else {}
    choices = (config or {}).get("choices") or {}
    return {
        **{k: report.get(k) for k in CONTROLLER_KEYS},
        "special_category_basis": report.get("special_category_basis"),
        "source": run.read_json("data/prepare.json").get("source"),
        "policy": fairness.get("policy") or {},
        "declared_overrides_model": bool(choices.get("declared_overrides_model", False)),
        "method": seginfo.get("method"),
        "k": seginfo.get("k"),
        "run_date": manifest.get("started"),
        "git_commit": manifest.get("git_commit"),
        "config_sha256": prov.get("config_sha256"),
        "controller": report.get("controller") or report.get("commissioned_by"),
        "contact": report.get("contact") or DEFAULT_CONTACT,
    }


def statements_run(run_dir: str | Path, raw_ids: list[str], out: str | Path, pdf: bool = True,
                   draft: bool = False) -> list[dict]:
    """Write one self-contained HTML statement per raw customer id, and the same statement as PDF.

    Parameters
    ----------
    run_dir : str or Path
        A finished run directory whose pseudonyms were made with a persistent key.
    raw_ids : list of str
        Customer ids as the business knows them (never written anywhere but the customer's own statement).
    out : str or Path
        Folder for ``statement-<n>.html`` (n = the id's position in ``raw_ids``, from 1).
    pdf : bool, default True
        Also print each statement to ``statement-<n>.pdf`` beside its HTML (headless Chromium, every
        network request refused: :func:`workbench.report.print_pdfs`).
    draft : bool, default False
        Write statements although the config lacks a controller text an Art. 15 answer needs
        (:data:`~workbench.statement._content.CONTROLLER_KEYS`): every page is then marked DRAFT.

    Returns
    -------
    list of dict
        Per id, in order: ``line``, ``status`` ("written" or "not found") and ``file`` (and ``pdf``,
        and ``objection``: the customer was left out for their objection to profiling and their
        statement says so, :func:`objection_statement_for`) or ``message``.

    Raises
    ------
    InputError
        Not a run directory, no persistent pseudonym key (now or when the run was made), a controller
        text missing (``report.*``) without ``draft``, or PDFs asked for where Chromium is not installed
        (checked before anything is written).
    """
    from ..privacy import pseudonym_for

    run = Run(run_dir)
    if not run.prepared:
        raise InputError(f"{run_dir} is not a run directory (no data/prepare.json).")
    prep = run.read_json("data/prepare.json")
    if not prep.get("pseudonyms_persistent"):
        raise InputError(
            "This run's pseudonyms were made with a random per-run key that was never stored: its customers "
            "cannot be found from their ids. Configure a persistent key (privacy.key_env or privacy.key_file) "
            "and run again."
        )
    if pdf and not chromium_available():
        raise InputError(f"cannot print statement PDFs: Chromium ({CHROMIUM}) or the Python package playwright is "
                         "missing. Install them (apt-get install chromium; `make browser`) or pass --no-pdf.")
    held = [i["column"] for i in prep.get("inventory", []) if i.get("kept")]
    missing = missing_controller_texts((run.config or {}).get("report") or {}, held)
    if missing and not draft:
        raise InputError("A statement must tell the customer who is responsible and on what basis (GDPR Art. 15(1)); "
                         f"the config lacks {', '.join(missing)}. Add them under `report:` in the config, or pass "
                         "--draft to write statements marked DRAFT for review.")
    pseudonyms = pseudonym_for(raw_ids, run.settings("privacy", {}))
    model = model_facts(run) | {"draft": bool(missing) or draft}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for line, (raw, pseudonym) in enumerate(zip(raw_ids, pseudonyms), 1):
        content = statement_for(run, pseudonym, model)
        objection = None if content is not None else objection_statement_for(run, pseudonym, model)
        if content is None and objection is None:
            results.append({"line": line, "status": "not found", "message": (
                f"id on line {line}: no customer with this id in the run (never in the data, opted out of "
                "profiling by flag, or erased on request), so no statement was written.")})
            continue
        path = out / f"statement-{line:03d}.html"
        path.write_text(render_statement(content, raw) if content is not None else render_objection(objection, raw))
        results.append({"line": line, "status": "written", "file": str(path), "objection": objection is not None})
    if pdf:
        _print(results)
    if len(results) > 1 and all(r["status"] == "not found" for r in results):
        # Every id missing usually means a different key from the run's, not absent customers.
        results[-1]["message"] += (" No id was found at all: check that the pseudonym key is the one the run "
                                   f"was made with ({prep.get('pseudonym_key')}).")
    return results


def _print(results: list[dict]) -> None:
    """Each written statement printed to PDF beside its HTML, by one offline browser."""
    jobs = [(Path(r["file"]), Path(r["file"]).with_suffix(".pdf"), "Your segment statement")
            for r in results if r["status"] == "written"]
    for r, (_, pdf_path, _) in zip([r for r in results if r["status"] == "written"], jobs):
        r["pdf"] = str(pdf_path)
    if jobs:
        print_pdfs(jobs)


def read_ids(path: str | Path) -> list[str]:
    """Raw ids from a text file, one per line (a first line ``customer_id`` or ``id`` is a header)."""
    try:
        lines = [ln.strip() for ln in Path(path).read_text().splitlines()]
    except OSError as exc:
        raise InputError(f"cannot read the ids file {path}: {exc.strerror}.") from exc
    lines = [ln for ln in lines if ln]
    if lines and lines[0].lower() in {"customer_id", "id"}:
        lines = lines[1:]
    if not lines:
        raise InputError(f"the ids file {path} holds no customer id (one id per line).")
    return lines


__all__ = ["model_facts", "objection_statement_for", "read_ids", "statement_for", "statements_run"]
