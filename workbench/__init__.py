"""Segmentation audit workbench: segment a customer base, explain membership, audit fairness and privacy."""

from .datasets import Dataset, load
from .run import Run, open_run
from .schema import InputError, Roles

__version__ = "0.1.0"
__all__ = ["Dataset", "InputError", "Roles", "Run", "load", "open_run", "__version__"]
