"""Executing one notebook with papermill against a run directory."""

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


def execute_notebook(notebook: str, run_dir: Path, notebook_dir: Path) -> None:
    """Execute ``<notebook_dir>/<notebook>.ipynb`` into ``<run_dir>/<notebook>.ipynb``.

    The notebook gets the parameters ``run_dir`` and ``config=None`` (the run is already prepared).
    Raises papermill's error when a cell fails; the executed notebook, with the error, is kept.
    """
    import papermill  # slow to import: only when notebooks are executed

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
