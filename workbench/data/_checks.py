"""Value checks beyond a column's type: numbers that are not numbers, ranges, blank consent, dates.

Each check returns the lines of an error message (empty when all is well), so that every problem of
every column is reported at once: fixing one value kind should never reveal the next.

* :func:`numeric_problems`: a numeric role (an amount, an age) holding text ("twelve"), infinities or
  NaN-like text ("inf", "NaN"), or values outside a declared range (``dataset.ranges``, e.g.
  ``age: [0, 120]``; amounts default to ±10^12, beyond any real order).
* :func:`looks_numeric`: a column whose values are mostly numbers is numeric; a few text values in it
  are errors, not extra groups (an age column holding "forty" is not 76 text groups).
* :func:`blank_consent`: how blank consent flags are read (``dataset.blank_consent``): by default a
  blank means *no consent*, so a blank profiling opt-out is read as opted out.
* :func:`future_rows`: transactions dated after the run's date (or ``dataset.as_of``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "AMOUNT_RANGE", "BLANK_CONSENT", "NUMERIC_PROBLEMS", "TIMESTAMP_PROBLEM", "blank_consent", "cap_long_values",
    "future_rows",
    "looks_numeric", "numeric_problems", "parse_timestamps", "problem_line",
]

#: Plausible order amounts when no range is declared: 1e308 is a number, not an order.
AMOUNT_RANGE = (-1e12, 1e12)
#: Policies for blank consent flags: "no_consent" (default) or "consent".
BLANK_CONSENT = ("no_consent", "consent")
_NAN_LIKE = {"nan", "inf", "-inf", "+inf", "infinity", "-infinity", "+infinity"}

#: What each kind of bad numeric value is called and what to do about it: the pandas and the engine
#: input paths word their messages from these, so both say the same.
NUMERIC_PROBLEMS = {
    "empty": ("is empty", "fill in the values or remove those rows"),
    "not_number": ("holds values that are not numbers",
                   "make the column numeric (digits and '.' only, no currency symbols, thousands separators or words)"),
    "non_finite": ("holds infinite or not-a-number values",
                   "replace them by the real values, or leave the cells blank if unknown"),
    "outside": ("holds values outside its range [{low:g}, {high:g}]",
                "correct them, blank them if unknown, or declare another range (dataset.ranges.{column})"),
}
TIMESTAMP_PROBLEM = ("holds values that are not dates/times", "use ISO dates such as 2024-03-31 or 2024-03-31T14:05:00")


def problem_line(column: str, kind: tuple[str, str], n: int, where: str, examples: str = "", **fmt) -> str:
    """One message line: ``column '<c>' <what> in <n> row(s), e.g. <where>[: <examples>]. What to do: <fix>.``"""
    what, fix = (part.format(column=column, **fmt) for part in kind)
    return (f"column '{column}' {what} in {n} row(s), e.g. {where}{': ' + examples if examples else ''}. "
            f"What to do: {fix}.")


def _examples(values: pd.Series, n: int = 5) -> str:
    return ", ".join(repr(v) for v in pd.unique(values)[:n])


def _rows(index: pd.Index, n: int = 5) -> str:
    rows = [int(i) for i in index[:n]]
    return (f"data rows {', '.join(map(str, rows))} (first data row = 0; in a CSV, file lines "
            f"{', '.join(str(r + 2) for r in rows)})")


def looks_numeric(values: pd.Series, share: float = 0.8) -> bool:
    """Whether at least ``share`` of the non-missing values read as finite numbers."""
    present = values.dropna()
    if present.empty:
        return False
    if pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present):
        return True
    parsed = pd.to_numeric(present.astype(str).str.strip(), errors="coerce")
    return bool(np.isfinite(parsed).mean() >= share)


def numeric_problems(values: pd.Series, column: str, bounds=None, required: bool = False) -> tuple[pd.Series, list[str]]:
    """Parse ``values`` as numbers; return them and one line per kind of bad value.

    Parameters
    ----------
    values : Series
    column : str
        The column's name in messages.
    bounds : (low, high), optional
        The declared range (inclusive).
    required : bool, default False
        Whether a missing value is an error too.

    Returns
    -------
    (Series of float, list of str)
    """
    text = values.astype(str).str.strip()
    parsed = pd.to_numeric(values if pd.api.types.is_numeric_dtype(values) else text, errors="coerce").astype(float)
    missing = values.isna()
    nan_like = ~missing & (text.str.lower().isin(_NAN_LIKE) | np.isinf(parsed))
    not_number = ~missing & parsed.isna() & ~nan_like
    lines = []
    if required and missing.any():
        lines.append(problem_line(column, NUMERIC_PROBLEMS["empty"], int(missing.sum()), _rows(values.index[missing])))
    for kind, bad in (("not_number", not_number), ("non_finite", nan_like)):
        if bad.any():
            lines.append(problem_line(column, NUMERIC_PROBLEMS[kind], int(bad.sum()), _rows(values.index[bad]),
                                      _examples(values[bad])))
    parsed = parsed.where(~nan_like)
    if bounds is not None:
        low, high = bounds
        outside = parsed.notna() & ((parsed < low) | (parsed > high))
        if outside.any():
            lines.append(problem_line(column, NUMERIC_PROBLEMS["outside"], int(outside.sum()),
                                      _rows(values.index[outside]), _examples(values[outside]), low=low, high=high))
    return parsed, lines


def parse_timestamps(values: pd.Series, column: str) -> tuple[pd.Series, list[str]]:
    """Parse timestamps; return them and a line naming the values that are not dates.

    Exports mix ``2024-03-31`` and ``2024-03-31 14:05:00`` in one column; pandas infers one format from
    the first value, so ISO 8601 (any precision) is tried next, then each value on its own.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        return values, []
    parsed = None
    for fmt in (None, "ISO8601", "mixed"):
        try:
            parsed = pd.to_datetime(values, format=fmt, errors="raise")
            break
        except (ValueError, TypeError, OverflowError):
            continue
    if parsed is None:
        parsed = pd.to_datetime(values, format="mixed", errors="coerce")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    bad = values.notna() & parsed.isna()
    lines = []
    if bad.any():
        lines.append(problem_line(column, TIMESTAMP_PROBLEM, int(bad.sum()), _rows(values.index[bad]),
                                  _examples(values[bad])))
    return parsed.astype("datetime64[ns]"), lines


