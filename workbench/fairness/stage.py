"""Stage 04: the fairness audit of a run directory (the only module here that reads or writes it)."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import engine
from ..privacy import suppress_and_publish
from ..privacy._choices import DEFAULTS as CHOICES_DEFAULTS
from ..rundir import Run, register_stage
from ._choices import choice_holds, event_counts_by, held_selections, rates_above_rest, targeting_check
from ._composition import composition
from ._defaults import DEFAULTS
from ._groups import UNKNOWN, _codes, sensitive_groups
from ._headline import _headline
from ._mitigation import _correlation_remover_audit, mitigate_threshold_optimizer
from ._models import _one_thread
from ._masking import (equal_opportunity_comparisons, equal_opportunity_printed, event_counts, mask_composition,
                       mask_outcome, mask_rates, outcome_counts)
from ._policy import _customer_value, _spec_text, _value_order, action_options, consent_column, resolve_policy
from ._proxies import proxy_scan
from ._rates import outcome_rates_by_group
from ._rates import rate_by_group, reference_for
from ._restate import printed_gaps, restate_balance
from ._selection import dp_summary, selection_audit
from ._verdicts import decision_family, equal_opportunity_verdicts, verdicts


@dataclass
class FairnessAudit:
    """Everything :func:`fairness_run` found; tables are already small-cell suppressed."""

    applicable: bool
    reason: str = ""
    attributes: list[str] = field(default_factory=list)
    coverage: pd.DataFrame | None = None
    policy: pd.DataFrame | None = None
    verdicts: pd.DataFrame | None = None
    selection: pd.DataFrame | None = None
    dp: pd.DataFrame | None = None
    outcome: pd.DataFrame | None = None
    outcome_summary: pd.DataFrame | None = None
    composition: pd.DataFrame | None = None
    consent: pd.DataFrame | None = None
    counts: dict[str, pd.DataFrame] = field(default_factory=dict)
    balance: pd.DataFrame | None = None
    proxy_joint: pd.DataFrame | None = None
    proxies: pd.DataFrame | None = None
    shap_note: str = ""
    mitigation: pd.DataFrame | None = None
    mitigation_note: str = ""
    threshold: pd.DataFrame | None = None
    threshold_note: str = ""
    headline: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    given: dict | None = None  # audit of given segments (labels): source, insufficient-evidence segments
    rule: dict = field(default_factory=dict)  # thresholds, alpha, min_group_size, correction, suppression k
    choices: dict[str, pd.DataFrame] = field(default_factory=dict)  # contest / disagreement rates by segment, group
    choices_check: dict | None = None  # the register's promise, checked on fairness/targeting.parquet


@dataclass
class _Inputs:
    """What the steps of :func:`fairness_run` share: settings, the customers' table, segments, groups."""

    settings: dict
    roles: Any
    k_supp: int
    attributes: list[str]
    seed: int
    n_boot: int
    alpha: float
    min_n: int
    correction: str
    seginfo: dict
    df: pd.DataFrame  # assignments joined to customers, one row per assigned customer
    feats: pd.DataFrame  # segmentation inputs, rows aligned with df
    segs: np.ndarray
    names: dict[int, str]
    value: np.ndarray | None
    order_source: str
    actions: dict[str, list[int]]
    selections: dict[str, np.ndarray]
    options: dict[str, dict]  # per action: favourable, consent
    consented: dict[str, np.ndarray]  # per consent purpose the policy names: consent given
    groups: pd.DataFrame  # group labels per attribute and intersection
    labelled: set[str]
    holds: Any = None  # what the choices register holds back from targeting (None: no register)

    @property
    def audited(self) -> list[str]:
        return list(self.groups.columns)

    def reference(self, attr: str) -> str:
        """The configured reference group of ``attr`` (a display label when labels are given)."""
        return reference_for(self.settings["reference"], attr, self.settings.get("labels"))


