"""Papermill orchestration: prepare the data, execute the notebooks, export offline HTML, index, manifest.

:func:`run` builds the whole run directory in a temporary folder next to the destination and moves it
into place only when it is complete, so an earlier complete run is never damaged:

* a bad input (:class:`~workbench.data.InputError`) leaves no folder at all;
* a failing notebook stops the sequence; the failed executed notebook (with its error), its HTML and
  an ``index.html`` marking it failed are kept, in the destination if it held no complete run, else
  beside it in ``<out>.failed``.
"""

from __future__ import annotations

import hashlib
import html
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Callable

import nbformat
import pandas as pd
import yaml

from . import privacy
from .data import TransactionRoles, from_config, load_config, section
from .rundir import Run, to_jsonable

__all__ = [
    "NOTEBOOKS",
    "NOTEBOOK_DIR",
    "RunResult",
    "export_html",
    "open_run",
    "prepare",
    "run",
    "run_suite",
]

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = [
    "01_data_privacy",
    "02_segmentation",
    "03_explain_membership",
    "04_fairness_audit",
    "05_segment_dynamics",
    "06_private_release",
]
SUITE = ["synthetic", "telco", "cdnow", "telco_audit"]
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
REPORT_HIDDEN = "report-hidden"
_PACKAGES = [
    "workbench", "numpy", "pandas", "scikit-learn", "fairlearn", "shap", "lightgbm", "duckdb",
    "pyarrow", "pandera", "opendp", "matplotlib", "papermill", "nbconvert", "ipykernel",
]


class NotebookFailed(RuntimeError):
    """A notebook raised an error; the run directory keeps the failed notebook."""


@dataclass
class RunResult:
    out: Path
    ok: bool
    statuses: list[dict] = field(default_factory=list)
    message: str = ""


def open_run(run_dir: str | Path, config: str | Path | None = None, dataset: str | None = None) -> Run:
    """Open a run directory, preparing it from ``config`` (or a built-in ``dataset``) if needed.

    If the run directory was prepared from a different config, it is prepared again, so that
    changing a notebook's ``config`` parameter in JupyterLab takes effect.
    """
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


def _same_config(a: dict, b: dict) -> bool:
    strip = lambda d: {k: v for k, v in d.items() if k != "_base_dir"}  # noqa: E731
    return strip(a) == strip(json.loads(json.dumps(b, default=str)))


# -- preparation ------------------------------------------------------------------------------------
def prepare(config: dict, run_dir: str | Path, fresh: bool = False) -> Run:
    """Load, validate, minimise, apply consent and erasure, pseudonymise; write ``data/``.

    Nothing personal leaves this function: the prepared tables hold pseudonymous ids only, no
    direct identifiers, and no opted-out or erased customer.
    """
    run_dir = Path(run_dir)
    if fresh and run_dir.exists():
        for sub in ("data", "artifacts", "summary", "manifest_parts"):
            shutil.rmtree(run_dir / sub, ignore_errors=True)
    base_dir = Path(config.get("_base_dir", "."))
    dataset = from_config(config["dataset"], base_dir)
    settings = section(config, "privacy", privacy.DEFAULTS)
    forget = privacy.read_id_list(_resolve(settings["forget"], base_dir)) if settings.get("forget") else []

    roles = dataset.roles
    customers, transactions, counts = privacy.exclude_customers(
        dataset.customers, dataset.transactions, roles, forget
    )
    opt_out_col = roles.consent.get("profiling_opt_out")
    consent_ids = (
        dataset.customers.loc[dataset.customers[opt_out_col], roles.id] if opt_out_col else []
    )
    customers, pruned_roles, inventory = privacy.minimise(customers, roles)
    key = privacy.resolve_key(settings)
    mapping = dict(zip(customers[roles.id].astype(str), privacy.pseudonymise(customers[roles.id].astype(str), key)))
    customers = customers.assign(**{roles.id: customers[roles.id].astype(str).map(mapping)})
    customers = customers.rename(columns={roles.id: "customer_id"}).reset_index(drop=True)
    pruned_roles.id = "customer_id"

    data = run_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    customers.to_parquet(data / "customers.parquet", index=False)
    if transactions is not None and pruned_roles.transactions is not None:
        tx_roles = pruned_roles.transactions
        keep = tx_roles.columns()
        transactions = transactions[keep].assign(
            **{tx_roles.id: transactions[tx_roles.id].astype(str).map(mapping)}
        )
        rename = {tx_roles.id: "customer_id", tx_roles.timestamp: "timestamp", tx_roles.amount: "amount"}
        if tx_roles.category:
            rename[tx_roles.category] = "category"
        if tx_roles.channel:
            rename[tx_roles.channel] = "channel"
        transactions = transactions.rename(columns=rename).reset_index(drop=True)
        transactions.to_parquet(data / "transactions.parquet", index=False)
        pruned_roles.transactions = TransactionRoles(
            id="customer_id", timestamp="timestamp", amount="amount",
            category="category" if tx_roles.category else None,
            channel="channel" if tx_roles.channel else None,
        )
    if dataset.truth is not None:
        truth = dataset.truth
        planted = pd.DataFrame(
            {
                "customer_id": customers["customer_id"],
                "segment": customers["customer_id"].map(
                    {mapping[k]: v for k, v in truth.segments.items() if k in mapping}
                ),
                "segment_after_migration": customers["customer_id"].map(
                    {mapping[k]: v for k, v in truth.segments_after_migration.items() if k in mapping}
                ),
            }
        )
        planted.to_parquet(data / "truth.parquet", index=False)
        migration = dict(truth.migration or {})
        migration.pop("moved_ids", None)
        _write_json(data / "truth.json", {
            "segment_names": truth.segment_names, "differs_on": truth.differs_on,
            "proxy": truth.proxy, "migration": migration or None,
        })

    _write_json(data / "roles.json", pruned_roles.to_dict())
    _write_json(data / "prepare.json", {
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
        "audit_mode": pruned_roles.segment is not None,
        "pseudonym_key": key.origin,
        "pseudonyms_persistent": key.persistent,
        "suppression_k": settings["suppression_k"],
    })
    public_config = {k: v for k, v in config.items()}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(to_jsonable(public_config), sort_keys=False))
    run = Run(run_dir)
    run.add_to_manifest("dataset", {
        "name": dataset.name,
        "source": dataset.source,
        "fingerprint": _frame_fingerprint(customers, transactions),
        "consent_snapshot_sha256": privacy.fingerprint(consent_ids),
        "erasure_list_sha256": privacy.fingerprint(forget) if forget else None,
        "pseudonym_key_origin": key.origin,
    })
    return run


