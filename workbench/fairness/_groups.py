"""Sensitive groups: one group label per customer and attribute, bands, intersections, ``"unknown"``."""

from __future__ import annotations

import itertools
import re
from typing import Any

import numpy as np
import pandas as pd

UNKNOWN = "unknown"


def _is_unknown(label: str) -> bool:
    """``"unknown"``, or an intersection with an unknown part (``"female × unknown"``): an
    intersection is only as known as its least known attribute."""
    return any(part.strip() == UNKNOWN for part in str(label).split(" × "))


def _fmt_value(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(int(v))
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _band_labels(edges: list[float]) -> list[str]:
    labels = []
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        last = i == len(edges) - 2
        if not np.isfinite(hi) or (last and hi >= 100):
            labels.append(f"{_fmt_value(lo)}+")
        elif float(lo).is_integer() and float(hi).is_integer():
            labels.append(f"{int(lo)}–{int(hi) - 1}")
        else:
            labels.append(f"{lo:g}–<{hi:g}")
    return labels


def group_labels(
    values: pd.Series,
    bands: list[float] | None = None,
    labels: dict | None = None,
    auto_band: int = 12,
) -> pd.Series:
    """Group label per customer for one sensitive attribute, missing values as ``"unknown"``.

    Parameters
    ----------
    values : pandas.Series
        The attribute's raw values.
    bands : list of float, optional
        Left-closed band edges for a numeric attribute (``[18, 30, 45, 60, 120]``); values outside
        the edges are ``"unknown"``.
    labels : dict, optional
        Display name per raw value (keys compared as strings), e.g. ``{0: "men", 1: "women"}``.
    auto_band : int
        A numeric attribute without bands and with more distinct values than this is cut into
        quintiles.

    Returns
    -------
    pandas.Series
        Ordered categorical of strings; ``"unknown"`` is the last category when present.
    """
    values = pd.Series(values).reset_index(drop=True)
    if isinstance(values.dtype, pd.CategoricalDtype) and pd.api.types.is_numeric_dtype(values.cat.categories) \
            and not pd.api.types.is_bool_dtype(values.cat.categories):
        # numbers held as a categorical (a Parquet dictionary column) are numbers: banded like any other,
        # not one group per distinct age
        values = values.astype(float)
    missing = values.isna().to_numpy()
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and bands is None and values.nunique() > auto_band:
        qs = np.unique(np.nanquantile(values.to_numpy(dtype=float), [0, 0.2, 0.4, 0.6, 0.8]))
        bands = [*qs.tolist(), np.inf]
    if numeric and bands is not None:
        edges = [float(b) for b in bands]
        names = _band_labels(edges)
        cut = pd.cut(values.astype(float), edges, right=False, labels=names)
        out = cut.astype(object)
        order = names
    else:  # format the distinct values only: one factorize for a million rows
        codes, uniq = pd.factorize(values)
        names = np.array([_fmt_value(u) for u in uniq] + [UNKNOWN], dtype=object)
        out = names[codes]  # code -1 (missing) picks the trailing UNKNOWN
        order = sorted(dict.fromkeys(names[:-1]), key=_natural_key)
    out = pd.Series(out, dtype=object)
    out[pd.isna(out).to_numpy() | missing] = UNKNOWN
    mapping = {str(k): str(v) for k, v in (labels or {}).items()}
    if mapping:
        out = out.map(mapping).fillna(out)
        order = [mapping.get(s, s) for s in order]
    present = set(pd.unique(out))
    cats = [c for c in dict.fromkeys(order) if c in present and c != UNKNOWN]
    if UNKNOWN in present:
        cats.append(UNKNOWN)
    return pd.Series(pd.Categorical(out, categories=cats, ordered=True), name=values.name)


def _natural_key(s: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(s))]


def sensitive_groups(customers: pd.DataFrame, attributes: list[str], settings: dict) -> pd.DataFrame:
    """One categorical column of group labels per attribute and per intersection ("a × b")."""
    out = {}
    bands = settings.get("bands") or {}
    labels = settings.get("labels") or {}
    for attr in attributes:
        out[attr] = group_labels(customers[attr], bands.get(attr), labels.get(attr)).array
    frame = pd.DataFrame(out)
    for combo in settings.get("intersections") or []:
        combo = [c for c in combo if c in frame.columns]
        if len(combo) < 2:
            continue
        name = " × ".join(combo)
        joined = frame[combo[0]].astype(str)
        for c in combo[1:]:
            joined = joined + " × " + frame[c].astype(str)
        cats = [" × ".join(p) for p in _product([list(frame[c].cat.categories) for c in combo])]
        present = set(joined)
        frame[name] = pd.Categorical(joined, categories=[c for c in cats if c in present], ordered=True)
    frame.index = customers.index
    return frame


def _product(lists):
    return itertools.product(*lists)


def _codes(groups) -> tuple[np.ndarray, list[str]]:
    """Integer codes and labels of a group vector; missing values become ``"unknown"``.

    Categoricals keep their category order; other values are sorted naturally, ``"unknown"`` last.
    Only the distinct values are formatted, so a million rows cost one ``factorize``.
    """
    if isinstance(groups, pd.Series) and isinstance(groups.dtype, pd.CategoricalDtype):
        cat = pd.Series(groups.cat.remove_unused_categories().values).cat
        codes = cat.codes.to_numpy().astype(np.int64)
        labels = [str(c) for c in cat.categories]
        if (codes < 0).any():
            if UNKNOWN not in labels:
                labels.append(UNKNOWN)
            codes = np.where(codes < 0, labels.index(UNKNOWN), codes)
        return codes, labels
    raw, uniques = pd.factorize(pd.Series(np.asarray(groups, dtype=object) if not isinstance(groups, pd.Series) else groups))
    labs = [_fmt_value(u) for u in uniques]
    if (raw < 0).any():
        raw = np.where(raw < 0, len(labs), raw)
        labs.append(UNKNOWN)
    final = sorted(set(labs) - {UNKNOWN}, key=_natural_key) + ([UNKNOWN] if UNKNOWN in labs else [])
    pos = {lab: i for i, lab in enumerate(final)}
    remap = np.array([pos[lab] for lab in labs], dtype=np.int64)
    return remap[raw], final
