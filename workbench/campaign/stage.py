"""Stage 08: the only module of ``workbench.campaign`` that reads or writes the run directory.

Reads ``data/campaigns.parquet`` (written by preparation when the dataset has a campaign table), the
segments of stage 02 and the customers' sensitive attributes. Segment membership is taken *as of*
``assigned_at``: with a fitted model, each customer's features are recomputed from the transactions
before that day (:func:`workbench.dynamics.features_at_labelling`) and scored; in audit mode the given
label is used. Every count behind a published number goes through
:func:`workbench.privacy.suppress_and_publish` (``campaign_<campaign>_segment`` and one
``campaign_<campaign>_<attribute>`` table of segment x group cells); rates, uplifts and intervals of a
row with a hidden count are hidden.

Artifacts: ``campaign/effects.parquet`` (segment and group rows, masked), ``campaign/verdicts.parquet``,
``campaign/left_out.parquet``; ``summary.json`` key ``08_campaign`` (``effects``, ``verdicts``,
``left_out``, ``headline``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import fairness
from ..privacy import publish_magnitudes, suppress_and_publish
from ..rundir import Run, register_stage
from ._benefit import benefit_verdict, left_out, pooled
from ._defaults import DEFAULTS
from ._effects import CELLS, effect_counts, effects_from_counts, mask_effects
from ._kpis import kpi_counts_query, kpi_rates, long_states, mean_interval
from ._qini import strategy_table, t_learner_scores

__all__ = ["CampaignResult", "EFFECT_FIELDS", "campaign_run", "segment_kpis", "segments_at_assignment"]

EFFECTS = "campaign/effects.parquet"
#: The fields of ``summary.json``'s ``08_campaign.effects`` rows (issue 26).
EFFECT_FIELDS = ["campaign", "segment", "group", "n_treatment", "n_control", "rate_treatment", "rate_control",
                 "uplift", "uplift_low", "uplift_high"]


@dataclass
class CampaignResult:
    """What notebook 08 shows."""

    applicable: bool
    because: str = ""
    effects: pd.DataFrame = field(default_factory=pd.DataFrame)
    verdicts: pd.DataFrame = field(default_factory=pd.DataFrame)
    left_out: pd.DataFrame = field(default_factory=pd.DataFrame)
    targeted: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    headline: list = field(default_factory=list)
    membership: str = ""
    strategies: pd.DataFrame = field(default_factory=pd.DataFrame)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", str(text)).strip("_").lower() or "x"


def segments_at_assignment(run: Run, campaigns: pd.DataFrame) -> tuple[np.ndarray, str, pd.DataFrame | None]:
    """Each campaign row's segment id as of its ``assigned_at``, how it was decided (for the report), and
    the model's inputs as of that day (rows of ``campaigns``; None without a model)."""
    assignments = run.read_table("segments/assignments.parquet")
    current = campaigns["customer_id"].map(assignments.set_index("customer_id")["segment"])
    model_path = run.path / "artifacts" / "segments" / "model.joblib"
    transactions = run.transactions()
    if not model_path.exists() or transactions is None or transactions.empty:
        return current.to_numpy(), "the segment label each customer carries (no model to score an earlier date)", None
    import joblib

    from ..dynamics import features_at_labelling

    model = joblib.load(model_path)
    customers = run.customers().set_index("customer_id")
    seg_settings = (run.config.get("segmentation") or {}).get("features") or None
    out = np.full(len(campaigns), -1, dtype=int)
    inputs = pd.DataFrame(index=campaigns.index, columns=list(model.feature_names_in_), dtype=object)
    for _, rows in campaigns.groupby("campaign", sort=True):
        who = customers.loc[rows["customer_id"]].reset_index()
        features = features_at_labelling(who, transactions, run.roles, rows["assigned_at"].to_numpy(),
                                         columns=list(model.feature_names_in_), settings=seg_settings)
        X = features[model.feature_names_in_]
        out[campaigns.index.get_indexer(rows.index)] = np.asarray(model.predict(X))
        inputs.loc[rows.index] = X.to_numpy()
    return out, "the fitted model applied to each customer's behaviour before the day they were assigned", inputs


