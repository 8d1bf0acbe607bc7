"""Differential privacy: a release of per-segment counts and bounded means (OpenDP), its utility
against the exact profiles, and the error other budgets would give."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..data import InputError
from ..engine import active_config, clamped_fixed_point, group_sums_query, make_engine, nan_as_null
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


#: OpenDP's name for the mechanism :func:`_laplace_release` builds (``make_laplace`` on integers).
_MECHANISM = "Integer Laplace"
_I64_MAX = 2**63 - 1


def _factors(bounds: dict, features: list[str]) -> dict[str, int]:
    """The fixed-point factor of each feature, after checking its bounds."""
    factors = {}
    for f in features:
        lo, hi = (float(b) for b in bounds[f])
        if not lo < hi:
            raise InputError(f"Config error: privacy.dp.bounds.{f} must be [lower, upper] with lower < upper.")
        factors[f] = _int_factor(lo, hi)
    return factors


def _fill(f: str, bounds: dict, impute: dict | None) -> float:
    lo, hi = (float(b) for b in bounds[f])
    return float((impute or {}).get(f, (lo + hi) / 2))


def dp_aggregates(frame: pd.DataFrame, by: str, bounds: dict, features: list[str], keys: list,
                  impute: dict | None = None) -> pd.DataFrame:
    """The exact aggregates a DP release adds noise to, computed in the engine over every customer.

    Per public key of ``by``: ``n`` customers and, per feature, the sum of the value clipped to
    its bounds (missing: ``impute`` or the middle of the bounds) in fixed point (an exact BIGINT;
    :func:`workbench.engine.clamped_fixed_point`). Keys nobody is in get zeros. Runs on the engine
    of the innermost :func:`workbench.engine.using` block; only one row per key comes back.
    """
    factors = _factors(bounds, features)
    sums = {f: clamped_fixed_point(f, *(float(b) for b in bounds[f]), _fill(f, bounds, impute), factors[f])
            for f in features}
    with make_engine(active_config()) as eng:
        eng.register_rows("dp_in", frame[[by, *features]])
        out = eng.sql(group_sums_query("dp_in", by, sums))
    out = out.dropna(subset=[by])
    out.index = out[by].astype("int64").to_numpy()
    table = out[["n", *features]].reindex([int(k) for k in keys]).fillna(0).astype("int64")
    return table.rename_axis(by).reset_index()


def _laplace_release(dp, exact: np.ndarray, sensitivity: int, epsilon: float):
    """Integer Laplace noise on a vector of exact integer aggregates: OpenDP's ``make_laplace`` over
    ``i64`` vectors with the L1 distance. One customer moves the vector by at most ``sensitivity``
    (a count by 1, a clamped fixed-point sum by ``max(|lower|, |upper|)``), so scale =
    sensitivity / epsilon; the privacy map is checked to be within ``epsilon``."""
    space = dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64")
    measurement = dp.m.make_laplace(*space, float(sensitivity) / float(epsilon))
    if not measurement.map(int(sensitivity)) <= float(epsilon) * (1 + 1e-12):
        raise AssertionError(f"the Laplace measurement spends more than epsilon={epsilon}")
    return np.asarray(measurement([int(v) for v in exact]), dtype=float), float(sensitivity) / float(epsilon)


class _Budget:
    """Splits epsilon over the queries by weight (basic composition) and writes each one's spend to the ledger."""

    def __init__(self, dp, epsilon: float, total_weight: float, alpha: float):
        self.dp, self.epsilon, self.total_w, self.alpha = dp, epsilon, total_weight, alpha
        self.ledger: list[dict] = []

    def spend(self, exact: np.ndarray, sensitivity: int, statistic: str, feature: str | None, weight: float,
              factor: int = 1, bnd=None):
        eps = float(self.epsilon) * weight / self.total_w
        released, scale = _laplace_release(self.dp, exact, sensitivity, eps)
        accuracy = float(self.dp.discrete_laplacian_scale_to_accuracy(scale, self.alpha)) / factor
        self.ledger.append({
            "query": len(self.ledger) + 1,
            "statistic": statistic,
            "feature": feature,
            "bounds": list(bnd) if bnd is not None else None,
            "mechanism": _MECHANISM,
            "epsilon": eps,
            "delta": 0.0,
            "share_of_budget": weight / self.total_w,
            "noise_scale": scale / factor,
            f"accuracy_{int(round((1 - self.alpha) * 100))}": accuracy,
        })
        return released, accuracy


