"""Drift of the segmentation inputs between two runs: PSI and the binned shares it is computed from.

Each run stores its customers' segmentation inputs (``segments/features.parquet``, pseudonymised);
only binned counts leave this module, suppressed like every published count table, and the PSI is
computed from what is published: bins hidden by suppression are pooled into one bin first (their
pooled count is the total minus the shown bins, so it is public anyway).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import privacy

#: The pooled bin of the bins suppression hides.
HIDDEN_BINS = "hidden bins (pooled)"
MISSING = "missing"


def input_drift(features_a: pd.DataFrame, features_b: pd.DataFrame, inputs: list[str], k: int,
                bins: int = 10, perturbation=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """PSI of each input between the runs, and the published binned shares behind it.

    Parameters
    ----------
    features_a, features_b : DataFrame
        Each run's segmentation inputs per customer, original units.
    inputs : list of str
        The inputs to compare (those both runs used).
    k : int
        Suppression threshold of the runs.
    bins : int, default 10
        Numeric inputs with more distinct values are cut at the earlier run's deciles (the bins of
        :func:`workbench.dynamics.psi`); others get one bin per value; missing values a bin of their own.
    perturbation : (CellKeySettings, CellKeySettings), optional
        Each run's cell keys (:func:`workbench.privacy.perturbation_settings`): each run's bins are decided on
        and printed with perturbed counts keyed by that run's customers, so two runs of the same customers
        print the same bins (PSI 0) and an erasure redraws every bin of its run. None: exact.

    Returns
    -------
    psi_table : DataFrame
        ``input``, ``psi`` (from the published bins), ``reading`` ("stable" < 0.1 <= "moderate shift"
        < 0.25 <= "major shift"), ``hidden_bins`` (how many bins suppression hid).
    shares : DataFrame
        ``input``, ``bin``, ``customers before``/``after`` (NaN where hidden), ``share before``/``after``.
    """
    rows, shares = [], []
    for col in inputs:
        labels_a, labels_b = _bin_labels(features_a[col], features_b[col], bins)
        counts = pd.DataFrame({"before": labels_a.value_counts(sort=False),
                               "after": labels_b.value_counts(sort=False)}).fillna(0).astype(int)
        counts = counts.reindex(_bin_order(counts.index))
        counts.index.name, counts.columns.name = "bin", "run"
        published = pd.DataFrame({run: _printed_column(counts[run], k, cells, f"bins of {col}")
                                  for run, cells in zip(("before", "after"), perturbation or (None, None))})
        body = published.drop(index=privacy.TOTAL)
        hidden = body.index[body[["before", "after"]].isna().any(axis=1)]
        value = _printed_psi(body, published.loc[privacy.TOTAL], hidden) if len(labels_a) and len(labels_b) \
            else float("nan")
        rows.append({"input": col, "psi": round(float(value), 4), "reading": _reading(value),
                     "hidden_bins": int(len(hidden))})
        total = published.loc[privacy.TOTAL]
        shares.append(pd.DataFrame({
            "input": col, "bin": body.index.astype(str),
            "customers before": body["before"].to_numpy(), "customers after": body["after"].to_numpy(),
            "share before": (body["before"] / total["before"]).to_numpy(),
            "share after": (body["after"] / total["after"]).to_numpy(),
        }))
    psi_table = pd.DataFrame(rows, columns=["input", "psi", "reading", "hidden_bins"])
    shares_table = pd.concat(shares, ignore_index=True) if shares else pd.DataFrame(
        columns=["input", "bin", "customers before", "customers after", "share before", "share after"])
    return psi_table, shares_table


def _printed_column(counts: pd.Series, k: int, cells, population: str) -> pd.Series:
    """One run's customers per bin, suppressed (margin included) and printed with that run's cell keys."""
    one = counts.to_frame("customers")
    one.index.name = "bin"
    return privacy.suppress_printed(one, "bin", "customers", k, cells, population=population)[privacy.TOTAL]


def _printed_psi(body: pd.DataFrame, total: pd.Series, hidden: pd.Index, eps: float = 1e-4) -> float:
    """The PSI (:func:`workbench.dynamics.psi`'s formula, shares floored at ``eps``) of the printed bins: the
    shown bins, and the hidden ones pooled into one bin holding the printed total less the shown bins.

    From printed counts only: a PSI of the exact bins would move by exactly one customer's bin between two
    comparisons one erasure apart.
    """
    shown = body.drop(index=hidden)[["before", "after"]].astype(float)
    pool = (total[["before", "after"]].astype(float) - shown.sum()).clip(lower=0)
    bins = pd.concat([shown, pool.to_frame(HIDDEN_BINS).T]) if len(hidden) else shown
    shares = (bins / bins.sum().where(bins.sum() > 0)).fillna(0).clip(lower=eps)
    e, a = shares["before"].to_numpy(), shares["after"].to_numpy()
    return float(np.sum((a - e) * np.log(a / e)))


#: How a withheld drift reads: two runs that differ by a few customers would give their values away.
WITHHELD = "withheld: the runs differ by fewer than k customers"


def withhold_if_few_differ(psi_table: pd.DataFrame, shares: pd.DataFrame, n_only_one: int,
                           k: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two-run check of the drift section: refuse it when the runs differ by 1 to ``k - 1`` customers.

    Two runs of the same data, the second after ``--forget`` of one customer, differ in exactly one
    bin per input by one customer: the binned counts then give every input of the erased customer
    away, and PSI, computed from them, too. When the customers present in only one run number 1 to
    ``k - 1`` (the attacker's difference of two populations below k), every PSI and every binned
    count is withheld; with none (the same customers) or at least ``k``, both are published.

    Parameters
    ----------
    psi_table, shares : DataFrame
        What :func:`input_drift` returns.
    n_only_one : int
        Customers present in only one of the two runs (exact; never published by this function).
    k : int

    Returns
    -------
    (DataFrame, DataFrame)
        The PSI table (``psi`` NaN and ``reading`` :data:`WITHHELD` when withheld) and the binned
        shares (empty when withheld).
    """
    if not 0 < n_only_one < k:
        return psi_table, shares
    psi_table = psi_table.assign(psi=np.nan, reading=WITHHELD, hidden_bins=0)
    return psi_table, shares.iloc[0:0]


def _bin_labels(a: pd.Series, b: pd.Series, bins: int) -> tuple[pd.Series, pd.Series]:
    """Bin labels (strings) of both runs' values, the bins fixed by the earlier run."""
    numeric = (pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b)
               and not pd.api.types.is_bool_dtype(a))
    if not numeric:
        return a.astype(object).where(a.notna(), MISSING).astype(str), b.astype(object).where(b.notna(), MISSING).astype(str)
    av, bv = a.astype(float), b.astype(float)
    values = np.unique(av.dropna())
    if len(values) > bins:
        edges = np.unique(np.quantile(av.dropna(), np.linspace(0, 1, bins + 1)[1:-1]))
        names = [f"< {_num(edges[0])}"] + [f"[{_num(lo)}, {_num(hi)})" for lo, hi in zip(edges[:-1], edges[1:])] \
            + [f">= {_num(edges[-1])}"]

        def label(v):
            out = pd.Series(np.asarray(names, dtype=object)[np.searchsorted(edges, v.fillna(0), side="right")],
                            index=v.index)
            return out.where(v.notna(), MISSING)
        return label(av), label(bv)
    return (av.map(_num).where(av.notna(), MISSING), bv.map(_num).where(bv.notna(), MISSING))


def _bin_order(labels: pd.Index) -> list:
    """Bins in numeric order where they are numeric ranges, then by name; missing last."""
    def key(lab: str):
        text = str(lab).lstrip("<>=[ ")
        try:
            return (0, float(text.split(",")[0]) - (1e-9 if str(lab).startswith("<") else 0), "")
        except ValueError:
            return (1 if lab != MISSING else 2, 0.0, str(lab))
    return sorted(labels, key=key)


def _num(v: float) -> str:
    return f"{float(v):.4g}"


def _reading(value: float) -> str:
    if np.isnan(value):
        return "not computable"
    return "stable" if value < 0.1 else "moderate shift" if value < 0.25 else "major shift"