def _inputs(run: Run):
    """Campaign rows with segment as of assignment and sensitive groups; names, value order, settings."""
    campaigns = pd.read_parquet(run.path / "data" / "campaigns.parquet")
    segment, membership, inputs = segments_at_assignment(run, campaigns)
    seginfo_path = run.path / "artifacts" / "segments" / "segments.json"
    seginfo = run.read_json("artifacts/segments/segments.json") if seginfo_path.exists() else {}
    names = {int(k): str(v) for k, v in (seginfo.get("names") or {}).items()}
    for sid in np.unique(segment):
        names.setdefault(int(sid), f"Segment {sid}")
    fsettings = run.settings("fairness", fairness.DEFAULTS)
    customers = run.customers()
    attributes = [a for a in (fsettings.get("sensitive") or run.roles.sensitive or []) if a in customers.columns]
    frame = campaigns.assign(segment=segment).merge(customers[["customer_id", *attributes]], on="customer_id",
                                                    how="left")
    groups = fairness.sensitive_groups(frame, attributes, fsettings) if attributes else pd.DataFrame(index=frame.index)
    frame.attrs["inputs"] = inputs  # the uplift model's features as of assignment (None without a model)
    return frame, groups, names, seginfo.get("value_order"), fsettings, membership


def _targeted(campaign: str, settings: dict, fsettings: dict, names: dict, value_order) -> tuple[str | None, list]:
    """The policy action a campaign is linked to and the segments it targets (none when unlinked)."""
    action = (settings.get("actions") or {}).get(campaign, campaign)
    policy = fsettings.get("policy") or {}
    if action not in policy:
        return None, []
    return action, fairness.resolve_policy({action: policy[action]}, names, value_order)[action]


def _printed(counts: pd.DataFrame, shown: pd.DataFrame) -> pd.DataFrame:
    """``counts`` (rows in the order of ``shown``) with the printed values of its :data:`CELLS`: the
    published table's counts, suppressed and perturbed, which every number shown derives from.

    A hidden cell keeps its exact count, for decisions only (the verdict, whether a cell is judged):
    every number of a row or group with a hidden cell is hidden (:func:`mask_effects`, ``left_out``'s
    ``hidden``, ``benefit_verdict``'s ``masked``).
    """
    out = counts.copy()
    printed = shown[CELLS].to_numpy(float)
    out[CELLS] = np.where(np.isnan(printed), counts[CELLS].to_numpy(float), printed).astype(int)
    return out


def _printed_revenue(run: Run, counts: pd.DataFrame, row_dim: str, rows, campaign: str) -> pd.DataFrame:
    """``counts`` with its revenue sums and sums of squares per arm as printed (the cell-key method for
    magnitudes, :func:`workbench.privacy.publish_magnitudes`, scaled to each arm's largest revenue), the
    largest revenues dropped: incremental revenue and its interval derive from the printed sums only."""
    if "revenue_t" not in counts:
        return counts
    out = counts.copy()
    population = f"customers assigned in campaign {campaign}"
    for arm in ("t", "c"):
        top = out[f"revenue_top_{arm}"].to_numpy(float)
        for name, scale in ((f"revenue_{arm}", top), (f"revenue2_{arm}", top ** 2)):
            out[name] = publish_magnitudes(run, name, out[name], scale, row_dim, rows, f"campaign {campaign}",
                                           population=population)
    return out.drop(columns=["revenue_top_t", "revenue_top_c"])


def _segment_effects(run, frame, campaign, names, settings, k) -> pd.DataFrame:
    counts = effect_counts(frame, ["segment"])
    table = counts.set_index("segment")[CELLS]
    published = suppress_and_publish(run, f"campaign_{_slug(campaign)}_segment", table, "segment",
                                     f"campaign {campaign}", k, population=f"customers assigned in campaign {campaign}")
    shown = published.loc[counts["segment"]].reset_index(drop=True)
    counts = _printed_revenue(run, counts, "segment", counts["segment"], campaign)
    effects = effects_from_counts(_printed(counts, shown), value_per_response=settings["value_per_response"],
                                  cost_per_contact=settings["cost_per_contact"])
    effects = mask_effects(effects, shown)
    return effects.assign(campaign=campaign, segment_name=effects["segment"].map(names), group=None, attribute=None)


