"""Profiles: the typical member of every segment (median, or the mode of a category) and of the population."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._grouping import _label


def _typical(values: pd.Series):
    if pd.api.types.is_bool_dtype(values):
        return float(values.astype(float).mean() >= 0.5)
    if pd.api.types.is_numeric_dtype(values):
        return float(values.median()) if values.notna().any() else np.nan
    mode = values.dropna().astype(str).mode()
    return mode.iloc[0] if len(mode) else None


def profiles(X: pd.DataFrame, labels, names: dict | None = None, k: int = 10) -> pd.DataFrame:
    """Typical value of every feature per segment (median; mode for categories) plus the population.

    One row per segment (``segment``, ``segment_name``, ``n``) and a last row ``segment = "all"``
    (population medians). Segments with fewer than ``k`` customers are suppressed
    (:func:`workbench.privacy.suppress_rows`).
    """
    from ..privacy import suppress_rows

    labels = pd.Series(np.asarray(labels), index=X.index)
    rows = []
    for seg in sorted(labels.unique().tolist(), key=lambda s: (str(type(s)), s)):
        part = X[labels == seg]
        row = {"segment": str(_label(seg)), "segment_name": (names or {}).get(str(_label(seg)), f"Segment {seg}"),
               "n": int(len(part))}
        row.update({c: _typical(part[c]) for c in X.columns})
        rows.append(row)
    table = pd.DataFrame(rows)
    stats_cols = [c for c in table.columns if c not in ("segment", "segment_name")]
    for c in stats_cols:
        if table[c].dtype == object:
            table[c] = table[c].astype(object)
    table = suppress_rows(table, "n", k, keep=["segment", "segment_name"])
    population = {"segment": "all", "segment_name": "All customers", "n": int(len(X)), "suppressed": False}
    population.update({c: _typical(X[c]) for c in X.columns})
    table = pd.concat([table, pd.DataFrame([population])], ignore_index=True)
    for c in X.columns:  # one type per column, for Parquet
        if not pd.api.types.is_numeric_dtype(table[c]):
            table[c] = table[c].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    return table

