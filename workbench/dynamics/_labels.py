"""Given segment labels (audit mode): their age, and whether current behaviour still puts each labelled
customer in their given segment."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import privacy
from ._models import _CentroidModel, _LabelModel
from ._staleness import STALE, stale_counts

AGE_BANDS = (0, 90, 180, 365)  # label age bands in days: [0, 90), [90, 180), [180, 365), 365+


@dataclass
class LabelStaleness:
    """How stale given segment labels are (audit mode); see :func:`label_staleness`."""

    applicable: bool
    because: str = ""
    ages: dict = field(default_factory=dict)
    by_segment: pd.DataFrame | None = None
    by_age: pd.DataFrame | None = None
    overall: dict = field(default_factory=dict)
    headline: list[str] = field(default_factory=list)
    model: Any = None


def features_at_labelling(
    customers: pd.DataFrame,
    transactions: pd.DataFrame,
    roles,
    assigned_at: pd.Series,
    columns: list[str] | None = None,
    settings: dict | None = None,
    max_dates: int = 24,
) -> pd.DataFrame:
    """Each labelled customer's features as of the day their label was assigned.

    Customers are grouped by the date of ``assigned_at`` (by the first of its month when there are
    more than ``max_dates`` distinct dates: features a little before the label, never after), and
    :func:`workbench.features.build_features` runs once per date on that group with ``as_of``.
    Row order follows ``customers``; customers without ``assigned_at`` are left out.
    """
    from .. import features as feature_module

    dates = pd.to_datetime(pd.Series(np.asarray(assigned_at), index=customers.index)).dt.normalize()
    if dates.dropna().nunique() > max_dates:
        dates = dates.dt.to_period("M").dt.start_time
    parts = []
    for day in sorted(dates.dropna().unique()):
        mask = (dates == day).to_numpy()
        ids = customers.loc[mask, "customer_id"]
        tx = transactions[transactions["customer_id"].isin(ids)]
        f = feature_module.build_features(customers.loc[mask], tx, roles, settings, as_of=pd.Timestamp(day))
        parts.append(f)
    if not parts:
        return pd.DataFrame(columns=["customer_id", *(columns or [])])
    out = pd.concat(parts, ignore_index=True)
    order = customers.loc[dates.notna().to_numpy(), ["customer_id"]]
    out = order.merge(out, on="customer_id", how="left")
    if columns is not None:
        for c in columns:
            if c not in out:
                out[c] = np.nan
        out = out[["customer_id", *columns]]
    return out



def _band(days: np.ndarray) -> np.ndarray:
    edges = list(AGE_BANDS)
    labels = [f"{a}-{b} days" for a, b in zip(edges[:-1], edges[1:])] + [f"{edges[-1]}+ days"]
    idx = np.searchsorted(np.asarray(edges[1:]), days, side="right")
    return np.asarray(labels, dtype=object)[idx]


def label_staleness_table(
    recorded: np.ndarray,
    current: np.ndarray | None,
    age_days: np.ndarray,
    names: dict[int, str],
    k: int = 10,
    min_size: int = 30,
    suppress=None,
) -> pd.DataFrame:
    """Per given segment: customers, median label age, stale share and where the stale ones belong now.

    ``recorded`` holds the given segment id (negative: unlabelled, left out); ``current`` the segment
    the customer's current behaviour implies (None: staleness cannot be judged, only ages are
    shown). Rows of fewer than ``k`` customers are suppressed (:func:`workbench.privacy.suppress_rows`);
    with ``current``, customers and stale counts come from one table, given segment x (stale, not
    stale) with margins, suppressed once (:func:`workbench.privacy.suppress_counts`): a stale count
    of 1 to ``k - 1`` is hidden like every other count, and so is the share and destination built on
    it. Segments below ``min_size`` are marked insufficient evidence. The last row is everyone.
    ``suppress`` (exact counts in, the table as printed out) replaces :func:`workbench.privacy.suppress_counts`
    for that table: the stage passes :func:`workbench.privacy.suppress_and_publish`, which decides what is
    hidden on the perturbed count and returns perturbed counts, so the shares derive from printed numbers.
    """
    r = np.asarray(recorded)
    age = np.asarray(age_days, dtype=float)
    base = r >= 0
    rows = []
    for s in [*sorted(int(x) for x in np.unique(r[base])), None]:
        mask = base & ((r == s) if s is not None else True)
        n = int(mask.sum())
        row = {"segment": "all" if s is None else names.get(s, f"Segment {s}"), "n": n,
               "median_age_days": float(np.nanmedian(age[mask])) if n and np.isfinite(age[mask]).any() else np.nan}
        if current is not None:
            c = np.asarray(current)
            stale = mask & (c != r)
            dest = ""
            if s is not None and stale.any():
                values, counts = np.unique(c[stale], return_counts=True)
                dest = names.get(int(values[counts.argmax()]), f"Segment {values[counts.argmax()]}")
            row.update(stale=int(stale.sum()), stale_share=stale.sum() / n if n else np.nan, main_destination=dest)
        row["evidence"] = ("" if s is None else
                           "sufficient" if n >= min_size else f"insufficient evidence (fewer than {min_size} customers)")
        rows.append(row)
    out = pd.DataFrame(rows)
    if current is not None:
        return _suppressed_stale_rows(out, stale_counts(r, current), k, suppress)
    body = privacy.suppress_rows(out.iloc[:-1].reset_index(drop=True), "n", k,
                                 keep=["segment", "evidence", "main_destination"] if current is not None
                                 else ["segment", "evidence"])
    if "main_destination" in body:
        body.loc[body["suppressed"].astype(bool), "main_destination"] = ""
    return pd.concat([body, out.iloc[-1:].assign(suppressed=False)], ignore_index=True)


def _suppressed_stale_rows(out: pd.DataFrame, counts: pd.DataFrame, k: int, suppress=None) -> pd.DataFrame:
    """``out``'s customers, stale counts and shares replaced by those of the suppressed count table."""
    published = suppress(counts) if suppress is not None else privacy.suppress_counts(counts, k, margins=True)
    n = published["Total"].to_numpy(dtype=float)
    stale = published[STALE].to_numpy(dtype=float)
    out = out.copy()
    out["n"], out["stale"] = n, stale
    with np.errstate(divide="ignore", invalid="ignore"):
        out["stale_share"] = np.where(np.isfinite(n) & np.isfinite(stale) & (n > 0), stale / n, np.nan)
    out["suppressed"] = ~np.isfinite(n)
    out.loc[out["suppressed"], "median_age_days"] = np.nan
    out.loc[~np.isfinite(stale), "main_destination"] = ""
    return out