def _group_tables(run, frame, groups, campaign, names, targeted, settings, fsettings, k):
    """Per attribute: group effects in the targeted segments, the benefit verdict and who was left out."""
    effect_rows, verdicts, left = [], [], []
    min_n = int(fsettings["min_group_size"])
    for attr in groups.columns:
        cells = effect_counts(frame.assign(group=groups[attr].astype(str).to_numpy()), ["segment", "group"])
        labels = cells["segment"].astype(str) + " × " + cells["group"].astype(str)
        published = suppress_and_publish(run, f"campaign_{_slug(campaign)}_{_slug(attr)}",
                                         cells.set_index(labels)[CELLS], f"segment × {attr}", f"campaign {campaign}", k,
                                         population=f"customers assigned in campaign {campaign}")
        shown = published.loc[labels].reset_index(drop=True)
        hidden = {key for key, h in zip(zip(cells["segment"], cells["group"]), shown[CELLS].isna().any(axis=1)) if h}
        cells = _printed(_printed_revenue(run, cells, f"segment × {attr}", labels, campaign), shown)
        left.append(left_out(cells, targeted, min_n, hidden=hidden).assign(campaign=campaign, attribute=attr))
        if not targeted:
            continue
        inside = cells["segment"].isin(targeted).to_numpy()
        eff = mask_effects(effects_from_counts(cells.loc[inside]), shown.loc[inside])
        effect_rows.append(eff.assign(campaign=campaign, segment_name=eff["segment"].map(names), attribute=attr))
        where = "the targeted segment" + ("s " if len(targeted) > 1 else " ") + ", ".join(
            f"'{names[s]}'" for s in targeted)
        verdicts.append(benefit_verdict(
            pooled(cells, targeted), campaign=campaign, attribute=attr,
            band=float(settings["thresholds"]["uplift_difference"]), min_group_size=min_n,
            alpha=float(fsettings["alpha"]), correction=fsettings["correction"],
            masked={g for s, g in hidden if s in targeted}, where=where))
    return effect_rows, verdicts, left


def _alternatives(run: Run, part: pd.DataFrame, inputs: pd.DataFrame | None, targeted: list, settings: dict,
                  campaign: str, k: int) -> pd.DataFrame:
    """Policy, random, everyone and (with a model's inputs) a T-learner, at the policy's number of contacts
    (or ``budget_share`` of the customers), on the half of the customers the T-learner was not fitted on.

    The customers each strategy contacts, by arm and response, are a published table of counts
    (``campaign_<campaign>_strategies``, suppressed and perturbed like every other): contacts, incremental
    responders and their intervals derive from it; AUUC (a normalised area under the ranked curve) is
    shown only where the strategy's counts are.
    """
    evaluation = np.ones(len(part), dtype=bool)
    scores = {"policy": part["segment"].isin(targeted).to_numpy(dtype=float)}
    if inputs is not None and part["response"].nunique() > 1:
        uplift, evaluation = t_learner_scores(inputs, part["arm"].eq("treatment").to_numpy(),
                                              part["response"].to_numpy(), run.seed)
        scores["uplift model (T-learner)"] = uplift
    share = settings.get("budget_share")
    share = float(share) if share is not None else float(scores["policy"].mean())
    held = part.loc[evaluation].reset_index(drop=True)
    contacts = int(round(share * len(held)))
    scores = {name: v[evaluation] for name, v in scores.items()}
    table = strategy_table(held, scores, contacts, n_boot=int(settings["n_boot"]), seed=run.seed)
    counts = _strategy_counts(held, scores, contacts)
    shown = suppress_and_publish(run, f"campaign_{_slug(campaign)}_strategies", counts, "strategy",
                                 f"campaign {campaign}", k,
                                 population=f"customers of campaign {campaign} the strategies are evaluated on")
    return _from_printed(table, shown.loc[list(counts.index), CELLS])


