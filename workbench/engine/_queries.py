"""The heavy per-customer queries, each one SQL text for both engines: pseudonyms, scoring, counts."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

_BLOCK = 64  # SHA-256's block size in bytes (RFC 2104's B)


def _ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _num(value: float) -> str:
    """A DOUBLE literal that both engines parse exactly (a bare ``0.1`` is a DECIMAL in both)."""
    return f"CAST('{float(value)!r}' AS DOUBLE)"


def hmac_key_table(secret: bytes) -> pd.DataFrame:
    """The one-row table ``(ipad, opad)`` of RFC 2104 for ``secret``: K xor 0x36.., K xor 0x5c...

    The padded keys travel as data (a broadcast one-row table), not in the query text, so they do
    not appear in query plans or logs; they are as secret as the key itself.
    """
    key = hashlib.sha256(secret).digest() if len(secret) > _BLOCK else secret
    key = key.ljust(_BLOCK, b"\0")
    return pd.DataFrame({
        "ipad": [bytes(b ^ 0x36 for b in key)],
        "opad": [bytes(b ^ 0x5C for b in key)],
    })


def pseudonym_query(table: str, id_column: str, key_table: str = "hmac_key", length: int = 16) -> str:
    """HMAC-SHA256 pseudonyms as SQL: H((K xor opad) || H((K xor ipad) || id)), hex, ``p`` + ``length`` chars.

    The same values as :func:`workbench.privacy.pseudonymise` (Python's :mod:`hmac`) for string and
    integer ids: the id is cast to text and encoded as UTF-8. Register :func:`hmac_key_table` of the
    key as ``key_table`` first.

    Returns
    -------
    str
        A query with columns ``customer_id`` (the raw id, to join on inside the engine) and ``pseudonym``.
    """
    col = _ident(id_column)
    inner = f"unhex(sha256(k.ipad || encode(CAST(t.{col} AS VARCHAR))))"
    return (
        f"SELECT t.{col} AS customer_id, 'p' || substr(sha256(k.opad || {inner}), 1, {int(length)}) AS pseudonym "
        f"FROM {_ident(table)} AS t CROSS JOIN {_ident(key_table)} AS k"
    )


def _numeric_expr(col: str, pipeline) -> str:
    """float -> optional log1p(max(x, 0)) -> impute -> winsorise -> scale, as one SQL expression."""
    steps = pipeline.named_steps
    x = f"CAST({_ident(col)} AS DOUBLE)"
    # Spark keeps pandas' NaN as NaN, not NULL. Equality, not isnan(): NaN = NaN is true on DuckDB, Spark,
    # Postgres and Snowflake, and the comparison translates to every dialect the SQL export writes.
    x = f"CASE WHEN {x} = CAST('NaN' AS DOUBLE) THEN NULL ELSE {x} END"
    if "log" in steps:
        # greatest() skips NULLs on both engines: keep a missing value missing for the imputer.
        x = f"CASE WHEN {x} IS NULL THEN NULL ELSE ln(1 + greatest({x}, {_num(0)})) END"
    x = f"coalesce({x}, {_num(steps['impute'].statistics_[0])})"
    w = steps["winsorize"]
    if np.isfinite(w.lower_[0]):
        x = f"least(greatest({x}, {_num(w.lower_[0])}), {_num(w.upper_[0])})"
    scaler = steps["scale"]
    center = scaler.mean_[0] if hasattr(scaler, "mean_") else scaler.center_[0]
    return f"(({x}) - {_num(center)}) / {_num(scaler.scale_[0])}"


def _onehot_exprs(col: str, pipeline) -> list[str]:
    """One column per level: the weight where the value (or "missing" for NULL) is that level, else 0."""
    weight = pipeline.named_steps["weight"].weight
    text = f"coalesce(CAST({_ident(col)} AS VARCHAR), 'missing')"
    return [
        f"CASE WHEN {text} = '{str(level).replace(chr(39), chr(39) * 2)}' THEN {_num(weight)} ELSE {_num(0)} END"
        for level in pipeline.named_steps["onehot"].categories_[0]
    ]


def model_space_exprs(model) -> list[str]:
    """SQL for each model-space column of a fitted :class:`~workbench.segment.SegmentationModel`.

    Translates the numeric log/impute/winsorise/scale pipelines and the weighted one-hot encoding.
    A float cast to text for one-hot matching follows each engine's formatting, so one-hot inputs
    should be text columns.
    """
    exprs = []
    for col, transform in model.transforms_.items():
        pipeline = model.preprocessor_.named_transformers_[col]
        exprs += _onehot_exprs(col, pipeline) if transform == "onehot" else [_numeric_expr(col, pipeline)]
    return exprs


def score_parts(model, table: str, id_column: str = "customer_id", margin: bool = False) -> tuple[list[str], str]:
    """The named subqueries (``name AS (…)``) and the final SELECT of :func:`score_query`.

    Apart, so that a caller can put its own subqueries before them in one ``WITH`` (the SQL export).
    """
    centers = getattr(model, "cluster_centers_", None)
    if centers is None:
        raise NotImplementedError(f"Scoring in the engine needs a nearest-centre model; method={model.method!r} is not.")
    z = model_space_exprs(model)
    zs = ", ".join(f"{e} AS z{i}" for i, e in enumerate(z))
    scores = []
    for j, c in enumerate(centers):
        dot = " + ".join(f"z{i} * {_num(ci)}" for i, ci in enumerate(c))
        scores.append(f"{_num(2)} * ({dot}) - {_num(float(np.sum(c**2)))} AS s{j}")
    k = len(centers)
    best = "greatest(" + ", ".join(f"s{j}" for j in range(k)) + ")"
    pick = " ".join(f"WHEN s{j} >= {best} THEN {j}" for j in range(k))
    ctes = [f"z AS (SELECT {_ident(id_column)} AS customer_id, {zs} FROM {_ident(table)})",
            f"s AS (SELECT customer_id, {', '.join(scores)} FROM z)"]
    if not margin:
        return ctes, f"SELECT customer_id, CASE {pick} END AS segment FROM s"
    # The runner-up is the best of the others: the winner's own score is replaced by another
    # segment's, which is no higher than the runner-up's (no NULLs: GREATEST skips them on some
    # engines and returns NULL on others).
    others = ", ".join(f"CASE WHEN segment = {j} THEN s{(j + 1) % k} ELSE s{j} END" for j in range(k))
    ctes.append(f"w AS (SELECT s.*, CASE {pick} END AS segment, {best} AS best FROM s)")
    return ctes, f"SELECT customer_id, segment, best - greatest({others}) AS margin FROM w"


def score_query(model, table: str, id_column: str = "customer_id", margin: bool = False) -> str:
    """Nearest-centre scoring as a query: ``argmax_j 2 z.c_j - ||c_j||^2`` in the model's space.

    The same formula as the model's ``predict`` (ties go to the lower segment id, as ``argmax``).
    Only nearest-centre models translate (``kmeans``, ``ward``); a Gaussian mixture's posterior
    needs its covariances and stays on the driver.

    With ``margin``, also the margin to the runner-up, ``s_assigned - s_runner_up`` =
    ``||z - c_runner_up||^2 - ||z - c_assigned||^2`` (the quantity the explain stage explains).

    Returns
    -------
    str
        A query with columns ``customer_id`` and ``segment`` (the model's stable ids), and
        ``margin`` when asked for.
    """
    ctes, final = score_parts(model, table, id_column, margin)
    return f"WITH {', '.join(ctes)} {final}"


def count_query(table: str, by: list[str]) -> str:
    """Group-by counts (``n``) over ``by``, NULL a group of its own, ordered by the groups (NULLs last).

    The counts behind composition tables, selection rates and transitions: the engine scans every
    customer; only one row per cell comes back to the driver, where suppression applies.
    """
    cols = ", ".join(_ident(c) for c in by)
    order = ", ".join(f"{_ident(c)} ASC NULLS LAST" for c in by)
    return f"SELECT {cols}, count(*) AS n FROM {_ident(table)} GROUP BY {cols} ORDER BY {order}"


def predict_segments(model, X: pd.DataFrame, engine) -> np.ndarray:
    """Segment ids of the rows of ``X`` (raw features) scored by :func:`score_query` on ``engine``.

    The engine counterpart of ``model.predict(X)``: same ids, in the row order of ``X``. The
    inputs go in with :meth:`~workbench.engine.Engine.register_rows` and the ids come back with
    :meth:`~workbench.engine.Engine.fetch_rows` (on Spark both through Parquet, so no pandas <->
    Spark conversion of every customer); the row number restores the order on the driver.
    """
    frame = X.drop(columns=["customer_id"], errors="ignore")[list(model.feature_names_in_)].copy()
    frame["customer_id"] = np.arange(len(frame))  # the row number, to restore the order
    engine.register_rows("score_input", frame)
    out = engine.fetch_rows(score_query(model, "score_input"))
    rows = out["customer_id"].to_numpy(dtype=np.int64)
    if len(rows) != len(frame) or not np.array_equal(np.sort(rows), np.arange(len(frame))):
        raise RuntimeError(f"Scoring returned {len(rows)} rows for {len(frame)} customers: not one per customer.")
    labels = np.empty(len(frame), dtype=int)
    labels[rows] = out["segment"].to_numpy(dtype=int)
    return labels
