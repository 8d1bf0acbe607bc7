"""Stale assignments: recorded segments that current behaviour contradicts, how fast, how often to refresh."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import privacy


def fits_segment(packed: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Whether each row fits ``segment``, read from packed fit bits (``SeasonalProfiles.for_window(...).fits``).

    Negative segments (inactive, not yet a customer) fit nothing.
    """
    segment = np.asarray(segment, dtype=np.int64)
    ok = (segment >= 0) & (segment < 8 * packed.shape[1])
    rows = np.flatnonzero(ok)
    out = np.zeros(len(segment), dtype=bool)
    out[rows] = (packed[rows, segment[rows] // 8] >> (segment[rows] % 8)) & 1 == 1
    return out


def stale_assignments(
    recorded: pd.Series | np.ndarray,
    current: pd.Series | np.ndarray,
    names: dict[int, str] | None = None,
    k: int | None = None,
    fits: np.ndarray | None = None,
) -> pd.DataFrame:
    """Share of recorded assignments that the customers' current behaviour contradicts, per segment.

    Without ``fits`` an assignment is stale when the current segment differs from the recorded one.
    With ``fits`` (the current window's packed fit bits, :class:`workbench.dynamics.SeasonalProfiles`)
    it is stale only when the current behaviour also no longer fits the recorded segment's profile of
    the current season: a customer placed nearer another profile while still as typical of their
    recorded segment as most of its members is not stale.

    Parameters
    ----------
    recorded : array of int
        Segment recorded at the last refresh (negative: none recorded).
    current : array of int
        Segment the model gives the customer's current features (negative: cannot be scored).
    names : dict, optional
    k : int, optional
        Small-cell threshold: rows of fewer than ``k`` customers are masked
        (:func:`workbench.privacy.suppress_rows`).
    fits : numpy.ndarray, optional
        Packed fit bits of the current window, one row per customer.

    Returns
    -------
    pandas.DataFrame
        ``segment``, ``n`` (customers recorded in it and scorable now), ``stale`` (count),
        ``stale_share``, ``main_destination`` (where most stale ones now belong); plus ``all``.
    """
    names = names or {}
    r = np.asarray(recorded)
    c = np.asarray(current)
    base = (r >= 0) & (c >= 0)
    contradicted = (c != r) if fits is None else (c != r) & ~fits_segment(fits, r)
    rows = []
    for s in [*sorted(int(x) for x in np.unique(r[base])), None]:
        mask = base & ((r == s) if s is not None else True)
        stale = mask & contradicted
        dest = ""
        if s is not None and stale.any():
            values, counts = np.unique(c[stale], return_counts=True)
            dest = names.get(int(values[counts.argmax()]), f"Segment {values[counts.argmax()]}")
        n = int(mask.sum())
        rows.append(
            {
                "segment": "all" if s is None else names.get(s, f"Segment {s}"),
                "n": n,
                "stale": int(stale.sum()),
                "stale_share": stale.sum() / n if n else np.nan,
                "main_destination": dest,
            }
        )
    out = pd.DataFrame(rows)
    if k:
        body = privacy.suppress_rows(out.iloc[:-1].reset_index(drop=True), "n", k, keep=["segment"])
        out = pd.concat([body, out.iloc[-1:]], ignore_index=True)
    return out


def staleness_curve(segments: pd.DataFrame, labels: list[str], fits: dict | None = None) -> pd.DataFrame:
    """How fast assignments go stale: share that changed segment, by windows since the refresh.

    For every lag ``h`` and every start window ``t``, the share of customers scorable in both ``t``
    and ``t + h`` whose segment differs; averaged over the start windows (weighted by customers).
    With ``fits`` (window label -> packed fit bits, :class:`workbench.dynamics.SeasonalProfiles`) a
    customer counts as stale only when their behaviour in ``t + h`` also no longer fits the profile of
    their segment in ``t`` for the season of ``t + h`` (see :func:`stale_assignments`).

    Returns
    -------
    pandas.DataFrame
        ``lag`` (windows), ``pairs`` (start windows averaged), ``n``, ``stale_share``.
    """
    data = segments[labels].to_numpy()
    rows = []
    for h in range(1, len(labels)):
        changed = total = 0
        for t in range(len(labels) - h):
            a, b = data[:, t], data[:, t + h]
            both = (a >= 0) & (b >= 0)
            moved = a != b
            if fits is not None:
                moved &= ~fits_segment(fits[labels[t + h]], a)
            total += int(both.sum())
            changed += int((both & moved).sum())
        rows.append({"lag": h, "pairs": len(labels) - h, "n": total,
                     "stale_share": changed / total if total else np.nan})
    return pd.DataFrame(rows, columns=["lag", "pairs", "n", "stale_share"])


def refresh_recommendation(curve: pd.DataFrame, window_months: int, tolerance: float = 0.10) -> dict:
    """How often to refresh so that at most ``tolerance`` of assignments are stale.

    The recommended interval is the longest lag whose stale share stays within the tolerance.

    Returns
    -------
    dict
        ``refresh_every_months`` (None when even the longest lag observed stays within tolerance:
        at least that long) and ``sentence``.
    """
    curve = curve[curve["stale_share"].notna()].reset_index(drop=True)  # lags nobody was scored at
    if curve.empty:
        return {"refresh_every_months": None, "sentence": "Too few windows to measure how fast assignments go stale."}
    within = curve[curve["stale_share"] <= tolerance]
    first_share, first_lag = float(curve["stale_share"].iloc[0]), int(curve["lag"].iloc[0])
    if within.empty:
        return {
            "refresh_every_months": window_months,
            "sentence": (
                f"{first_share:.0%} of assignments are stale after {first_lag * window_months} months, "
                f"more than the {tolerance:.0%} tolerance: refresh at least every {window_months} months "
                "(or more often)."
            ),
        }
    # longest lag such that every shorter lag is also within tolerance
    ok = curve["stale_share"].le(tolerance).cumprod().astype(bool)
    lag = int(curve.loc[ok, "lag"].max()) if ok.any() else int(within["lag"].min())
    share = float(curve.loc[curve["lag"] == lag, "stale_share"].iloc[0])
    if lag == int(curve["lag"].max()):
        return {
            "refresh_every_months": None,
            "sentence": (
                f"Even after {lag * window_months} months only {share:.0%} of assignments are stale "
                f"(tolerance {tolerance:.0%}): a refresh every {lag * window_months} months or less often is enough."
            ),
        }
    nxt = curve[curve["lag"] > lag].iloc[0]
    return {
        "refresh_every_months": lag * window_months,
        "sentence": (
            f"{share:.0%} of assignments are stale after {lag * window_months} months and {nxt['stale_share']:.0%} "
            f"after {int(nxt['lag']) * window_months}: refresh every {lag * window_months} months to stay within "
            f"{tolerance:.0%}."
        ),
    }
