"""Executing one notebook with papermill against a run directory."""

from __future__ import annotations

import subprocess
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
