"""Stage 05 on a run directory: the only module of the package that reads or writes it."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from .. import engine, fairness, privacy
from ..rundir import Run, register_stage
from ._behaviour import windowed_states
from ._drift import centroid_shift, drift_flags
from ._labels import (
    LabelStaleness,
    _judge_labels,
    _label_ages,
    _recorded_labels,
    label_age_table,
    label_staleness_table,
)
from ._movement import movement_fairness, movement_population, movement_table
from ._planted_migration import planted_migration_check
from ._staleness import refresh_recommendation, stale_assignments, staleness_curve
from ._states import Dynamics
from ._transitions import _transition_tables, transitions_from_printed, window_counts
from ._windows import make_windows

DEFAULTS: dict[str, Any] = {
    # window length in months: each customer's state is scored on the window's purchases alone, so a
    # window must hold enough purchases to place a customer (6 = half-years; 3 = quarters, noisier)
    "window_months": 6,
    "n_windows": None,  # None: as many full windows as the history holds, at most max_windows
    "max_windows": 8,
    "psi_bins": 10,
    "psi_moderate": 0.1,  # PSI bands: < 0.1 stable, 0.1-0.25 moderate shift, >= 0.25 major shift
    "psi_major": 0.25,
    "stale_tolerance": 0.10,  # refresh before more than this share of assignments is stale
    # an assignment is stale when the behaviour no longer fits the segment: less typical of it than this share
    # of its own members are, in windows of the same season (SeasonalProfiles)
    "fit_coverage": 0.99,
    "refresh_lag": 2,  # windows between the recorded refresh and now, for the stale table
    "sensitive": None,  # attributes for fairness of movement; None: the roles' sensitive attributes
    "ci_level": 0.95,
}


@register_stage("dynamics/states.parquet")
def dynamics_run(run: Run) -> Dynamics | None:
    """Stage 05: states per window, transitions, drift, stale assignments, fairness of movement.

    Artifacts under ``dynamics/``: ``states.parquet`` (customer_id + a state per window),
    ``segments_by_window.parquet``, ``transitions.parquet`` (suppressed counts and rates, long form),
    ``grades.parquet``, ``drift.parquet``, ``centroid_shift.parquet``, ``staleness.parquet``,
    ``stale.parquet``, ``fairness.parquet``, ``dynamics.json``. Returns None (and records why)
    when the dataset has no transactions or too short a history.

    States are behavioural (:func:`windowed_states`): each window's purchases alone, scored against
    the recorded segments' behaviour profiles. Every published count table (transitions per window
    pair, customers per window and state, movement by sensitive group) is suppressed once and
    registered with :func:`workbench.privacy.publish_counts`; rates, shares and the flow chart derive
    from those tables.

    In an audit of given segment labels (stage 02 in audit mode), :func:`label_staleness` first
    judges how stale the labels are (``label_staleness.json``, ``label_stale.parquet``,
    ``label_age.parquet``); the windows are then scored against the given labels' behaviour profiles.
    """
    with engine.using(run.config):  # window features and every count table on the configured engine
        return _dynamics_run(run)


def _dynamics_run(run: Run) -> Dynamics | None:
    settings = run.settings("dynamics", DEFAULTS)
    given = _given_labels(run)
    if given is None:
        return _dynamics_windows(run, settings)
    result = label_staleness(run, settings, given)
    label_summary = _write_label_staleness(run, result)
    dyn = _dynamics_windows(run, settings)
    path = run.path / "summary" / "05_dynamics.json"
    earlier = json.loads(path.read_text()).get("headline", []) if path.exists() else []
    heads = result.headline or [f"Staleness of the given labels: not applicable, because {result.because}."]
    run.summarise("05_dynamics", labels=label_summary, headline=[*heads, *earlier])
    if dyn is not None:
        dyn.settings["label_staleness"] = label_summary
    return dyn


def _given_labels(run: Run) -> dict | None:
    """``segments.json``'s audit section when stage 02 audited given labels, else None."""
    if not run.has("segments/segments.json"):
        return None
    info = run.read_json("artifacts/segments/segments.json")
    if info.get("method") != "external labels":
        return None
    return {**(info.get("audit") or {}), "names": {int(k): v for k, v in (info.get("names") or {}).items()}}