def _strategy_counts(held: pd.DataFrame, scores: dict, contacts: int) -> pd.DataFrame:
    """The :data:`CELLS` counts of the customers each strategy contacts: its first ``contacts`` by score
    (ties in row order, as the Qini curve ranks them); ``everyone``: all of them."""
    treated = held["arm"].eq("treatment").to_numpy()
    response = held["response"].astype(int).to_numpy() == 1
    rows = {}
    for name, score in scores.items():
        top = np.zeros(len(held), dtype=bool)
        top[np.argsort(-np.asarray(score, dtype=float), kind="stable")[:max(contacts, 1)]] = True
        rows[name] = top
    rows["everyone"] = np.ones(len(held), dtype=bool)
    cells = {name: [int((on & treated & response).sum()), int((on & treated & ~response).sum()),
                    int((on & ~treated & response).sum()), int((on & ~treated & ~response).sum())]
             for name, on in rows.items()}
    return pd.DataFrame.from_dict(cells, orient="index", columns=CELLS).rename_axis("strategy")


def _from_printed(table: pd.DataFrame, printed: pd.DataFrame) -> pd.DataFrame:
    """The strategy table with contacts, incremental responders (``Y_T - Y_C N_T / N_C``) and their Newcombe
    intervals (scaled by ``N_T``) from the printed counts; random is everyone's scaled to the policy's
    contacts. A strategy whose counts are hidden has every number hidden."""
    from ..fairness import difference_interval

    s1, f1, s0, f0 = (printed[c].to_numpy(dtype=float) for c in CELLS)
    n1, n0 = s1 + f1, s0 + f0
    with np.errstate(divide="ignore", invalid="ignore"):
        lo, hi = difference_interval(s1, n1, s0, n0)
        reach = pd.DataFrame({"contacts": n1 + n0, "incremental_responders": s1 - s0 * n1 / n0,
                              "incremental_low": lo * n1, "incremental_high": hi * n1}, index=printed.index)
    everyone = reach.loc["everyone"]
    random_contacts = reach.loc["policy", "contacts"]
    reach.loc["random"] = everyone * (random_contacts / everyone["contacts"])
    out = table.set_index("strategy")
    out[reach.columns] = reach.reindex(out.index).to_numpy()
    out.loc[out["incremental_responders"].isna(), ["auuc", "auuc_low", "auuc_high"]] = np.nan
    out["evaluated_on"] = everyone["contacts"]
    out["contact_share"] = out["contacts"] / everyone["contacts"]
    return out.reset_index()


@register_stage(EFFECTS)
def campaign_run(run: Run) -> CampaignResult:
    """Notebook 08's stage: effects per segment, per group in the targeted segments, benefit verdicts."""
    settings = run.settings("campaign", DEFAULTS)
    if not (run.path / "data" / "campaigns.parquet").exists():
        return _not_applicable(run, settings)
    k = int(run.read_json("data/prepare.json").get("suppression_k", 10))
    frame, groups, names, value_order, fsettings, membership = _inputs(run)
    effects, verdicts, left, targeted, strategies = [], [], [], {}, []
    for campaign in sorted(frame["campaign"].unique()):
        rows = (frame["campaign"] == campaign).to_numpy()
        part, part_groups = frame.loc[rows].reset_index(drop=True), groups.loc[rows].reset_index(drop=True)
        action, targeted[campaign] = _targeted(campaign, settings, fsettings, names, value_order)
        effects.append(_segment_effects(run, part, campaign, names, settings, k))
        e, v, lo = _group_tables(run, part, part_groups, campaign, names, targeted[campaign], settings, fsettings, k)
        effects += e
        verdicts += v
        left += lo
        inputs = frame.attrs["inputs"].loc[rows].reset_index(drop=True) if frame.attrs["inputs"] is not None else None
        strategies.append(_alternatives(run, part, inputs, targeted[campaign], settings, campaign, k)
                          .assign(campaign=campaign))
    result = CampaignResult(
        strategies=pd.concat(strategies, ignore_index=True),
        applicable=True, effects=pd.concat(effects, ignore_index=True), verdicts=pd.DataFrame(verdicts),
        left_out=pd.concat(left, ignore_index=True) if left else pd.DataFrame(), targeted=targeted,
        settings=dict(settings, suppression_k=k, min_group_size=int(fsettings["min_group_size"])),
        membership=membership)
    _write(run, result, names)
    return result


