"""Drift: population stability per feature, and how segments' members and centroids moved."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ._states import Dynamics


def psi(expected, actual, bins: int = 10, eps: float = 1e-4) -> float:
    """Population stability index of ``actual`` against ``expected``.

    ``PSI = sum_i (a_i - e_i) ln(a_i / e_i)`` over bins: quantile bins of ``expected`` for numeric
    values with more than ``bins`` distinct values, else one bin per value. Missing values form
    their own bin. Shares are floored at ``eps``. Below 0.1 is usually read as stable, 0.1-0.25 as a
    moderate shift, above 0.25 as a major one.
    """
    e = pd.Series(expected)
    a = pd.Series(actual)
    numeric = (pd.api.types.is_numeric_dtype(e) and pd.api.types.is_numeric_dtype(a)
               and not pd.api.types.is_bool_dtype(e))
    if numeric:
        ev = e.to_numpy(dtype=float, na_value=np.nan)
        av = a.to_numpy(dtype=float, na_value=np.nan)
        e_na, a_na = np.isnan(ev), np.isnan(av)
        ev, av = ev[~e_na], av[~a_na]
        values = np.unique(ev)
        if len(values) > bins:
            edges = np.unique(np.quantile(ev, np.linspace(0, 1, bins + 1)[1:-1]))
            e_bin = np.searchsorted(edges, ev, side="right")
            a_bin = np.searchsorted(edges, av, side="right")
            n_bins = len(edges) + 1
        else:  # one bin per value (values absent from expected get bins of their own)
            values = np.union1d(values, np.unique(av))
            e_bin = np.searchsorted(values, ev)
            a_bin = np.searchsorted(values, av)
            n_bins = len(values)
        e_counts = np.bincount(e_bin, minlength=n_bins).astype(float)
        a_counts = np.bincount(a_bin, minlength=n_bins).astype(float)
    else:
        codes, _ = pd.factorize(pd.concat([e, a], ignore_index=True), use_na_sentinel=True)
        e_codes, a_codes = codes[: len(e)], codes[len(e):]
        e_na, a_na = e_codes < 0, a_codes < 0
        n_bins = int(codes.max()) + 1 if len(codes) else 0
        e_counts = np.bincount(e_codes[~e_na], minlength=n_bins).astype(float)
        a_counts = np.bincount(a_codes[~a_na], minlength=n_bins).astype(float)
    e_counts = np.append(e_counts, e_na.sum())
    a_counts = np.append(a_counts, a_na.sum())
    if e_counts.sum() == 0 or a_counts.sum() == 0:
        return float("nan")
    pe = np.maximum(e_counts / e_counts.sum(), eps)
    pa = np.maximum(a_counts / a_counts.sum(), eps)
    return float(np.sum((pa - pe) * np.log(pa / pe)))


def feature_drift(expected: pd.DataFrame, actual: pd.DataFrame, bins: int = 10) -> pd.Series:
    """PSI of every column shared by two feature tables (``customer_id`` ignored)."""
    cols = [c for c in expected.columns if c in actual.columns and c != "customer_id"]
    return pd.Series({c: psi(expected[c], actual[c], bins=bins) for c in cols}, name="psi", dtype=float)


def drift_flags(drift: pd.DataFrame, moderate: float = 0.1, major: float = 0.25) -> pd.DataFrame:
    """Per feature: largest PSI over the window pairs, where it happened, and its band."""
    if drift.empty:
        return pd.DataFrame(columns=["feature", "max_psi", "between", "band"])
    peak = drift.max(axis=1)
    where = drift.fillna(-1).idxmax(axis=1)
    band = np.where(peak >= major, "major shift", np.where(peak >= moderate, "moderate shift", "stable"))
    out = pd.DataFrame({"feature": drift.index, "max_psi": peak.to_numpy(), "between": where.to_numpy(),
                        "band": band})
    return out.sort_values(["max_psi", "feature"], ascending=[False, True]).reset_index(drop=True)


def cohort_shift(dyn: Dynamics, before: str, after: str, min_n: int = 30) -> pd.DataFrame:
    """How the members of each segment changed between two windows, beyond everyone's change.

    For the customers in segment ``s`` in ``before`` who are scored in both windows, the mean of
    each model input at ``after`` minus its mean at ``before`` (in model-input units: standard deviations for a
    standardised k-means), minus the same change among all other customers. Changes shared by
    everyone (tenure grows by the window length for all) cancel; what one segment's members did
    differently stands out. Inputs expanded from one feature (one-hot levels) are summed by
    absolute value into their original feature.

    Returns
    -------
    pandas.DataFrame
        Rows = segments (value order, high first; cohorts smaller than ``min_n`` left out),
        columns = original features; values = the excess mean shift.
    """
    key = (before, after)
    if key not in dyn.cohort_means:
        raise KeyError(f"No cohort means for {before}→{after}; compute segment_states with cohort=True.")
    seg, overall = dyn.cohort_means[key]
    k, d = len(seg), (seg.shape[1] - 1) // 2
    n = seg[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        delta_seg = (seg[:, 1 + d:] - seg[:, 1:1 + d]) / n[:, None]
        rest_n = overall[0] - n
        rest_change = (overall[1 + d:] - overall[1:1 + d])[None, :] - (seg[:, 1 + d:] - seg[:, 1:1 + d])
        delta_rest = rest_change / rest_n[:, None]
    excess = pd.DataFrame(delta_seg - delta_rest, columns=dyn.input_names)
    excess.index = range(k)
    features = dyn.input_feature if len(dyn.input_feature) == len(dyn.input_names) else dyn.input_names
    grouped = {}
    for f in dict.fromkeys(features):
        cols = [c for c, g in zip(dyn.input_names, features) if g == f]
        grouped[f] = excess[cols].sum(axis=1) if len(cols) == 1 else excess[cols].abs().sum(axis=1)
    out = pd.DataFrame(grouped)
    order = [s for s in reversed(dyn.value_order) if s < k and n[s] >= min_n]
    out = out.loc[order]
    out.index = [dyn.names.get(s, f"Segment {s}") for s in order]
    out.index.name = f"members of ({before}) {before}→{after}"
    return out


def cohort_flags(shift: pd.DataFrame, threshold: float = 0.1, top: int = 4) -> pd.DataFrame:
    """Per segment, the features whose members' excess shift (:func:`cohort_shift`) is largest.

    Returns
    -------
    pandas.DataFrame
        ``segment``, ``changed`` (features with ``|shift| >= threshold``, largest first, at most
        ``top``, with the signed shift).
    """
    rows = []
    for seg, values in shift.iterrows():
        v = values.dropna()
        v = v[v.abs() >= threshold].reindex(v.abs().sort_values(ascending=False).index).dropna()[:top]
        rows.append({"segment": seg, "changed": ", ".join(f"{f} ({x:+.2f})" for f, x in v.items()) or "—"})
    return pd.DataFrame(rows, columns=["segment", "changed"])  # the columns even when no segment has members


def centroid_shift(dyn: Dynamics) -> pd.DataFrame:
    """How far each segment's centroid (mean model input of its members) moved.

    Distances are Euclidean in the model's input space (standardised units for k-means), between the
    compared windows (``Dynamics.pairs``: the same season a year apart where the history allows, so
    a segment's seasonal swing is not a step; the largest step is reported) and from the first window
    of the last window's season to the last. ``top_inputs`` names the model inputs that moved most
    over that span.
    """
    labels = dyn.labels
    first = labels[(len(labels) - 1) % dyn.pair_lag]  # the same season as the last window
    rows = []
    for s in dyn.value_order:
        def centroid(label, s=s):
            cent = dyn.centroids[label]
            return cent[s] if s < len(cent) else np.full(len(dyn.input_names), np.nan)

        steps = np.array([np.sqrt(((centroid(b) - centroid(a)) ** 2).sum()) for a, b in dyn.pairs])
        delta = centroid(labels[-1]) - centroid(first)
        overall = float(np.sqrt(np.nansum(delta ** 2))) if not np.isnan(delta).all() else np.nan
        top = ""
        if not np.isnan(delta).all():
            idx = np.argsort(-np.abs(np.nan_to_num(delta)))[:3]
            top = ", ".join(f"{dyn.input_names[j]} ({delta[j]:+.2f})" for j in idx)
        largest = int(np.nanargmax(steps)) if len(steps) and not np.isnan(steps).all() else None
        rows.append(
            {
                "segment": dyn.names.get(s, f"Segment {s}"),
                "first_to_last": overall,
                "largest_step": float(steps[largest]) if largest is not None else np.nan,
                "largest_step_between": "→".join(dyn.pairs[largest]) if largest is not None else "",
                "top_inputs": top,
            }
        )
    return pd.DataFrame(rows).sort_values("first_to_last", ascending=False, na_position="last").reset_index(drop=True)
