"""The synthetic world's customer choices register: objections, contests, declarations, corrections.

Drawn from its own generator (seeded by the world's seed and :data:`STREAM`), after and apart from the
world itself, so adding the register moved no customer or transaction of an existing seed. One segment's
members contest their assignment more often (:data:`CONTEST_SEGMENT`, :data:`PLANTED_CONTEST_RATE`):
the audit should flag it; with the plant switched off every segment contests at :data:`CONTEST_RATE`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: The second seed word of the register's own stream (the issue that added it).
STREAM = 27
#: The planted segment whose members contest their assignment more often, and the rates.
CONTEST_SEGMENT = "Holiday bargain hunters"
CONTEST_RATE, PLANTED_CONTEST_RATE = 0.03, 0.15
#: Shares of customers with each kind of record, and of records later withdrawn or resolved.
RATES = {"object_profiling": 0.02, "object_action": 0.02, "declare_segment": 0.04, "rectify": 0.01}
WITHDRAWN, RESOLVED, UNKNOWN_IDS = 0.1, 0.3, 0.002
#: What a customer may object to: the default policy's actions and the marketing consent purpose.
OBJECTABLE = np.array(["premium_offer", "retention_discount", "marketing_opt_in"])
_CONTEST_TEXT = np.array(["this is not me", "I never shop for bargains", "please check", "wrong group"])


def choices_table(seed: int, ids: np.ndarray, segments: np.ndarray, names: list[str], ages: np.ndarray,
                  end: pd.Timestamp, contest_plant: bool = True) -> pd.DataFrame:
    """The register: ``id``, ``kind``, ``value``, ``recorded_at`` (text, as a CRM export holds it).

    Parameters
    ----------
    seed : int
        The world's seed (the register draws from ``default_rng([seed, STREAM])``).
    ids, segments, ages : ndarray
        Per customer: raw id, planted segment name, age.
    names : list of str
        Every planted segment's name (declarations name one of them).
    end : Timestamp
        The end of the history: records fall in the year before it.
    contest_plant : bool, default True
        Whether :data:`CONTEST_SEGMENT` contests at :data:`PLANTED_CONTEST_RATE`.
    """
    rng = np.random.default_rng([int(seed), STREAM])
    n = len(ids)
    day = lambda size: (end - pd.to_timedelta(rng.integers(30, 365, size), unit="D")).strftime("%Y-%m-%d")  # noqa: E731
    parts = []

    def add(who: np.ndarray, kind: str, values, when) -> None:
        parts.append(pd.DataFrame({"id": ids[who], "kind": kind, "value": values, "recorded_at": when}))

    for kind, rate in RATES.items():
        who = np.flatnonzero(rng.uniform(size=n) < rate)
        when = day(len(who))
        if kind == "object_action":
            values = rng.choice(OBJECTABLE, len(who))
        elif kind == "declare_segment":
            # most declare the segment they were planted in; some say they belong elsewhere
            other = rng.choice(np.array(names), len(who))
            values = np.where(rng.uniform(size=len(who)) < 0.8, segments[who], other)
        elif kind == "rectify":
            values = np.char.add("age=", np.clip(ages[who] + rng.choice([-3, -2, 2, 3], len(who)), 18, 90).astype(str))
        else:
            values = None
        add(who, kind, values, when)
        if kind == "object_profiling":
            back = who[rng.uniform(size=len(who)) < WITHDRAWN]
            add(back, "withdraw", "object_profiling", (end - pd.Timedelta(days=10)).strftime("%Y-%m-%d"))
    planted = contest_plant & (segments == CONTEST_SEGMENT)
    who = np.flatnonzero(rng.uniform(size=n) < np.where(planted, PLANTED_CONTEST_RATE, CONTEST_RATE))
    add(who, "contest", rng.choice(_CONTEST_TEXT, len(who)), day(len(who)))
    done = who[rng.uniform(size=len(who)) < RESOLVED]
    add(done, "resolved", None, (end - pd.Timedelta(days=5)).strftime("%Y-%m-%d"))
    strangers = int(rng.binomial(n, UNKNOWN_IDS))
    parts.append(pd.DataFrame({"id": np.char.add("X", np.arange(strangers).astype(str)), "kind": "contest",
                               "value": "who is this", "recorded_at": day(strangers)}))
    table = pd.concat(parts, ignore_index=True)
    table["value"] = table["value"].astype(object).where(table["value"].notna(), None)
    return table
