"""Checking a resolved config against the keys the workbench knows, before anything runs.

A key nothing reads is worse than an error: a reviewer who set ``-p n_customers=3000`` believes they
audited 3,000 customers. :func:`check_config` walks the config and raises
:class:`~workbench.data.InputError` (exit code 2) for an unknown key or a value of the wrong type or
range, naming the key, where it came from (the config file or ``-p``) and the nearest known key.

The known keys are built from each stage package's ``DEFAULTS`` (so a new default is known as soon as
it exists), the dataset section's :data:`~workbench.data.DATASET_DEFAULTS`, the built-in dataset's own
parameters, and :data:`FREE_FORM`: sections whose keys are the user's names (policy actions, roles,
attributes, bounds). To teach the schema a new free-form section, add its dotted path to
:data:`FREE_FORM`; a new typed key with an unusual type or range goes in :data:`TYPES` or
:data:`RANGES`.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import numbers
from typing import Any, Callable

from ..data import BUILTIN, DATASET_DEFAULTS, READ_MODES, InputError

__all__ = [
    "FREE_FORM", "RANGES", "TYPES", "check_against_data", "check_config", "known_config", "resolved_config",
]

#: Config sections and the package whose ``DEFAULTS`` (or ``features.DEFAULTS`` for nested ones) they
#: are merged over. A package without ``DEFAULTS`` makes its section free-form.
SECTIONS = {
    "privacy": "workbench.privacy",
    "segmentation": "workbench.segment",
    "explain": "workbench.explain",
    "fairness": "workbench.fairness",
    "dynamics": "workbench.dynamics",
    "report": "workbench.report",
    "value": "workbench.value",
    "campaign": "workbench.campaign",
    "choices": "workbench.privacy._choices",
}
NESTED = {"segmentation.features": "workbench.features"}

#: Dotted paths whose keys are the user's own names: anything below them is accepted.
FREE_FORM = {
    "dataset.roles", "dataset.label_columns", "dataset.ranges",
    "privacy.dp.bounds", "privacy.dp.impute",
    "segmentation.transforms",
    "fairness.labels", "fairness.bands", "fairness.policy", "fairness.reference",
    "spark.conf",
    "campaign.actions",
}

_ANY = object()
#: Types of keys whose default does not tell (``None`` defaults, unions).
TYPES: dict[str, Any] = {
    "campaign.cost_per_contact": (int, float, type(None)),
    "campaign.value_per_response": (int, float, type(None)),
    "campaign.budget_share": (int, float, type(None)),
    "segmentation.k": (int, str),
    "privacy.dp.population": (str, type(None)),
    "spark.scratch": (str, type(None)),
    "duckdb.memory_limit": (str, type(None)),
    "duckdb.threads": (int, type(None)),
    "duckdb.temp_directory": (str, type(None)),
    "segmentation.reference_run": (str, type(None)),
    "segmentation.refit_n_init": (int, type(None)),
    "value.calibration_end": (str, type(None)),
    "value.holdout_days": (int, type(None)),
    "fairness.reference": (str, dict),
    "fairness.sensitive": (list, type(None)),
    "fairness.value_column": (str, type(None)),
    "privacy.key_file": (str, type(None)),
    "privacy.forget": (str, type(None)),
    "dynamics.n_windows": (int, type(None)),
    "dynamics.lookback_months": (int, type(None)),
    "dynamics.sensitive": (list, type(None)),
    "explain.one_vs_rest": (int, type(None)),
    "explain.actionable": (list, type(None)),
    "segmentation.features.transaction_families": (list, type(None)),
    "segmentation.features.customer_families": (list, type(None)),
    "dataset.params.migration": (dict, type(None)),
    # the earlier run a new run is compared with (`workbench compare`, a section of index.html);
    # checked by _check_typed_free_form, ``report`` being a free-form section
    "report.compare_with": (str, type(None)),
}


def _positive(v) -> str | None:
    return None if v > 0 else "must be > 0"


def _unit(v) -> str | None:
    return None if 0 <= v <= 1 else "must lie in [0, 1]"


def _open_unit(v) -> str | None:
    return None if 0 < v < 1 else "must lie strictly between 0 and 1"


def _ordered_pair(v) -> str | None:
    ok = isinstance(v, list) and len(v) == 2 and all(isinstance(x, numbers.Real) for x in v) and v[0] <= v[1]
    return None if ok else "must be two numbers [low, high] with low <= high"


def _k_range(v) -> str | None:
    ok = _ordered_pair(v) is None and all(isinstance(x, int) for x in v) and v[0] >= 2
    return None if ok else "must be two whole numbers [low, high] with 2 <= low <= high"


def _ratio(v) -> str | None:
    ok = _ordered_pair(v) is None and 0 < v[0] <= 1 <= v[1]
    return None if ok else "must be [low, high] with 0 < low <= 1 <= high"


#: Range checks by dotted key: a function of the value returning what is wrong, or None.
RANGES: dict[str, Callable[[Any], str | None]] = {
    "privacy.dp.epsilon": _positive,
    "privacy.dp.delta": lambda v: None if 0 <= v < 1 else "must lie in [0, 1)",
    "privacy.dp.alpha": _open_unit,
    "privacy.suppression_k": lambda v: None if v >= 1 else "must be >= 1",
    "duckdb.threads": lambda v: None if v >= 1 else "must be >= 1",
    "privacy.protection_width": lambda v: None if v >= 1 else "must be >= 1 (1: only exact values are disclosures)",
    "segmentation.k_range": _k_range,
    "segmentation.k": lambda v: None if v == "auto" or (isinstance(v, int) and v >= 1) else "must be 'auto' or a whole number >= 1",
    "segmentation.winsorize": lambda v: None if 0 <= v < 0.5 else "must lie in [0, 0.5)",
    "segmentation.min_segment_size": lambda v: None if v >= 1 else "must be >= 1",
    "segmentation.structure.alpha": _open_unit,
    "value.when_unfit": lambda v: None if v in ("warn", "historical") else "must be 'warn' or 'historical'",
    "value.fit_gate.alpha": _open_unit,
    "fairness.alpha": _open_unit,
    "fairness.thresholds.ratio": _ratio,
    "fairness.thresholds.difference": lambda v: None if 0 < v < 1 else "must lie strictly between 0 and 1",
    "fairness.min_group_size": lambda v: None if v >= 1 else "must be >= 1",
    "fairness.correction": lambda v: None if v in ("holm", "bh") else "must be 'holm' or 'bh'",
    "explain.fidelity_threshold": _unit,
    "dynamics.stale_tolerance": _unit,
    "dynamics.fit_coverage": _open_unit,
    "dynamics.window_months": lambda v: None if v >= 1 else "must be >= 1",
    "dataset.min_customers": lambda v: None if v >= 1 else "must be >= 1",
    "dataset.max_value_length": lambda v: None if v >= 1 else "must be >= 1",
    "dataset.read": lambda v: None if v in READ_MODES else f"must be one of {', '.join(READ_MODES)}",
    "dataset.params.n_customers": lambda v: None if v >= 1 else "must be >= 1",
}


def _defaults_of(module: str) -> dict | None:
    try:
        return getattr(importlib.import_module(module), "DEFAULTS", None)
    except ImportError:
        return None


def _dataset_params(spec: dict) -> dict:
    """A built-in dataset's parameters and their defaults, from its loader's signature."""
    loader = BUILTIN.get(spec.get("builtin")) if isinstance(spec, dict) else None
    if loader is None:
        return {}
    return {
        name: (p.default if p.default is not inspect.Parameter.empty else None)
        for name, p in inspect.signature(loader).parameters.items()
    }


def known_config(config: dict | None = None) -> dict:
    """Every known key with its default: the config a run would use if it set nothing.

    Free-form sections appear with their defaults (often empty).
    """
    from ..engine import DUCKDB_DEFAULTS, SPARK_DEFAULTS

    known: dict[str, Any] = {"name": None, "seed": 42, "engine": "duckdb", "spark": dict(SPARK_DEFAULTS),
                             "duckdb": dict(DUCKDB_DEFAULTS)}
    dataset = dict(DATASET_DEFAULTS)
    spec = (config or {}).get("dataset") or {}
    dataset["params"] = _dataset_params(spec)
    known["dataset"] = dataset
    for name, module in SECTIONS.items():
        defaults = _defaults_of(module)
        known[name] = _ANY if defaults is None else dict(defaults)
    for path, module in NESTED.items():
        section, key = path.split(".")
        if isinstance(known.get(section), dict):
            known[section][key] = dict(_defaults_of(module) or {})
    return known


def _flatten(tree: dict, prefix: str = "") -> list[str]:
    keys = []
    for k, v in tree.items():
        path = f"{prefix}{k}"
        keys.append(path)
        if isinstance(v, dict) and path not in FREE_FORM:
            keys += _flatten(v, path + ".")
    return keys


def _nearest(path: str, known_paths: list[str]) -> str | None:
    """The known key a mistyped or misplaced ``path`` most likely meant."""
    leaf = path.rsplit(".", 1)[-1]
    same_leaf = [k for k in known_paths if k.rsplit(".", 1)[-1] == leaf and k != path]
    if same_leaf:
        return min(same_leaf, key=len)
    close = difflib.get_close_matches(path, known_paths, n=1, cutoff=0.6)
    if close:
        return close[0]
    leaves = {k.rsplit(".", 1)[-1]: k for k in known_paths}
    close = difflib.get_close_matches(leaf, list(leaves), n=1, cutoff=0.7)
    return leaves[close[0]] if close else None


def _origin(path: str, config: dict) -> str:
    overridden = config.get("_overrides") or []
    if any(path == o or path.startswith(o + ".") or o.startswith(path + ".") for o in overridden):
        return "from -p"
    return f"in {config.get('_source', 'the config')}"


def _type_ok(value: Any, expected: Any) -> bool:
    if expected is _ANY:
        return True
    kinds = expected if isinstance(expected, tuple) else (expected,)
    for kind in kinds:
        if kind is float and isinstance(value, numbers.Real) and not isinstance(value, bool):
            return True
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if kind not in (int, float) and isinstance(value, kind):
            return True
    return False


def _expected(path: str, default: Any) -> Any:
    if path in TYPES:
        return TYPES[path]
    if default is None:
        return _ANY
    if isinstance(default, bool):
        return bool
    if isinstance(default, int):
        return int
    if isinstance(default, float):
        return float
    return type(default)


def _type_name(expected: Any) -> str:
    kinds = expected if isinstance(expected, tuple) else (expected,)
    names = {bool: "true/false", int: "a whole number", float: "a number", str: "text", list: "a list",
             dict: "a section (key: value lines)", type(None): "null"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _walk(tree: dict, known: Any, prefix: str, config: dict, known_paths: list[str], problems: list[str]) -> None:
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if not prefix and str(key).startswith("_"):
            continue  # bookkeeping added by load_config
        if known is _ANY or prefix[:-1] in FREE_FORM:
            continue
        if key not in known:
            hint = _nearest(path, known_paths)
            problems.append(
                f"unknown key '{path}' ({_origin(path, config)}): nothing reads it."
                + (f" Did you mean {hint}?" if hint else "")
            )
            continue
        default = known[key]
        if default is _ANY:
            continue  # a section whose package declares no DEFAULTS: free-form
        expected = _expected(path, default)
        if value is not None and not _type_ok(value, expected):
            problems.append(f"'{path}' ({_origin(path, config)}) is {value!r}: it must be {_type_name(expected)}.")
            continue
        if path in RANGES and value is not None:
            wrong = RANGES[path](value)
            if wrong:
                problems.append(f"'{path}' ({_origin(path, config)}) is {value!r}: it {wrong}.")
                continue
        if isinstance(value, dict) and isinstance(default, dict) and path not in FREE_FORM:
            _walk(value, default, path + ".", config, known_paths, problems)


def _check_typed_free_form(config: dict, problems: list[str]) -> None:
    """Types of the few keys a free-form section (one without ``DEFAULTS``, as ``report``) declares in TYPES."""
    for path in ("report.compare_with",):
        section_name, key = path.split(".")
        value = (config.get(section_name) or {}).get(key) if isinstance(config.get(section_name), dict) else None
        if value is not None and not _type_ok(value, TYPES[path]):
            problems.append(f"'{path}' ({_origin(path, config)}) is {value!r}: it must be {_type_name(TYPES[path])}.")


def check_config(config: dict) -> None:
    """Raise :class:`InputError` listing every unknown key and every value of a wrong type or range.

    Parameters
    ----------
    config : dict
        A resolved config (:func:`workbench.data.load_config`).
    """
    known = known_config(config)
    known_paths = _flatten(known)
    problems: list[str] = []
    _walk(config, known, "", config, known_paths, problems)
    _check_typed_free_form(config, problems)
    _check_orders(config, known, problems)
    if problems:
        raise InputError("Config error:\n" + "\n".join(f"  {p}" for p in problems)
                         + "\nSee `workbench config --show` for every known key and its default.")


def _check_orders(config: dict, known: dict, problems: list[str]) -> None:
    """Pairs of settings that only make sense in one order (each side set or defaulted)."""
    dyn = {**(known.get("dynamics") or {}), **(config.get("dynamics") or {})}
    if isinstance(dyn.get("psi_moderate"), numbers.Real) and isinstance(dyn.get("psi_major"), numbers.Real):
        if dyn["psi_moderate"] >= dyn["psi_major"]:
            problems.append("'dynamics.psi_moderate' must be below 'dynamics.psi_major'.")


def check_against_data(config: dict, n_customers: int) -> None:
    """Checks that need the prepared data: ``segmentation.k_range`` and ``k`` within the customer count."""
    seg = config.get("segmentation") or {}
    k_range = seg.get("k_range")
    if isinstance(k_range, list) and len(k_range) == 2 and isinstance(k_range[1], int) and k_range[1] > n_customers:
        raise InputError(
            f"Config error: 'segmentation.k_range' ({_origin('segmentation.k_range', config)}) is {k_range}, "
            f"but only {n_customers} customers remain after consent and erasure: lower its upper end."
        )
    k = seg.get("k")
    if isinstance(k, int) and not isinstance(k, bool) and k > n_customers:
        raise InputError(
            f"Config error: 'segmentation.k' ({_origin('segmentation.k', config)}) is {k}, more segments "
            f"than the {n_customers} customers."
        )


def resolved_config(config: dict) -> dict:
    """The config with every default filled in: what a run of it will use (``workbench config --show``)."""
    from ..data import deep_merge

    def plain(tree):
        return {k: ({} if v is _ANY else plain(v) if isinstance(v, dict) else v) for k, v in tree.items()}

    user = {k: v for k, v in config.items() if not str(k).startswith("_")}
    return deep_merge(plain(known_config(config)), user)