def label_age_table(age_days: np.ndarray, stale: np.ndarray | None, k: int = 10) -> pd.DataFrame:
    """Labelled customers per label-age band (and the stale share in each band), suppressed."""
    age = np.asarray(age_days, dtype=float)
    ok = np.isfinite(age)
    bands = _band(age[ok])
    order = [f"{a}-{b} days" for a, b in zip(AGE_BANDS[:-1], AGE_BANDS[1:])] + [f"{AGE_BANDS[-1]}+ days"]
    rows = []
    for band in order:
        m = bands == band
        row = {"label_age": band, "n": int(m.sum()), "share": float(m.mean()) if len(m) else np.nan}
        if stale is not None:  # a share resting on 1 to k - 1 stale (or not stale) customers is hidden
            s = np.asarray(stale)[ok][m]
            small = 0 < int(s.sum()) < k or 0 < int((~s.astype(bool)).sum()) < k
            row["stale_share"] = float(s.mean()) if len(s) and not small else np.nan
        rows.append(row)
    return privacy.suppress_rows(pd.DataFrame(rows), "n", k, keep=["label_age"])


def _recorded_labels(customers: pd.DataFrame, assignments: pd.DataFrame, assigned_at: str, unlabelled):
    """Labelled customers with their given segment (-1: unlabelled or undated) and label date."""
    frame = customers[["customer_id", assigned_at]].merge(
        assignments[["customer_id", "segment"]], on="customer_id", how="inner")
    recorded = frame["segment"].to_numpy().astype(int)
    if unlabelled is not None:
        recorded = np.where(recorded == int(unlabelled), -1, recorded)
    when = pd.to_datetime(frame[assigned_at])
    recorded = np.where(when.notna().to_numpy(), recorded, -1)
    return frame, recorded, when


