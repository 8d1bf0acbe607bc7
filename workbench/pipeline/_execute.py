"""Executing a run's notebooks against its run directory: papermill's parameters, one warm kernel per run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = [
    "01_data_privacy",
    "02_segmentation",
    "03_explain_membership",
    "04_fairness_audit",
    "05_segment_dynamics",
    "06_private_release",
    "07_predicted_value",
    "08_campaign_effect",
]


class NotebookSession:
    """One warm kernel that executes a run's notebooks in sequence.

    Starting a kernel and importing the scientific stack cost a few seconds per notebook, more than
    most notebooks' own work; the notebooks of one run share a kernel instead. Between notebooks the
    kernel's namespace is reset (``%reset -f``) and figures are closed, so each notebook still sees
    only its own variables, exactly as in a fresh kernel; imported modules stay loaded.

    papermill injects the parameters (the ``injected-parameters`` cell, as ``papermill`` on the command
    line does); nbclient, papermill's own engine, executes the cells and records their timings.

    Use as a context manager; :meth:`execute` runs one notebook.
    """

    def __init__(self, notebook_dir: Path):
        self.notebook_dir = Path(notebook_dir)
        self.km = None
        self.kernel_seconds = 0.0
        self.kernel_cpu_seconds: float | None = None  # the kernel's CPU time after the last notebook

    def __enter__(self) -> "NotebookSession":
        import time

        from nbclient.util import run_sync

        t0 = time.perf_counter()
        self.km = _quiet_kernel_manager()(kernel_name="python3")
        run_sync(self.km.start_kernel)(cwd=str(self.notebook_dir))
        self.kernel_seconds = time.perf_counter() - t0
        return self

    def __exit__(self, *exc_info) -> None:
        from nbclient.util import run_sync

        if self.km is not None:
            run_sync(self.km.shutdown_kernel)(now=True)
            self.km = None

    def execute(self, notebook: str, run_dir: Path) -> None:
        """Execute ``<notebook_dir>/<notebook>.ipynb`` into ``<run_dir>/<notebook>.ipynb``.

        The notebook gets the parameters ``run_dir`` and ``config=None`` (the run is already prepared).
        Raises nbclient's ``CellExecutionError`` (``ename``, ``evalue``) when a cell fails; the executed
        notebook, with the error, is kept.
        """
        import nbformat
        from nbclient import NotebookClient
        from papermill.iorw import load_notebook_node
        from papermill.parameterize import parameterize_notebook

        nb = load_notebook_node(str(self.notebook_dir / f"{notebook}.ipynb"))
        nb = parameterize_notebook(nb, {"run_dir": str(run_dir), "config": None}, kernel_name="python3")
        from nbclient.util import run_sync

        client = NotebookClient(nb, km=self.km, kernel_name="python3", record_timing=True,
                                resources={"metadata": {"path": str(self.notebook_dir)}})
        try:
            run_sync(_execute_cells)(client)
        finally:  # the executed notebook is kept, a failed one with its error
            nbformat.write(nb, str(Path(run_dir) / f"{notebook}.ipynb"))
        self.kernel_cpu_seconds = _fresh_namespace(client)  # after a failure the sequence stops


async def _execute_cells(client) -> None:
    """``NotebookClient.async_execute`` on the session's kernel, without its signal handlers.

    nbclient's own ``execute`` answers Ctrl-C and SIGTERM by shutting the kernel down, so an interrupted
    run would read as a failed notebook; here the interrupt reaches :func:`workbench.pipeline.run`, which
    removes its temporary folder and exits with 130.
    """
    from nbclient.util import ensure_async

    client.reset_execution_trackers()
    await client.async_start_new_kernel_client()
    info = await client.async_wait_for_reply(await ensure_async(client.kc.kernel_info()))
    if info is not None and "language_info" in info["content"]:
        client.nb.metadata["language_info"] = info["content"]["language_info"]
    for index, cell in enumerate(client.nb.cells):
        await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)


def _fresh_namespace(client) -> float | None:
    """Reset the kernel's namespace and close figures, so the next notebook starts as in a new kernel.

    Returns the kernel's CPU seconds so far (every thread of the kernel process: DuckDB's, BLAS's), read
    before the reset; the run's manifest records each notebook's share, a figure a loaded machine
    inflates far less than wall time (``bench/bench_suite.py``). None when it could not be read.
    """
    from nbclient.util import run_sync

    if client.kc is None:
        return None
    client.kc.execute("import matplotlib.pyplot as _plt; _plt.close('all'); del _plt\n"
                      "get_ipython().run_line_magic('reset', '-f')", silent=True, store_history=False,
                      user_expressions={"cpu": "__import__('time').process_time()"})
    reply = run_sync(client.kc.get_shell_msg)(timeout=60)
    client.kc.stop_channels()
    client.kc = None
    cpu = reply.get("content", {}).get("user_expressions", {}).get("cpu", {})
    try:
        return float(cpu["data"]["text/plain"])
    except (KeyError, TypeError, ValueError):
        return None


def execute_notebook(notebook: str, run_dir: Path, notebook_dir: Path) -> None:
    """Execute one notebook in a kernel of its own (see :class:`NotebookSession` for a sequence)."""
    with NotebookSession(notebook_dir) as session:
        session.execute(notebook, run_dir)


def short_error(exc: Exception) -> str:
    """One line for a failed notebook: the cell's exception name and message, at most 500 characters."""
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    return f"{ename}: {evalue}".strip()[:500]


def _die_with_parent() -> None:
    """In a child process before ``exec``: be killed when the parent dies (Linux ``PR_SET_PDEATHSIG``).

    ipykernel's own parent poller is a Python thread: a kernel stuck in C code that holds the GIL (a
    backtracking regular expression, a huge sort) never runs it and outlives a killed ``workbench
    run``. SIGKILL from the kernel needs no Python at all. Elsewhere than Linux this does nothing.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
        if os.getppid() == 1:  # the parent died before prctl: do not linger
            os.kill(os.getpid(), signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _quiet_kernel_manager():
    """A kernel manager whose kernel stays quiet and dies with the process that started it.

    Start-up chatter stays out of the progress output; cell errors still reach the executed notebook
    (they travel over the kernel's iopub channel). See :func:`_die_with_parent`.
    """
    from jupyter_client.manager import AsyncKernelManager

    class QuietKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kwargs):
            kwargs.setdefault("stderr", subprocess.DEVNULL)
            if sys.platform.startswith("linux"):
                kwargs.setdefault("preexec_fn", _die_with_parent)
            return await super()._async_launch_kernel(kernel_cmd, **kwargs)

    return QuietKernelManager
