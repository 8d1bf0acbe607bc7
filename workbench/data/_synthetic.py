"""A seeded CRM world: customers, transactions, planted segments, a planted proxy and migration.

The generator is vectorised (no Python loop over customers) so that a million customers with about ten
million transactions take seconds. Everything is drawn from one ``numpy.random.Generator`` seeded by
``seed``, in a fixed order, so the same parameters give the same tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

HISTORY_END = pd.Timestamp("2026-07-01")
CATEGORIES = np.array(["electronics", "fashion", "home", "grocery", "beauty"])
CHANNELS = np.array(["store", "web", "app"])
DEVICES = np.array(["ios", "android", "desktop"])
REGIONS = np.array(["North", "South", "East", "West", "Central"])
ETHNICITIES = np.array(["majority", "minority"])

# Planted segments. Rates are purchases per year while active; `active` is the share of the history
# the customer is active: (start, end) as fractions of the history, drawn per customer around these.
# `differs_on` lists the features each segment is planted to differ on (used by tests of explanations).
SEGMENTS = pd.DataFrame(
    [
        # name,                share, rate, median_amount, holiday, returns, app, opens, visits, price_sens, start, end
        ("Loyal high spenders", 0.15, 18.0, 95.0, 0.10, 0.03, 0.85, 14, 22, 2.0, (0.00, 0.30), (1.00, 1.00)),
        ("Steady regulars", 0.25, 7.0, 38.0, 0.12, 0.06, 0.45, 6, 8, 4.0, (0.00, 0.30), (1.00, 1.00)),
        ("Holiday bargain hunters", 0.25, 3.0, 22.0, 0.75, 0.10, 0.20, 2, 3, 6.0, (0.00, 0.30), (1.00, 1.00)),
        ("Lapsed", 0.20, 8.0, 45.0, 0.12, 0.12, 0.30, 1, 1, 4.0, (0.00, 0.20), (0.35, 0.55)),
        ("New arrivals", 0.15, 10.0, 40.0, 0.12, 0.05, 0.65, 9, 12, 3.5, (0.82, 0.92), (1.00, 1.00)),
    ],
    columns=[
        "name", "share", "rate", "median_amount", "holiday", "returns", "app", "email_opens",
        "site_visits", "price_sensitivity", "start", "end",
    ],
)
DIFFERS_ON = {
    "Loyal high spenders": ["frequency", "monetary", "average_order_value", "app_user"],
    "Steady regulars": ["frequency", "monetary"],
    "Holiday bargain hunters": ["holiday_share", "frequency", "average_order_value", "price_sensitivity"],
    "Lapsed": ["recency", "email_opens_90d", "site_visits_90d"],
    "New arrivals": ["tenure", "recency"],
}
# Category and channel preferences per segment (rows follow SEGMENTS).
CATEGORY_MIX = np.array(
    [
        [0.35, 0.25, 0.20, 0.05, 0.15],
        [0.15, 0.20, 0.20, 0.30, 0.15],
        [0.20, 0.35, 0.15, 0.10, 0.20],
        [0.20, 0.20, 0.20, 0.25, 0.15],
        [0.20, 0.25, 0.20, 0.15, 0.20],
    ]
)
CHANNEL_MIX = np.array(
    [
        [0.20, 0.30, 0.50],
        [0.50, 0.35, 0.15],
        [0.45, 0.45, 0.10],
        [0.60, 0.30, 0.10],
        [0.15, 0.35, 0.50],
    ]
)
_FIRST = np.array(
    "Ada Ben Cleo Dev Eli Fay Gus Hana Ivo Jin Kai Lea Mio Noor Oli Pia Quin Rui Sia Tom Uma Vik Wen Xia Yan Zoe".split()
)
_LAST = np.array(
    "Smith Jones Okafor Garcia Nguyen Kowalski Haddad Silva Muller Rossi Tanaka Ivanova Dubois Larsen Patel Cohen".split()
)


@dataclass
class Truth:
    """What the generator planted, for tests and for checking the workbench recovers it.

    Attributes
    ----------
    segments : pandas.Series
        Planted segment name per raw customer id (before any migration).
    segments_after_migration : pandas.Series
        Segment whose behaviour the customer shows at the end of the history.
    proxy : dict
        ``{"feature": "postcode", "attribute": "ethnicity", "strength": ...}``.
    migration : dict or None
        The planted migration: source, target, share, date and the ids that moved.
    differs_on : dict
        Features each planted segment was built to differ on.
    """

    segments: pd.Series
    segments_after_migration: pd.Series
    proxy: dict
    migration: dict | None
    differs_on: dict = field(default_factory=lambda: dict(DIFFERS_ON))
    segment_names: list[str] = field(default_factory=lambda: list(SEGMENTS["name"]))
    #: The planted campaign (:func:`workbench.data._planted_campaign.plant_campaign`), when one is planted.
    campaign: dict | None = None
    #: The segment planted to contest its assignment more often (the choices register), or None.
    contest_segment: str | None = None


def generate(
    n_customers: int = 20_000,
    seed: int = 0,
    months: int = 24,
    proxy_strength: float = 0.9,
    migration: dict | None = None,
    n_postcodes: int = 400,
) -> tuple[pd.DataFrame, pd.DataFrame, Truth]:
    """Generate customers, transactions and the planted truth.

    Parameters
    ----------
    n_customers : int
        Number of customers; transactions are about ten per customer.
    seed : int
        Seed of the one random generator everything is drawn from.
    months : int
        Length of the transaction history, ending 2026-06-30. At least 24.
    proxy_strength : float
        0 switches the proxy off (ethnicity independent of postcode); near 1, ethnicity is almost
        determined by postcode, and postcode affluence shifts segment membership.
    migration : dict, optional
        ``{"source": name, "target": name, "share": 0.3, "at": "2026-01-01"}``: that share of the
        source segment behaves like the target segment from the date on.
    n_postcodes : int
        Number of distinct postcodes.
    """
    if months < 24:
        raise ValueError(f"months must be at least 24, got {months}")
    if not 0 <= proxy_strength <= 1:
        raise ValueError(f"proxy_strength must be within [0, 1], got {proxy_strength}")
    # One generator, drawn from in a fixed order by the steps below: the order is part of the
    # dataset's definition (the same seed must give the same world).
    rng = np.random.default_rng(seed)
    n = int(n_customers)
    start = HISTORY_END - pd.DateOffset(months=months)
    days = (HISTORY_END - start).days

    geo = _geography(rng, n, proxy_strength, n_postcodes)
    segment = _planted_segments(rng, n, proxy_strength, geo["affluence"])
    ids = np.char.add("C", np.char.zfill(np.arange(1, n + 1).astype(str), 7))
    customers = _customer_table(rng, ids, segment, geo)
    active_from, active_to = _activity(rng, segment)
    behaviour, moved, frac_at, migration_info, active_to = _migrate(
        rng, segment, active_to, migration, start, days
    )
    transactions = _transaction_table(
        rng, ids, segment, behaviour, moved, frac_at, active_from, active_to, start, days
    )
    names = SEGMENTS["name"].to_numpy()
    truth = Truth(
        segments=pd.Series(names[segment], index=ids, name="segment"),
        segments_after_migration=pd.Series(names[behaviour], index=ids, name="segment"),
        proxy={"feature": "postcode", "attribute": "ethnicity", "strength": proxy_strength},
        migration=(
            {**migration_info, "moved_ids": ids[moved].tolist()} if migration_info else None
        ),
    )
    return customers, transactions, truth


def _geography(rng: np.random.Generator, n: int, proxy_strength: float, n_postcodes: int) -> dict:
    """Postcodes with an affluence level, and the planted proxy.

    Minority residents are concentrated in the least affluent postcodes when the proxy is on.
    """
    affluence = rng.uniform(0, 1, n_postcodes)
    postcode_names = np.array(
        [f"{REGIONS[i % len(REGIONS)][0]}{i:03d}" for i in range(n_postcodes)]
    )
    postcode_region = np.array([REGIONS[i % len(REGIONS)] for i in range(n_postcodes)])
    postcode = rng.integers(0, n_postcodes, n)
    poor = affluence[postcode] < 0.3
    p_minority = np.where(poor, 0.2 + 0.75 * proxy_strength, 0.2 - 0.15 * proxy_strength)
    minority = rng.uniform(size=n) < p_minority
    return {
        "affluence": affluence[postcode],
        "postcode": postcode_names[postcode],
        "region": postcode_region[postcode],
        "minority": minority,
    }


def _planted_segments(
    rng: np.random.Generator, n: int, proxy_strength: float, affluence: np.ndarray
) -> np.ndarray:
    """Segment membership of each customer (index into ``SEGMENTS``).

    Affluent postcodes lean towards the high-spending segment, poorer ones towards bargain hunting.
    The tilt exists only with the proxy on, so that switching the proxy off also makes segments
    independent of ethnicity.
    """
    shares = SEGMENTS["share"].to_numpy()
    tilt = proxy_strength * (affluence - 0.5)
    logits = np.log(shares)[None, :] + np.outer(tilt, [3.0, 0.5, -2.0, 0.0, 0.0])
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    return (probs.cumsum(axis=1) > rng.uniform(size=(n, 1))).argmax(axis=1)


def _customer_table(
    rng: np.random.Generator, ids: np.ndarray, segment: np.ndarray, geo: dict
) -> pd.DataFrame:
    """Demographic, psychographic, technographic, engagement, consent and PII columns."""
    n = len(ids)
    seg = SEGMENTS.iloc[segment]
    age = np.clip(rng.normal(44, 14, n) - 8 * (segment == 4), 18, 90).round().astype(int)
    gender = rng.choice(np.array(["female", "male", "non-binary"]), n, p=[0.505, 0.485, 0.01])
    household = rng.choice(np.array([1, 2, 3, 4, 5]), n, p=[0.28, 0.34, 0.16, 0.15, 0.07])
    app_user = rng.uniform(size=n) < seg["app"].to_numpy()
    device = np.where(app_user, rng.choice(DEVICES[:2], n), rng.choice(DEVICES, n, p=[0.2, 0.2, 0.6]))
    email_opens = rng.poisson(seg["email_opens"].to_numpy())
    site_visits = rng.poisson(seg["site_visits"].to_numpy())
    price_sensitivity = np.clip(
        np.round(rng.normal(seg["price_sensitivity"].to_numpy(), 0.8)), 1, 7
    )
    brand_affinity = np.clip(np.round(rng.normal(4 + (segment == 0) * 1.5, 1.2)), 1, 7)
    eco_concern = np.clip(np.round(rng.normal(4, 1.5, n)), 1, 7)
    survey = np.column_stack([price_sensitivity, brand_affinity, eco_concern]).astype(float)
    survey[rng.uniform(size=survey.shape) < 0.15] = np.nan

    first = rng.choice(_FIRST, n)
    last = rng.choice(_LAST, n)
    return pd.DataFrame(
        {
            "customer_id": ids,
            "name": np.char.add(np.char.add(first, " "), last),
            "email": np.char.add(
                np.char.add(np.char.add(np.char.lower(first), "."), np.char.lower(last)),
                np.char.add(np.char.mod("%d", np.arange(n)), "@example.com"),
            ),
            "phone": np.char.add("+44 7", np.char.zfill(rng.integers(0, 10**9, n).astype(str), 9)),
            "age": age,
            "gender": gender,
            "ethnicity": ETHNICITIES[geo["minority"].astype(int)],
            "household_size": household,
            "region": geo["region"],
            "postcode": geo["postcode"],
            "price_sensitivity": survey[:, 0],
            "brand_affinity": survey[:, 1],
            "eco_concern": survey[:, 2],
            "device": device,
            "app_user": app_user.astype(int),
            "email_opens_90d": email_opens,
            "site_visits_90d": site_visits,
            "profiling_opt_out": (rng.uniform(size=n) < 0.03).astype(int),
            "marketing_opt_in": (rng.uniform(size=n) < 0.6).astype(int),
        }
    )


def _activity(rng: np.random.Generator, segment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's active period, as fractions of the history."""
    seg = SEGMENTS.iloc[segment]
    lo_s, hi_s = np.array(seg["start"].tolist()).T
    lo_e, hi_e = np.array(seg["end"].tolist()).T
    active_from = rng.uniform(lo_s, hi_s)
    active_to = np.maximum(rng.uniform(lo_e, hi_e), active_from + 0.02)
    return active_from, active_to


