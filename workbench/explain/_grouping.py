"""Bookkeeping: which original feature each model column comes from, and segment ids as plain labels."""

from __future__ import annotations

import numpy as np


def group_columns(columns: list[str], originals: list[str] | None = None) -> list[str]:
    """The original feature each column comes from.

    A column equal to an original name maps to it; ``name_level`` columns (one-hot dummies) map to
    the longest original ``name`` they start with; anything else is its own original feature.

    Parameters
    ----------
    columns : list of str
        Model (or feature-table) column names.
    originals : list of str, optional
        Original feature names (e.g. ``Roles.feature_columns``).

    Returns
    -------
    list of str
        One original feature per column, in the order of ``columns``.
    """
    originals = sorted(originals or [], key=len, reverse=True)
    out = []
    for col in columns:
        match = next((o for o in originals if col == o or col.startswith(o + "_")), col)
        out.append(match)
    return out


def _unique(seq) -> list:
    return list(dict.fromkeys(seq))


def _aggregation_matrix(input_feature: list[str], features: list[str]) -> np.ndarray:
    """(d, p) 0/1 matrix summing model columns into original features."""
    index = {f: i for i, f in enumerate(features)}
    agg = np.zeros((len(input_feature), len(features)))
    for col, feat in enumerate(input_feature):
        agg[col, index[feat]] = 1.0
    return agg


def _label(value):
    """A segment id as JSON and Parquet want it: ``int`` for integer ids, ``str`` otherwise."""
    return int(value) if isinstance(value, (int, np.integer)) else str(value)