def _resolve(path: str, base_dir: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else base_dir / p


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


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(to_jsonable(obj), indent=2) + "\n")


# -- execution -------------------------------------------------------------------------------------
def _quiet_kernel_manager():
    """A kernel manager whose kernel does not print its start-up chatter into the progress output.

    Cell errors still reach the executed notebook (they travel over the kernel's iopub channel).
    """
    from jupyter_client.manager import AsyncKernelManager

    class QuietKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kwargs):
            kwargs.setdefault("stderr", subprocess.DEVNULL)
            return await super()._async_launch_kernel(kernel_cmd, **kwargs)

    return QuietKernelManager


def _execute(notebook: str, run_dir: Path, notebook_dir: Path) -> None:
    import papermill

    papermill.execute_notebook(
        str(notebook_dir / f"{notebook}.ipynb"),
        str(run_dir / f"{notebook}.ipynb"),
        parameters={"run_dir": str(run_dir), "config": None},
        kernel_name="python3",
        cwd=str(notebook_dir),
        progress_bar=False,
        log_output=False,
        kernel_manager_class=_quiet_kernel_manager(),
    )


def export_html(ipynb: Path, html_path: Path) -> None:
    """Export an executed notebook to self-contained HTML: code hidden, nothing loaded from the web."""
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(ipynb), as_version=4)
    # Cells tagged "report-hidden" print plain-text key numbers for nbval; the report shows the
    # same numbers as a table or figure, so they are left out of the HTML.
    nb.cells = [c for c in nb.cells if REPORT_HIDDEN not in c.get("metadata", {}).get("tags", [])]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    exporter = HTMLExporter(
        template_name="offline",
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": _title(nb, ipynb.stem)}})
    html_path.write_text(body)


def _title(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def run(
    config: dict,
    out: str | Path,
    notebooks: list[str] | None = None,
    progress: Callable[[str], None] = print,
    notebook_dir: Path = NOTEBOOK_DIR,
) -> RunResult:
    """Execute the notebook sequence for ``config`` and write the run directory ``out``.

    Raises
    ------
    InputError
        Bad input: nothing is written.
    """
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    notebooks = notebooks or NOTEBOOKS
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    started = datetime.now(timezone.utc)
    statuses: list[dict] = []
    try:
        progress(f"[{config['name']}] preparing data (validation, minimisation, consent, pseudonyms)")
        t0 = time.perf_counter()
        run_obj = prepare(config, tmp)
        statuses.append({"notebook": "prepare", "status": "ok", "seconds": round(time.perf_counter() - t0, 2)})
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    failed = None
    for i, name in enumerate(notebooks, 1):
        progress(f"[{config['name']}] [{i}/{len(notebooks)}] {name} …")
        t0 = time.perf_counter()
        status, error = "ok", ""
        try:
            _execute(name, tmp, Path(notebook_dir))
        except Exception as exc:  # papermill raises its own error type; keep any failure
            status, error = "failed", _short_error(exc)
        seconds = round(time.perf_counter() - t0, 2)
        if (tmp / f"{name}.ipynb").exists():
            try:
                export_html(tmp / f"{name}.ipynb", tmp / f"{name}.html")
            except Exception as exc:
                status, error = "failed", f"HTML export failed: {exc}"
        statuses.append({"notebook": name, "status": status, "seconds": seconds, "error": error})
        progress(f"[{config['name']}] [{i}/{len(notebooks)}] {name} {status} in {seconds:.1f} s")
        if status != "ok":
            failed = name
            break
    for name in notebooks[len(statuses) - 1:]:
        statuses.append({"notebook": name, "status": "not run", "seconds": 0.0, "error": ""})

    summary = _merge_summary(run_obj)
    _write_json(tmp / "summary.json", summary)
    manifest = _manifest(run_obj, config, statuses, started, ok=failed is None)
    write_run_index(tmp, config, summary, statuses, manifest)
    manifest["output_sha256"] = _hash_outputs(tmp)
    _write_json(tmp / "manifest.json", manifest)

    final = _place(tmp, out, ok=failed is None)
    message = "".join(
        f"notebook {s['notebook']} failed: {s['error']}" for s in statuses if s["status"] == "failed"
    )
    return RunResult(out=final, ok=failed is None, statuses=statuses, message=message)


def _short_error(exc: Exception) -> str:
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    return f"{ename}: {evalue}".strip()[:500]


def _is_complete(path: Path) -> bool:
    try:
        return json.loads((path / "manifest.json").read_text()).get("status") == "complete"
    except (OSError, ValueError):
        return False


def _place(tmp: Path, out: Path, ok: bool) -> Path:
    """Move the finished temporary folder into place without damaging an earlier complete run."""
    target = out
    if not ok and _is_complete(out):
        target = out.with_name(out.name + ".failed")
    if target.exists():
        old = target.with_name(f".{target.name}.old-{tmp.name.rsplit('-', 1)[-1]}")
        target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(target)
    if ok:
        shutil.rmtree(out.with_name(out.name + ".failed"), ignore_errors=True)
    return target


def _merge_summary(run_obj: Run) -> dict:
    prep = run_obj.read_json("data/prepare.json")
    summary = {
        "dataset": prep["dataset"],
        "n_customers": prep["n_customers"],
        "n_transactions": prep["n_transactions"],
        "privacy": {k: v for k, v in prep["counts"].items()},
    }
    if prep.get("labels"):
        summary["labels"] = prep["labels"]
    folder = run_obj.path / "summary"
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        summary[path.stem] = json.loads(path.read_text())
    return summary


def _git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=NOTEBOOK_DIR.parent, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _manifest(run_obj: Run, config: dict, statuses: list[dict], started: datetime, ok: bool) -> dict:
    manifest = {
        "status": "complete" if ok else "failed",
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "parameters": {k: v for k, v in config.items() if not k.startswith("_")},
        "seed": config.get("seed"),
        "git_commit": _git_commit(),
        "versions": _versions(),
        "platform": f"{platform.system()} {platform.machine()}, {sys.version.split()[0]}",
        "timings": statuses,
    }
    parts = run_obj.path / "manifest_parts"
    for path in sorted(parts.glob("*.json")) if parts.exists() else []:
        manifest[path.stem] = json.loads(path.read_text())
    return manifest


def _hash_outputs(folder: Path) -> dict:
    hashes = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != "manifest.json":
            hashes[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


# -- index pages -----------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.35rem .6rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}.ok{color:#17692d;font-weight:600}.failed,.fail{color:#b00020;font-weight:600}
.pass{color:#17692d;font-weight:600}.insufficient{color:#8a6100;font-weight:600}.muted{color:#666}
pre{background:#f7f7f7;padding:.6rem;overflow:auto;font-size:.85rem}
"""


def _page(title: str, body: str) -> str:
    return (
        f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body>\n{body}\n</body></html>\n"
    )


def _verdict_rows(summary: dict) -> list[dict]:
    rows = []
    for stage in sorted(k for k in summary if isinstance(summary[k], dict)):
        rows.extend(summary[stage].get("verdicts", []) or [])
    return rows


def _verdict_table(rows: list[dict]) -> str:
    if not rows:
        return ""
    out = ["<h2>Fairness verdicts</h2><table><tr><th>action</th><th>attribute</th><th>verdict</th><th>why</th></tr>"]
    for r in rows:
        v = str(r.get("verdict", ""))
        css = {"pass": "pass", "fail": "fail"}.get(v, "insufficient")
        out.append(
            f"<tr><td>{html.escape(str(r.get('action', '')))}</td><td>{html.escape(str(r.get('attribute', '')))}</td>"
            f"<td class=\"{css}\">{html.escape(v)}</td><td>{html.escape(str(r.get('sentence', '')))}</td></tr>"
        )
    out.append("</table>")
    return "\n".join(out)


def _headlines(summary: dict) -> list[str]:
    lines = []
    for stage in sorted(k for k in summary if isinstance(summary[k], dict)):
        lines.extend(str(h) for h in summary[stage].get("headline", []) or [])
    return lines


def write_run_index(folder: Path, config: dict, summary: dict, statuses: list[dict], manifest: dict) -> None:
    """One page per run: dataset, parameters, per-notebook status and duration, headlines, links."""
    name = html.escape(str(config["name"]))
    prep = json.loads((folder / "data" / "prepare.json").read_text())
    rows = []
    for s in statuses:
        nb = s["notebook"]
        link = f"<a href=\"{nb}.html\">{nb}</a>" if (folder / f"{nb}.html").exists() else nb
        err = f"<br><span class=\"muted\">{html.escape(s.get('error') or '')}</span>" if s.get("error") else ""
        rows.append(
            f"<tr><td>{link}</td><td class=\"{s['status'].replace(' ', '')}\">{s['status']}</td>"
            f"<td>{s['seconds']:.1f} s</td></tr>"
            if not err else
            f"<tr><td>{link}</td><td class=\"failed\">{s['status']}{err}</td><td>{s['seconds']:.1f} s</td></tr>"
        )
    heads = "".join(f"<li>{html.escape(h)}</li>" for h in _headlines(summary))
    params = yaml.safe_dump(manifest["parameters"], sort_keys=False)
    body = f"""
<h1>Segmentation audit: {name}</h1>
<p>Dataset <b>{html.escape(prep['dataset'])}</b> ({html.escape(prep['source'])}):
{prep['n_customers']:,} customers after consent and erasure, {prep['n_transactions']:,} transactions.
Run status: <b class="{'ok' if manifest['status'] == 'complete' else 'failed'}">{manifest['status']}</b>,
started {manifest['started']}.</p>
{_verdict_table(_verdict_rows(summary))}
<h2>Headline results</h2><ul>{heads or '<li class="muted">No headline results recorded.</li>'}</ul>
<h2>Notebooks</h2><table><tr><th>report</th><th>status</th><th>duration</th></tr>{''.join(rows)}</table>
<h2>Parameters</h2><pre>{html.escape(params)}</pre>
<p class="muted">Machine-readable: <a href="summary.json">summary.json</a>, <a href="manifest.json">manifest.json</a>.</p>
"""
    (folder / "index.html").write_text(_page(f"Segmentation audit: {config['name']}", body))


def write_suite_index(reports: Path, results: list[tuple[str, RunResult | None, str]]) -> Path:
    """``reports/index.html``: one row per dataset with status, headline results and verdicts."""
    rows = []
    for name, result, error in results:
        folder = result.out if result else None
        status = "complete" if result and result.ok else "failed"
        link = f"<a href=\"{folder.name}/index.html\">{html.escape(name)}</a>" if folder else html.escape(name)
        details = ""
        if folder and (folder / "summary.json").exists():
            summary = json.loads((folder / "summary.json").read_text())
            heads = "".join(f"<li>{html.escape(h)}</li>" for h in _headlines(summary)[:6])
            details = f"<ul>{heads}</ul>{_verdict_table(_verdict_rows(summary))}"
        if error:
            details += f"<p class=\"failed\">{html.escape(error)}</p>"
        rows.append(f"<tr><td>{link}</td><td class=\"{'ok' if status == 'complete' else 'failed'}\">{status}</td><td>{details}</td></tr>")
    body = (
        "<h1>Segmentation audit workbench: reports</h1>"
        f"<p class=\"muted\">Generated {datetime.now(timezone.utc).isoformat(timespec='seconds')}. "
        "Every report opens offline; code is hidden.</p>"
        "<table><tr><th>run</th><th>status</th><th>headline results</th></tr>" + "".join(rows) + "</table>"
    )
    path = reports / "index.html"
    path.write_text(_page("Segmentation audit workbench", body))
    return path


def run_suite(out: str | Path = "reports", names: list[str] | None = None, progress=print) -> tuple[bool, Path]:
    """Run the default suite (one run per built-in config) and write ``reports/index.html``."""
    from .data import InputError

    reports = Path(out)
    reports.mkdir(parents=True, exist_ok=True)
    results = []
    for name in names or SUITE:
        try:
            result = run(load_config(dataset=name), reports / name, progress=progress)
            results.append((name, result, result.message))
        except InputError as exc:
            results.append((name, None, str(exc)))
    index = write_suite_index(reports, results)
    return all(r is not None and r.ok for _, r, _ in results), index