def label_staleness(run: Run, settings: dict | None = None, given: dict | None = None) -> LabelStaleness:
    """Audit mode: how stale the given segment labels are against the customers' current behaviour.

    Needs ``assigned_at`` (when each label was assigned). With a transaction history, each labelled
    customer's features are computed *as of* the day of their label (:func:`features_at_labelling`),
    a fidelity-gated surrogate (:class:`workbench.explain.SurrogateExplainer`) learns the labels from
    that behaviour, and is applied to the customers' current features (``segments/features.parquet``):
    a label is *stale* when today's behaviour puts the customer in another segment. The surrogate's
    held-out error at labelling time is the noise floor of that share. When the surrogate does not
    reproduce the labels (below ``explain.fidelity_threshold``), the segment profiles at labelling
    time judge instead (nearest profile, standardised numeric features). Without transactions only
    the labels' ages are shown. The age of a label is counted to the day after the last transaction
    (without transactions: to the most recent label). ``settings`` (the dynamics section) is accepted
    for symmetry with :func:`dynamics_run`; no setting applies here.
    """
    given = given if given is not None else _given_labels(run)
    if given is None:
        return LabelStaleness(False, "the segments were learned in this run, not given as labels")
    roles = run.roles
    names = given["names"]
    if not roles.assigned_at:
        return LabelStaleness(False, "the segment labels carry no assigned_at date, so their age and staleness "
                                     "cannot be judged")
    k = int(run.read_json("data/prepare.json").get("suppression_k", 10))
    min_size = int(given.get("min_segment_size") or k)
    customers = run.customers()
    transactions = run.transactions()
    assignments = run.read_table("segments/assignments.parquet")
    current = run.read_table("segments/features.parquet")
    frame, recorded, when = _recorded_labels(customers, assignments, roles.assigned_at,
                                             given.get("unlabelled_segment"))
    has_tx = transactions is not None and len(transactions) > 0
    age, ages = _label_ages(recorded, when, transactions if has_tx else None)
    labelled = recorded >= 0
    if labelled.sum() < 2:
        return LabelStaleness(False, "fewer than two labelled customers carry an assigned_at date", ages=ages)
    result = LabelStaleness(True, ages=ages)
    implied = None
    if not has_tx:
        result.because = ("the dataset has no transaction history, so the customers' behaviour now cannot be told "
                          "apart from their behaviour when they were labelled; only the labels' ages are shown")
    else:
        from .. import explain as explain_module

        seg_settings = (run.config.get("segmentation") or {}).get("features") or None
        esettings = run.settings("explain", explain_module.DEFAULTS)
        result.model, implied, result.overall = _judge_labels(
            frame, recorded, customers, transactions, roles, current, names, seg_settings, esettings, run.seed)
    result.by_segment = label_staleness_table(
        recorded, implied, age, names, k, min_size, suppress=lambda exact: privacy.suppress_and_publish(
            run, "dynamics_label_stale", exact, "segment", "label assignment", k,
            population="labelled customers judged now"))
    if result.overall:  # the overall share as published: None where its stale or not-stale count is small
        shown = float(result.by_segment["stale_share"].iloc[-1])
        result.overall["stale_share"] = shown if np.isfinite(shown) else None
    result.by_age = label_age_table(age[labelled], None if implied is None else (implied != recorded)[labelled], k)
    result.headline = _label_headline(result, judged=implied is not None)
    return result


def _label_headline(result: LabelStaleness, judged: bool) -> list[str]:
    """The summary sentences of :func:`label_staleness`."""
    ages = result.ages
    heads = [f"Given labels are a median {ages['median_days']:.0f} days old (to {ages['reference']}); "
             f"{ages['share_older_180']:.0%} are older than 180 days."]
    if judged:
        o = result.overall
        body = result.by_segment.iloc[:-1]
        body = body[(~body["suppressed"].astype(bool)) & (body["evidence"] == "sufficient") & body["stale_share"].notna()]
        worst = body.sort_values("stale_share", ascending=False, kind="stable").head(1)
        share = "A suppressed share (small count)" if o["stale_share"] is None else f"{o['stale_share']:.0%}"
        heads.append(
            f"{share} of labelled customers' current behaviour puts them in another given segment "
            f"(judged by {o['method']}; {o['noise_floor']:.1%} disagree already at labelling time)"
            + (f"; stalest: {worst['segment'].iloc[0]} ({float(worst['stale_share'].iloc[0]):.0%})." if len(worst) else ".")
        )
    else:
        heads.append(f"Label staleness against current behaviour: not applicable, because {result.because}.")
    return heads