def _label_ages(recorded: np.ndarray, when: pd.Series, transactions: pd.DataFrame | None):
    """Each label's age in days (NaN where unlabelled) and their summary.

    Counted to the day after the last transaction; without transactions (None), to the most recent label.
    """
    from .. import features as feature_module

    has_tx = transactions is not None
    now = (feature_module.default_as_of(transactions) if has_tx else when.max())
    age = (pd.Timestamp(now) - when).dt.days.to_numpy(dtype=float, copy=True)
    age[recorded < 0] = np.nan
    labelled = recorded >= 0
    ages = {
        "reference": "the day after the last transaction" if has_tx else "the most recent label in the file",
        "as_of": pd.Timestamp(now).date().isoformat() if pd.notna(now) else None,
        "n_dated": int(labelled.sum()),
        "median_days": float(np.nanmedian(age)) if labelled.any() else None,
        "share_older_180": float(np.mean(age[labelled] >= 180)) if labelled.any() else None,
        "share_older_365": float(np.mean(age[labelled] >= 365)) if labelled.any() else None,
    }
    return age, ages


def _judge_labels(
    frame: pd.DataFrame,
    recorded: np.ndarray,
    customers: pd.DataFrame,
    transactions: pd.DataFrame,
    roles,
    current: pd.DataFrame,
    names: dict[int, str],
    feature_settings: dict | None,
    explain_settings: dict,
    seed: int,
):
    """The segment each labelled customer's current behaviour implies, and how that was judged.

    A fidelity-gated surrogate (:class:`workbench.explain.SurrogateExplainer`) learns the labels from the
    features as of each label's date (:func:`features_at_labelling`) and is applied to ``current``; when
    it is not trustworthy, the nearest segment profile at labelling time judges instead.

    Returns
    -------
    model
        The scorer (:class:`_LabelModel` or :class:`_CentroidModel`).
    implied : numpy.ndarray
        Per row of ``frame``: the implied segment (-1 where unlabelled).
    overall : dict
        ``method``, ``judged_by``, ``n``, ``stale_share``, ``noise_floor``, ``fidelity``.
    """
    from .. import explain as explain_module

    labelled = recorded >= 0
    cols = [c for c in current.columns if c != "customer_id"]
    sub = frame.loc[labelled]
    cust = customers.set_index("customer_id").loc[sub["customer_id"]].reset_index()
    then = features_at_labelling(cust, transactions, roles, sub[roles.assigned_at].to_numpy(), cols, feature_settings)
    sur = {**explain_module.DEFAULTS["surrogate"], **(explain_settings.get("surrogate") or {})}
    y = recorded[labelled]
    surrogate = explain_module.SurrogateExplainer(threshold=explain_settings["fidelity_threshold"], random_state=seed,
                                                  **sur).fit(then[cols], y)
    now_feats = frame[["customer_id"]].merge(current, on="customer_id", how="left")
    if surrogate.trustworthy_:
        model = _LabelModel(surrogate, then[cols], names)
        method = "surrogate"
        judge = (f"a surrogate that learned the labels from the customers' behaviour when they were labelled "
                 f"({surrogate.fidelity_['reason']})")
        floor = 1.0 - surrogate.fidelity_["accuracy"]
    else:
        model = _CentroidModel(then, y, names)
        method = "segment profiles"
        judge = (f"the nearest segment profile at labelling time (standardised numeric features), because "
                 f"{surrogate.fidelity_['reason']}")
        check = np.asarray(model.predict(then[[*model.feature_names_in_]]))
        floor = float(np.mean(check != y))
    implied = np.full(len(frame), -1)
    implied[labelled] = np.asarray(model.predict(now_feats.loc[labelled, cols]))
    stale = (implied != recorded) & labelled
    overall = {
        "method": method, "judged_by": judge, "n": int(labelled.sum()),
        "stale_share": float(stale[labelled].mean()), "noise_floor": float(floor),
        "fidelity": round(float(surrogate.fidelity_["accuracy"]), 4),
    }
    return model, implied, overall
