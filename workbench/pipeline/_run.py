"""Running the notebook sequence into a run directory, safely, and running the default suite.

:func:`run` builds the whole run directory in a temporary folder next to the destination and moves it
into place only when it is complete, so an earlier complete run is never damaged:

* a bad input (:class:`~workbench.data.InputError`) leaves no folder at all;
* a failing notebook stops the sequence; the failed executed notebook (with its error), its HTML and
  an ``index.html`` marking it failed are kept, in the destination if it held no complete run, else
  beside it in ``<out>.failed``;
* an interrupted run (Ctrl-C, SIGTERM) removes its temporary folder and leaves the destination as it
  was; the kernel dies with the run (see ``_execute``);
* a second run into the same ``out`` while one is going on is refused: ``.<out>.lock`` beside the
  destination holds the running process's id (a lock whose process is gone is taken over).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from .. import engine, privacy
from ..data import InputError, load_config
from ..rundir import Run
from ._execute import NOTEBOOK_DIR, NOTEBOOKS, NotebookSession, short_error
from ._html import export_html
from ._index import write_run_index, write_suite_index
from ._manifest import build_manifest, hash_outputs, merge_summary
from ._pdf import PDFUnavailable, write_pdf
from ._prepare import prepare
from ._provenance import add_provenance, provenance_facts, provenance_html

SUITE = ["synthetic", "telco", "cdnow", "telco_audit"]
#: The suite's runs by their length, longest first (kernel CPU seconds, ``bench/bench_suite.py``): two at a
#: time, the short ones last fill the gap the other worker leaves (longest-processing-time first).
_LONGEST_FIRST = ["synthetic", "telco_audit", "telco", "cdnow"]


@dataclass
class RunResult:
    """Where a run ended up, whether every notebook succeeded, per-step statuses, and the failure."""

    out: Path
    ok: bool
    statuses: list[dict] = field(default_factory=list)
    message: str = ""


def run(
    config: dict,
    out: str | Path,
    notebooks: list[str] | None = None,
    progress: Callable[[str], None] = print,
    notebook_dir: Path = NOTEBOOK_DIR,
) -> RunResult:
    """Execute the notebook sequence for ``config`` and write the run directory ``out``.

    Parameters
    ----------
    config : dict
        Resolved config (see :func:`workbench.data.load_config`).
    out : str or Path
        The run directory.
    notebooks : list of str, optional
        Notebook names to execute, in order (default :data:`NOTEBOOKS`).
    progress : callable, default print
        Receives one line per step.
    notebook_dir : Path, optional
        Folder holding the notebooks.

    Returns
    -------
    RunResult
        ``out`` is where the run landed: ``<out>.failed`` when it failed beside a complete run.

    Raises
    ------
    InputError
        Bad input: nothing is written.
    """
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    notebooks = notebooks or NOTEBOOKS
    with run_lock(out), _signals_as_interrupt():
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        try:
            started = datetime.now(timezone.utc)
            run_obj, prepared = _prepare_into(tmp, config, progress)
            if "06_private_release" in notebooks:  # said up front; the audit goes on, notebook 06 says why
                _warn_over_budget(run_obj, progress)
            statuses = [prepared, *_execute_sequence(tmp, config["name"], notebooks, Path(notebook_dir), progress)]
            ok = not any(s["status"] == "failed" for s in statuses)
            _write_records(run_obj, config, statuses, started, ok, progress)
            _raise_if_interrupted()
            final = _place(tmp, out, ok=ok)
        except BaseException:  # bad input, Ctrl-C, SIGTERM, a full disk: nothing half-written stays
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    message = "".join(
        f"notebook {s['notebook']} failed: {s['error']}" for s in statuses if s["status"] == "failed"
    )
    return RunResult(out=final, ok=ok, statuses=statuses, message=message)


class RunLocked(InputError):
    """Another run is writing the same run directory."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