@register_stage("fairness/verdicts.parquet")
def fairness_run(run: Run) -> FairnessAudit:
    """Audit the run's segments and targeting policy; write ``artifacts/fairness/`` and the summary.

    Artifacts: ``verdicts.parquet`` (action, attribute, verdict, sentence), ``selection.parquet``,
    ``dp.parquet``, ``composition.parquet``, ``balance.parquet``, ``proxies.parquet``,
    ``proxy_joint.parquet``, ``mitigation.parquet`` and, with an outcome, ``outcome.parquet`` and
    ``threshold_optimizer.parquet``. Summary ``04_fairness``: ``verdicts``, ``headline`` and key
    figures.
    """
    with engine.using(run.config):  # the counts behind every published table run on the configured engine
        return _fairness_run(run)


def _fairness_run(run: Run) -> FairnessAudit:
    settings = run.settings("fairness", DEFAULTS)
    # A configured policy replaces the default one (merging would keep the default actions).
    configured = (run.config.get("fairness") or {}).get("policy")
    if configured is not None:
        settings["policy"] = configured
    k_supp = int(run.read_json("data/prepare.json").get("suppression_k", 10))
    attributes = [a for a in (settings["sensitive"] or run.roles.sensitive)]
    customers_all = run.customers()
    attributes = [a for a in attributes if a in customers_all.columns]
    if not attributes:
        return _not_applicable(run)
    inp = _read_inputs(run, settings, k_supp, attributes, customers_all)
    audit = FairnessAudit(applicable=True, attributes=inp.audited, rule={
        "thresholds": settings["thresholds"], "alpha": inp.alpha, "min_group_size": inp.min_n,
        "correction": inp.correction, "k": k_supp})
    audit.policy = pd.DataFrame([
        {"action": a, "segments": ", ".join(inp.names[i] for i in ids), "segment_ids": ids,
         "customers_selected_share": float(inp.selections[a].mean()),
         "chosen_by": _spec_text(settings["policy"][a], inp.order_source)}
        for a, ids in inp.actions.items()
    ])
    _composition_step(run, inp, audit)
    audit.coverage = _coverage(inp, audit)
    _consent_step(run, inp, audit)
    dp_rows = _targeting_step(run, inp, audit)
    _choices_step(run, inp, audit)
    outcome_col = _outcome_step(run, inp, audit)
    inputs = _proxy_step(run, inp, audit)
    _mitigation_step(run, inp, audit, outcome_col, inputs)
    verdict_out = published_verdicts(audit.verdicts, inp.alpha, inp.correction)
    _write_artifacts(run, audit, verdict_out)
    audit.choices_check = _write_targeting(run, inp)
    audit.headline, top_proxies = _headline(audit, verdict_out, inp.actions, inp.names, settings["policy"],
                                            inp.order_source, attributes)
    _summarise(run, audit, inp, verdict_out, dp_rows, top_proxies)
    return audit


def published_verdicts(v: pd.DataFrame, alpha: float, correction: str) -> pd.DataFrame:
    """The verdict rows as published (``verdicts.parquet``, ``summary.json``): the sentence, and the number
    it rests on with its interval and its test.

    ``value`` is the rate ratio of the judged group furthest from parity (closest to the band's edge for a
    pass) to the comparison group, ``interval_low``/``interval_high`` its Koopman interval at ``level``;
    all three are None where that group's counts are suppressed, as in the sentence. ``family_size`` is
    the number of comparisons the ``correction`` runs over, ``family`` says which (every pair of the
    groups judged when the comparison group was chosen for its rate: ``reference_by_rate``).
    """
    out = v[["action", "attribute", "verdict", "sentence"]].copy()
    shown = ~v["worst_masked"].astype(bool) & v["worst_ratio"].notna()
    for col, src in (("value", "worst_ratio"), ("interval_low", "worst_ratio_low"), ("interval_high", "worst_ratio_high")):
        out[col] = pd.Series([round(float(x), 4) if ok and np.isfinite(x) else None for x, ok in zip(v[src], shown)],
                             index=out.index, dtype=object)  # None, not NaN: summary.json stays valid JSON
    out["measure"] = "rate ratio to the comparison group"
    out["compared_group"] = pd.Series([str(g) if ok else None for g, ok in zip(v["worst_group"], shown)],
                                      index=out.index, dtype=object)
    out["reference"] = v["reference"].astype(str).to_numpy()
    out["family_size"] = v["family_size"].astype(int).to_numpy()
    out["family"] = v["family"].astype(str).to_numpy()
    out["reference_by_rate"] = v["reference_by_rate"].astype(bool).to_numpy()
    out["level"] = float(1 - alpha)
    out["correction"] = str(correction)
    return out


