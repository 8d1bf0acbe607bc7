"""The aggregates behind the audit's published tables, each one SQL text for both engines.

Cell counts (composition, selection, outcomes, consent, transitions, customers per window and
state), per-window purchase activity, per-group sums (the clamped fixed-point sums and counts
behind the DP release, the exact per-segment means beside it) and the global importance of the
linear margin (per segment: |margin SHAP| and margin SHAP summed). The engine scans every customer;
one row per cell comes back to the driver, where suppression, intervals, verdicts and DP noise are
applied to those small tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._engine import active_config, make_engine
from ._queries import _ident, _num, model_space_exprs


def cell_counts_query(table: str, keys: list[str], events: list[str] | None = None) -> str:
    """Customers per combination of ``keys`` (``n``), and per boolean column of ``events`` how many of them.

    NULL is a group of its own (SQL's GROUP BY), ordered last. ``count(*)`` is a BIGINT on both
    engines, so the counts come back as exact integers.
    """
    cols = ", ".join(_ident(k) for k in keys)
    flags = "".join(f", count(*) FILTER (WHERE {_ident(e)}) AS {_ident(e)}" for e in events or [])
    order = ", ".join(f"{_ident(k)} ASC NULLS LAST" for k in keys)
    return f"SELECT {cols}, count(*) AS n{flags} FROM {_ident(table)} GROUP BY {cols} ORDER BY {order}"


def crosstab(codes: dict[str, np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """Dense count array of integer ``codes`` (one array per axis, values ``0 .. shape[i] - 1``).

    The engine counterpart of ``np.add.at(table, codes, 1)``: the codes are counted with
    :func:`cell_counts_query` on the engine of the innermost :func:`workbench.engine.using` block
    and the (small) result is scattered into an ``int64`` array of ``shape``.
    """
    names = list(codes)
    frame = pd.DataFrame({k: np.asarray(v, dtype=np.int64).ravel() for k, v in codes.items()})
    table = np.zeros(shape, dtype=np.int64)
    if frame.empty:  # no customers, no counts (Spark cannot infer a schema from no rows)
        return table
    with make_engine(active_config()) as eng:
        out = eng.register_rows("cells_in", frame).sql(cell_counts_query("cells_in", names))
    if len(out):
        idx = tuple(out[k].to_numpy(dtype=np.int64) for k in names)
        table[idx] = out["n"].to_numpy(dtype=np.int64)
    return table


def _timestamp(t) -> str:
    return f"TIMESTAMP '{pd.Timestamp(t).isoformat(sep=' ')}'"


def window_activity_query(table: str, windows: pd.DataFrame) -> str:
    """Per customer of ``table`` (``customer_id, timestamp, amount``): ``n_<label>`` purchases
    (amount >= 0) in each window of ``windows`` (``label, start, end``), and ``seen_<label>``,
    whether they bought anything before its end. One scan, one GROUP BY with ``FILTER`` clauses.
    """
    parts = []
    for w in windows.itertuples():
        start, end = _timestamp(w.start), _timestamp(w.end)
        parts.append(f"count(*) FILTER (WHERE amount >= 0 AND timestamp >= {start} AND timestamp < {end}) "
                     f"AS {_ident('n_' + str(w.label))}")
        parts.append(f"count(*) FILTER (WHERE amount >= 0 AND timestamp < {end}) > 0 AS {_ident('seen_' + str(w.label))}")
    return f"SELECT customer_id, {', '.join(parts)} FROM {_ident(table)} GROUP BY customer_id"


def _banker(expr: str) -> str:
    """Round half to even (numpy's ``np.round``) with floor only: both engines' ``round`` go half up."""
    f = f"floor({expr})"
    return (f"CASE WHEN ({expr}) - {f} = {_num(0.5)} AND {f} - {_num(2)} * floor({f} / {_num(2)}) = {_num(0)} "
            f"THEN {f} WHEN ({expr}) - {f} >= {_num(0.5)} THEN {f} + {_num(1)} ELSE {f} END")


def clamped_fixed_point(column: str, lower: float, upper: float, fill: float, factor: int) -> str:
    """SQL for ``round(clip(coalesce(x, fill), lower, upper) * factor)`` as BIGINT (NaN counts as missing).

    The per-customer value whose per-segment sum the DP release adds noise to
    (:func:`workbench.privacy.dp_release`): clipped to bounds from the config, missing values
    replaced by a data-independent ``fill``, in fixed point so the sum is an exact integer.
    """
    x = f"CAST({_ident(column)} AS DOUBLE)"
    x = f"CASE WHEN {x} IS NULL OR isnan({x}) THEN {_num(fill)} ELSE {x} END"
    x = f"least(greatest({x}, {_num(lower)}), {_num(upper)}) * {_num(factor)}"
    return f"CAST({_banker(x)} AS BIGINT)"


def group_sums_query(table: str, by: str, sums: dict[str, str], means: dict[str, str] | None = None) -> str:
    """Per value of ``by``: ``n`` customers, ``sum(expr)`` for each of ``sums``, ``avg(expr)`` of ``means``.

    ``avg`` skips NULLs (pandas' ``mean`` skips NaN: pass NaN-as-NULL expressions); each is cast
    to DOUBLE so Spark returns no DECIMAL. Ordered by ``by``, NULLs last.
    """
    parts = [f"{_ident(by)}", "count(*) AS n"]
    parts += [f"sum({expr}) AS {_ident(name)}" for name, expr in sums.items()]
    parts += [f"CAST(avg({expr}) AS DOUBLE) AS {_ident(name)}" for name, expr in (means or {}).items()]
    return (f"SELECT {', '.join(parts)} FROM {_ident(table)} GROUP BY {_ident(by)} "
            f"ORDER BY {_ident(by)} ASC NULLS LAST")


def nan_as_null(column: str) -> str:
    """``column`` as DOUBLE with NaN as NULL (Spark keeps pandas' NaN as NaN; DuckDB as NULL)."""
    x = f"CAST({_ident(column)} AS DOUBLE)"
    return f"CASE WHEN isnan({x}) THEN NULL ELSE {x} END"


def margin_importance_query(model, table: str, mean, coef, intercept, groups: list[list[int]],
                            weights: str = "margin_w") -> str:
    """Per assigned segment: members ``n``, and per original feature the sum of |margin SHAP| and of margin SHAP.

    The margin of a customer is their assigned (highest) score minus the runner-up's, for the linear
    scores ``z . coef_j + intercept_j`` in the model space of ``model`` (:func:`model_space_exprs`);
    its interventional SHAP value for original feature ``p`` is ``sum_{d in p} (z_d - mean_d) (coef_top,d
    - coef_second,d)`` (:class:`workbench.explain.LinearScoreExplainer`). Its mean is a closed form
    over sums of ``z`` per (segment, runner-up) pair, its mean absolute value is not (|.| of a
    per-customer sum), so both are computed per customer in the query and summed per segment.
    Ties go to the lower position, as ``argmax``. Register the pair weights
    ``(top, second, w0, ...)`` = ``coef[top] - coef[second]`` as ``weights`` first.

    Returns
    -------
    str
        Columns ``top`` (segment position), ``n``, then ``abs_<p>`` and ``sum_<p>`` per feature group.
    """
    z = model_space_exprs(model)
    k = len(coef)
    zs = ", ".join(f"{e} AS z{i}" for i, e in enumerate(z))
    scores = ", ".join(
        "(" + " + ".join(f"z{i} * {_num(c)}" for i, c in enumerate(coef[j])) + f") + {_num(intercept[j])} AS s{j}"
        for j in range(k))
    best = "greatest(" + ", ".join(f"s{j}" for j in range(k)) + ")" if k > 1 else "s0"
    top = " ".join(f"WHEN s{j} >= {best} THEN {j}" for j in range(k))
    masked = [f"CASE WHEN top = {j} THEN {_num(-1e308)} ELSE s{j} END" for j in range(k)]
    best2 = "greatest(" + ", ".join(masked) + ")" if k > 1 else masked[0]
    second = " ".join(f"WHEN top <> {j} AND s{j} >= {best2} THEN {j}" for j in range(k))
    margins = ", ".join(
        "(" + " + ".join(f"(r.z{d} - {_num(mean[d])}) * w.w{d}" for d in dims) + f") AS m{p}"
        for p, dims in enumerate(groups))
    sums = ", ".join(f"sum(abs(m{p})) AS abs_{p}, sum(m{p}) AS sum_{p}" for p in range(len(groups)))
    return (
        f"WITH z AS (SELECT {zs} FROM {_ident(table)}), "
        f"s AS (SELECT *, {scores} FROM z), "
        f"t AS (SELECT *, CASE {top} END AS top FROM s), "
        f"r AS (SELECT *, CASE {second} ELSE top END AS second FROM t), "
        f"m AS (SELECT r.top, {margins} FROM r JOIN {_ident(weights)} AS w ON r.top = w.top AND r.second = w.second) "
        f"SELECT top, count(*) AS n, {sums} FROM m GROUP BY top ORDER BY top"
    )


def margin_weights(coef) -> pd.DataFrame:
    """The table ``(top, second, w0, ...)``: ``coef[top] - coef[second]`` for every ordered pair (and top = second)."""
    coef = np.asarray(coef, dtype=float)
    k, d = coef.shape
    rows = [(a, b) for a in range(k) for b in range(k)]
    w = np.array([coef[a] - coef[b] for a, b in rows]).reshape(len(rows), d)
    frame = pd.DataFrame(w, columns=[f"w{i}" for i in range(d)])
    frame.insert(0, "second", [b for _, b in rows])
    frame.insert(0, "top", [a for a, _ in rows])
    return frame