def _not_applicable(run: Run, settings: dict) -> CampaignResult:
    because = "no campaign table"
    result = CampaignResult(applicable=False, because=because, settings=settings,
                            headline=[f"Campaign effect not applicable: {because}."])
    run.write_table(EFFECTS, pd.DataFrame(columns=EFFECT_FIELDS))
    run.summarise("08_campaign", applicable=False, because=because, effects=[], verdicts=[],
                  headline=result.headline)
    return result


def _none(value):
    """None for a missing number (summary.json stays valid JSON)."""
    return None if value is None or (isinstance(value, float) and not np.isfinite(value)) else value


def effect_rows(effects: pd.DataFrame) -> list[dict]:
    """``08_campaign.effects``: the issue's fields, null where suppressed; ``group`` null for a whole segment."""
    rows = []
    for r in effects.itertuples(index=False):
        hidden = bool(r.suppressed)
        group = None if r.attribute is None or pd.isna(r.attribute) else f"{r.attribute} = {r.group}"
        row = {"campaign": r.campaign, "segment": r.segment_name, "group": group}
        for col in EFFECT_FIELDS[3:]:
            value = getattr(r, col)
            row[col] = None if hidden else _none(int(value) if col.startswith("n_") else float(value))
        rows.append(row)
    return rows


def _write(run: Run, result: CampaignResult, names: dict) -> None:
    eff = result.effects.copy()
    eff["group"] = eff["group"].astype(object).where(eff["attribute"].notna(), None)
    run.write_table(EFFECTS, eff.drop(columns=[c for c in eff.columns if c.startswith("revenue")]))
    verdict_rows = result.verdicts[["campaign", "attribute", "verdict", "sentence"]] if len(result.verdicts) else \
        pd.DataFrame(columns=["campaign", "attribute", "verdict", "sentence"])
    run.write_table("campaign/verdicts.parquet", result.verdicts if len(result.verdicts) else verdict_rows)
    run.write_table("campaign/left_out.parquet", result.left_out)
    run.write_table("campaign/strategies.parquet", result.strategies)
    from .views import headline

    result.headline = headline(result, names)
    left = result.left_out.astype(object).where(result.left_out.notna(), None) if len(result.left_out) else result.left_out
    run.summarise(
        "08_campaign", applicable=True, membership=result.membership,
        targeted={c: [names[s] for s in ids] for c, ids in result.targeted.items()},
        effects=effect_rows(result.effects), verdicts=verdict_rows.to_dict(orient="records"),
        left_out=left.to_dict(orient="records"), headline=result.headline,
        strategies=result.strategies.round(6).astype(object).where(result.strategies.notna(), None).to_dict(orient="records"),
    )


# -- segment KPIs over time (no campaign table needed) ------------------------------------------------
def _kpi_counts(run: Run, settings: dict):
    """Counts per (window, segment as of its start) from the engine; None (and why) when not computable."""
    from .. import dynamics, engine

    tx = run.transactions()
    if tx is None or tx.empty:
        return None, "the dataset has no transactions"
    if not (run.path / "artifacts" / "dynamics" / "states.parquet").exists():
        dynamics.dynamics_run(run)
    if not (run.path / "artifacts" / "dynamics" / "states.parquet").exists():
        return None, "the transaction history holds fewer than two full windows (notebook 05)"
    states = run.read_table("dynamics/states.parquet")
    d = run.settings("dynamics", dynamics.DEFAULTS)
    windows = dynamics.make_windows(tx["timestamp"], d["window_months"], d["n_windows"], d["max_windows"])
    windows = windows.loc[windows["label"].isin(states.columns)].reset_index(drop=True)
    long = long_states(states, windows)
    if long.empty:
        return None, "fewer than two windows with customers in a segment"
    categories = "category" in tx.columns
    columns = ["customer_id", "timestamp", "amount", *(["category"] if categories else [])]
    with engine.using(run.config):
        with engine.make_engine(engine.active_config()) as eng:
            eng.register_rows("kpi_transactions", tx[columns].astype({"category": str} if categories else {}))
            eng.register_rows("kpi_states", long)
            counts = eng.sql(kpi_counts_query("kpi_transactions", "kpi_states", windows,
                                              float(settings["upsell_ratio"]), categories))
    return counts, ""


