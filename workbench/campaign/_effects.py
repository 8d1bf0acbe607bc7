"""Effect of a randomised campaign per cell (segment, or sensitive group within a segment).

Counts first (:func:`effect_counts`: responders and others in each arm, and the revenue moments), so
that the published numbers all derive from one table of counts suppressed once; then the effects
(:func:`effects_from_counts`):

* response rate in treatment and control, **uplift** = their difference with Newcombe's hybrid score
  interval (:func:`workbench.fairness.difference_interval`);
* **relative lift** = rate_treatment / rate_control - 1;
* **incremental responders** = uplift x n_treatment (the responders the offer added among the contacted),
  its interval the uplift's scaled by n_treatment;
* **incremental revenue** = (mean revenue per treated - per control customer) x n_treatment, with a
  Welch normal interval;
* **net return per contact** = uplift x ``value_per_response`` - ``cost_per_contact`` when both are
  configured.

A row any of whose four counts is suppressed has every derived number hidden (:func:`mask_effects`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..fairness._intervals import _z, difference_interval

CELLS = ["treatment responders", "treatment others", "control responders", "control others"]
EFFECT_COLUMNS = [
    "n_treatment", "n_control", "rate_treatment", "rate_control", "uplift", "uplift_low", "uplift_high",
    "relative_lift", "incremental_responders", "incremental_responders_low", "incremental_responders_high",
    "incremental_revenue", "incremental_revenue_low", "incremental_revenue_high", "net_return_per_contact",
]


def effect_counts(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per cell of ``by``: the four counts of :data:`CELLS`, and revenue sums and sums of squares per arm,
    with each arm's largest absolute revenue (``revenue_top_t``, ``revenue_top_c``: the scale of the magnitude
    perturbation, :func:`workbench.privacy.publish_magnitudes`; never published).

    Parameters
    ----------
    frame : DataFrame
        One row per assigned customer: ``arm`` (treatment/control), ``response`` (0/1), ``revenue``
        (may be missing: then the revenue columns are NaN) and the ``by`` columns.
    by : list of str
        The cell's columns (e.g. ``["campaign", "segment"]``).
    """
    treated = frame["arm"].eq("treatment").to_numpy()
    response = frame["response"].astype(int).to_numpy()
    revenue = pd.to_numeric(frame["revenue"], errors="coerce").to_numpy(dtype=float) if "revenue" in frame \
        else np.full(len(frame), np.nan)
    parts = pd.DataFrame({
        CELLS[0]: treated & (response == 1), CELLS[1]: treated & (response == 0),
        CELLS[2]: ~treated & (response == 1), CELLS[3]: ~treated & (response == 0),
        "revenue_t": np.where(treated, revenue, 0.0), "revenue2_t": np.where(treated, revenue ** 2, 0.0),
        "revenue_c": np.where(~treated, revenue, 0.0), "revenue2_c": np.where(~treated, revenue ** 2, 0.0),
        "revenue_top_t": np.where(treated, np.abs(revenue), 0.0), "revenue_top_c": np.where(~treated, np.abs(revenue), 0.0),
    }, index=frame.index)
    keys = [frame[c].to_numpy() for c in by]
    grouped = parts.groupby(keys, observed=True, sort=True)
    tops = ["revenue_top_t", "revenue_top_c"]
    out = grouped[[c for c in parts.columns if c not in tops]].sum(min_count=1).join(grouped[tops].max())
    out.index = out.index.set_names(by)
    out[CELLS] = out[CELLS].fillna(0).astype(int)
    return out.reset_index()