# -- reading ------------------------------------------------------------------------------------------
def _not_applicable(run: Run) -> FairnessAudit:
    audit = FairnessAudit(
        applicable=False,
        reason="the dataset declares no sensitive attribute (no gender, age, ethnicity or similar "
        "column), so there is no group to compare",
    )
    run.write_table("fairness/verdicts.parquet", pd.DataFrame(columns=["action", "attribute", "verdict", "sentence"]))
    run.summarise("04_fairness", applicable=False, verdicts=[], headline=[
        f"Fairness audit not applicable: {audit.reason}."
    ])
    return audit


def _read_inputs(run: Run, settings: dict, k_supp: int, attributes: list[str],
                 customers_all: pd.DataFrame) -> _Inputs:
    """Segments, their inputs and names, customer value, the policy's selections and the groups."""
    roles = run.roles
    assignments = run.read_table("segments/assignments.parquet")
    seginfo_path = run.path / "artifacts" / "segments" / "segments.json"
    seginfo = run.read_json("artifacts/segments/segments.json") if seginfo_path.exists() else {}
    features = run.read_table("segments/features.parquet")
    df = assignments[["customer_id", "segment"]].merge(customers_all, on="customer_id", how="left")
    feats = df[["customer_id"]].merge(features, on="customer_id", how="left").drop(columns="customer_id")
    segs = df["segment"].to_numpy().astype(int)
    names = {int(k): str(v) for k, v in (seginfo.get("names") or {}).items()}
    if not names:
        names = dict(zip(assignments["segment"].astype(int), assignments["segment_name"].astype(str)))
    for sid in np.unique(segs):
        names.setdefault(int(sid), f"Segment {sid}")
    value_col = settings.get("value_column") or seginfo.get("value_feature")
    value, value_name = _customer_value(feats, df, roles, value_col)
    value_order = seginfo.get("value_order")
    order_source = "segments.json value_order"
    if not value_order:
        value_order = _value_order(segs, value)
        order_source = f"mean {value_name} per segment" if value is not None else "segment id (no value measure)"
    actions = resolve_policy(settings["policy"], names, value_order)
    options = action_options(settings["policy"])
    purposes = sorted({o["consent"] for o in options.values() if o["consent"]})
    consented = {p: _consent_flags(df, p, roles) for p in purposes}
    holds = _choice_holds(run, df["customer_id"], list(actions), names)
    selections = held_selections(segs, actions, {a: consented[o["consent"]] for a, o in options.items() if o["consent"]},
                                 holds, bool(run.settings("choices", CHOICES_DEFAULTS)["declared_overrides_model"]))
    return _Inputs(
        settings=settings, roles=roles, k_supp=k_supp, attributes=attributes, seed=run.seed,
        n_boot=int(settings["n_boot"]), alpha=float(settings["alpha"]), min_n=int(settings["min_group_size"]),
        correction=settings["correction"], seginfo=seginfo, df=df, feats=feats, segs=segs, names=names,
        value=value, order_source=order_source, actions=actions,
        selections=selections, options=options, consented=consented,
        groups=sensitive_groups(df, attributes, settings),
        labelled={a for a in attributes if (settings.get("labels") or {}).get(a)},
        holds=holds,
    )


def _choice_holds(run: Run, customer_ids: pd.Series, actions: list[str], names: dict[int, str]):
    """What the prepared choices register holds back from targeting; None when the run has no register."""
    path = run.path / "data" / "choices.parquet"
    if not path.exists():
        return None
    return choice_holds(customer_ids, pd.read_parquet(path), actions, names)


