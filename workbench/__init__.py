"""Segmentation audit workbench: segment a customer base, explain membership, audit fairness and privacy.

``import workbench`` imports nothing heavy: the public names and the stage packages (``workbench.fairness``,
``workbench.segment``, …) are loaded on first use (PEP 562), so the command line and every notebook kernel pay
only for the stages they call.
"""

import importlib
import warnings

# pandera imports pyspark.pandas when pyspark (the `spark` extra) is installed, and pyspark warns about
# pandas 3 on import; the workbench never uses pandas-on-Spark, so the warning says nothing to a user.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

__version__ = "0.1.0"

_PUBLIC = {
    "Dataset": "data", "InputError": "data", "Roles": "data", "load": "data",
    "open_run": "pipeline", "Run": "rundir",
}
_PACKAGES = {
    "campaign", "compare", "data", "dynamics", "engine", "explain", "fairness", "features", "notebooks", "pipeline",
    "privacy", "report", "rundir", "scoring", "segment", "statement", "value",
}

__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    elif name in _PACKAGES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC) | _PACKAGES)