def effects_from_counts(counts: pd.DataFrame, alpha: float = 0.05, value_per_response: float | None = None,
                        cost_per_contact: float | None = None) -> pd.DataFrame:
    """Rates, uplift and its interval, relative lift, incremental responders and revenue per row of counts.

    ``counts`` holds the :data:`CELLS` columns (and optionally the revenue moments of
    :func:`effect_counts`); the other columns are kept. Returns ``counts`` with :data:`EFFECT_COLUMNS`.
    """
    out = counts.copy()
    s1, f1, s0, f0 = (out[c].to_numpy(dtype=float) for c in CELLS)
    n1, n0 = s1 + f1, s0 + f0
    with np.errstate(divide="ignore", invalid="ignore"):
        r1, r0 = s1 / n1, s0 / n0
        lo, hi = difference_interval(s1, n1, s0, n0, alpha)
        out["relative_lift"] = np.where(r0 > 0, r1 / r0 - 1, np.nan)
    out["n_treatment"], out["n_control"] = n1.astype(int), n0.astype(int)
    out["rate_treatment"], out["rate_control"] = r1, r0
    out["uplift"], out["uplift_low"], out["uplift_high"] = r1 - r0, lo, hi
    out["incremental_responders"] = (r1 - r0) * n1
    out["incremental_responders_low"], out["incremental_responders_high"] = lo * n1, hi * n1
    out = _revenue(out, n1, n0, alpha)
    if value_per_response is not None and cost_per_contact is not None:
        out["net_return_per_contact"] = (r1 - r0) * float(value_per_response) - float(cost_per_contact)
    else:
        out["net_return_per_contact"] = np.nan
    return out


def _revenue(out: pd.DataFrame, n1: np.ndarray, n0: np.ndarray, alpha: float) -> pd.DataFrame:
    """Incremental revenue (x n_treatment) with a Welch normal interval; NaN without revenue."""
    if "revenue_t" not in out:
        for col in ("incremental_revenue", "incremental_revenue_low", "incremental_revenue_high"):
            out[col] = np.nan
        return out
    with np.errstate(divide="ignore", invalid="ignore"):
        m1, m0 = out["revenue_t"].to_numpy(float) / n1, out["revenue_c"].to_numpy(float) / n0
        v1 = (out["revenue2_t"].to_numpy(float) - n1 * m1 ** 2) / (n1 - 1)
        v0 = (out["revenue2_c"].to_numpy(float) - n0 * m0 ** 2) / (n0 - 1)
        se = np.sqrt(np.clip(v1, 0, None) / n1 + np.clip(v0, 0, None) / n0)
    diff = m1 - m0
    z = _z(alpha)
    out["incremental_revenue"] = diff * n1
    out["incremental_revenue_low"] = (diff - z * se) * n1
    out["incremental_revenue_high"] = (diff + z * se) * n1
    return out


def mask_effects(effects: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Hide every derived number of a row whose counts the published table hides.

    ``published`` has the same rows (same order) and the :data:`CELLS` columns, suppressed cells NaN
    (the table :func:`workbench.privacy.suppress_and_publish` returns, margins dropped).
    """
    hidden = published[CELLS].isna().any(axis=1).to_numpy()
    out = effects.copy()
    derived = [c for c in EFFECT_COLUMNS if c in out.columns]
    out[derived] = out[derived].astype(float)
    out.loc[hidden, derived] = np.nan
    out["suppressed"] = hidden
    return out


def uplift_difference(a: pd.Series, b: pd.Series, alpha: float = 0.05) -> tuple[float, float, float, float]:
    """Difference of two cells' uplifts (``a`` - ``b``), its MOVER interval and a two-sided Wald p-value.

    The interval combines the two Newcombe intervals by the method of variance estimates recovered
    (Zou & Donner 2008), as Newcombe's own interval combines two Wilson intervals; the p-value tests
    no difference with the unpooled variances of the four rates.
    """
    from scipy.stats import norm

    d = float(a["uplift"] - b["uplift"])
    lo = d - np.sqrt((a["uplift"] - a["uplift_low"]) ** 2 + (b["uplift_high"] - b["uplift"]) ** 2)
    hi = d + np.sqrt((a["uplift_high"] - a["uplift"]) ** 2 + (b["uplift"] - b["uplift_low"]) ** 2)
    var = sum(r * (1 - r) / n for r, n in ((a["rate_treatment"], a["n_treatment"]), (a["rate_control"], a["n_control"]),
                                           (b["rate_treatment"], b["n_treatment"]), (b["rate_control"], b["n_control"])))
    p = float(2 * norm.sf(abs(d) / np.sqrt(var))) if var > 0 else (0.0 if d != 0 else 1.0)
    return d, float(lo), float(hi), p