def segment_kpis(run: Run) -> tuple[pd.DataFrame | None, str]:
    """Retention, upsell and revenue per customer per window and segment, suppressed; (None, why) when
    not computable. Publishes ``kpi_retention`` and ``kpi_upsell`` (rows ``window × segment``)."""
    settings = run.settings("campaign", DEFAULTS)
    counts, because = _kpi_counts(run, settings)
    if counts is None:
        run.summarise("08_campaign", kpis=[], kpis_because=because)
        return None, because
    k = int(run.read_json("data/prepare.json").get("suppression_k", 10))
    labels = counts["label"].astype(str) + " × " + counts["segment"].astype(str)
    hidden, printed = {}, {}
    for kpi, yes, no in (("retained", "retained", "not retained"), ("upsold", "upsold", "not upsold")):
        table = pd.DataFrame({yes: counts[kpi].to_numpy(), no: (counts["customers"] - counts[kpi]).to_numpy()},
                             index=labels)
        shown = suppress_and_publish(run, f"kpi_{'retention' if kpi == 'retained' else 'upsell'}", table,
                                     "window × segment", "retention" if kpi == "retained" else "upsell", k,
                                     population="customer-windows of the segment KPIs")
        hidden[kpi] = shown.loc[labels, [yes, no]].isna().any(axis=1).to_numpy()
        hidden["customers"] = hidden.get("customers", False) | shown.loc[labels, "Total"].isna().to_numpy()
        printed[kpi] = shown.loc[labels, [yes, no]].to_numpy(float)
        printed["customers"] = shown.loc[labels, "Total"].to_numpy(float)  # one quantity in both tables
    out = kpi_rates(counts)
    out["customers"] = printed["customers"]
    top, cells = counts["revenue_top"].to_numpy(float), ("window × segment", labels, "retention")
    revenue = publish_magnitudes(run, "revenue", counts["revenue"], top, *cells,
                                 population="customer-windows of the segment KPIs")
    squares = publish_magnitudes(run, "revenue²", counts["revenue2"], top ** 2, *cells,
                                 population="customer-windows of the segment KPIs")
    out["revenue_per_customer"], out["revenue_low"], out["revenue_high"] = mean_interval(
        revenue, squares, printed["customers"])
    for kpi in ("retained", "upsold"):  # rates and intervals from the printed (perturbed) counts
        s, n = printed[kpi][:, 0], printed[kpi].sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[kpi], out[f"{kpi}_rate"] = s, s / n
        out[f"{kpi}_low"], out[f"{kpi}_high"] = fairness.wilson_interval(s, n)
        out.loc[hidden[kpi], [f"{kpi}_rate", f"{kpi}_low", f"{kpi}_high", kpi]] = np.nan
    cols = ["customers", "revenue_per_customer", "revenue_low", "revenue_high"]
    out[cols] = out[cols].astype(float)
    out.loc[hidden["customers"], cols] = np.nan
    seginfo_path = run.path / "artifacts" / "segments" / "segments.json"
    names = (run.read_json("artifacts/segments/segments.json").get("names") or {}) if seginfo_path.exists() else {}
    out["segment_name"] = out["segment"].map(lambda s: names.get(str(int(s)), f"Segment {s}"))
    out = out.drop(columns=["revenue", "revenue2", "revenue_top"])
    run.write_table("campaign/kpis.parquet", out)
    rows = out[["label", "segment_name", "customers", "retained_rate", "retained_low", "retained_high", "upsold_rate",
                "upsold_low", "upsold_high", "revenue_per_customer"]].round(6)
    run.summarise("08_campaign", kpis=rows.astype(object).where(rows.notna(), None).to_dict(orient="records"))
    return out, ""
