"""Nearest-centre scoring of a small batch in NumPy, step for step the arithmetic of the exported SQL.

An incremental batch re-scores ~1% of the customers. The engine computes their features (the
exported query's ``features`` subquery: the aggregation over their transactions, objections and
corrections), but planning the model-space and scoring subqueries (a few hundred literals) costs
the engine ~0.1 s whatever the row count, more than scoring a few thousand rows. For a batch of at
most :data:`MAX_ROWS` customers, the driver scores the features itself with the same operations in
the same order as :func:`workbench.engine.score_parts` writes them (casts, log, impute, winsorise,
scale, weighted one-hot, ``2 z.c - ||c||^2`` summed left to right, ties to the lower segment,
the margin to the runner-up), so segments are the same and margins agree to rounding of ``ln``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._sql import _ident, export_query, feature_ctes

#: The largest batch scored on the driver; larger ones are scored by the engine (the exported query).
MAX_ROWS = 50_000


def features_query(model, frozen, warehouse) -> str:
    """The exported query's ``features``: ``customer_id`` and the model's inputs, one-hot ones as text.

    The casts are the engine's (as :func:`workbench.engine._queries.model_space_exprs` casts them),
    so a value is read exactly as the exported query reads it.
    """
    cols = ["customer_id AS customer_id"]
    for col, transform in model.transforms_.items():
        kind = "VARCHAR" if transform == "onehot" else "DOUBLE"
        cols.append(f"CAST({_ident(col)} AS {kind}) AS {_ident(col)}")
    return f"WITH {', '.join(feature_ctes(model, frozen, warehouse))} SELECT {', '.join(cols)} FROM features"


def _numeric(values: pd.Series, pipeline) -> np.ndarray:
    """:func:`workbench.engine._queries._numeric_expr` in NumPy (NULL and NaN both missing)."""
    steps = pipeline.named_steps
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if "log" in steps:
        x = np.log(1.0 + np.maximum(x, 0.0))  # ln(1 + greatest(x, 0)) as the SQL writes it; NaN stays NaN
    x = np.where(np.isnan(x), float(steps["impute"].statistics_[0]), x)
    w = steps["winsorize"]
    if np.isfinite(w.lower_[0]):
        x = np.minimum(np.maximum(x, float(w.lower_[0])), float(w.upper_[0]))
    scaler = steps["scale"]
    center = scaler.mean_[0] if hasattr(scaler, "mean_") else scaler.center_[0]
    return (x - float(center)) / float(scaler.scale_[0])


def _onehot(values: pd.Series, pipeline) -> list[np.ndarray]:
    """:func:`workbench.engine._queries._onehot_exprs` in NumPy: the weight where the text is the level."""
    weight = float(pipeline.named_steps["weight"].weight)
    text = values.astype(object).where(values.notna(), "missing").to_numpy(dtype=object)
    return [np.where(text == str(level), weight, 0.0) for level in pipeline.named_steps["onehot"].categories_[0]]


def model_space(model, features: pd.DataFrame) -> list[np.ndarray]:
    """The model-space columns ``z0, z1, …`` of ``features`` (raw inputs as :func:`features_query` gives them)."""
    z = []
    for col, transform in model.transforms_.items():
        pipeline = model.preprocessor_.named_transformers_[col]
        z += _onehot(features[col], pipeline) if transform == "onehot" else [_numeric(features[col], pipeline)]
    return z


def score(model, features: pd.DataFrame) -> pd.DataFrame:
    """``customer_id``, ``segment``, ``margin`` of each row of ``features``, as the exported query scores them."""
    z, centers = model_space(model, features), np.asarray(model.cluster_centers_, dtype=float)
    s = []
    for c in centers:  # summed left to right, as the engine adds the SQL's terms
        dot = z[0] * float(c[0])
        for zi, ci in zip(z[1:], c[1:]):
            dot = dot + zi * float(ci)
        s.append(2.0 * dot - float(np.sum(c ** 2)))
    s = np.column_stack(s) if s else np.zeros((len(features), 0))
    best = s.max(axis=1)
    segment = np.argmax(s >= best[:, None], axis=1)  # the first segment reaching the best: ties go low
    k = len(centers)
    others = s.copy()
    rows = np.arange(len(s))
    others[rows, segment] = s[rows, (segment + 1) % k]
    return pd.DataFrame({"customer_id": features["customer_id"].to_numpy(dtype=object),
                         "segment": segment.astype(np.int32), "margin": best - others.max(axis=1)})


def score_in(eng, model, frozen, warehouse, n: int | None = None) -> pd.DataFrame:
    """``customer_id``, ``segment``, ``margin`` of the customers in ``warehouse`` (``n`` of them, None: unknown).

    The exported query on ``eng``; for at most :data:`MAX_ROWS` customers, its features from ``eng``
    scored by :func:`score` on the driver (the same results, without planning the scoring subqueries).
    """
    if n is not None and n <= MAX_ROWS:
        return score(model, eng.fetch_rows(features_query(model, frozen, warehouse)))
    return eng.fetch_rows(export_query(model, frozen, warehouse))