@contextmanager
def run_lock(out: Path):
    """Hold ``.<out>.lock`` (the process id) while a run writes ``out``; refuse when another run holds it.

    Raises
    ------
    RunLocked
        A live process holds the lock.
    """
    lock = out.with_name(f".{out.name}.lock")
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and _alive(pid):
                raise RunLocked(
                    f"Another run (process {pid}) is writing {out}. Wait for it to finish or choose another "
                    f"--out. If no run is going on, remove {lock}."
                ) from None
            lock.unlink(missing_ok=True)  # stale: its process is gone
    else:
        raise RunLocked(f"Could not take the lock {lock}: another run took it meanwhile.")
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield lock
    finally:
        lock.unlink(missing_ok=True)


#: Set by the run's signal handler: a KeyboardInterrupt raised while Python runs a finaliser (the notebook
#: client's sockets closing between notebooks) is printed as "Exception ignored" and dropped, so the run
#: checks this flag at every step too and stops there.
_INTERRUPTED = threading.Event()


def _raise_if_interrupted() -> None:
    if _INTERRUPTED.is_set():
        raise KeyboardInterrupt("interrupted")


@contextmanager
def _signals_as_interrupt():
    """Treat Ctrl-C and SIGTERM as an interrupt the run cannot lose, so that it cleans up after itself."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        _INTERRUPTED.set()
        raise KeyboardInterrupt(f"signal {signum}")

    _INTERRUPTED.clear()
    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _INTERRUPTED.clear()


def run_suite(out: str | Path = "reports", names: list[str] | None = None, progress=print,
              jobs: int = 2) -> tuple[bool, Path]:
    """Run the default suite (one run per built-in config) and write ``reports/index.html``.

    The runs are independent: ``jobs`` of them go on at once, each in a process of its own (a run's
    engine context and its kernel are per process), the longest first (:func:`suite_order`), so that the
    short ones fill the gaps at the end; the index lists them in the order of ``names``.

    Returns
    -------
    (bool, Path)
        Whether every run completed, and the suite's index page.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    reports = Path(out)
    reports.mkdir(parents=True, exist_ok=True)
    names = names or SUITE
    if jobs <= 1:
        results = [_suite_run(name, reports, progress) for name in names]
    else:
        order = suite_order(names)
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            done = dict(zip(order, pool.map(_suite_run, order, [reports] * len(order),
                                            [_print_flushed] * len(order))))
        results = [done[name] for name in names]  # the index lists the runs in the suite's order
    index = write_suite_index(reports, results)
    return all(r is not None and r.ok for _, r, _ in results), index


def suite_order(names: list[str]) -> list[str]:
    """The order the suite starts its runs in: a run of unknown length first, then longest first."""
    rank = {name: i for i, name in enumerate(_LONGEST_FIRST)}
    return sorted(names, key=lambda name: rank.get(name, -1))


def _print_flushed(line: str) -> None:
    print(line, flush=True)


def _suite_run(name: str, reports: Path, progress) -> tuple[str, RunResult | None, str]:
    """One run of the suite: (name, result, message); bad input is a message, not an exception."""
    try:
        result = run(load_config(dataset=name), reports / name, progress=progress)
        return name, result, result.message
    except InputError as exc:
        return name, None, str(exc)


def _warn_over_budget(run_obj: Run, progress) -> None:
    """A DP release the dataset's budget no longer allows is refused (notebook 06 says so): say it now."""
    try:
        privacy.check_release_budget(run_obj)
    except privacy.BudgetExceeded as exc:
        progress(f"warning: {exc} The rest of the audit runs; the report shows the release as refused.")


def _prepare_into(tmp: Path, config: dict, progress) -> tuple[Run, dict]:
    """Prepare the data in ``tmp`` (the caller removes ``tmp`` on any error: bad input leaves nothing)."""
    progress(f"[{config['name']}] preparing data (validation, minimisation, consent, pseudonyms)")
    t0 = time.perf_counter()
    ours = not engine.spark_running()
    run_obj = prepare(config, tmp)
    if ours:  # the notebooks run in the kernel, with a session of its own: end the JVM prepare started here
        engine.stop_spark()
    return run_obj, {"notebook": "prepare", "status": "ok", "seconds": round(time.perf_counter() - t0, 2)}


