"""The synthetic world's planted campaign: a randomised offer with a 20% holdout and known uplift.

Drawn from its own seeded stream (``SeedSequence([seed, CAMPAIGN_STREAM])``), after the world itself
and from its outputs only, so the customers and transactions of a seed are the same with or without
the campaign and no other number of a run moves. Everyone kept in the world is assigned, 80% to the
offer and 20% to the holdout, on :data:`ASSIGNED_AT`; the response (a purchase of the offer within the
month) is drawn per customer with a control rate and an uplift that depend on the planted segment:

* ``Loyal high spenders``: positive uplift, with a gap between two genders when ``gap`` > 0
  (women gain ``gap / 2`` more than average, men ``gap / 2`` less): the fairness-of-benefit finding;
* ``Steady regulars``: near zero ("would have bought anyway");
* ``Lapsed``: negative ("do not disturb": contacting them puts some off);
* the other two: small positive uplifts.

The campaign table carries ``response`` and ``revenue`` columns, so the transaction log is untouched.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CAMPAIGN_STREAM = 2026_08
CAMPAIGN_NAME = "premium_offer"
ASSIGNED_AT = pd.Timestamp("2026-05-15")
HOLDOUT = 0.2
#: Planted segment -> (response rate without the offer, uplift of the offer).
RATES = {
    "Loyal high spenders": (0.30, 0.12),
    "Steady regulars": (0.25, 0.00),
    "Holiday bargain hunters": (0.10, 0.06),
    "Lapsed": (0.10, -0.06),
    "New arrivals": (0.15, 0.04),
}
GAP_SEGMENT, GAP_ATTRIBUTE, GAP_GROUPS = "Loyal high spenders", "gender", ("female", "male")
DEFAULT_GAP = 0.16
#: Median revenue of a response, per planted segment (lognormal, sigma 0.45 as the purchases).
REVENUE = {"Loyal high spenders": 95.0, "Steady regulars": 38.0, "Holiday bargain hunters": 22.0,
           "Lapsed": 45.0, "New arrivals": 40.0}


def plant_campaign(customers: pd.DataFrame, segments: pd.Series, seed: int, gap: float = DEFAULT_GAP):
    """The campaign table and its truth for a generated world.

    Parameters
    ----------
    customers : DataFrame
        The world's customer table (``customer_id``, ``gender``).
    segments : Series
        Planted segment name per ``customer_id`` (the truth's ``segments``).
    seed : int
        The world's seed; the campaign draws from its own stream of it.
    gap : float
        Uplift gap between women and men inside the gap segment (0 switches it off).

    Returns
    -------
    (DataFrame, dict)
        ``customer_id, campaign, arm, assigned_at, response, revenue``; and the truth: name, date,
        holdout, per segment the control rate and the expected uplift over its customers, the gap.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), CAMPAIGN_STREAM]))
    n = len(customers)
    names = segments.reindex(customers["customer_id"]).to_numpy()
    base = np.array([RATES[s][0] for s in names])
    uplift = np.array([RATES[s][1] for s in names])
    in_gap = names == GAP_SEGMENT
    gender = customers[GAP_ATTRIBUTE].to_numpy()
    uplift = uplift + np.where(in_gap & (gender == GAP_GROUPS[0]), gap / 2, 0.0)
    uplift = uplift - np.where(in_gap & (gender == GAP_GROUPS[1]), gap / 2, 0.0)
    treated = rng.uniform(size=n) >= HOLDOUT
    p = np.clip(base + treated * uplift, 0.0, 1.0)
    response = rng.uniform(size=n) < p
    median = np.array([REVENUE[s] for s in names])
    revenue = np.where(response, np.round(np.exp(rng.normal(np.log(median), 0.45)), 2), 0.0)
    table = pd.DataFrame({
        "customer_id": customers["customer_id"].to_numpy(),
        "campaign": CAMPAIGN_NAME,
        "arm": np.where(treated, "treatment", "control"),
        "assigned_at": ASSIGNED_AT,
        "response": response.astype(int),
        "revenue": revenue,
    })
    by_segment = pd.DataFrame({"segment": names, "uplift": uplift})
    truth = {
        "campaign": CAMPAIGN_NAME, "assigned_at": str(ASSIGNED_AT.date()), "holdout": HOLDOUT,
        "control_rate": {s: RATES[s][0] for s in RATES},
        "uplift": {s: float(v) for s, v in by_segment.groupby("segment")["uplift"].mean().items()},
        "gap": {"segment": GAP_SEGMENT, "attribute": GAP_ATTRIBUTE, "groups": list(GAP_GROUPS), "size": float(gap)},
        "positive": GAP_SEGMENT, "near_zero": "Steady regulars", "negative": "Lapsed",
    }
    return table, truth
