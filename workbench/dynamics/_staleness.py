"""Stale assignments: recorded segments that current behaviour contradicts, how fast, how often to refresh."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import privacy
from ..fairness import restate_share


#: The columns of the stale-assignment count table (:func:`stale_counts`).
STALE, KEPT = "stale", "not stale"


def _contradicted(r: np.ndarray, c: np.ndarray, fits: np.ndarray | None) -> np.ndarray:
    """Stale: placed elsewhere now and (with ``fits``) no longer fitting the recorded segment either."""
    return (c != r) if fits is None else (c != r) & ~fits_segment(fits, r)


def stale_counts(recorded: pd.Series | np.ndarray, current: pd.Series | np.ndarray,
                 fits: np.ndarray | None = None) -> pd.DataFrame:
    """Exact counts of the stale-assignment table: recorded segment x (stale, not stale), no totals.

    Only customers with a recorded segment and a current one (both non-negative) are counted; with
    ``fits``, stale as in :func:`stale_assignments`.
    """
    r = np.asarray(recorded)
    c = np.asarray(current)
    base = (r >= 0) & (c >= 0)
    stale = _contradicted(r, c, fits)
    segments = sorted(int(x) for x in np.unique(r[base]))
    table = pd.DataFrame(
        {STALE: [int((base & (r == s) & stale).sum()) for s in segments],
         KEPT: [int((base & (r == s) & ~stale).sum()) for s in segments]},
        index=pd.Index(segments, name="segment"),
    )
    table.columns.name = "assignment"
    return table


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
    suppress=None,
    fits: np.ndarray | None = None,
) -> pd.DataFrame:
    """Share of recorded assignments that the customers' current behaviour contradicts, per segment.

    Without ``fits`` an assignment is stale when the current segment differs from the recorded one.
    With ``fits`` (the current window's packed fit bits, :class:`workbench.dynamics.SeasonalProfiles`)
    it is stale only when the current behaviour also no longer fits the recorded segment's profile of
    the current season: a customer placed nearer another profile while still as typical of their
    recorded segment as most of its members is not stale.

    Every number comes from one table of counts, recorded segment x (stale, not stale) with margins
    (:func:`stale_counts`), suppressed once like every other published count: a stale count of 1 to
    ``k - 1`` (or a segment whose not-stale count is that small) is hidden, with complementary cells,
    and the share and main destination of a row are shown only where its cells are.

    Parameters
    ----------
    recorded : array of int
        Segment recorded at the last refresh (negative: none recorded).
    current : array of int
        Segment the model gives the customer's current features (negative: cannot be scored).
    names : dict, optional
    k : int, optional
        Small-cell threshold (None: exact counts, nothing hidden).
    suppress : callable, optional
        Exact counts in, the published table with ``Total`` margins out (the stage passes
        :func:`workbench.privacy.suppress_and_publish`); default
        :func:`workbench.privacy.suppress_counts` with ``margins=True``.
    fits : numpy.ndarray, optional
        Packed fit bits of the current window, one row per customer.

    Returns
    -------
    pandas.DataFrame
        ``segment``, ``n`` (customers recorded in it and scorable now), ``stale`` (count),
        ``stale_share``, ``main_destination`` (where most stale ones now belong); plus ``all``.
        Hidden numbers are NaN (``main_destination`` empty).
    """
    names = names or {}
    counts = stale_counts(recorded, current, fits)
    if suppress is not None:
        published = suppress(counts)
    elif k:
        published = privacy.suppress_counts(counts, k, margins=True)
    else:
        published = counts.assign(Total=counts.sum(axis=1))
        published.loc["Total"] = published.sum()
    r, c = np.asarray(recorded), np.asarray(current)
    rows = []
    for s in [*counts.index, "Total"]:
        n, stale = float(published.loc[s, "Total"]), float(published.loc[s, STALE])
        dest = ""
        if s != "Total" and np.isfinite(stale) and stale > 0:
            moved = c[(r == s) & (c >= 0) & _contradicted(r, c, fits)]
            values, times = np.unique(moved, return_counts=True)
            dest = names.get(int(values[times.argmax()]), f"Segment {values[times.argmax()]}")
        rows.append({
            "segment": "all" if s == "Total" else names.get(int(s), f"Segment {s}"),
            "n": n, "stale": stale,
            "stale_share": stale / n if np.isfinite(n) and np.isfinite(stale) and n > 0 else np.nan,
            "main_destination": dest,
        })
    return pd.DataFrame(rows)


def staleness_curve(segments: pd.DataFrame, labels: list[str], fits: dict | None = None,
                    k: int | None = None, suppress=None) -> pd.DataFrame:
    """How fast assignments go stale: share that changed segment, by windows since the refresh.

    For every lag ``h`` and every start window ``t``, the share of customers scorable in both ``t``
    and ``t + h`` whose segment differs; averaged over the start windows (weighted by customers).
    With ``fits`` (window label -> packed fit bits, :class:`workbench.dynamics.SeasonalProfiles`) a
    customer counts as stale only when their behaviour in ``t + h`` also no longer fits the profile of
    their segment in ``t`` for the season of ``t + h`` (see :func:`stale_assignments`).
    With ``k``, a lag whose changed or unchanged count is 1 to ``k - 1`` shows no share (``stale_share``
    NaN): share times ``n`` would give the small count away. With ``suppress`` (exact counts in, the
    published table with margins out: the stage passes :func:`workbench.privacy.suppress_and_publish`),
    the lag x (stale, not stale) counts are published and ``n`` and ``stale_share`` are derived from the
    table it returns (as printed: perturbed, issue 24), NaN where a cell is hidden.

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
        small = k is not None and (0 < changed < k or 0 < total - changed < k)
        rows.append({"lag": h, "pairs": len(labels) - h, "n": total, STALE: changed,
                     "stale_share": changed / total if total and not small else np.nan})
    curve = pd.DataFrame(rows, columns=["lag", "pairs", "n", STALE, "stale_share"])
    if suppress is not None and len(curve):
        counts = pd.DataFrame({STALE: curve[STALE].to_numpy(), KEPT: (curve["n"] - curve[STALE]).to_numpy()},
                              index=pd.Index(curve["lag"].astype(str), name="windows apart"))
        counts.columns.name = "assignment"
        printed = suppress(counts).drop(index="Total")
        curve["n"] = printed["Total"].to_numpy(float)
        curve["stale_share"] = restate_share(printed[STALE], printed["Total"])[0]
    return curve.drop(columns=STALE)


def refresh_recommendation(curve: pd.DataFrame, window_months: int, tolerance: float = 0.10,
                           published: pd.DataFrame | None = None) -> dict:
    """How often to refresh so that at most ``tolerance`` of assignments are stale.

    The recommended interval is the longest lag whose stale share stays within the tolerance. It is
    decided on the exact ``curve``; the shares the sentence prints come from ``published`` (the curve
    with small counts masked, :func:`staleness_curve` with ``k``), and a masked one is not printed.

    Returns
    -------
    dict
        ``refresh_every_months`` (None when even the longest lag observed stays within tolerance:
        at least that long) and ``sentence``.
    """
    curve = curve[curve["stale_share"].notna()].reset_index(drop=True)  # lags nobody was scored at
    if curve.empty:
        return {"refresh_every_months": None, "sentence": "Too few windows to measure how fast assignments go stale."}
    shown = (published if published is not None else curve).set_index("lag")["stale_share"]

    def share(lag: int) -> str:
        value = float(shown.get(lag, np.nan))
        return f"{value:.0%}" if np.isfinite(value) else "a share suppressed (small count)"

    within = curve[curve["stale_share"] <= tolerance]
    first_lag = int(curve["lag"].iloc[0])
    if within.empty:
        return {
            "refresh_every_months": window_months,
            "sentence": (
                f"{share(first_lag)} of assignments are stale after {first_lag * window_months} months, "
                f"more than the {tolerance:.0%} tolerance: refresh at least every {window_months} months "
                "(or more often)."
            ),
        }
    # longest lag such that every shorter lag is also within tolerance
    ok = curve["stale_share"].le(tolerance).cumprod().astype(bool)
    lag = int(curve.loc[ok, "lag"].max()) if ok.any() else int(within["lag"].min())
    if lag == int(curve["lag"].max()):
        return {
            "refresh_every_months": None,
            "sentence": (
                f"Even after {lag * window_months} months only {share(lag)} of assignments are stale "
                f"(tolerance {tolerance:.0%}): a refresh every {lag * window_months} months or less often is enough."
            ),
        }
    nxt = int(curve[curve["lag"] > lag]["lag"].iloc[0])
    return {
        "refresh_every_months": lag * window_months,
        "sentence": (
            f"{share(lag)} of assignments are stale after {lag * window_months} months and {share(nxt)} after "
            f"{nxt * window_months}: refresh every {lag * window_months} months to stay within "
            f"{tolerance:.0%}."
        ),
    }