def _execute_sequence(tmp: Path, name: str, notebooks: list[str], notebook_dir: Path, progress) -> list[dict]:
    """Execute and export each notebook until one fails; the rest are marked "not run"."""
    statuses = []
    with NotebookSession(notebook_dir) as session:
        for i, notebook in enumerate(notebooks, 1):
            _raise_if_interrupted()
            progress(f"[{name}] [{i}/{len(notebooks)}] {notebook} …")
            cpu_before = session.kernel_cpu_seconds or 0.0
            status = _execute_one(tmp, notebook, session)
            if session.kernel_cpu_seconds is not None and status["status"] == "ok":
                status["cpu_seconds"] = round(session.kernel_cpu_seconds - cpu_before, 2)  # the first: imports too
            if i == 1:
                status["kernel_start_seconds"] = round(session.kernel_seconds, 2)
            statuses.append(status)
            progress(f"[{name}] [{i}/{len(notebooks)}] {notebook} {status['status']} in {status['seconds']:.1f} s")
            if status["status"] != "ok":
                break
    for notebook in notebooks[len(statuses):]:
        statuses.append({"notebook": notebook, "status": "not run", "seconds": 0.0, "error": ""})
    return statuses


def _execute_one(tmp: Path, notebook: str, session: NotebookSession) -> dict:
    """Execute one notebook, then export whatever was executed (a failed notebook too) to HTML."""
    t0 = time.perf_counter()
    status, error = "ok", ""
    try:
        session.execute(notebook, tmp)
    except Exception as exc:  # a failing cell, a dead kernel: keep any failure
        status, error = "failed", short_error(exc)
    seconds = round(time.perf_counter() - t0, 2)
    t1 = time.perf_counter()
    if (tmp / f"{notebook}.ipynb").exists():
        try:
            export_html(tmp / f"{notebook}.ipynb", tmp / f"{notebook}.html")
        except Exception as exc:
            status, error = "failed", f"HTML export failed: {exc}"
    return {"notebook": notebook, "status": status, "seconds": seconds, "error": error,
            "export_seconds": round(time.perf_counter() - t1, 2)}


def _write_records(run_obj: Run, config: dict, statuses: list[dict], started: datetime, ok: bool,
                   progress=print) -> None:
    """``summary.json``, ``index.html``, provenance on every page, ``audit.pdf``, then ``manifest.json``.

    ``manifest.json`` comes last: it hashes the other outputs. A PDF that cannot be printed (no
    Chromium here) does not fail the run: the manifest records why under ``pdf``.
    """
    if privacy.published_tables(run_obj).shape[0]:
        # the whole-run check again, after every notebook: stages after 06 (07's value tables) publish too
        privacy.disclosure_check(run_obj)
    summary = merge_summary(run_obj)
    run_obj.write_json("summary.json", summary)
    manifest = build_manifest(run_obj, config, statuses, started, ok=ok)
    manifest["provenance"] = provenance_facts(config, manifest)
    write_run_index(run_obj.path, config, summary, statuses, manifest)
    block = provenance_html(manifest["provenance"])
    notebooks = [s["notebook"] for s in statuses if s["notebook"] != "prepare"]
    for notebook in notebooks:
        if (run_obj.path / f"{notebook}.html").exists():
            add_provenance(run_obj.path / f"{notebook}.html", block)
    t0 = time.perf_counter()
    manifest["pdf"] = _print_pdf(run_obj.path, notebooks, f"Segmentation audit: {config['name']}", progress)
    manifest["pdf_seconds"] = round(time.perf_counter() - t0, 2)
    manifest["output_sha256"] = hash_outputs(run_obj.path)
    run_obj.write_json("manifest.json", manifest)


def _print_pdf(folder: Path, notebooks: list[str], title: str, progress) -> str:
    """Write ``audit.pdf``; return "audit.pdf" or the reason it is missing."""
    progress(f"printing audit.pdf (headless Chromium): {title}")
    try:
        write_pdf(folder, notebooks, title)
        return "audit.pdf"
    except PDFUnavailable as exc:
        progress(f"warning: {exc}")
        return f"not written: {exc}"
    except Exception as exc:  # a browser crash must not lose a complete audit
        progress(f"warning: audit.pdf not written: {exc}")
        return f"not written: {type(exc).__name__}: {exc}"


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