def _migrate(rng, segment, active_to, migration, start, days):
    """Apply a planted migration: a share of one segment behaves like another from a date on.

    Returns the behaviour segment per customer, who moved, the migration date as a fraction of the
    history, the truth record and the (possibly shortened) active periods.
    """
    if not migration:
        return segment.copy(), np.zeros(len(segment), dtype=bool), None, None, active_to
    names = list(SEGMENTS["name"])
    src, dst = names.index(migration["source"]), names.index(migration["target"])
    at = pd.Timestamp(migration["at"])
    frac_at = (at - start).days / days
    if not 0 < frac_at < 1:
        raise ValueError(f"migration date {at.date()} is outside the history")
    moved = (segment == src) & (rng.uniform(size=len(segment)) < migration["share"]) & (active_to > frac_at)
    if SEGMENTS.iloc[dst]["end"][1] < 1:
        # Moving to a lapsing segment means stopping: movers buy a little longer, then stop.
        stop = frac_at + rng.uniform(0.01, 0.06, len(segment))
        active_to = np.where(moved, np.minimum(active_to, stop), active_to)
    info = {**migration, "n_moved": int(moved.sum()), "n_source": int((segment == src).sum())}
    return np.where(moved, dst, segment), moved, frac_at, info, active_to


def _transaction_table(rng, ids, segment, behaviour, moved, frac_at, active_from, active_to, start, days):
    """The transaction log, ordered by customer and day; movers buy as their new segment after the date."""
    day_weights = _seasonal_day_weights(start, days)
    pieces = []
    if frac_at is not None:
        before_to = np.where(moved, frac_at, active_to)
        pieces.append(_transactions(rng, segment, active_from, before_to, days, day_weights))
        pieces.append(
            _transactions(rng, behaviour[moved], np.full(moved.sum(), frac_at), active_to[moved],
                          days, day_weights, customer_index=np.flatnonzero(moved))
        )
    else:
        pieces.append(_transactions(rng, segment, active_from, active_to, days, day_weights))
    cust_idx, day, amount, category, channel = (np.concatenate(p) for p in zip(*pieces))
    order = np.lexsort((day, cust_idx))
    seconds = rng.integers(8 * 3600, 21 * 3600, len(order))
    return pd.DataFrame(
        {
            "customer_id": ids[cust_idx[order]],
            "timestamp": start + pd.to_timedelta(day[order], unit="D") + pd.to_timedelta(seconds, unit="s"),
            "amount": amount[order],
            "channel": pd.Categorical.from_codes(channel[order], CHANNELS),
            "category": pd.Categorical.from_codes(category[order], CATEGORIES),
        }
    )


