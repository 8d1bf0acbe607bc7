"""Was segment-based targeting better than the alternatives? Qini curves and AUUC at the same contacts.

Customers are ranked by a score (highest first; ties keep their row order) and, for the first ``k``,

* the **Qini curve** is ``Y_T(k) - Y_C(k) * N_T(k) / N_C(k)``: responders among the offered minus the
  holdout's responders scaled to as many customers (Radcliffe 2007): the incremental responders reached
  by contacting those ``k``;
* the **cumulative gain** is ``(Y_T(k) / N_T(k) - Y_C(k) / N_C(k)) * k`` and **AUUC** its mean over the
  ranks 0..n, divided by the size of its last value;
* the **Qini area** (causalml's ``qini_score``) is the mean over ranks of the normalised Qini curve minus
  the diagonal from its first to its last value.

Both curves start at 0 at rank 0; ranks where an arm is still empty are interpolated, as causalml 0.18's
``get_qini``/``get_cumgain`` do: on the same (untied) scores these numbers equal causalml's. Strategies compared at the same number of contacts: the
policy (the targeted segments first), random (the straight line: its expectation), everyone, and an
uplift model (:func:`t_learner_scores`: two logistic regressions, one per arm, fitted on a seeded half and
scored on the other half, where its curve is evaluated).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["auuc", "cumulative_gain", "qini_area", "qini_curve", "strategy_table", "t_learner_scores"]


def _cumulative(score, treated, y):
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    t = np.asarray(treated, dtype=float)[order]
    yy = np.asarray(y, dtype=float)[order]
    n_t = np.cumsum(t)
    n_c = np.arange(1, len(t) + 1) - n_t
    return n_t, n_c, np.cumsum(yy * t), np.cumsum(yy * (1 - t))


def _from_origin(values: np.ndarray) -> np.ndarray:
    """Ranks 0..n: 0 at rank 0, ranks where an arm is still empty interpolated (the last value carried on)."""
    out = np.concatenate([[0.0], values])
    ok = np.isfinite(out)
    ranks = np.arange(len(out))
    return np.interp(ranks, ranks[ok], out[ok])


def qini_curve(score, treated, y) -> np.ndarray:
    """The Qini curve at ranks 0..n (incremental responders among the first ``k``)."""
    n_t, n_c, y_t, y_c = _cumulative(score, treated, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _from_origin(np.where(n_c > 0, y_t - y_c * n_t / n_c, np.nan))


def cumulative_gain(score, treated, y) -> np.ndarray:
    """The cumulative gain at ranks 0..n."""
    n_t, n_c, y_t, y_c = _cumulative(score, treated, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = np.where((n_t > 0) & (n_c > 0), y_t / n_t - y_c / n_c, np.nan)
    lift = _from_origin(lift)
    return lift * np.arange(len(lift))


def auuc(score, treated, y, normalize: bool = True) -> float:
    """Area under the cumulative gain curve per rank (ranks 0..n), normalised by the last value's size."""
    gain = cumulative_gain(score, treated, y)
    if normalize:
        gain = gain / abs(gain[-1])
    return float(gain.mean())


def qini_area(score, treated, y, normalize: bool = True) -> float:
    """Area between the Qini curve and the random diagonal, per rank (causalml's ``qini_score``)."""
    q = qini_curve(score, treated, y)
    if normalize:
        q = q / abs(q[-1])
    return float((q.sum() - np.linspace(q[0], q[-1], len(q)).sum()) / len(q))


def t_learner_scores(features: pd.DataFrame, treated: np.ndarray, y: np.ndarray, seed: int,
                     fit_share: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Uplift scores of a T-learner fitted on a seeded share of customers; returns (scores, evaluation mask).

    One logistic regression per arm (missing values imputed by the median, inputs standardised); the score
    is the difference of their predicted response probabilities. Logistic rather than gradient boosting:
    boosting took 59 of 76 s of the stage at 6,000 customers on the shared 2-core machine, for a baseline
    whose job is to show whether segment targeting beats a model at all. Only the customers not fitted on
    (``evaluation mask``) may judge the model.
    """
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = _numeric(features)
    rng = np.random.default_rng(seed)
    fit = rng.uniform(size=len(X)) < fit_share
    treated = np.asarray(treated, dtype=bool)
    y = np.asarray(y, dtype=int)
    proba = []
    for arm in (True, False):
        rows = fit & (treated == arm)
        model = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(),
                              LogisticRegression(max_iter=500))
        model.fit(X[rows], y[rows])
        proba.append(model.predict_proba(X)[:, 1])
    return proba[0] - proba[1], ~fit


def _numeric(features: pd.DataFrame) -> np.ndarray:
    """Numbers as numbers, text as category codes (missing stays missing); columns without a value dropped."""
    columns = []
    for name in features.columns:
        values = pd.to_numeric(features[name], errors="coerce")
        if values.isna().all() and features[name].notna().any():
            codes, _ = pd.factorize(features[name].astype(str).where(features[name].notna()), sort=True)
            values = pd.Series(np.where(codes < 0, np.nan, codes))
        if values.notna().any():
            columns.append(values.to_numpy(dtype=float))
    return np.column_stack(columns) if columns else np.zeros((len(features), 1))


def strategy_table(frame: pd.DataFrame, scores: dict[str, np.ndarray], contacts: int, n_boot: int = 200,
                   seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """Incremental responders reached at ``contacts`` (scaled to the frame) and AUUC per strategy, with
    bootstrap percentile intervals.

    ``frame`` has ``arm`` and ``response``; ``scores`` maps a strategy name to its scores (the rows of
    ``frame``). ``random`` (the diagonal: ``contacts / n`` of the total) and ``everyone`` (all ``n``
    contacted) are added. The bootstrap resamples customers ``n_boot`` times (seeded) and recomputes
    every strategy on the same resample.
    """
    treated = frame["arm"].eq("treatment").to_numpy()
    y = frame["response"].to_numpy(dtype=float)
    n = len(frame)
    contacts = int(min(max(contacts, 1), n))

    def values(idx):
        total = float(qini_curve(np.zeros(len(idx)), treated[idx], y[idx])[-1])
        out = {"everyone": (total, len(idx), np.nan), "random": (total * contacts / n, contacts, 0.5)}
        for name, score in scores.items():
            q = qini_curve(score[idx], treated[idx], y[idx])
            out[name] = (float(q[contacts]), contacts, auuc(score[idx], treated[idx], y[idx]))
        return out

    point = values(np.arange(n))
    rng = np.random.default_rng(seed)
    boot = [values(rng.integers(0, n, n)) for _ in range(int(n_boot))]
    rows = []
    for name, (reach, k, area) in point.items():
        reach_b = np.array([b[name][0] for b in boot])
        area_b = np.array([b[name][2] for b in boot])
        rows.append({"strategy": name, "contacts": k, "incremental_responders": reach,
                     "incremental_low": _pct(reach_b, alpha / 2), "incremental_high": _pct(reach_b, 1 - alpha / 2),
                     "auuc": area, "auuc_low": _pct(area_b, alpha / 2), "auuc_high": _pct(area_b, 1 - alpha / 2)})
    return pd.DataFrame(rows)


def _pct(values: np.ndarray, q: float) -> float:
    values = values[np.isfinite(values)]
    return float(np.quantile(values, q)) if len(values) else np.nan
