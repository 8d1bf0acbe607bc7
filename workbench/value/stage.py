"""Stage 07: the only module of ``workbench.value`` that reads or writes the run directory.

Artifacts: ``value/predicted.parquet`` (one row per customer: ``customer_id``, the sufficient
statistics, ``historical_value``, ``expected_purchases``, ``p_alive``, ``expected_spend``, ``clv``,
``growth_potential``; NaN model columns for customers without a purchase), ``value/models.json``
(parameters, log-likelihoods, sample sizes, settings) and ``value/holdout.parquet`` (the holdout
check, suppressed). Published count tables are registered with :func:`workbench.privacy.publish_counts`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import engine, fairness
from ..privacy import publish_magnitudes, suppress_and_publish
from ..rundir import Run, register_stage
from ._clv import fit_models, growth_potential, holdout_table, predict_value, top_share_selected
from ._defaults import DEFAULTS
from ._fit_gate import fit_gate
from ._gamma_gamma import spend_frequency_correlation
from ._summary import calibration_holdout, clv_summary, has_purchases, repeat_customers
from ._targeting import overlap_counts, targeting_rates

__all__ = ["PREDICTED", "ValueResult", "growth_by_segment", "has_transactions", "p_alive_by_state", "summarise_value",
           "targeting_audit",
           "value_run"]

PREDICTED = "value/predicted.parquet"
_MODEL_COLUMNS = ["expected_purchases", "p_alive", "expected_spend", "clv"]


@dataclass
class ValueResult:
    """What notebook 07 shows: the predictions, the fitted models and the holdout check."""

    predicted: pd.DataFrame
    models: dict
    holdout: pd.DataFrame
    settings: dict


def _transactions(run: Run):
    """The prepared transaction log as Parquet the engine reads (:class:`~workbench.features.ParquetTransactions`)."""
    from ..features import ParquetTransactions

    return ParquetTransactions.of(run.path / "data" / "transactions.parquet")


def _customer_columns(run: Run, columns: list[str]) -> pd.DataFrame:
    """Those of ``columns`` the prepared customer table has, in table order (not every column of every customer)."""
    import pyarrow.parquet as pq

    path = run.path / "data" / "customers.parquet"
    present = set(pq.read_schema(path).names)
    return pd.read_parquet(path, columns=[c for c in columns if c in present])


def has_transactions(run: Run) -> bool:
    """Whether the run has a transaction log with at least one purchase (the models need one): a query."""
    if not run.has_transactions:
        return False
    with engine.using(run.config):
        return has_purchases(_transactions(run))


#: Fewest customers with repeat purchases Gamma-Gamma is fitted on (``fit_gamma_gamma`` refuses fewer).
MIN_REPEAT_CUSTOMERS = 3


def not_applicable_because(run: Run) -> str | None:
    """Why predicted value does not apply to this run's data (a sentence's tail), or None when it does.

    Both models are models of repeat purchases: BG/NBD needs a purchase log, Gamma-Gamma customers who
    bought more than once (spend per repeat purchase). An export of one purchase per customer has none.
    When the stage does not apply, ``summary.json`` records it (``07_predicted_value``: ``applicable``
    false, ``because``, a headline) so the index and the executive summary say so too.
    """
    if not has_transactions(run):
        because = ("the dataset has no transaction log with purchases, and the CLV models are models of repeat "
                   "purchases")
    else:
        with engine.using(run.config):
            because = _too_few_repeat_customers(repeat_customers(_transactions(run)))
    if because:
        run.summarise("07_predicted_value", applicable=False, because=because,
                      headline=[f"Predicted value: not applicable, because {because}."])
    return because


def _repeat(summary: pd.DataFrame) -> int:
    """Customers of the statistics with a repeat purchase day and positive repeat spend (as :func:`repeat_customers`)."""
    return int(((summary["frequency"] > 0) & (summary["monetary_value"] > 0)).sum())


def _too_few_repeat_customers(repeat: int) -> str | None:
    """Why the models cannot be fitted (fewer than :data:`MIN_REPEAT_CUSTOMERS` who bought again), or None."""
    if repeat >= MIN_REPEAT_CUSTOMERS:
        return None
    return (f"fewer than {MIN_REPEAT_CUSTOMERS} customers bought on more than one day, and the CLV models (BG/NBD "
            "for repeat purchases, Gamma-Gamma for spend per repeat purchase) can only be fitted to customers who "
            "buy again")


def _settings(run: Run) -> dict:
    s = run.settings("value", DEFAULTS)
    if s.get("when_unfit") not in ("warn", "historical"):
        raise ValueError(f"config value.when_unfit must be 'warn' or 'historical', got {s.get('when_unfit')!r}")
    for key in ("horizon_days", "step_days", "fit_sample"):
        if s.get(key) is not None and not (isinstance(s[key], (int, float)) and s[key] > 0):
            raise ValueError(f"config value.{key} must be a positive number, got {s[key]!r}")
    return s


def _calibration_end(tx, s: dict) -> tuple[pd.Timestamp, pd.Timestamp]:
    _, first, last = tx.span()
    end = pd.Timestamp(last).normalize() + pd.Timedelta(days=1)
    if s.get("calibration_end"):
        return pd.Timestamp(s["calibration_end"]), end
    start = pd.Timestamp(first).normalize()
    days = s.get("holdout_days") or max(1, (end - start).days // 3)
    return end - pd.Timedelta(days=int(days)), end


def _gate(cal: pd.DataFrame, bg, summary: pd.DataFrame, s: dict) -> dict:
    """The fit gate's verdict (``models.json["fit_gate"]``); not judged without a calibration fit."""
    settings = {**DEFAULTS["fit_gate"], **(s.get("fit_gate") or {})}
    if bg is None:
        return {"fits": True, "reasons": [], "judged": False, **settings}
    x, t_x, T = (cal[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    predicted = bg.expected_purchases(cal["holdout_days"].to_numpy(dtype=float), x, t_x, T)
    gate = fit_gate(cal, predicted, summary["frequency"], summary["monetary_value"], **settings)
    return {**gate.as_dict(), "judged": True, "sentence": gate.sentence()}


def _holdout(run: Run, tx, s: dict, k: int, summary: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Refit BG/NBD on the calibration period; actual vs predicted holdout purchases per bucket; the fit gate."""
    cal_end, end = _calibration_end(tx, s)
    cal = calibration_holdout(tx, cal_end, end)
    bg = fit_models(cal, s["fit_sample"], run.seed)[0] if len(cal) else None
    table = holdout_table(cal, bg)
    # one column of sizes: its total column alone is printed (the column and its total are one quantity)
    counts = suppress_and_publish(run, "value_holdout", table.set_index("bucket")[["customers"]],
                                  "calibration_repeat_purchases", "value_holdout", k, population=CALIBRATION,
                                  sizes_only=True)
    table["customers"] = counts["Total"].drop(index="Total").to_numpy()
    for col in ("actual", "predicted"):  # means of the printed sums (cell-key method for magnitudes) and counts
        table[col] = publish_magnitudes(run, f"holdout {col}", table[f"{col}_sum"], table[f"{col}_top"],
                                        "calibration_repeat_purchases", table["bucket"], "value_holdout",
                                        population=CALIBRATION) / table["customers"]
    table = table.drop(columns=["actual_sum", "predicted_sum", "actual_top", "predicted_top"])
    table.loc[table["customers"].isna(), ["actual", "predicted"]] = np.nan
    gate = _gate(cal, bg, summary, s)
    # the fit gate's verdict per bucket (decided on exact counts; no number of a suppressed bucket is shown)
    table["fit"] = table["bucket"].map(gate.get("bucket_verdicts") or {}).fillna("not judged")
    table.loc[table["customers"].isna(), "fit"] = "suppressed"
    info = {"calibration_end": str(cal_end.date()), "observation_end": str(end.date()),
            "holdout_days": int((end - cal_end).days), "params": bg.params if bg else None, "fit_gate": gate}
    return table, info


@register_stage(PREDICTED)
def value_run(run: Run) -> ValueResult:
    """Stage 07: sufficient statistics, the two models fitted on a sample, everyone scored, the holdout check."""
    if not has_transactions(run):
        raise ValueError("the CLV models need a transaction log with purchases; this dataset has none")
    s = _settings(run)
    k = int(run.read_json("data/prepare.json").get("suppression_k", 10))
    tx = _transactions(run)
    with engine.using(run.config):  # the statistics on the run's engine: no transaction in pandas
        summary = clv_summary(tx)
    because = _too_few_repeat_customers(_repeat(summary))
    if because:
        raise ValueError(f"Predicted value is not applicable: {because} (see value.not_applicable_because).")
    bg, gg = fit_models(summary, s["fit_sample"], run.seed)
    scored = predict_value(summary, bg, gg, s["horizon_days"], s["discount_rate"], s["step_days"])
    customers = _customer_columns(run, ["customer_id"])
    predicted = customers.merge(scored, on="customer_id", how="left")
    predicted["historical_value"] = predicted["historical_value"].fillna(0.0)
    predicted["frequency"] = predicted["frequency"].fillna(-1).astype("int64")  # -1: no purchase at all
    buyers = predicted[_MODEL_COLUMNS[-1]].notna().to_numpy()
    with engine.using(run.config):
        holdout, holdout_info = _holdout(run, tx, s, k, summary)
    fallback = not holdout_info["fit_gate"]["fits"] and s["when_unfit"] == "historical"
    predicted["growth_potential"] = False
    if not fallback:  # falling back to historical value, no customer ranks higher by prediction than by history
        predicted.loc[buyers, "growth_potential"] = growth_potential(
            predicted.loc[buyers, "historical_value"], predicted.loc[buyers, "clv"], s["growth_rank_gap"])
    run.write_table(PREDICTED, predicted)
    run.write_table("value/holdout.parquet", holdout)
    models = {
        "unit": "days", "bgnbd": bg.params, "gamma_gamma": gg.params,
        "bgnbd_loglik": bg.loglik, "gamma_gamma_loglik": gg.loglik, "fitted_customers": bg.n,
        "gamma_gamma_customers": gg.n, "converged": bool(bg.converged and gg.converged),
        "scored_customers": int(buyers.sum()), "customers": int(len(predicted)),
        "spend_frequency_correlation": spend_frequency_correlation(summary["frequency"], summary["monetary_value"]),
        "holdout": holdout_info, "fit_gate": holdout_info.pop("fit_gate"), "fallback_to_historical": fallback,
        "settings": {key: s[key] for key in DEFAULTS if key in s},
    }
    run.write_json("artifacts/value/models.json", models)
    return ValueResult(predicted=predicted, models=models, holdout=holdout, settings=s)


#: What the value stage's tables count (their populations for the whole-run disclosure check).
SCORED = "customers with a predicted value"
CALIBRATION = "customers of the calibration period"


def _k(run: Run) -> int:
    return int(run.read_json("data/prepare.json").get("suppression_k", 10))


@contextlib.contextmanager
def _tables(run: Run, **relative: str):
    """The run's engine with per-customer Parquet artifacts registered by name: only counts come back."""
    with engine.make_engine(run.config) as eng:
        for name, rel in relative.items():
            eng.register(name, [str(run.require(rel))])
        yield eng


def _crosstab(rows: pd.DataFrame, index: str, columns: str, labels: list[str]) -> pd.DataFrame:
    """Counts ``n`` by (``index``, ``columns``) as :func:`pandas.crosstab` lays them out (rows sorted, ``labels`` columns)."""
    table = rows.pivot_table(index=index, columns=columns, values="n", aggfunc="sum", fill_value=0)
    table = table.reindex(columns=labels, fill_value=0).sort_index().astype("int64")
    table.columns.name = columns
    return table


def growth_by_segment(run: Run) -> pd.DataFrame:
    """Customers with growth potential per segment, against the rest: suppressed with totals, registered.

    The counts are one join and ``GROUP BY`` in the run's engine (no per-customer frame on the driver).
    """
    with _tables(run, predicted=PREDICTED, assignments="segments/assignments.parquet") as eng:
        rows = eng.sql(
            "SELECT coalesce(CAST(a.segment_name AS VARCHAR), 'nan') AS segment, "
            "CASE WHEN p.growth_potential THEN 'growth potential' ELSE 'other' END AS growth, count(*) AS n "
            "FROM predicted p JOIN assignments a ON p.customer_id = a.customer_id "
            "WHERE p.clv IS NOT NULL AND NOT isnan(p.clv) GROUP BY 1, 2")
    table = _crosstab(rows, "segment", "growth", ["growth potential", "other"])
    counts = suppress_and_publish(run, "value_growth_by_segment", table, "segment_name", "value_growth", _k(run),
                                  population=SCORED, within="")
    return counts


def targeting_audit(run: Run) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Top ``value.top_share`` by historical vs by predicted value, per sensitive attribute.

    Returns ``{attribute: (overlap counts, rates)}``: the suppressed counts of who is selected by
    both, one or neither policy (registered for the whole-run disclosure check) and the selection
    rate per group under each policy with intervals. Empty when the dataset declares no sensitive
    attribute.
    """
    s = _settings(run)
    fs = run.settings("fairness", fairness.DEFAULTS)
    attributes = list(fs.get("sensitive") or run.roles.sensitive)
    if not attributes:
        return {}
    predicted = run.read_table(PREDICTED)
    buyers = predicted["clv"].notna().to_numpy()
    customers = _customer_columns(run, ["customer_id", *attributes])
    groups = fairness.sensitive_groups(customers, attributes, {**fs, "intersections": []})
    by_history = top_share_selected(predicted.loc[buyers, "historical_value"], s["top_share"])
    models = run.read_json("artifacts/value/models.json")
    predicted_value = "historical_value" if models.get("fallback_to_historical") else "clv"
    by_prediction = top_share_selected(predicted.loc[buyers, predicted_value], s["top_share"])
    out = {}
    for attr in attributes:
        g = groups[attr].to_numpy()[buyers]
        def publish(exact, attr=attr):
            return suppress_and_publish(run, f"value_targeting_{attr}", exact, attr, "value_selection", _k(run),
                                        population=SCORED, within="")

        overlap = overlap_counts(by_history, by_prediction, g, k=_k(run), suppress=publish)
        rates = targeting_rates(by_history, by_prediction, g, overlap, min_group_size=int(fs.get("min_group_size", 30)),
                                reference=fairness.reference_for(fs.get("reference"), attr, fs.get("labels")),
                                thresholds=fs.get("thresholds"))
        out[attr] = (overlap, rates)
    return out



def summarise_value(run: Run, result: ValueResult, growth: pd.DataFrame | None,
                    targeting: dict[str, tuple[pd.DataFrame, pd.DataFrame]]) -> list[str]:
    """Write the ``07_predicted_value`` summary fragment (parameters, published counts only); return the headline."""
    from .views import headline

    total = None if growth is None else growth.loc["Total", "growth potential"]
    lines = headline(result.models, result.holdout, total)
    selected = {}
    for attr, (overlap, _) in targeting.items():
        t = overlap.loc["Total"]
        selected[attr] = {"by_history": t["both"] + t["historical only"], "by_prediction": t["both"] + t["predicted only"],
                          "history_only": t["historical only"], "prediction_only": t["predicted only"]}
    m = result.models
    holdout = [{k: _fitted(v) if k in ("actual", "predicted") else v for k, v in row.items()}
               for row in result.holdout.to_dict(orient="records")]
    run.summarise("07_predicted_value", headline=lines, unit=m["unit"],
                  bgnbd={k: _fitted(v) for k, v in m["bgnbd"].items()},
                  gamma_gamma={k: _fitted(v) for k, v in m["gamma_gamma"].items()},
                  fitted_customers=m["fitted_customers"], scored_customers=m["scored_customers"],
                  holdout=holdout, growth_potential=total, targeting=selected,
                  clv_fit={"fits": bool(m["fit_gate"].get("fits", True)), "judged": bool(m["fit_gate"].get("judged")),
                           "buckets_outside": m["fit_gate"].get("buckets_outside", []),
                           "spend_frequency_r": (m["fit_gate"].get("correlation") or {}).get("r"),
                           "fallback_to_historical": bool(m.get("fallback_to_historical"))})
    return lines


def _fitted(value):
    """A fitted model's number as the summary states it: 6 significant digits.

    L-BFGS-B stops at a relative tolerance near 1e-9 and its last digits follow floating-point noise
    (the same config gave Gamma-Gamma p = 8.7422840412 and 8.7422840411 in two processes): more
    digits would claim a precision the fit does not have and break "same config, same summary".
    ``artifacts/value/models.json`` keeps the full values.
    """
    if value is None or not np.isfinite(value):
        return value
    return float(f"{float(value):.6g}")


_P_ALIVE_BANDS = [0.0, 0.25, 0.5, 0.75, 1.0 + 1e-12]
_P_ALIVE_LABELS = ["P(alive) < 0.25", "0.25-0.5", "0.5-0.75", ">= 0.75"]


def p_alive_by_state(run: Run) -> pd.DataFrame | None:
    """Customers per state in the latest window of notebook 05 (a segment, inactive) and P(alive) band.

    P(alive) is the churn-risk signal; the dynamics states say who bought nothing in the last
    quarter. Suppressed with totals and registered. ``None`` when notebook 05 has not run here
    (``dynamics/states.parquet`` is absent): this view does not trigger the dynamics stage.
    """
    if not run.has("dynamics/states.parquet"):
        return None
    import pyarrow.parquet as pq

    last = pq.read_schema(run.require("dynamics/states.parquet")).names[-1]
    names = {int(k): v for k, v in run.read_json("artifacts/segments/segments.json").get("names", {}).items()}
    names.update({-1: "inactive", -2: "not yet a customer"})
    # the bands of pd.cut(..., _P_ALIVE_BANDS, right=False): [lower, upper), none outside [0, 1 + 1e-12)
    bands = " ".join(f"WHEN p.p_alive >= {lo!r} AND p.p_alive < {hi!r} THEN '{label}'" for lo, hi, label in
                     zip(_P_ALIVE_BANDS[:-1], _P_ALIVE_BANDS[1:], _P_ALIVE_LABELS))
    with _tables(run, predicted=PREDICTED, states="dynamics/states.parquet") as eng:
        rows = eng.sql(
            f'SELECT CAST(s."{last}" AS BIGINT) AS code, CASE {bands} END AS p_alive, count(*) AS n '
            "FROM predicted p JOIN states s ON p.customer_id = s.customer_id "
            "WHERE p.p_alive IS NOT NULL AND NOT isnan(p.p_alive) GROUP BY 1, 2")
    rows = rows[rows["p_alive"].notna()]
    rows["state"] = [names.get(int(v), str(v)) for v in rows["code"]]
    table = _crosstab(rows, "state", "p_alive", _P_ALIVE_LABELS)
    counts = suppress_and_publish(run, "value_p_alive_by_state", table, "dynamics_state", "p_alive_band", _k(run),
                                  population=SCORED, within="")
    counts.attrs["window"] = str(last)
    return counts
