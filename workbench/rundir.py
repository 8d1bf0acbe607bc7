"""The run directory: how stages pass artifacts instead of state.

A run directory holds the resolved ``config.yaml``, the prepared data (``data/``: minimised,
consent-filtered, pseudonymised), each stage's artifacts (``artifacts/<stage>/``), summary fragments
(``summary/<stage>.json``, merged into ``summary.json``) and manifest fragments
(``manifest_parts/<name>.json``, merged into ``manifest.json``).

A notebook opens its run with :func:`workbench.pipeline.open_run`, which prepares the data first when
needed; :meth:`Run.require` produces earlier stages' missing artifacts through the producers that
stage modules declare with :func:`register_stage`. This module imports no stage and no pipeline:
producers are found through that registry.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import yaml

from .data import Roles, section

__all__ = ["Run", "register_stage", "to_jsonable"]

_PRODUCERS: dict[str, Callable[["Run"], None]] = {}


def register_stage(artifact: str):
    """Declare the function that produces ``artifact`` (a path relative to ``artifacts/``)."""

    def wrap(func):
        _PRODUCERS[artifact] = func
        return func

    return wrap


_STAGE_MODULES = ("segment", "explain", "fairness", "dynamics", "privacy", "value", "campaign")


def _import_stages() -> None:
    """Import the stage modules so their producers are registered."""
    import importlib

    for name in _STAGE_MODULES:
        try:
            importlib.import_module(f"workbench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"workbench.{name}":
                raise


def to_jsonable(value: Any) -> Any:
    """Convert numpy/pandas scalars and containers into plain JSON types, floats rounded to 10 digits.

    Rounding keeps ``summary.json`` byte-identical between runs that differ only in the last bits of
    floating-point sums.
    """
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return to_jsonable(value.to_dict(orient="records"))
    if isinstance(value, pd.Series):
        return to_jsonable(value.to_dict())
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return None if not np.isfinite(v) else round(v, 10)
    if isinstance(value, (pd.Timestamp, datetime.date)):  # a YAML date (dataset.as_of: 2025-12-31) too
        return value.isoformat()
    return value


class Run:
    """A run directory with typed access to its config, prepared data and artifacts."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    # -- config and prepared data -------------------------------------------------------------
    @property
    def config(self) -> dict:
        return yaml.safe_load((self.path / "config.yaml").read_text())

    def settings(self, name: str, defaults: dict) -> dict:
        """A stage's config section merged over its defaults."""
        return section(self.config, name, defaults)

    @property
    def seed(self) -> int:
        return int(self.config.get("seed", 42))

    @property
    def roles(self) -> Roles:
        return Roles.from_dict(self.read_json("data/roles.json"))

    @property
    def dataset_name(self) -> str:
        return self.read_json("data/prepare.json")["dataset"]

    def customers(self) -> pd.DataFrame:
        """Prepared customer table: pseudonymous ids, no direct identifiers, consent applied."""
        return pd.read_parquet(self.path / "data" / "customers.parquet")

    def transactions(self) -> pd.DataFrame | None:
        path = self.path / "data" / "transactions.parquet"
        return pd.read_parquet(path) if path.exists() else None

    @property
    def has_transactions(self) -> bool:
        return (self.path / "data" / "transactions.parquet").exists()

    @property
    def prepared(self) -> bool:
        return (self.path / "data" / "prepare.json").exists()

    # -- artifacts ------------------------------------------------------------------------------
    def artifact(self, relative: str) -> Path:
        """Path of an artifact under ``artifacts/``; parent folders are created."""
        path = self.path / "artifacts" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def has(self, relative: str) -> bool:
        return (self.path / "artifacts" / relative).exists()

    def require(self, relative: str) -> Path:
        """Return an artifact's path, producing it (and what it needs) first if it is missing."""
        if not self.has(relative):
            _import_stages()
            if relative not in _PRODUCERS:
                raise FileNotFoundError(
                    f"{relative} is missing from {self.path / 'artifacts'} and no stage produces it: "
                    "run the earlier notebooks first."
                )
            _PRODUCERS[relative](self)
        return self.path / "artifacts" / relative

    def write_table(self, relative: str, df: pd.DataFrame) -> Path:
        path = self.artifact(relative)
        df.to_parquet(path, index=False)
        return path

    def read_table(self, relative: str) -> pd.DataFrame:
        return pd.read_parquet(self.require(relative))

    def write_json(self, relative: str, obj: Any) -> Path:
        path = self.path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(to_jsonable(obj), indent=2, sort_keys=False) + "\n")
        return path

    def read_json(self, relative: str) -> Any:
        return json.loads((self.path / relative).read_text())

    # -- summary and manifest fragments ---------------------------------------------------------
    def summarise(self, stage: str, **results: Any) -> None:
        """Add key results of a stage to ``summary.json`` (deterministic values only: no timings)."""
        path = self.path / "summary" / f"{stage}.json"
        current = json.loads(path.read_text()) if path.exists() else {}
        current.update(to_jsonable(results))
        self.write_json(f"summary/{stage}.json", current)

    def add_to_manifest(self, name: str, value: Any) -> None:
        """Record something in ``manifest.json`` (hashes, ledgers: provenance, not results)."""
        self.write_json(f"manifest_parts/{name}.json", value)
