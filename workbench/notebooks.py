"""Keep the committed notebooks clean: execute them and keep only the outputs nbval checks.

``python -m workbench.notebooks refresh notebooks/*.ipynb`` runs each notebook with its default
parameters and stores the outputs of cells marked ``# NBVAL_CHECK_OUTPUT`` (what
``pytest --nbval-lax`` compares); every other output is stripped so the repo holds no data.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

MARK = "# NBVAL_CHECK_OUTPUT"


def refresh(path: Path) -> None:
    """Execute the notebook at ``path`` in its folder and rewrite it with only the checked outputs."""
    nb = nbformat.read(str(path), as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=1800, resources={"metadata": {"path": str(path.parent)}}).execute()
    _keep_checked_outputs(nb)
    nbformat.write(nb, str(path))


def _keep_checked_outputs(nb) -> None:
    """Strip every output except those of checked cells (figures are stripped there too)."""
    # nbval --nbval-lax treats a cell with outputs but no execution count as an error, so checked
    # cells keep a (renumbered) count; every other cell is stripped.
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if MARK in cell.source:
            count += 1
            cell.execution_count = count
            cell.outputs = [o for o in cell.outputs if o.get("output_type") != "display_data"]
            for out in cell.outputs:
                if out.get("output_type") == "execute_result":
                    out["execution_count"] = count
        else:
            cell.execution_count = None
            cell.outputs = []


def main(argv: list[str]) -> None:
    """``refresh NOTEBOOK.ipynb ...``: refresh each notebook in turn."""
    if not argv or argv[0] != "refresh":
        raise SystemExit("usage: python -m workbench.notebooks refresh NOTEBOOK.ipynb ...")
    for name in argv[1:]:
        print(f"refreshing {name}")
        refresh(Path(name))


if __name__ == "__main__":
    main(sys.argv[1:])