def _release_counts(budget: _Budget, agg: pd.DataFrame, by: str, weight: float):
    """The noisy count per public segment id (at least 0), and their expected error."""
    noisy, count_acc = budget.spend(agg["n"].to_numpy(), 1, "count per segment", None, weight)
    table = pd.DataFrame({by: agg[by].to_numpy(), "count": np.clip(noisy, 0, None).round().astype(int)})
    acc_rows = [{by: s, "statistic": "count", "expected_error_95": count_acc} for s in table[by]]
    return table, count_acc, acc_rows


def _release_mean(budget: _Budget, table: pd.DataFrame, agg: pd.DataFrame, by: str, f: str, bounds, factor: int,
                  count_acc: float):
    """Add ``mean_<f>`` (noisy sum / noisy count) to ``table``; return its expected-error rows."""
    lo, hi = (float(b) for b in bounds)
    sensitivity = max(abs(int(round(lo * factor))), abs(int(round(hi * factor))))
    noisy, sum_acc = budget.spend(agg[f].to_numpy(), sensitivity, f"sum of {f} per segment (for its mean)", f, 1.0,
                                  factor, (lo, hi))
    denom = table["count"].clip(lower=1).astype(float).to_numpy()
    table[f"mean_{f}"] = np.clip(noisy / factor / denom, lo, hi)
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
    the counts query, 1 for each feature's sum); by basic composition the total never exceeds the
    declared budget. The exact aggregates are computed in the engine over every customer
    (:func:`dp_aggregates`); OpenDP adds the noise on the driver to those few numbers:

    * counts per segment: integer Laplace noise (OpenDP ``make_laplace``; sensitivity 1);
    * per feature, the sum per segment of the value clipped to its bounds, in a fixed-point integer
      encoding (integer Laplace noise with sensitivity ``max(|lower|, |upper|)``; avoids the
      floating-point slack OpenDP adds to float sums);
    * means are post-processing (noisy sum / noisy count), which costs no budget.

    Every public segment id gets a noisy count, including one nobody is in.

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
        A public upper bound on the number of customers per segment: the largest clamped
        fixed-point sum must fit in 64 bits (else an ``InputError``).
    impute : dict, optional
        ``{feature: value}`` for missing values (e.g. ``frequency: 0`` for customers without
        purchases); default the middle of the bounds. Never computed from the data.

    Returns
    -------
    DPRelease
    """
    import opendp.prelude as dp

    dp.enable_features("contrib")
    features, skipped, keys, factors = _release_plan(frame, by, bounds, epsilon, keys, max_customers)
    agg = dp_aggregates(frame, by, bounds, features, keys, impute)
    weights = [float(count_weight)] + [1.0] * len(features)
    budget = _Budget(dp, epsilon, sum(weights), alpha)
    table, count_acc, acc_rows = _release_counts(budget, agg, by, weights[0])
    for f in features:
        acc_rows += _release_mean(budget, table, agg, by, f, bounds[f], factors[f], count_acc)
    return _release_record(table, budget.ledger, epsilon, delta, acc_rows, bounds, features, skipped)


def _release_plan(frame: pd.DataFrame, by: str, bounds: dict, epsilon: float, keys, max_customers: int):
    """Check the budget and the sums' range; the bounded features present (and those skipped), the
    public segment ids and each feature's fixed-point factor."""
    if epsilon <= 0:
        raise InputError(f"Config error: privacy.dp.epsilon must be positive, got {epsilon}.")
    features = [f for f in bounds if f in frame.columns]
    skipped = [f for f in bounds if f not in frame.columns]
    keys = sorted(frame[by].dropna().unique().tolist()) if keys is None else list(keys)
    factors = _factors(bounds, features)
    for f in features:  # the largest possible sum must fit the engine's BIGINT and OpenDP's i64
        top = max(abs(float(b)) for b in bounds[f]) * factors[f]
        if top * max(int(max_customers), 1) > _I64_MAX:
            raise InputError(f"Config error: privacy.dp.max_customers={max_customers} times the bound of {f} "
                             "overflows a 64-bit sum; lower privacy.dp.max_customers.")
    return features, skipped, keys, factors


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
    with make_engine(active_config()) as eng:  # exact counts and means over every customer, in the engine
        eng.register_rows("dp_exact", frame[[by, *feats]])
        exact = eng.sql(group_sums_query("dp_exact", by, {}, {f"mean_{f}": nan_as_null(f) for f in feats}))
    exact = exact.dropna(subset=[by]).rename(columns={"n": "count"})
    exact[by] = exact[by].astype(release.table[by].dtype)
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