def _choices_step(run: Run, inp: _Inputs, audit: FairnessAudit) -> None:
    """Contest rates, and where customers declared segments the model-declaration disagreement rates,
    per segment and group: each count table published once, rates flagged when above the rest."""
    if inp.holds is None:
        return
    declared = inp.holds.declared >= 0
    for what, rows, events in (("contest", np.ones(len(inp.segs), bool), inp.holds.contested),
                               ("declaration", declared, inp.holds.declared != inp.segs)):
        if rows.sum() == 0:
            continue
        for dim, labels in (("segment", inp.segs), *((a, inp.groups[a].to_numpy()) for a in inp.audited)):
            counts = event_counts_by(labels[rows], events[rows])
            published = suppress_and_publish(run, f"choices_{what}_{_slug(dim)}", counts, dim, what)
            rates = rates_above_rest(counts, published, inp.alpha, inp.correction)
            if dim == "segment":
                rates.index = [inp.names[int(i)] for i in rates.index]
            audit.choices[f"{what}_by_{dim}"] = rates.rename_axis(dim)
    run.summarise("choices", rates={key: {str(i): {"rate": r.rate, "low": r.low, "high": r.high, "flagged": r.flagged}
                                          for i, r in t.iterrows()} for key, t in audit.choices.items()})


def _write_targeting(run: Run, inp: _Inputs) -> dict | None:
    """Write every customer's selections (``fairness/targeting.parquet``), then check the register's
    promise on that file: the ``choices`` summary's ``targeting`` counts."""
    table = pd.DataFrame({"customer_id": inp.df["customer_id"].to_numpy(), **inp.selections})
    run.write_table("fairness/targeting.parquet", table)
    path = run.path / "data" / "choices.parquet"
    register = pd.read_parquet(path) if path.exists() else None
    check = targeting_check(run.read_table("fairness/targeting.parquet"), register)
    if inp.holds is not None:
        check |= {"held_for_review": int(inp.holds.contested.sum()),
                  "declared_naming_no_segment": inp.holds.declared_unknown}
    run.summarise("choices", targeting=check,
                  declared_overrides_model=bool(run.settings("choices", CHOICES_DEFAULTS)["declared_overrides_model"]))
    return check if register is not None else None


def _consent_flags(df: pd.DataFrame, purpose: str, roles) -> np.ndarray:
    """Consent for ``purpose`` per customer (missing = not given)."""
    col = consent_column(df.columns, purpose, getattr(roles, "consent", None))
    flags = df[col]
    if flags.dtype != bool:
        flags = flags.map({True: True, False: False, 1: True, 0: False, "1": True, "0": False,
                           "true": True, "false": False, "yes": True, "no": False})
    return flags.fillna(False).to_numpy(dtype=bool)


