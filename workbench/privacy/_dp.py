"""Differential privacy: a release of per-segment counts and bounded means (OpenDP), its utility
against the exact profiles, and the error other budgets would give."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..data import InputError
from ._suppression import suppress_rows


@dataclass
class DPRelease:
    """A differentially private release of per-segment counts and bounded means.

    Attributes
    ----------
    table : DataFrame
        One row per segment: ``segment``, ``count`` (noisy, rounded, at least 0) and ``mean_<f>``
        per feature (noisy sum / noisy count, clamped to the feature's bounds).
    ledger : list of dict
        One entry per query: what it computed, mechanism, epsilon and delta spent, share of the
        budget, noise scale and the 95% accuracy (noise magnitude not exceeded with 95% probability).
    epsilon, delta : float
        The budget declared; ``spent`` is what the queries used (Laplace noise spends no delta).
    accuracy : DataFrame
        ``segment``, ``statistic``, ``expected_error_95`` (from the noise scales and the released
        counts only, so it can be published with the release).
    """

    table: pd.DataFrame
    ledger: list[dict]
    epsilon: float
    delta: float
    spent: dict
    accuracy: pd.DataFrame
    bounds: dict = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def _int_factor(lo: float, hi: float) -> int:
    """Fixed-point factor so that the bound range spans at least 10^4 integer steps."""
    span = max(hi - lo, 1e-12)
    return int(10 ** max(0, math.ceil(math.log10(1e4 / span))))


def _laplace_accuracy(scale: float, alpha: float) -> float:
    return float(scale * math.log(1.0 / alpha))


def _encode(frame: pd.DataFrame, by: str, bounds: dict, features: list[str], impute: dict | None):
    """The segment column and each feature clipped, imputed and in fixed point, with its factor."""
    data: dict[str, Any] = {by: pd.Series(frame[by]).astype("int64").to_numpy()}
    factors: dict[str, int] = {}
    for f in features:
        lo, hi = (float(b) for b in bounds[f])
        if not lo < hi:
            raise InputError(f"Config error: privacy.dp.bounds.{f} must be [lower, upper] with lower < upper.")
        factor = _int_factor(lo, hi)
        factors[f] = factor
        fill = float((impute or {}).get(f, (lo + hi) / 2))
        values = pd.to_numeric(frame[f], errors="coerce").astype(float).fillna(fill).clip(lo, hi)
        data[f] = np.round(values.to_numpy() * factor).astype(np.int64)
    return data, factors


def _compositor(dp, data: dict, by: str, epsilon: float, delta: float, weights: list, max_customers: int, n_keys: int):
    """An OpenDP compositor over ``data`` splitting (epsilon, delta) by ``weights``; one row per
    customer, the segment ids ``by`` public."""
    import polars as pl

    lf = pl.DataFrame(data).lazy()
    loss = dp.loss_of(epsilon=float(epsilon), delta=float(delta)) if delta else dp.loss_of(epsilon=float(epsilon))
    return dp.Context.compositor(
        data=lf,
        privacy_unit=dp.unit_of(contributions=1),
        privacy_loss=loss,
        split_by_weights=weights,
        margins=[dp.polars.Margin(by=[by], invariant="keys", max_length=int(max_customers), max_groups=max(n_keys, 1))],
    )


class _Budget:
    """Runs the queries of one OpenDP compositor and writes each one's spend to the ledger."""

    def __init__(self, dp, context, epsilon: float, total_weight: float, alpha: float):
        self.dp, self.context = dp, context
        self.epsilon, self.total_w, self.alpha = epsilon, total_weight, alpha
        self.ledger: list[dict] = []

    def spend(self, query, statistic: str, feature: str | None, weight: float, factor: int = 1, bnd=None):
        measurement = query.resolve()  # the noise scale is found once, then the query runs
        summary = self.dp.summarize_polars_measurement(measurement, self.alpha)
        released = self.context(measurement).collect().to_pandas()
        scale = float(summary["scale"][0]) / factor
        accuracy = float(summary["accuracy"][0]) / factor
        self.ledger.append({
            "query": len(self.ledger) + 1,
            "statistic": statistic,
            "feature": feature,
            "bounds": list(bnd) if bnd is not None else None,
            "mechanism": str(summary["distribution"][0]),
            "epsilon": float(self.epsilon) * weight / self.total_w,
            "delta": 0.0,
            "share_of_budget": weight / self.total_w,
            "noise_scale": scale,
            f"accuracy_{int(round((1 - self.alpha) * 100))}": accuracy,
        })
        return released, accuracy


def _release_counts(budget: _Budget, by: str, keys: list, weight: float):
    """The noisy count per public segment id (missing ids: 0), and their expected error."""
    dp = budget.dp
    counts, count_acc = budget.spend(
        budget.context.query().group_by(by).agg(dp.len(signed=True)), "count per segment", None, weight
    )
    table = pd.DataFrame({by: keys})
    counts = counts.rename(columns={"len": "count"})
    table = table.merge(counts[[by, "count"]], on=by, how="left")
    table["count"] = table["count"].fillna(0).astype(float).clip(lower=0).round().astype(int)
    acc_rows = [{by: s, "statistic": "count", "expected_error_95": count_acc} for s in keys]
    return table, count_acc, acc_rows


def _release_mean(budget: _Budget, table: pd.DataFrame, by: str, f: str, bounds, factor: int, count_acc: float):
    """Add ``mean_<f>`` (noisy sum / noisy count) to ``table``; return its expected-error rows."""
    import polars as pl

    lo, hi = (float(b) for b in bounds)
    q = budget.context.query().group_by(by).agg(
        pl.col(f).dp.sum((int(round(lo * factor)), int(round(hi * factor))))
    )
    sums, sum_acc = budget.spend(q, f"sum of {f} per segment (for its mean)", f, 1.0, factor, (lo, hi))
    sums = sums.rename(columns={f: "_sum"})
    merged = table[[by, "count"]].merge(sums[[by, "_sum"]], on=by, how="left")
    noisy_sum = merged["_sum"].astype(float) / factor
    denom = merged["count"].clip(lower=1).astype(float)
    table[f"mean_{f}"] = (noisy_sum / denom).clip(lo, hi).to_numpy()
    mag = max(abs(lo), abs(hi))
    acc_rows = []
    for s, n_dp in zip(table[by], table["count"]):
        err = (sum_acc + mag * count_acc) / max(n_dp, 1)
        acc_rows.append({by: s, "statistic": f"mean_{f}", "expected_error_95": min(err, hi - lo)})
    return acc_rows


def dp_release(
    frame: pd.DataFrame,
    by: str,
    bounds: dict[str, tuple[float, float]],
    epsilon: float,
    delta: float = 0.0,
    keys: list | None = None,
    count_weight: float = 1.0,
    alpha: float = 0.05,
    max_customers: int = 1_000_000_000,
    impute: dict[str, float] | None = None,
) -> DPRelease:
    """Release per-segment counts and bounded feature means with differential privacy (OpenDP).

    One customer is one row of ``frame`` (the privacy unit: adding or removing a customer). The
    budget ``epsilon`` is split over ``1 + len(features)`` queries by weight (``count_weight`` for
    the counts query, 1 for each feature's sum), composed by OpenDP's compositor so the total can
    never exceed the declared budget:

    * counts per segment: OpenDP ``dp.len()`` (integer Laplace noise);
    * per feature, the sum per segment of the value clipped to its bounds: ``dp.sum(bounds)`` on a
      fixed-point integer encoding (integer Laplace noise; avoids the floating-point slack OpenDP adds
      to float sums);
    * means are post-processing (noisy sum / noisy count), which costs no budget.

    Bounds come from the caller (the config), never from the data: values outside are clipped,
    missing values are replaced by the middle of the bounds (a data-independent choice). The segment
    ids are treated as public (``keys``: the segmentation's ids), so no budget or delta is spent on
    discovering them; the declared ``delta`` is therefore not consumed by Laplace noise.

    Parameters
    ----------
    frame : DataFrame
        One row per customer: column ``by`` and the feature columns.
    by : str
        The segment column.
    bounds : dict
        ``{feature: (lower, upper)}``; features missing from ``frame`` are skipped (listed in
        ``skipped``).
    epsilon, delta : float
        The privacy budget of the whole release.
    keys : list, optional
        The public segment ids (default: those in ``frame``, declared public).
    count_weight : float
        Weight of the counts query relative to each feature's query.
    alpha : float
        Accuracy level: the ledger's accuracy is the noise bound that holds with ``1 - alpha``.
    max_customers : int
        A public upper bound on the number of customers per segment (OpenDP needs one for sums).
    impute : dict, optional
        ``{feature: value}`` for missing values (e.g. ``frequency: 0`` for customers without
        purchases); default the middle of the bounds. Never computed from the data.

    Returns
    -------
    DPRelease
    """
    import opendp.prelude as dp

    dp.enable_features("contrib")
    features, skipped, keys = _release_plan(frame, by, bounds, epsilon, keys)
    data, factors = _encode(frame, by, bounds, features, impute)
    weights = [float(count_weight)] + [1.0] * len(features)
    context = _compositor(dp, data, by, epsilon, delta, weights, max_customers, len(keys))
    budget = _Budget(dp, context, epsilon, sum(weights), alpha)
    table, count_acc, acc_rows = _release_counts(budget, by, keys, weights[0])
    for f in features:
        acc_rows += _release_mean(budget, table, by, f, bounds[f], factors[f], count_acc)
    return _release_record(table, budget.ledger, epsilon, delta, acc_rows, bounds, features, skipped)


def _release_plan(frame: pd.DataFrame, by: str, bounds: dict, epsilon: float, keys) -> tuple[list, list, list]:
    """Check the budget; the bounded features present (and those skipped); the public segment ids."""
    if epsilon <= 0:
        raise InputError(f"Config error: privacy.dp.epsilon must be positive, got {epsilon}.")
    features = [f for f in bounds if f in frame.columns]
    skipped = [f for f in bounds if f not in frame.columns]
    keys = sorted(frame[by].dropna().unique().tolist()) if keys is None else list(keys)
    return features, skipped, keys


def _release_record(table, ledger, epsilon, delta, acc_rows, bounds, features, skipped) -> DPRelease:
    """The release with what it spent (the sum of its queries' epsilon; Laplace spends no delta)."""
    return DPRelease(
        table=table,
        ledger=ledger,
        epsilon=float(epsilon),
        delta=float(delta),
        spent={"epsilon": float(sum(e["epsilon"] for e in ledger)), "delta": 0.0},
        accuracy=pd.DataFrame(acc_rows),
        bounds={f: [float(b) for b in bounds[f]] for f in features},
        skipped=skipped,
    )


def dp_utility(release: DPRelease, frame: pd.DataFrame, by: str, k: int = 10) -> pd.DataFrame:
    """DP vs exact, per segment and statistic: the error actually made and the expected error.

    The exact values are the raw per-segment counts and means (missing values left out, no
    clipping), so the error includes the bias of clipping and imputation, not only the noise.
    Exact values of segments smaller than ``k`` (and their complement) are masked, like every
    published statistic (:func:`suppress_rows`).

    Parameters
    ----------
    release : DPRelease
    frame : DataFrame
        The frame the release was made from.
    by : str
        The segment column.
    k : int, default 10
        The suppression threshold.

    Returns
    -------
    DataFrame
        One row per segment and statistic: ``exact``, ``dp``, ``abs_error``, ``expected_error_95``,
        ``relative_error``, ``within_expected``.
    """
    feats = [c[len("mean_"):] for c in release.table.columns if c.startswith("mean_")]
    exact = frame.groupby(by).agg(**{"count": (by, "size")}, **{f"mean_{f}": (f, "mean") for f in feats}).reset_index()
    exact = release.table[[by]].merge(exact, on=by, how="left").fillna({"count": 0})
    masked = suppress_rows(exact, "count", k, keep=[by])
    long = []
    for stat in ["count", *[f"mean_{f}" for f in feats]]:
        for i, seg in enumerate(release.table[by]):
            long.append({
                by: seg, "statistic": stat,
                "exact": masked[stat].iloc[i],
                "dp": float(release.table[stat].iloc[i]),
            })
    out = pd.DataFrame(long)
    out["abs_error"] = (out["dp"] - out["exact"]).abs()
    out = out.merge(release.accuracy, on=[by, "statistic"], how="left")
    out["relative_error"] = out["abs_error"] / out["exact"].abs().replace(0, np.nan)
    out["within_expected"] = np.where(out["exact"].isna(), None, out["abs_error"] <= out["expected_error_95"])
    return out


def dp_budget_tradeoff(
    bounds: dict[str, tuple[float, float]],
    counts: dict | pd.Series,
    epsilons=(0.1, 1.0, 10.0),
    count_weight: float = 1.0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Expected 95% error of each released statistic at other budgets (no data is touched).

    Uses the Laplace noise scales implied by the budget split (sensitivity 1 for counts,
    ``max(|lower|, |upper|)`` for sums) and the released (noisy) segment sizes; a planning aid for
    choosing epsilon, not a release.

    Parameters
    ----------
    bounds : dict
        ``{feature: (lower, upper)}`` as released.
    counts : dict or Series
        The released segment sizes.
    epsilons : sequence of float
    count_weight, alpha : float
        As in :func:`dp_release`.

    Returns
    -------
    DataFrame
        One row per epsilon: the count error and each mean's error (median over segments).
    """
    feats = list(bounds)
    total_w = count_weight + len(feats)
    rows = []
    sizes = pd.Series(counts, dtype=float)
    for eps in epsilons:
        count_acc = _laplace_accuracy(1.0 / (eps * count_weight / total_w), alpha)
        row = {"epsilon": eps, "count": count_acc}
        for f in feats:
            lo, hi = (float(b) for b in bounds[f])
            mag = max(abs(lo), abs(hi))
            sum_acc = _laplace_accuracy(mag / (eps / total_w), alpha)
            errs = [(min((sum_acc + mag * count_acc) / max(n, 1), hi - lo)) for n in sizes]
            row[f"mean_{f} (median over segments)"] = float(np.median(errs)) if errs else np.nan
        rows.append(row)
    return pd.DataFrame(rows)