def _seasonal_day_weights(start: pd.Timestamp, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative day weights for ordinary and for holiday-season shopping."""
    dates = start + pd.to_timedelta(np.arange(days), unit="D")
    month = dates.month.to_numpy()
    base = np.where(np.isin(month, [11, 12]), 1.6, 1.0) * np.where(month == 1, 0.8, 1.0)
    holiday = np.where(
        ((month == 11) & (dates.day.to_numpy() >= 15)) | ((month == 12) & (dates.day.to_numpy() <= 24)),
        1.0,
        0.0,
    )
    return np.cumsum(base) / base.sum(), np.cumsum(holiday) / holiday.sum()


def _transactions(rng, segment, frac_from, frac_to, days, day_weights, customer_index=None):
    """Draw purchases for each customer between two fractions of the history."""
    seg = SEGMENTS.iloc[segment]
    years = (frac_to - frac_from) * days / 365.25
    counts = rng.poisson(seg["rate"].to_numpy() * years)
    owner = np.repeat(np.arange(len(segment)) if customer_index is None else customer_index, counts)
    local = np.repeat(np.arange(len(segment)), counts)
    seg_of = segment[local]
    base_cdf, holiday_cdf = day_weights
    lo_day = np.floor(frac_from[local] * days).astype(int)
    hi_day = np.minimum(np.ceil(frac_to[local] * days).astype(int), days) - 1
    # Inverse-CDF sampling restricted to each customer's window.
    lo_u, hi_u = base_cdf[np.maximum(lo_day - 1, 0)] * (lo_day > 0), base_cdf[hi_day]
    day = np.searchsorted(base_cdf, rng.uniform(lo_u, hi_u))
    on_holiday = rng.uniform(size=len(local)) < SEGMENTS["holiday"].to_numpy()[seg_of]
    h_lo = holiday_cdf[np.maximum(lo_day - 1, 0)] * (lo_day > 0)
    h_hi = holiday_cdf[hi_day]
    has_season = h_hi > h_lo
    pick = on_holiday & has_season
    day[pick] = np.searchsorted(holiday_cdf, rng.uniform(h_lo[pick], h_hi[pick]))
    day = np.clip(day, lo_day, hi_day)
    median = SEGMENTS["median_amount"].to_numpy()[seg_of]
    amount = np.round(np.exp(rng.normal(np.log(median), 0.45)), 2)
    is_return = rng.uniform(size=len(local)) < SEGMENTS["returns"].to_numpy()[seg_of]
    amount = np.where(is_return, -amount, amount)
    category = (CATEGORY_MIX[seg_of].cumsum(axis=1) > rng.uniform(size=(len(local), 1))).argmax(axis=1)
    channel = (CHANNEL_MIX[seg_of].cumsum(axis=1) > rng.uniform(size=(len(local), 1))).argmax(axis=1)
    return owner, day, amount, category.astype(np.int8), channel.astype(np.int8)


def write_parquet_chunks(
    out,
    n_customers: int,
    *,
    chunk: int = 250_000,
    seed: int = 0,
    **params,
) -> list[tuple]:
    """Write the synthetic world as Parquet, one chunk of customers at a time.

    For customer bases too large for memory (the scale benchmark writes 10 million): chunk ``i``
    is :func:`generate` with ``chunk`` customers and its own seed drawn from ``(seed, i)``, its ids
    renumbered to ``C`` + nine digits from ``i * chunk + 1``, written to
    ``customers/part-iiiii.parquet`` and ``transactions/part-iiiii.parquet`` under ``out``. Only one
    chunk is ever in memory. The first ``m`` chunk files of a larger base are exactly the base of
    ``m * chunk`` customers, so one 10M write serves 1M and 3M as well.

    Returns
    -------
    list of tuple
        ``(customers_file, transactions_file)`` per chunk, in order.
    """
    from pathlib import Path

    out = Path(out)
    for sub in ("customers", "transactions"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    files = []
    for index, first in enumerate(range(0, int(n_customers), int(chunk))):
        n = min(int(chunk), int(n_customers) - first)
        chunk_seed = int(np.random.SeedSequence([int(seed), index]).generate_state(1)[0])
        customers, transactions, _ = generate(n_customers=n, seed=chunk_seed, **params)
        global_ids = np.char.add("C", np.char.zfill(np.arange(first + 1, first + n + 1).astype(str), 9))
        renumber = dict(zip(customers["customer_id"], global_ids))
        customers["customer_id"] = global_ids
        transactions["customer_id"] = transactions["customer_id"].map(renumber)
        pair = (out / "customers" / f"part-{index:05d}.parquet", out / "transactions" / f"part-{index:05d}.parquet")
        customers.to_parquet(pair[0], index=False)
        transactions.to_parquet(pair[1], index=False)
        files.append(pair)
    return files
