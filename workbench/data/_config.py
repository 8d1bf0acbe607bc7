"""Run configuration: one YAML file per dataset or scenario, plus ``-p key=value`` overrides.

A config has a ``dataset`` section (``builtin: NAME`` with ``params``, or bring-your-own paths and
roles), a ``seed``, and one section per stage (``privacy``, ``segmentation``, ``explain``,
``fairness``, ``dynamics``). Each stage module keeps its own defaults and reads its section with
:func:`section`, so a config only states what differs from the defaults.

Overrides use dotted keys and YAML values: ``-p dataset.params.n_customers=5000``,
``-p segmentation.k_range=[2,6]``. Values are parsed as YAML, so ``-p name=007`` stays a number only
if YAML says so; quote it (``-p name='"007"'``) to keep a string.
"""

from __future__ import annotations

import copy
import glob
from pathlib import Path
from typing import Any

import yaml

from ._schema import InputError

__all__ = ["CONFIG_DIR", "DATASET_DEFAULTS", "apply_overrides", "deep_merge", "load_config", "section"]

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"

#: Keys of the ``dataset:`` section and their defaults (``params`` are the built-in dataset's own).
DATASET_DEFAULTS: dict[str, Any] = {
    "builtin": None,  # a built-in dataset's name, or:
    "name": None,
    # bring your own: customer table (CSV or Parquet: a file, a list, a folder or a glob), relative to the config file
    "customers": None,
    # how bring-your-own tables are read: auto (the engine on Spark or for a folder/glob/list), engine, pandas
    "read": "auto",
    "transactions": None,
    # optional campaign table (CSV or Parquet): id, campaign, arm (treatment|control), assigned_at[, response][, revenue]
    "campaigns": None,
    # the customer choices register: id, kind, value, recorded_at (roles under dataset.roles.choices)
    "choices": None,
    "labels": None,  # external segment labels: customer_id, segment[, assigned_at]
    "label_columns": {},  # {id: …, segment: …, assigned_at: …} when the label file names them otherwise
    "roles": {},  # {customers: {id: …, sensitive: […], feature: {family: […]}, …}, transactions: {…}}
    "params": {},
    "encoding": None,  # CSV encoding; None: detected (utf-8 with or without BOM, else cp1252, else latin-1)
    "delimiter": None,  # CSV delimiter; None: detected from the header line (, ; tab |)
    "as_of": None,  # the date the data describes; None: the day the run prepares it
    "since": None,  # first date of the period analysed (transactions before it are left out); None: all history
    "min_customers": 50,  # fewer customers than this (after loading) is an input error
    # text values longer than this (characters) are replaced by a short stand-in naming their length and hash:
    # one megabyte in a category column made every encoder allocate rows x length (stage 02 hung)
    "max_value_length": 200,
    "ranges": {},  # declared ranges of numeric columns, e.g. {age: [0, 120]}; outside: an input error
    "blank_consent": "no_consent",  # a blank consent flag means no consent (profiling opt-out: opted out)
}


def deep_merge(base: dict, extra: dict) -> dict:
    """Return ``base`` updated by ``extra``, merging nested dicts instead of replacing them."""
    out = copy.deepcopy(base)
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def section(config: dict, name: str, defaults: dict) -> dict:
    """The ``name`` section of ``config`` merged over a stage's ``defaults``."""
    return deep_merge(defaults, config.get(name) or {})


def apply_overrides(config: dict, overrides: list[str] | None) -> dict:
    """Apply ``key.sub=value`` overrides (values parsed as YAML) to a config."""
    config = copy.deepcopy(config)
    for item in overrides or []:
        if "=" not in item:
            raise InputError(f"Parameter '{item}' is not of the form key=value (e.g. seed=7).")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise InputError(f"Parameter '{item}': the value is not valid YAML ({exc}).") from None
        target = config
        parts = key.strip().split(".")
        for part in parts[:-1]:
            nxt = target.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise InputError(f"Parameter '{key}': '{part}' is not a section of the config.")
            target = nxt
        target[parts[-1]] = value
    return config


def load_config(
    config: str | Path | None = None, dataset: str | None = None, overrides: list[str] | None = None
) -> dict:
    """Load a config file, or the built-in config of a dataset, and apply overrides.

    The result carries ``_base_dir``, the folder relative paths in the config are resolved against.
    """
    if (config is None) == (dataset is None):
        raise InputError("Give exactly one of --config FILE or --dataset NAME.")
    if dataset is not None:
        path = CONFIG_DIR / f"{dataset}.yaml"
        if not path.exists():
            names = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
            raise InputError(f"No built-in config for dataset '{dataset}'. Known: {names}.")
    else:
        path = Path(config)
        if not path.exists():
            raise InputError(f"Config file {path} does not exist.")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"Config file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or "dataset" not in data:
        raise InputError(f"Config file {path} needs a `dataset:` section.")
    data = apply_overrides(data, overrides)
    data["_source"] = str(path)
    data["_overrides"] = [item.split("=", 1)[0].strip() for item in overrides or []]
    data.setdefault("name", path.stem)
    data.setdefault("seed", 42)
    data["_base_dir"] = str(path.resolve().parent)
    return data


#: ``dataset.read``: ``auto`` (engine on Spark or for a folder, glob or list of files), ``engine``, ``pandas``.
READ_MODES = ("auto", "engine", "pandas")


def read_mode(config: dict) -> str:
    """``"engine"`` or ``"pandas"``: how ``config``'s dataset is read (see :data:`READ_MODES`).

    Built-in datasets are generated in pandas; one CRM-export CSV on DuckDB stays on pandas by default,
    whose reader detects encodings and delimiters.
    """
    spec = config.get("dataset") or {}
    mode = spec.get("read") or "auto"
    if mode not in READ_MODES:
        raise InputError(f"Config error: dataset.read is {mode!r}; use one of {', '.join(READ_MODES)}.")
    if spec.get("builtin") or mode == "pandas":
        return "pandas"
    if mode == "engine":
        return "engine"
    paths = [spec[k] for k in ("customers", "transactions") if spec.get(k)]
    many = any(isinstance(p, list) or glob.has_magic(str(p)) or (Path(config.get("_base_dir", ".")) / str(p)).is_dir()
               for p in paths)
    return "engine" if (config.get("engine") == "spark" or many) else "pandas"