def _write_label_staleness(run: Run, result: LabelStaleness) -> dict:
    """Artifacts and the summary fragment of :func:`label_staleness`."""
    info = {"applicable": result.applicable, "because": result.because, "ages": result.ages, **result.overall}
    run.write_json("artifacts/dynamics/label_staleness.json", info)
    if result.by_segment is not None:
        run.write_table("dynamics/label_stale.parquet", result.by_segment)
    if result.by_age is not None:
        run.write_table("dynamics/label_age.parquet", result.by_age)
    summary = {"applicable": result.applicable, **({"because": result.because} if result.because else {})}
    if result.ages:
        summary["median_age_days"] = result.ages.get("median_days")
        summary["share_older_180_days"] = result.ages.get("share_older_180")
    if result.overall:
        share = result.overall["stale_share"]
        summary.update(stale_share=None if share is None else round(share, 4),
                       noise_floor=round(result.overall["noise_floor"], 4), judged_by=result.overall["method"])
    return summary


def read_label_staleness(run: Run) -> dict | None:
    """For notebook 05: the label-staleness artifacts (audit mode), or None in a normal run."""
    path = run.path / "artifacts" / "dynamics" / "label_staleness.json"
    if not path.exists():
        return None
    info = json.loads(path.read_text())
    for name, rel in (("by_segment", "dynamics/label_stale.parquet"), ("by_age", "dynamics/label_age.parquet")):
        info[name] = run.read_table(rel) if run.has(rel) else None
    return info


def _recorded(run: Run):
    """Stage 02's recorded assignment (or the given labels), segment names and value order."""
    assignments = run.read_table("segments/assignments.parquet")
    info = run.read_json("artifacts/segments/segments.json")
    names = {int(k): v for k, v in (info.get("names") or {}).items()}
    value_order = info.get("value_order") or _value_order_from(run, assignments)
    return assignments[["customer_id", "segment"]], names, [int(v) for v in value_order]


def _value_order_from(run: Run, assignments: pd.DataFrame) -> list[int]:
    """Segments ranked by mean net spend (low -> high) when segments.json has no value_order.

    The spend per customer is a group-by in the engine; the driver gets one row per segment.
    """
    value = _transactions(run).query(
        "SELECT a.segment, avg(coalesce(s.spend, 0)) AS v FROM (SELECT customer_id, segment FROM assigned) AS a "
        "LEFT JOIN (SELECT customer_id, sum(amount) AS spend FROM tx GROUP BY customer_id) AS s "
        "ON a.customer_id = s.customer_id GROUP BY a.segment",
        assigned=assignments[["customer_id", "segment"]],
    ).sort_values("segment").set_index("segment")["v"]
    return [int(s) for s in value.sort_values(kind="stable").index]


def _transactions(run: Run):
    """The run's prepared transactions as Parquet the engine reads (None without any)."""
    from ..features import ParquetTransactions

    return ParquetTransactions.of(run.path / "data" / "transactions.parquet") if run.has_transactions else None


