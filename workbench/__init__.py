"""Segmentation audit workbench: segment a customer base, explain membership, audit fairness and privacy."""

from .data import Dataset, InputError, Roles, load
from .pipeline import open_run
from .rundir import Run

__version__ = "0.1.0"
__all__ = ["Dataset", "InputError", "Roles", "Run", "load", "open_run", "__version__"]
