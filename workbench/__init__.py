"""Segmentation audit workbench: segment a customer base, explain membership, audit fairness and privacy."""

import warnings

# pandera imports pyspark.pandas when pyspark (the `spark` extra) is installed, and pyspark warns about
# pandas 3 on import; the workbench never uses pandas-on-Spark, so the warning says nothing to a user.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

from .data import Dataset, InputError, Roles, load
from .pipeline import open_run
from .report import use_report_style as _use_report_style
from .rundir import Run

_use_report_style()  # one plot style (colour-blind-safe) and figure alt text for every notebook

__version__ = "0.1.0"
__all__ = ["Dataset", "InputError", "Roles", "Run", "load", "open_run", "__version__"]