def _read_importance(run: Run) -> tuple[pd.DataFrame | None, str]:
    """SHAP importance from notebook 03, or None with a note saying why it is missing."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            importance = pd.read_parquet(run.require("explain/importance.parquet"))
        if not {"feature", "mean_abs_shap"} <= set(importance.columns):
            return None, "SHAP weights are not available (explain/importance.parquet lacks feature, mean_abs_shap)."
        return importance, (
            "SHAP weight: for each targeted segment, the feature's mean |SHAP| of the margin (own score minus "
            "runner-up) over the segment's customers (notebook 03): its weight in the decision that put customers "
            "into the segment the action reaches."
        )
    except Exception as exc:  # the explanation stage may be missing or failing: show the list without it
        return None, (
            "SHAP weights are not available (explain/importance.parquet could not be produced: "
            f"{type(exc).__name__}: {str(exc)[:120]}); the proxy list is shown without them."
        )


def _read_model(run: Run):
    """The fitted segmentation model of stage 02, or None when it is absent or unreadable."""
    import joblib

    try:
        path = run.artifact("segments/model.joblib")
        if path.exists():
            return joblib.load(path)
    except Exception:  # an unreadable model: a stand-in is fitted instead
        return None
    return None


# -- the audit's steps (in this order) ----------------------------------------------------------------
def _coverage(inp: _Inputs, audit: FairnessAudit) -> pd.DataFrame:
    """Known and unknown customers per attribute, read from the suppressed composition table's totals
    (so a hidden "unknown" total is hidden here too)."""
    rows = []
    for a in inp.audited:
        counts = audit.counts[a]
        total = float(counts.loc["Total", "Total"])
        unknown = float(counts.loc["Total", UNKNOWN]) if UNKNOWN in counts.columns else 0.0
        hidden = not np.isfinite(unknown) or not np.isfinite(total)
        rows.append({"attribute": a, "groups": int(inp.groups[a].nunique()),
                     "known": "suppressed" if hidden else int(total - unknown),
                     "unknown": "suppressed" if hidden else int(unknown),
                     "coverage": np.nan if hidden else (total - unknown) / total})
    return pd.DataFrame(rows)


def _composition_step(run: Run, inp: _Inputs, audit: FairnessAudit) -> None:
    """Composition per attribute: the (segment x group) counts suppressed once with margins and
    published; shares, representation ratios and balance masked where their cells are hidden."""
    comp_parts, bal_parts = [], []
    for i, attr in enumerate(inp.audited):
        long, bal = composition(inp.segs, inp.groups[attr], segment_names=inp.names, n_boot=inp.n_boot,
                                alpha=inp.alpha, min_group_size=inp.min_n, seed=np.random.default_rng([inp.seed, 1, i]))
        counts = long.pivot(index="segment", columns="group", values="n")
        counts = counts[[c for c in inp.groups[attr].cat.categories if c in counts.columns]]
        counts.index = counts.index.astype(str)
        sup = suppress_and_publish(run, f"composition_{_slug(attr)}", counts, "segment", attr, inp.k_supp)
        long = mask_composition(long, sup, inp.alpha)
        shown = sup.copy()
        shown.index = [inp.names.get(int(j), j) if j != "Total" else j for j in sup.index]
        shown.index.name = "segment_name"
        shown.attrs["complementary"] = [(shown.index[list(sup.index).index(r)], c)  # same cells, named rows
                                        for r, c in sup.attrs.get("complementary", [])]
        audit.counts[attr] = shown
        bal = restate_balance(bal, long)
        hidden = set(zip(long.loc[long["masked"], "segment"], long.loc[long["masked"], "group"]))
        weak = [(int(r.segment), r.least_represented) in hidden for r in bal.itertuples()]
        bal.loc[weak, ["balance", "least_represented"]] = [np.nan, "suppressed (small cell)"]
        comp_parts.append(long.assign(attribute=attr))
        bal_parts.append(bal.assign(attribute=attr))
    comp = pd.concat(comp_parts, ignore_index=True)
    audit.composition = comp[["attribute", *[c for c in comp.columns if c != "attribute"]]]
    audit.balance = pd.concat(bal_parts, ignore_index=True)[["attribute", "segment", "segment_name", "balance", "least_represented"]]
    seginfo = inp.seginfo
    given = seginfo.get("audit") if seginfo.get("method") == "external labels" else None
    if given is not None:
        small = [int(j) for j in given.get("insufficient_evidence") or []]
        min_seg = int(given.get("min_segment_size") or inp.min_n)
        audit.given = {"source": given.get("source"), "insufficient_evidence": small, "min_segment_size": min_seg,
                       "unlabelled_segment": given.get("unlabelled_segment")}
        weak = audit.balance["segment"].astype(int).isin(small)
        audit.balance["evidence"] = np.where(weak, f"insufficient evidence (fewer than {min_seg} customers)", "sufficient")
        audit.balance.loc[weak, ["balance", "least_represented"]] = [np.nan, None]


def _targeting_step(run: Run, inp: _Inputs, audit: FairnessAudit) -> list[dict]:
    """Per (action, attribute): the selected / not selected counts suppressed once with margins and
    published; rates and comparisons masked by them; verdicts and DP figures from the masked table."""
    sel_parts, dp_rows = [], []
    thresholds = inp.settings["thresholds"]
    for action, selected in inp.selections.items():
        fav = inp.options[action]["favourable"]
        for attr in inp.audited:
            table, _ = selection_audit(selected, inp.groups[attr], reference=inp.reference(attr), favourable=fav,
                                       alpha=inp.alpha, min_group_size=inp.min_n, thresholds=thresholds)
            sup = suppress_and_publish(run, f"selection_{_slug(action)}_{_slug(attr)}", event_counts(table), attr,
                                       action, inp.k_supp)
            sel_parts.append(table.assign(action=action, attribute=attr, _sup=[sup] * len(table)))
    selection = decision_family(pd.concat(sel_parts, ignore_index=True), min_group_size=inp.min_n,
                                correction=inp.correction, thresholds=thresholds)
    parts = []
    for (action, attr), part in selection.groupby(["action", "attribute"], sort=False):
        masked = mask_rates(part.drop(columns="_sup"), part["_sup"].iloc[0], alpha=inp.alpha, thresholds=thresholds,
                            correction=inp.correction)
        parts.append(masked)
        exact = part.drop(columns="_sup").assign(masked=masked["masked"].to_numpy(bool))
        dp = dp_summary(exact, min_group_size=inp.min_n, alpha=inp.alpha, thresholds=thresholds, printed=masked)
        dp_rows.append({"action": action, "attribute": attr, "favourable": inp.options[action]["favourable"], **dp})
    unmasked = selection.drop(columns="_sup")
    masked_all = pd.concat(parts).loc[unmasked.index]
    # The verdict is decided on the exact counts; its sentence shows the printed numbers, none of a masked row.
    audit.verdicts = verdicts(unmasked.assign(masked=masked_all["masked"].to_numpy(bool)), thresholds=thresholds, min_group_size=inp.min_n, alpha=inp.alpha,
                              correction=inp.correction, labelled=inp.labelled,
                              favourable={a: o["favourable"] for a, o in inp.options.items()}, printed=masked_all)
    cols = ["action", "attribute", *[c for c in masked_all.columns if c not in ("action", "attribute")]]
    audit.selection = masked_all[cols]
    audit.dp = pd.DataFrame(dp_rows)
    return dp_rows


def _consent_step(run: Run, inp: _Inputs, audit: FairnessAudit) -> None:
    """Consent rate by group for each purpose the policy needs: unequal consent is itself a finding."""
    parts = []
    for purpose, given in inp.consented.items():
        for attr in inp.audited:
            t = rate_by_group(given, inp.groups[attr], reference="largest", alpha=inp.alpha,
                              min_group_size=inp.min_n, correction=None)
            sup = suppress_and_publish(run, f"consent_{_slug(purpose)}_{_slug(attr)}",
                                       event_counts(t, "consented", "not consented"), attr, f"consent_{purpose}",
                                       inp.k_supp)
            t = mask_rates(t, sup, yes="consented", alpha=inp.alpha, correction=None)
            parts.append(t.assign(purpose=purpose, attribute=attr)[
                ["purpose", "attribute", "group", "n", "events", "rate", "rate_low", "rate_high", "ratio",
                 "ratio_low", "ratio_high", "masked"]])
    audit.consent = pd.concat(parts, ignore_index=True) if parts else None


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", str(name)).strip("_").lower()


def _outcome_step(run: Run, inp: _Inputs, audit: FairnessAudit) -> str | None:
    """True- and false-positive rates of each targeting rule where the dataset has an outcome."""
    roles, df = inp.roles, inp.df
    outcome_col = roles.outcome if roles.outcome and roles.outcome in df.columns else None
    if outcome_col:
        y = pd.to_numeric(df[outcome_col], errors="coerce")
        ok = y.notna().to_numpy()
        known = "" if ok.all() else f"customers with a known {outcome_col}"  # their population for the check
        out_parts, out_sum, eo_parts, eo_printed = [], [], [], []
        for a_i, (action, selected) in enumerate(inp.selections.items()):
            for j, attr in enumerate(inp.audited):
                tab, summ = outcome_rates_by_group(
                    selected[ok], y[ok].to_numpy(), inp.groups[attr][ok].reset_index(drop=True), n_boot=inp.n_boot,
                    alpha=inp.alpha, seed=np.random.default_rng([inp.seed, 3, a_i, j]),
                )
                codes, labels = _codes(inp.groups[attr][ok].reset_index(drop=True))
                counts = outcome_counts(selected[ok], y[ok].to_numpy(), codes, labels)
                sup = suppress_and_publish(run, f"outcome_{_slug(action)}_{_slug(attr)}", counts, attr,
                                           f"{outcome_col} × {action}", inp.k_supp, population=known,
                                           within="" if known else None)
                eo_parts.append(equal_opportunity_comparisons(
                    counts, sup, reference=inp.reference(attr), favourable=inp.options[action]["favourable"],
                    alpha=inp.alpha, min_group_size=inp.min_n, thresholds=inp.settings["thresholds"],
                ).assign(action=action, attribute=attr))
                eo_printed.append(equal_opportunity_printed(eo_parts[-1], sup, alpha=inp.alpha,
                                                            thresholds=inp.settings["thresholds"]))
                tab = mask_outcome(tab, sup, inp.alpha)
                # the gaps of the TPR and FPR as printed; none where one is masked (they would give it away)
                summ = {k_: np.nan for k_ in summ} if tab["masked"].any() else printed_gaps(tab)
                out_parts.append(tab.assign(action=action, attribute=attr))
                out_sum.append({"action": action, "attribute": attr, **summ})
        outcome = pd.concat(out_parts, ignore_index=True)
        audit.outcome = outcome[["action", "attribute", *tab.columns]]
        # equal opportunity judged by the selection rule, on the exact counts (sentences mask what is hidden)
        eo = equal_opportunity_verdicts(eo_parts, outcome_col, thresholds=inp.settings["thresholds"],
                                        min_group_size=inp.min_n, alpha=inp.alpha, correction=inp.correction,
                                        labelled=inp.labelled, printed=eo_printed,
                                        favourable={a: o["favourable"] for a, o in inp.options.items()})
        audit.outcome_summary = pd.DataFrame(out_sum).assign(equal_opportunity_verdict=eo["verdict"].to_numpy())
        audit.verdicts = pd.concat([audit.verdicts, eo], ignore_index=True)
    return outcome_col


def _proxy_inputs(inp: _Inputs) -> tuple[pd.DataFrame, list[str]]:
    """Candidate proxies (inputs and customer-table features, never a sensitive attribute) and the inputs."""
    feats, roles, df = inp.feats, inp.roles, inp.df
    sensitive_all = set(roles.sensitive) | set(inp.attributes)
    inputs = [c for c in (inp.seginfo.get("inputs") or list(feats.columns)) if c in feats.columns]
    cand = feats[[c for c in feats.columns if c not in sensitive_all]].copy()
    for c in roles.feature_columns:
        if c not in cand.columns and c not in sensitive_all and c in df.columns:
            cand[c] = df[c].to_numpy()
    return cand, inputs


def _proxy_step(run: Run, inp: _Inputs, audit: FairnessAudit) -> list[str]:
    """The proxy scan (with SHAP weights from stage 03 when asked for); returns the segmentation inputs."""
    p_set = inp.settings["proxy"]
    cand, inputs = _proxy_inputs(inp)
    importance = None
    if not p_set.get("shap", True):
        audit.shap_note = "SHAP weights were not requested (fairness.proxy.shap: false)."
    else:
        importance, audit.shap_note = _read_importance(run)
    targeted = {i: inp.names[i] for ids in inp.actions.values() for i in ids}
    audit.proxy_joint, audit.proxies = proxy_scan(
        cand, inp.groups[inp.attributes], inp.segs, inputs=inputs, importance=importance, targeted=targeted,
        bins=int(p_set["bins"]),
        cv=int(p_set["cv"]), max_rows=int(p_set["max_rows"]), seed=inp.seed,
    )
    return inputs


def _mitigation_step(run: Run, inp: _Inputs, audit: FairnessAudit, outcome_col: str | None,
                     inputs: list[str]) -> None:
    """(a) CorrelationRemover and a refit of the segmentation; (b) ThresholdOptimizer where there is an outcome."""
    m_set = inp.settings["mitigation"]
    feats, df, attributes = inp.feats, inp.df, inp.attributes
    if inp.roles.segment:
        audit.mitigation_note = (
            "the segments are given labels (an existing segmentation), not a fitted model, so there is no "
            "segmentation to refit on decorrelated inputs"
        )
    elif m_set.get("correlation_remover", True):
        with _one_thread():
            audit.mitigation, audit.mitigation_note = _correlation_remover_audit(
                _read_model(run), feats[inputs] if inputs else feats, inp.groups, attributes, inp.segs, inp.actions,
                inp.settings, inp.value, inp.seed,
            )
    if outcome_col and m_set.get("threshold_optimizer", True):
        ok = pd.to_numeric(df[outcome_col], errors="coerce").notna().to_numpy()
        parts = []
        for attr in attributes:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parts.append(mitigate_threshold_optimizer(
                    feats.loc[ok, inputs] if inputs else feats.loc[ok],
                    df.loc[ok, outcome_col].to_numpy(), inp.groups.loc[ok, attr].rename(attr),
                    {a: s[ok] for a, s in inp.selections.items()}, constraints=m_set["constraints"],
                    objective=m_set["objective"], seed=inp.seed,
                ))
        audit.threshold = pd.concat(parts, ignore_index=True)
        audit.threshold_note = (
            f"Outcome '{outcome_col}'. The outcome model (gradient boosting on the segmentation inputs) "
            "learns on 40% of the customers, ThresholdOptimizer chooses its per-group thresholds on 30%, "
            "and every rule is evaluated on the remaining 30%."
        )
    elif not outcome_col:
        audit.threshold_note = "the dataset has no outcome column (such as churn), so no rule can be judged by who it should reach"


# -- writing ------------------------------------------------------------------------------------------
def _write_artifacts(run: Run, audit: FairnessAudit, verdict_out: pd.DataFrame) -> None:
    run.write_table("fairness/verdicts.parquet", verdict_out)
    run.write_table("fairness/selection.parquet", _plain(audit.selection))
    run.write_table("fairness/dp.parquet", audit.dp)
    run.write_table("fairness/composition.parquet", _plain(audit.composition))
    run.write_table("fairness/balance.parquet", _plain(audit.balance))
    run.write_table("fairness/proxies.parquet", audit.proxies)
    run.write_table("fairness/proxy_joint.parquet", audit.proxy_joint)
    if audit.mitigation is not None:
        run.write_table("fairness/mitigation.parquet", audit.mitigation)
    if audit.outcome is not None:
        run.write_table("fairness/outcome.parquet", _plain(audit.outcome))
        run.write_table("fairness/outcome_summary.parquet", audit.outcome_summary)
    if audit.threshold is not None:
        run.write_table("fairness/threshold_optimizer.parquet", audit.threshold)


def _summarise(run: Run, audit: FairnessAudit, inp: _Inputs, verdict_out: pd.DataFrame, dp_rows: list[dict],
               top_proxies: dict) -> None:
    names, given = inp.names, audit.given
    run.summarise(
        "04_fairness",
        applicable=True,
        verdicts=verdict_out.to_dict(orient="records"),
        headline=audit.headline,
        policy={a: [names[i] for i in ids] for a, ids in inp.actions.items()},
        **({"given_segments": {"source": given["source"],
                               "insufficient_evidence": [names[j] for j in given["insufficient_evidence"]]}}
           if given is not None else {}),
        dp={f"{r['action']} / {r['attribute']}": {"difference": r["dp_difference"], "ratio": r["dp_ratio"],
                                                  "within_thresholds": r["within_thresholds"],
                                                  "left_out": r["dp_left_out"]}
            for r in dp_rows},
        comparison_groups={f"{r.action} / {r.attribute}": r.reference for r in audit.verdicts.itertuples()},
        top_proxies=top_proxies,
    )


def _plain(df: pd.DataFrame | None) -> pd.DataFrame | None:
    """Parquet-safe copy (object columns of dicts or lists as strings)."""
    if df is None:
        return None
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object and out[c].map(lambda v: isinstance(v, (dict, list))).any():
            out[c] = out[c].map(str)
    return out
