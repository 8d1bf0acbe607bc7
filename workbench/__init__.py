"""Segmentation audit workbench: segment a customer base, explain membership, audit fairness and privacy."""

from .data import Dataset, InputError, Roles, load
from .pipeline import open_run
from .report import use_report_style as _use_report_style
from .rundir import Run

_use_report_style()  # one plot style (colour-blind-safe) and figure alt text for every notebook

__version__ = "0.1.0"
__all__ = ["Dataset", "InputError", "Roles", "Run", "load", "open_run", "__version__"]