def _dynamics_windows(run: Run, settings: dict) -> Dynamics | None:
    """The window analysis of :func:`dynamics_run`.

    The transactions stay in the engine: the windows come from their first and last timestamp, and
    each window's activity and behaviour features are queries over the Parquet file.
    """
    transactions = _transactions(run)
    n_tx, first, last = transactions.span() if transactions is not None else (0, None, None)
    if n_tx == 0:
        return _not_applicable(run, "the dataset has no transaction history to split into periods")
    windows = make_windows(pd.Series([first, last]), settings["window_months"], settings["n_windows"],
                           settings["max_windows"])
    if len(windows) < 2:
        return _not_applicable(
            run, f"the transaction history holds fewer than two full {settings['window_months']}-month windows"
        )
    recorded, names, value_order = _recorded(run)
    customers = run.customers()
    k = int(run.read_json("data/prepare.json").get("suppression_k", 10))
    seg_settings = (run.config.get("segmentation") or {}).get("features") or None
    dyn = windowed_states(customers, transactions, run.roles, windows, recorded, names, value_order,
                          feature_settings=seg_settings, psi_bins=settings["psi_bins"], seed=run.seed,
                          coverage=float(settings["fit_coverage"]))
    dyn.settings = dict(settings, suppression_k=k)
    labels = dyn.labels

    run.write_table("dynamics/states.parquet", dyn.states.rename(columns=str))
    transitions, grades = _publish(run, dyn, k)
    run.write_table("dynamics/transitions.parquet", transitions)
    run.write_table("dynamics/grades.parquet", grades)
    run.write_table("dynamics/drift.parquet", dyn.drift.reset_index(names="feature"))
    run.write_table("dynamics/centroid_shift.parquet", centroid_shift(dyn))
    stale, advice, refreshed_at = _write_staleness(run, dyn, settings, k)
    run.write_table("dynamics/fairness.parquet", _movement_fairness(run, settings, dyn, customers, value_order, k))

    info = {
        "applicable": True,
        "windows": [{"label": w.label, "start": w.start.date().isoformat(), "end": w.end.date().isoformat()}
                    for w in windows.itertuples()],
        "pairs": [list(pair) for pair in dyn.pairs],
        "refreshed_at": refreshed_at,
        "refresh": advice,
        "model": "nearest behaviour profile of the recorded segments for the window's season, per window",
    }
    run.write_json("artifacts/dynamics/dynamics.json", info)
    dyn.settings.update(refreshed_at=refreshed_at, refresh=advice)
    summary = _summary(dyn, settings, grades, stale, advice, refreshed_at)
    _planted_migration(run, dyn, customers, summary)
    run.summarise("05_dynamics", **summary)
    return dyn


