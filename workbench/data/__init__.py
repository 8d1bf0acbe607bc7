"""Data in: built-in datasets, roles and validation, the synthetic generator, configs.

Everything downstream starts from a :class:`Dataset` (customers, transactions, :class:`Roles`) and a
resolved config dict. Bad input raises :class:`InputError`, whose message names the table, the
column, example rows and the fix.
"""

from ._config import CONFIG_DIR, DATASET_DEFAULTS, READ_MODES, apply_overrides, deep_merge, load_config, read_mode, section
from ._datasets import (
    BUILTIN,
    SYNTHETIC_ROLES,
    UNLABELLED,
    Dataset,
    attach_labels,
    cdnow_path,
    from_config,
    load,
    write_byo,
)
from ._reading import read_table
from ._synthetic import write_parquet_chunks
from ._schema import (
    CONSENT_PURPOSES,
    FEATURE_FAMILIES,
    InputError,
    Roles,
    TransactionRoles,
    validate_customers,
    validate_labels,
    validate_transactions,
)
# last: the engine input path imports workbench.engine, which imports InputError from here

__all__ = [
    "READ_MODES",
    "read_mode",
    "write_parquet_chunks",
    "BUILTIN",
    "CONFIG_DIR",
    "DATASET_DEFAULTS",
    "CONSENT_PURPOSES",
    "FEATURE_FAMILIES",
    "SYNTHETIC_ROLES",
    "UNLABELLED",
    "Dataset",
    "InputError",
    "Roles",
    "TransactionRoles",
    "apply_overrides",
    "attach_labels",
    "cdnow_path",
    "deep_merge",
    "from_config",
    "load",
    "load_config",
    "read_table",
    "section",
    "validate_customers",
    "validate_labels",
    "validate_transactions",
    "write_byo",
]
