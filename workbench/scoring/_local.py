"""Nearest-centre scoring of a small batch in NumPy, step for step the arithmetic of the exported SQL.

An incremental batch re-scores ~1% of the customers. The engine computes their features (the
exported query's ``features`` subquery: the aggregation over their transactions, objections and
corrections), but planning the model-space and scoring subqueries (a few hundred literals) costs
the engine ~0.1 s whatever the row count, more than scoring a few thousand rows. For a batch of at
most :data:`MAX_ROWS` customers, the driver scores the features itself with the same operations in
the same order as :func:`workbench.engine.score_parts` writes them (casts, log, impute, winsorise,
scale, weighted one-hot, ``2 z.c - ||c||^2`` summed left to right, ties to the lower segment,
the margin to the runner-up), so segments are the same and margins agree to rounding of ``ln``.

What the driver needs of the model is a :class:`Card`: its inputs, transforms, each step's fitted
numbers and the centres, read off the fitted model once and kept as JSON beside the history, so a
batch neither unpickles the model nor imports scikit-learn.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ._sql import _ident, export_query, feature_ctes

#: The largest batch scored on the driver; larger ones are scored by the engine (the exported query).
MAX_ROWS = 50_000


@dataclass
class Card:
    """The numbers a fitted nearest-centre model scores with (exact: JSON writes floats round-trip).

    ``feature_names_in_``, ``transforms_`` and ``cluster_centers_`` are named as the model's, so the
    exported query's feature subqueries (:func:`workbench.scoring._sql.feature_ctes`) read either.
    ``numeric`` maps a column to ``log`` (bool), ``impute``, ``lower``, ``upper``, ``center``,
    ``scale``; ``onehot`` maps a column to ``weight`` and ``levels`` (as text).
    """

    feature_names_in_: list
    transforms_: dict
    cluster_centers_: list
    numeric: dict
    onehot: dict

    @classmethod
    def of(cls, model) -> "Card":
        """The card of a fitted model (or the card itself)."""
        if isinstance(model, cls):
            return model
        numeric, onehot = {}, {}
        for col, transform in model.transforms_.items():
            steps = model.preprocessor_.named_transformers_[col].named_steps
            if transform == "onehot":
                onehot[col] = {"weight": float(steps["weight"].weight),
                               "levels": [str(v) for v in steps["onehot"].categories_[0]]}
                continue
            w, scaler = steps["winsorize"], steps["scale"]
            center = scaler.mean_[0] if hasattr(scaler, "mean_") else scaler.center_[0]
            numeric[col] = {"log": "log" in steps, "impute": float(steps["impute"].statistics_[0]),
                            "lower": float(w.lower_[0]), "upper": float(w.upper_[0]),
                            "center": float(center), "scale": float(scaler.scale_[0])}
        return cls(list(model.feature_names_in_), dict(model.transforms_),
                   np.asarray(model.cluster_centers_, dtype=float).tolist(), numeric, onehot)

    def to_json(self, version: str) -> str:
        """The card and the model ``version`` it was read from as JSON (floats exact, infinities kept)."""
        return json.dumps({"model_version": version, "card": asdict(self)})

    @classmethod
    def from_json(cls, text: str) -> tuple[str, "Card"]:
        """``(model version, card)`` from :meth:`to_json`'s text."""
        saved = json.loads(text)
        return saved["model_version"], cls(**saved["card"])


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


def _numeric(values: pd.Series, step: dict) -> np.ndarray:
    """:func:`workbench.engine._queries._numeric_expr` in NumPy (NULL and NaN both missing)."""
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if step["log"]:
        x = np.log(1.0 + np.maximum(x, 0.0))  # ln(1 + greatest(x, 0)) as the SQL writes it; NaN stays NaN
    x = np.where(np.isnan(x), step["impute"], x)
    if np.isfinite(step["lower"]):
        x = np.minimum(np.maximum(x, step["lower"]), step["upper"])
    return (x - step["center"]) / step["scale"]


def _onehot(values: pd.Series, step: dict) -> list[np.ndarray]:
    """:func:`workbench.engine._queries._onehot_exprs` in NumPy: the weight where the text is the level."""
    text = values.astype(object).where(values.notna(), "missing").to_numpy(dtype=object)
    return [np.where(text == level, step["weight"], 0.0) for level in step["levels"]]


def model_space(model, features: pd.DataFrame) -> list[np.ndarray]:
    """The model-space columns ``z0, z1, …`` of ``features`` (raw inputs as :func:`features_query` gives them).

    ``model`` is a fitted model or its :class:`Card`.
    """
    card, z = Card.of(model), []
    for col, transform in card.transforms_.items():
        z += _onehot(features[col], card.onehot[col]) if transform == "onehot" else [_numeric(features[col],
                                                                                             card.numeric[col])]
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
    ``model`` is a fitted model, or a :class:`Card` when ``n`` is at most :data:`MAX_ROWS`.
    """
    if n is not None and n <= MAX_ROWS:
        return score(model, eng.fetch_rows(features_query(model, frozen, warehouse)))
    return eng.fetch_rows(export_query(model, frozen, warehouse))