def blank_consent(values: pd.Series, purpose: str, policy: str = "no_consent") -> pd.Series:
    """The boolean a blank flag of ``purpose`` stands for, under ``policy``.

    A blank ``marketing_opt_in`` is "no consent" (False) under the default policy; a blank
    ``profiling_opt_out`` is "opted out" (True): no consent to profiling.
    """
    no_consent = policy == "no_consent"
    if purpose == "profiling_opt_out":
        return pd.Series(no_consent, index=values.index)
    return pd.Series(not no_consent, index=values.index)


def future_rows(timestamps: pd.Series, as_of) -> tuple[pd.Series, pd.Timestamp]:
    """Rows dated after ``as_of`` (a date: the whole day counts; None: now, UTC), and the cut-off."""
    if as_of is None:
        cutoff = pd.Timestamp.now(tz="UTC").tz_localize(None)
    else:
        cutoff = pd.Timestamp(as_of)
        if cutoff == cutoff.normalize():
            cutoff = cutoff + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    return timestamps > cutoff, cutoff


def cap_long_values(df: pd.DataFrame, limit: int, keep: tuple[str, ...] = ()) -> tuple[pd.DataFrame, dict[str, int]]:
    """Replace text values longer than ``limit`` characters by a short stand-in; count them per column.

    Why: a category is encoded as fixed-width text by numpy and scikit-learn (rows x the longest value),
    so one megabyte in one cell of a 400-row column made stage 02 allocate gigabytes and run for minutes.
    The stand-in is ``"long value (N characters, sha256 xxxxxxxx)"``: equal long values stay equal,
    different ones stay apart, and none of the text is kept (it may be free text about a person).

    Parameters
    ----------
    df : pandas.DataFrame
    limit : int
        Longest value kept as it is (``dataset.max_value_length``).
    keep : tuple of str
        Columns never changed (ids: the pseudonym is computed from the whole value).

    Returns
    -------
    (pandas.DataFrame, dict)
        The table (a copy when anything changed) and ``{column: values replaced}`` for the columns that had any.
    """
    counts, out = {}, df
    for col in df.columns:
        s = df[col]
        if col in keep:
            continue
        if isinstance(s.dtype, pd.CategoricalDtype):  # the text lives in the categories, not the rows
            capped, n = _cap_categories(s, limit)
        elif pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s):
            long = s.astype("string").str.len().gt(limit).fillna(False).to_numpy(dtype=bool)
            n = int(long.sum())
            capped = s.astype(object).where(~long, s[long].astype(str).map(_stand_in)) if n else s
        else:
            continue
        if capped is s:
            continue
        if out is df:
            out = df.copy()
        out[col] = capped
        if n:
            counts[col] = n
    return out, counts


def _stand_in(value: str) -> str:
    """The short stand-in of a long text value: its length and a hash prefix, none of its text."""
    import hashlib

    return f"long value ({len(value):,} characters, sha256 {hashlib.sha256(value.encode()).hexdigest()[:8]})"


def _cap_categories(s: pd.Series, limit: int) -> tuple[pd.Series, int]:
    """A categorical column with its long text categories renamed to their stand-ins, and the rows
    holding one (``s`` itself when no category is long). Unused long categories are renamed too: the
    categories travel with the column into every Parquet file written from it."""
    cats = s.cat.categories
    if not (pd.api.types.is_object_dtype(cats) or pd.api.types.is_string_dtype(cats)):
        return s, 0
    long = pd.Series(cats).astype("string").str.len().gt(limit).fillna(False).to_numpy(dtype=bool)
    if not long.any():
        return s, 0
    rows = int(np.isin(s.cat.codes.to_numpy(), np.flatnonzero(long)).sum())
    names = [_stand_in(str(c)) if is_long else c for c, is_long in zip(cats, long)]
    if len(set(names)) < len(names):  # a stand-in equal to another category: fall back to plain text
        text = s.astype(object)
        mask = text.isin(list(cats[long]))
        return text.where(~mask, text[mask].astype(str).map(_stand_in)), rows
    return s.cat.rename_categories(names), rows
