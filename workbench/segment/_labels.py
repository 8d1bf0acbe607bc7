"""Audit mode: segments given as labels, their ids, the label file's problems, and a learned comparison."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

from ..data import UNLABELLED
from ..privacy import TOTAL, suppress_counts
from ._choose_k import fit_with_k
from ._defaults import DEFAULTS
from ._model import SegmentationModel
from ._naming import name_segments
from ._profiles import segment_z


def given_segment_ids(
    labels,
    values: pd.Series | np.ndarray | None = None,
    unlabelled: str = UNLABELLED,
) -> tuple[np.ndarray, dict[int, str], list[int]]:
    """Stable integer ids for externally given segment labels.

    Labelled segments are numbered by their mean ``values`` (id 0 = lowest value; equal means by
    label), like learned segments; without ``values`` alphabetically. The ``unlabelled`` group, when
    present, gets the last id and is left out of the value order (it is not a value tier).

    Returns
    -------
    (ids, names, value_order)
        Segment id per customer, ``{id: label}`` and the labelled ids from low to high value.
    """
    labels = pd.Series(np.asarray(labels, dtype=object)).astype(str)
    distinct = sorted(set(labels.unique()) - {unlabelled})
    if values is not None:
        means = pd.Series(np.asarray(values, dtype=float)).groupby(labels.to_numpy()).mean()
        key = {name: (float(means.get(name, np.nan)) if np.isfinite(means.get(name, np.nan)) else -np.inf)
               for name in distinct}
        distinct = sorted(distinct, key=lambda name: (key[name], name))
    order = distinct + ([unlabelled] if (labels == unlabelled).any() else [])
    ids = {name: i for i, name in enumerate(order)}
    value_order = [ids[name] for name in distinct]
    return labels.map(ids).to_numpy(dtype=int), {i: name for name, i in ids.items()}, value_order


def label_quality_table(counts: dict, n_customers: int | None = None) -> pd.DataFrame:
    """The label file's problems in one table: labelled, unlabelled, labels for unknown customers.

    Shares of customers are of the customer table (labelled + unlabelled); the share of unknown
    labels is of the labels in the file.
    """
    customers = int(counts.get("customers_labelled", 0)) + int(counts.get("customers_unlabelled", 0))
    in_file = int(counts.get("labels_in_file", 0))
    rows = [
        ("labels in the file", in_file, None),
        ("distinct segment labels", int(counts.get("distinct_labels", 0)), None),
        ("customers with a label", int(counts.get("customers_labelled", 0)),
         counts.get("customers_labelled", 0) / customers if customers else np.nan),
        (f"customers without a label (audited as \u201c{UNLABELLED}\u201d)", int(counts.get("customers_unlabelled", 0)),
         counts.get("customers_unlabelled", 0) / customers if customers else np.nan),
        ("labels for customers not in the customer table (dropped)",
         int(counts.get("labels_for_unknown_customers", 0)),
         counts.get("labels_for_unknown_customers", 0) / in_file if in_file else np.nan),
    ]
    table = pd.DataFrame(rows, columns=["what", "count", "share"]).set_index("what")
    table["share"] = table["share"].astype(float).round(4)
    return table


def _best_match(table: pd.DataFrame, names, model, exclude) -> pd.DataFrame:
    """Per given segment shown (not excluded, its size printed): the learned segment holding most of it.

    From the printed table alone (``table``: given ids x learned ids, ``"Total"`` margins): the largest
    shown cell of the row over the printed row total. A share from the exact counts would differ between
    two runs one erasure apart by exactly the erased customer, and could point at a hidden cell.
    """
    best = []
    for j in table.index.drop(TOTAL, errors="ignore"):
        n, row = table.loc[j, TOTAL], table.loc[j].drop(TOTAL)
        if j in (exclude or []) or not np.isfinite(n) or n <= 0 or not row.notna().any():
            continue
        top = int(row.idxmax())
        best.append({"segment": int(j), "segment_name": names[j], "learned": top,
                     "learned_name": model.segment_names_[top], "share": float(min(row[top] / n, 1.0))})
    return pd.DataFrame(best, columns=["segment", "segment_name", "learned", "learned_name", "share"])


def _comparison_text(model, reason: str, ari: float, ami: float, best: pd.DataFrame) -> str:
    strength = ("closely" if ari >= 0.8 else "partly" if ari >= 0.4 else "weakly" if ari >= 0.1 else "hardly")
    text = (f"A {model.method} segmentation learned from the same inputs ({model.k} segments; "
            + re.split(r"\.\s", reason)[0].rstrip(".") + f") agrees {strength} with the given segments: adjusted "
            f"Rand index {ari:.2f}, adjusted mutual information {ami:.2f} (1 = the same partition, 0 = no more "
            "agreement than chance), over labelled customers.")
    if len(best):
        whole = best[best["share"] >= 0.9]
        text += (f" {len(whole)} of the {len(best)} given segments large enough to show lie (90% or more) within one "
                 "learned segment")
        text += ": the learned segmentation draws coarser or similar lines there." if len(whole) else "."
    text += " Learned segments: " + "; ".join(f"{j}: {n}" for j, n in model.segment_names_.items()) + "."
    return text


def compare_with_learned(
    features: pd.DataFrame,
    ids: np.ndarray,
    names: dict[int, str],
    settings: dict | None = None,
    seed: int = 0,
    exclude: list[int] | None = None,
    suppression_k: int = 10,
    value: str | None = None,
    suppress=None,
) -> dict:
    """What a learned segmentation of the same customers looks like, against the given segments.

    A :class:`SegmentationModel` (``settings['method']``, k as ``settings['k']``; ``"auto"`` picks k with
    the k report card, as a normal run would) is fitted on the same inputs. Agreement with the given
    segments is measured by the adjusted Rand index and adjusted mutual information over labelled
    customers (segments in ``exclude``, e.g. "unlabelled", are left out), and a crosstab of customers per
    given segment (rows) and learned segment (columns) is small-cell suppressed with ``suppress`` (exact
    counts in, the table as printed out: the stage passes :func:`workbench.privacy.suppress_and_publish`;
    default :func:`workbench.privacy.suppress_counts` with margins, on exact counts). Best matches and
    their shares come from the printed table.

    Returns
    -------
    dict
        ``method``, ``k``, ``k_reason``, ``ari``, ``ami``, ``learned_names`` {id: name}, ``crosstab``
        (DataFrame, suppressed counts, with a ``Total`` row and column), ``best_match`` (per given segment:
        the learned segment holding most of its customers and that share; suppressed segments left out),
        ``text`` (a paragraph), ``model``.
    """
    settings = {**DEFAULTS, **(settings or {})}
    X = features.drop(columns=["customer_id"], errors="ignore")
    ids = np.asarray(ids, dtype=int)
    model, _, reason = fit_with_k(X, settings, value, seed)
    learned = model.predict(X)
    keep = ~np.isin(ids, list(exclude or []))
    ari = float(adjusted_rand_score(ids[keep], learned[keep])) if keep.sum() > 1 else float("nan")
    ami = float(adjusted_mutual_info_score(ids[keep], learned[keep])) if keep.sum() > 1 else float("nan")
    counts = pd.crosstab(pd.Series(ids, name="given"), pd.Series(learned, name="learned"))
    counts = counts.reindex(index=sorted(names), columns=range(model.k), fill_value=0)
    table = suppress(counts) if suppress else suppress_counts(counts, suppression_k, margins=True)
    best = _best_match(table, names, model, exclude)
    table = table.copy()
    table.index = [f"{j}: {names[j]}" if j in names else str(j) for j in counts.index] + ["Total"]
    table.columns = [f"learned {j}" for j in range(model.k)] + ["Total"]
    table.index.name, table.columns.name = "given segment", None
    text = _comparison_text(model, reason, ari, ami, best)
    return {"method": model.method, "k": int(model.k), "k_reason": reason, "ari": ari, "ami": ami,
            "learned_names": dict(model.segment_names_), "crosstab": table, "best_match": best, "text": text,
            "model": model}


def given_model_space(X: pd.DataFrame, ids: np.ndarray, names: dict[int, str], settings: dict, seed: int):
    """The model space a learned segmentation would use, fitted (not clustered) for given segments.

    Returns
    -------
    (SegmentationModel, DataFrame, dict)
        The preprocessor-only model (``method`` "external labels", ``k`` = number of given segments,
        ``segment_names_`` = the labels), the segments' z-scores of each model input, and the
        descriptive name each segment would get from them.
    """
    space = SegmentationModel(
        k=2, transforms=settings.get("transforms") or None, scaler=settings["scaler"],
        winsorize=settings["winsorize"], random_state=seed,
    )
    rows = space._sample(len(X), settings["fit_sample"])
    space.fit_preprocessor(X.iloc[rows])
    space.method = "external labels"
    space.k = len(names)
    Z = space.transform(X)
    z = segment_z(space, Z, ids)
    description = name_segments(z)
    space.segment_names_ = names
    return space, z, description


def mark_evidence(profile: pd.DataFrame, ids: np.ndarray, k: int, min_size: int, description: dict[int, str],
                  unlabelled_id: int | None) -> tuple[pd.DataFrame, list[int]]:
    """Add ``evidence`` (segments below ``min_size``: insufficient) and ``description`` to a profile.

    Small segments and the unlabelled one get no description. Returns the profile and the small ids.
    """
    sizes = np.bincount(ids, minlength=k)
    small = [j for j in range(k) if sizes[j] < min_size]
    evidence = {j: (f"insufficient evidence (fewer than {min_size} customers)" if j in small else "sufficient")
                for j in range(k)}
    profile = profile.copy()
    profile["evidence"] = profile["segment"].map(lambda j: evidence.get(int(j), "") if j >= 0 else "")
    profile["description"] = profile["segment"].map(
        lambda j: "" if j < 0 or (j == unlabelled_id) or j in small else description.get(int(j), ""))
    return profile, small
