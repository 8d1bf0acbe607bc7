"""Calendar windows over the transaction history: the windows, activity in each, features as of each end."""

from __future__ import annotations

import pandas as pd

from ..engine import active_config, make_engine, window_activity_query

_GRACE = pd.Timedelta(days=7)  # a quiet first or last day does not make a window partial


def make_windows(
    timestamps: pd.Series,
    months: int = 3,
    n_windows: int | None = None,
    max_windows: int = 8,
) -> pd.DataFrame:
    """Consecutive calendar windows covered by the transaction history.

    Windows are aligned on the calendar (quarters start in January, April, July, October when
    ``months=3``) and a window counts only if the history covers it in full (up to a week's grace at
    either end, for a quiet first or last day). The most recent ones are kept.

    Parameters
    ----------
    timestamps : pandas.Series
        Transaction timestamps.
    months : int
        Window length in months (a divisor of 12 keeps windows aligned on the year).
    n_windows : int, optional
        How many windows; by default as many full windows as the history holds, at most
        ``max_windows``.
    max_windows : int

    Returns
    -------
    pandas.DataFrame
        ``label``, ``start`` (inclusive), ``end`` (exclusive; features are computed as of it), oldest
        first.
    """
    months = int(months)
    if months < 1:
        raise ValueError(f"window_months must be at least 1, got {months}")
    ts = pd.to_datetime(pd.Series(timestamps)).dropna()
    if ts.empty:
        return pd.DataFrame(columns=["label", "start", "end"])
    first, last = ts.min().floor("D"), ts.max().floor("D") + pd.Timedelta(days=1)
    step = months if 12 % months == 0 else 1
    anchor = pd.Timestamp(year=first.year, month=1, day=1)
    start = anchor + pd.DateOffset(months=((first.month - 1) // step) * step)
    while start + _GRACE < first:
        start = start + pd.DateOffset(months=step)
    rows = []
    while start + pd.DateOffset(months=months) <= last + _GRACE:
        end = start + pd.DateOffset(months=months)
        rows.append({"label": _window_label(start, months), "start": start, "end": end})
        start = end
    windows = pd.DataFrame(rows, columns=["label", "start", "end"])
    limit = max_windows if n_windows is None else min(int(n_windows), len(windows))
    return windows.tail(int(limit)).reset_index(drop=True)


def _window_label(start: pd.Timestamp, months: int) -> str:
    if months == 3:
        return f"{start.year}Q{(start.month - 1) // 3 + 1}"
    if months == 12 and start.month == 1:
        return str(start.year)
    if months == 6 and start.month in (1, 7):
        return f"{start.year}H{1 if start.month == 1 else 2}"
    if months == 1:
        return start.strftime("%Y-%m")
    return f"{start:%Y-%m}+{months}m"


def window_activity(transactions, windows: pd.DataFrame) -> pd.DataFrame:
    """Purchases per customer and window, and whether the customer had bought anything by its end.

    One aggregation over the transaction log (:func:`workbench.engine.window_activity_query`) on the
    engine of the innermost :func:`workbench.engine.using` block. ``transactions``: a DataFrame, or
    :class:`workbench.features.ParquetTransactions` (the engine reads the files).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, then for each window ``n_<label>`` (purchases with a positive amount in
        the window) and ``seen_<label>`` (any purchase before the window's end).
    """
    from ..features import ParquetTransactions

    with make_engine(active_config()) as eng:
        if isinstance(transactions, ParquetTransactions):  # the engine scans the files
            transactions.register(eng, "tx", ["customer_id", "timestamp", "amount"])
        else:
            eng.register_rows("tx", transactions[["customer_id", "timestamp", "amount"]])
        return eng.fetch_rows(window_activity_query("tx", windows))


def window_features(
    customers: pd.DataFrame,
    transactions: pd.DataFrame,
    roles,
    as_of: pd.Timestamp,
    lookback_months: int | None = None,
    settings: dict | None = None,
) -> pd.DataFrame:
    """Each customer's features as of a date (via :func:`workbench.features.build_features`).

    Only transactions strictly before ``as_of`` count; with ``lookback_months`` only those of the
    trailing months before it (behaviour *in* the period rather than since the start).
    ``transactions``: a DataFrame, or :class:`workbench.features.ParquetTransactions` (computed in the
    engine from the files: no transaction in pandas).
    """
    from .. import features as feature_module

    from ..features import ParquetTransactions

    as_of = pd.Timestamp(as_of)
    tx = transactions
    if lookback_months:
        since = as_of - pd.DateOffset(months=int(lookback_months))
        tx = tx.from_(since) if isinstance(tx, ParquetTransactions) else tx[tx["timestamp"] >= since]
    return feature_module.build_features(customers, tx, roles, settings=settings, as_of=as_of)


def season_lag(windows: pd.DataFrame) -> int:
    """How many windows apart the same season comes round again: the lag at which windows are compared.

    Windows that tile the year (``12 / months`` of them a year) are compared with the window a year
    earlier, so that December is compared with December and June with June; year-long windows (and
    windows that do not tile the year, or a history too short to hold the same season twice) with the
    previous window.
    """
    if len(windows) < 2:
        return 1
    months = round((windows["end"].iloc[0] - windows["start"].iloc[0]).days / 30.44)
    per_year = 12 // months if months and 12 % months == 0 else 1
    return per_year if len(windows) > per_year else 1


def season_of(windows: pd.DataFrame) -> dict[str, int]:
    """Window label -> its season: the calendar month the window starts in (windows repeat it yearly)."""
    return {w.label: int(pd.Timestamp(w.start).month) for w in windows.itertuples()}