def _publish(run: Run, dyn: Dynamics, k: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Suppress and register the window and transition tables (what is hidden decided on the perturbed count;
    the whole-run disclosure check attacks them jointly) and derive what notebook 05 and ``summary.json`` show
    from them as printed (perturbed counts, issue 24): the window counts, the transition counts and rates
    (long form) and the up- and downgrades."""
    printed = window_counts(dyn.states, dyn.labels, dyn.value_order, dyn.names, k, suppress=lambda exact: (
        privacy.suppress_and_publish(run, "dynamics_window_states", exact, "window", "state", k,
                                     population="customer-windows")))
    run.write_table("dynamics/window_counts.parquet", printed.reset_index())

    def pair(before: str, after: str):  # one table per population: customers acquired by the later window
        return lambda exact: privacy.suppress_and_publish(
            run, f"dynamics_transitions_{before}_{after}", exact, f"state {before}", f"state {after}", k,
            population=f"customers acquired by {after}")

    shown = _transition_tables(dyn.states, dyn.pairs, dyn.state_names(), dyn.value_order, k, suppress=pair)
    return transitions_from_printed(shown, dyn.value_order, dyn.names)


def printed_counts(run: Run) -> dict:
    """Notebook 05's count tables as printed: ``windows`` (customers per window and state, with margins) and
    ``transitions`` (each compared pair's transition table, by ``(before, after)``). Show these, never a
    table recomputed from the states: that one holds the exact counts."""
    info = run.read_json("artifacts/dynamics/dynamics.json")
    return {"windows": privacy.printed_table(run, "dynamics_window_states"),
            "transitions": {(b, a): privacy.printed_table(run, f"dynamics_transitions_{b}_{a}")
                            for b, a in info.get("pairs") or []}}


def _write_staleness(run: Run, dyn: Dynamics, settings: dict, k: int):
    """Staleness curve, refresh advice and the stale table of the assignments recorded ``refresh_lag`` ago."""
    labels = dyn.labels
    curve = staleness_curve(dyn.segments, labels, dyn.fits)  # exact: the advice is decided on it, never published
    published_curve = staleness_curve(  # its counts published, its shares from them as printed
        dyn.segments, labels, dyn.fits, k=k, suppress=lambda counts: privacy.suppress_and_publish(
            run, "dynamics_staleness", counts, "windows apart", "assignment", k,
            population="customers scored in two windows"))
    advice = refresh_recommendation(curve, int(settings["window_months"]), float(settings["stale_tolerance"]),
                                    published=published_curve)
    lag = max(1, min(int(settings["refresh_lag"]), len(labels) - 1))
    refreshed_at = labels[-1 - lag]

    def publish(counts: pd.DataFrame) -> pd.DataFrame:  # recorded segment x (stale, not stale), suppressed once
        return privacy.suppress_and_publish(run, "dynamics_stale", counts, f"segment at {refreshed_at}", "assignment",
                                            k, population=f"customers scored in {refreshed_at} and {labels[-1]}")

    stale = stale_assignments(dyn.segments[refreshed_at], dyn.segments[labels[-1]], dyn.names, k=k, suppress=publish,
                              fits=None if dyn.fits is None else dyn.fits[labels[-1]])
    run.write_table("dynamics/staleness.parquet", published_curve)
    run.write_table("dynamics/stale.parquet", stale)
    return stale, advice, refreshed_at


def _movement_fairness(run: Run, settings: dict, dyn: Dynamics, customers: pd.DataFrame, value_order: list[int],
                       k: int) -> pd.DataFrame:
    """:func:`movement_fairness` over the last compared pair of windows, with the fairness stage's settings."""
    before, after = dyn.last_pair
    sensitive = settings["sensitive"]
    if sensitive is None:
        sensitive = run.settings("fairness", fairness.DEFAULTS).get("sensitive") or list(run.roles.sensitive)
    sensitive = [s for s in sensitive if s in customers.columns]
    fair_settings = run.settings("fairness", fairness.DEFAULTS)
    published = {}
    for attr in sensitive:
        def publish(exact, attr=attr):
            return privacy.suppress_and_publish(run, f"dynamics_movement_{attr}", exact, attr, exact.columns.name,
                                                k, population=movement_population(before))

        published[attr] = movement_table(dyn.states, customers, before, after, value_order, attr,
                                         fair_settings.get("bands"), fair_settings.get("labels"), k, suppress=publish)
    return movement_fairness(
        dyn.states, customers, before, after, value_order, sensitive,
        bands=fair_settings.get("bands"), labels=fair_settings.get("labels"),
        alpha=1 - float(settings["ci_level"]), n_boot=int(fair_settings.get("n_boot", 1000)),
        min_group_size=int(fair_settings.get("min_group_size", 30)), seed=run.seed, k=k, published=published,
        reference=fair_settings.get("reference", "most favoured"), thresholds=fair_settings.get("thresholds"),
    )


def _stale_sentence(stale: pd.DataFrame, refreshed_at: str, last: str) -> str:
    share, n = float(stale["stale_share"].iloc[-1]), float(stale["n"].iloc[-1])
    if n == 0:
        return (f"No customer in a segment at the end of {refreshed_at} bought anything in {last}, so the staleness "
                "of those assignments cannot be judged.")
    if not np.isfinite(share):  # its stale or not-stale count is small: suppressed like any count
        return (f"The share of the assignments recorded at the end of {refreshed_at} that are stale by {last} is "
                "suppressed (small count).")
    return (f"{share:.0%} of the assignments recorded at the end of {refreshed_at} are stale by {last} "
            "(behaviour no longer fits the segment).")


def _summary(dyn: Dynamics, settings: dict, grades: pd.DataFrame, stale: pd.DataFrame, advice: dict,
             refreshed_at: str) -> dict[str, Any]:
    """The ``05_dynamics`` summary fragment, its headline included (never a "nan": unpublished shares are said so)."""
    labels = dyn.labels
    before, after = dyn.last_pair
    drift = dyn.drift
    overall = grades[grades["segment"] == "all"]
    last = overall.iloc[-1]
    recent = drift_flags(drift[[f"{before}→{after}"]], settings["psi_moderate"], settings["psi_major"])
    major = recent[recent["band"] == "major shift"]["feature"].tolist()
    moderate = recent[recent["band"] == "moderate shift"]["feature"].tolist()
    stale_share = float(stale["stale_share"].iloc[-1])
    headline = [
        f"{len(labels)} windows of {settings['window_months']} months ({labels[0]} to {labels[-1]}), "
        f"{_compared(dyn)}; {_movement_sentence(last, before, after)}",
        (f"Between {before} and {after}, features with a major distribution shift "
         f"(PSI ≥ {settings['psi_major']}): {', '.join(major)}." if major
         else f"No feature shifted majorly between {before} and {after}.")
        + (f" Moderate (PSI ≥ {settings['psi_moderate']}): {', '.join(moderate)}." if moderate else ""),
        _stale_sentence(stale, refreshed_at, labels[-1]) + " " + advice["sentence"],
    ]
    return {
        "applicable": True,
        "windows": labels,
        "pairs": [list(pair) for pair in dyn.pairs],
        "upgraded": overall.set_index("after")["upgraded"].round(4).to_dict(),
        "downgraded": overall.set_index("after")["downgraded"].round(4).to_dict(),
        "inactive": overall.set_index("after")["inactive"].round(4).to_dict(),
        "drift_major": major,
        "drift_moderate": moderate,
        "stale_share": round(stale_share, 4) if np.isfinite(stale_share) else None,
        "refresh_every_months": advice["refresh_every_months"],
        "headline": headline,
    }


def _compared(dyn: Dynamics) -> str:
    """How the windows are paired, in words."""
    if dyn.pair_lag == 1:
        return "each compared with the one before"
    return "each compared with the same season a year earlier, so that seasonal buying is not read as movement"


def _movement_sentence(row: pd.Series, before: str, after: str) -> str:
    """Up- and downgrades and lapses of the last pair; a share derived from a suppressed cell is said to be hidden."""
    phrases = {"upgraded": "moved to a higher-value segment", "downgraded": "to a lower-value one",
               "inactive": "became inactive"}
    shown = [f"{float(row[key]):.0%} {words}" for key, words in phrases.items() if pd.notna(row[key])]
    hidden = [key for key in phrases if pd.isna(row[key])]
    text = f"of the customers in a segment in {before}, "
    if shown:
        text += (", ".join(shown[:-1]) + " and " + shown[-1] if len(shown) > 1 else shown[0]) + f" by {after}"
    if hidden:
        words = {"upgraded": "moved up", "downgraded": "moved down", "inactive": "became inactive"}
        names = [words[key] for key in hidden]
        listed = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
        text += ("; " if shown else "") + (f"the share{'s' if len(names) > 1 else ''} that {listed} "
                                           f"{'are' if len(names) > 1 else 'is'} not published (a count "
                                           f"{'they need' if len(names) > 1 else 'it needs'} is suppressed)")
    return text + "."


def _planted_migration(run: Run, dyn: Dynamics, customers: pd.DataFrame, summary: dict) -> None:
    """Synthetic data with a planted migration only: check it against the measured one (artifact, summary).

    The generator's truth (``data/truth.json``, ``data/truth.parquet``) exists only for the synthetic
    dataset; notebook 05 shows the result (``dyn.settings["planted_migration"]``).
    """
    truth_path = run.path / "data" / "truth.json"
    if not truth_path.exists():
        return
    migration = json.loads(truth_path.read_text()).get("migration")
    if not migration:
        return
    truth = pd.read_parquet(run.path / "data" / "truth.parquet")
    check = planted_migration_check(dyn, truth, migration, suppress=lambda exact: privacy.suppress_and_publish(
        run, "dynamics_planted_migration", exact, exact.index.name, exact.columns.name,
        population="customers in the learned source"))
    run.write_json("artifacts/dynamics/planted_migration.json", check)
    dyn.settings["planted_migration"] = check
    if check.get("applicable"):
        summary["planted_migration"] = {key: check[key] for key in
                                        ("before", "after", "planted_share", "measured_share")}
        summary["headline"].append(
            f"Planted migration ({migration['source']} → {migration['target']}, "
            f"{check['planted_share']:.1%} of the source segment): the transition matrix "
            f"{check['before']}→{check['after']} measures {check['measured_share']:.1%}."
        )


def _not_applicable(run: Run, because: str) -> None:
    run.write_json("artifacts/dynamics/dynamics.json", {"applicable": False, "because": because})
    run.write_table("dynamics/states.parquet", pd.DataFrame({"customer_id": pd.Series([], dtype="string")}))
    run.summarise("05_dynamics", applicable=False, because=because,
                  headline=[f"Segment dynamics: not applicable, because {because}."])
    return None
