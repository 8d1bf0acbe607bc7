"""The cell-key method: every published count perturbed by a bounded, consistent amount.

Small-cell suppression stops a reader from reading a small count off one run. It does not stop them from
subtracting two runs: a re-run after ``--forget`` of one customer publishes exact tables that differ by
exactly that customer's cells (segment, gender, age band, ...). National statistical offices protect
frequency tables against such differencing with the **cell-key method**: the Australian Bureau of
Statistics' TableBuilder (Fraser and Wooton, 2005, "A proposed method for confidentialising tabular output
to protect against differencing", UNECE work session on statistical data confidentiality; Thompson,
Broadfoot and Elazar, 2013, "Methodology for the automatic confidentialisation of statistical outputs
from remote servers at the Australian Bureau of Statistics", UNECE), the UK's Office for National
Statistics for Census 2021, and Destatis/Statistics Austria in the R packages ``cellKey`` and ``ptable``
(Giessing, 2016, "Computational issues in the design of transition probabilities and disclosure risk
estimation for additive noise", PSD 2016; Giessing and Tent, 2019, UNECE).

The design followed here:

* a **perturbation table** (ptable, :func:`perturbation_table`) gives, for each true count ``n``, the
  probabilities of the perturbations ``d`` in ``-D..D``: the maximum-entropy shape of ``ptable`` (a
  discrete Gaussian whose variance is ``V``), tilted to mean zero where the row is truncated. Its rules:
  a zero stays zero (ABS keeps zeros as zeros: a printed 0 is an exact 0); a positive count never becomes
  0; every row is unbiased;
* **primary suppression is decided on the perturbed count** (ABS TableBuilder's order; issue 24): a
  positive cell whose perturbed count is below ``k`` is hidden and printed "< k"
  (:func:`grid_shift`, used by :func:`._suppression.suppress_counts` and :func:`._joint.suppress_jointly`
  before complementary suppression). Decided on the exact count, a cell of exactly ``k`` shown in one run
  and "< k" in a re-run after ``--forget`` lost the erased customer, with certainty; decided on the
  perturbed count, whether it is shown depends on its cell key, which the erasure redraws, and such a
  crossing happens to cells the customer was not in too (a cell at ``k``: 0.49 of re-runs when the
  customer was in it, 0.21 when not). The printed rules widen by ``D``: "< k" holds 1 to ``k - 1 + D``, a
  complementary "hidden†" cell 0 or at least ``k - D``, and a printed count (``k`` or more) may be an
  exact one down to ``k - D``. A table suppressed on its exact counts before it reaches the registry (a
  stage calling ``suppress_counts`` without ``perturbation``) is printed with the *held* table
  (``decided=False``: a count of ``k`` or more never printed below ``k``);
* each cell has a **cell key**, uniform on ``[0, 1)``, and the perturbation is the ptable row's entry whose
  cumulative-probability interval holds the key: the same key always gives the same perturbation, so the
  same quantity printed twice, or in two re-runs of the same data, is printed the same way and averaging
  repeated publications does not remove the noise;
* the **cell key** is an HMAC-SHA256, under the run's pseudonym key, of the quantity's identity (its
  dimension values and population, as the whole-run attacker identifies it: :func:`._linked.cell_key`)
  and of the **population key**, a digest of the record keys (the keyed pseudonyms) of every customer in
  the run.

One deliberate departure from TableBuilder: there a cell key is the sum (mod 1) of its contributors'
record keys, so a cell the erased customer was not in keeps its key, and its printed value, in the later
run: the cells that change are exactly the erased customer's cells, which names their segment, gender
and age band as surely as the exact difference did. Here every cell's key depends on the whole
population instead: when any customer is removed every published cell is drawn afresh, and the
difference of two runs is noise of variance up to ``2V`` in every cell, with the erased customer's -1
hidden in it. Consistency within a run, and across re-runs of the same customers, is kept. The stages
also hand the mechanism counts, not contributors, which the population key needs no more than.

Totals are perturbed like any other cell, independently of their parts (as ABS and ONS do): a table's
printed cells need not add up to its printed margins, by up to ``D`` per cell. Complementary suppression
and the whole-run disclosure check work on the exact counts of the shown cells, with the widened printed
rules for the hidden ones: a reader of the perturbed counts knows less than one of the exact counts (each
perturbed count is the exact count plus a function of a key the reader cannot compute), so a hidden count
the check cannot narrow from the exact published counts cannot be narrowed from the perturbed ones either.

**Magnitudes** (sums of money, and the means and intervals derived from them) are perturbed the way the
statistical offices perturb magnitude tables (ABS TableBuilder's continuous-variable perturbation; the
``cellKey`` R package's numeric variables, ``ck_params_nums`` with ``top_k``; Thompson, Broadfoot and
Elazar, 2013): a cell's total moves by ``m × p(cell key) × x_top``, where ``x_top`` is the largest
absolute contribution to the cell (computed by the engine's group-by, never published) and
``p(cell key)`` a draw from a fixed, zero-mean magnitude perturbation distribution
(:func:`magnitude_draw`: ``|p|`` between 0.5 and 1, either sign, so a cell never stays put). Any one
customer's contribution is at most ``x_top``: a noise of that scale in each of two runs hides the
drop an erasure leaves, which an exact sum gives away to the cent. The cell key is the same
HMAC of the population key and the quantity's identity as for counts (with the magnitude's name
added), so the same data prints the same figure and an erasure redraws every figure.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from ._linked import cell_key

__all__ = ["CellKeySettings", "grid_shift", "magnitude_draw", "perturb_long", "perturb_magnitudes",
           "perturb_table", "perturbation_table", "population_key"]

#: ``privacy.perturbation`` defaults: the cell-key method, perturbations in -D..D with variance V.
PERTURBATION_DEFAULTS = {"method": "cell key", "max_perturbation": 2, "variance": 1.0, "magnitude_scale": 1.0}


@dataclass(frozen=True)
class CellKeySettings:
    """What the perturbation of one run needs: the ptable parameters and the keys' two secrets.

    Attributes
    ----------
    max_perturbation : int
        ``D``: no published count moves by more than this.
    variance : float
        ``V``: the variance of a perturbation (of counts at least ``k + D``; rows near the threshold
        are truncated, and their variance is smaller).
    k : int
        The suppression threshold: no positive count is perturbed into ``1..k-1`` or to zero.
    secret : bytes
        The run's pseudonym key (never written anywhere).
    population : bytes
        :func:`population_key` of the run's customers.
    magnitude_scale : float, default 1.0
        ``m``: a published sum moves by up to ``m`` times its cell's largest contribution (0: magnitudes
        are printed exactly, a control that the differencing test shows to fail).
    """

    max_perturbation: int
    variance: float
    k: int
    secret: bytes
    population: bytes
    magnitude_scale: float = 1.0


def _base_shape(D: int, V: float) -> np.ndarray:
    """exp(-d²/2s²) on -D..D with the variance V (bisection on s; V at most D², the two-point extreme)."""
    d = np.arange(-D, D + 1, dtype=float)
    target = min(float(V), D * D * 0.999)

    def variance(s: float) -> float:
        w = np.exp(-d * d / (2 * s * s))
        return float((w * d * d).sum() / w.sum())

    lo, hi = 1e-3, 1e3
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if variance(mid) < target else (lo, mid)
    w = np.exp(-d * d / (2 * lo * lo))
    return w / w.sum()


def _unbiased_row(base: np.ndarray, D: int, lowest: int) -> np.ndarray:
    """``base`` restricted to ``d >= lowest`` and tilted (p(d) ∝ base(d)·e^{λd}) to mean zero."""
    d = np.arange(-D, D + 1, dtype=float)
    allowed = d >= lowest
    if lowest >= 0:  # only d >= 0 allowed: the one unbiased choice is no perturbation
        return (d == 0).astype(float)
    w = np.where(allowed, base, 0.0)

    def mean(lam: float) -> float:
        t = w * np.exp(lam * d)
        return float((t * d).sum() / t.sum())

    lo, hi = -50.0, 50.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mean(mid) < 0 else (lo, mid)
    t = w * np.exp(lo * d)
    return t / t.sum()


@lru_cache(maxsize=32)
def perturbation_table(D: int = 2, V: float = 1.0, k: int = 10, decided: bool = True) -> pd.DataFrame:
    """The perturbation table: for each true count, each perturbation's probability and key interval.

    Parameters
    ----------
    D : int, default 2
        The largest perturbation either way.
    V : float, default 1.0
        The variance of a perturbation of a count far from the threshold.
    k : int, default 10
        The suppression threshold.
    decided : bool, default True
        Whether primary suppression is decided on the perturbed count (:func:`grid_shift`): a positive
        count is then never perturbed to zero, and may land anywhere from 1 up (a printed value below
        ``k`` is hidden). False, for a table suppressed on its exact counts before perturbation: a count
        ``n >= k`` is never perturbed below ``k`` (a count of exactly ``k`` never moves).

    Returns
    -------
    DataFrame
        One row per (``count``, ``d``) with ``p > 0``: ``count`` (``0 .. k + D``; the last row applies to
        every larger count), ``d``, ``p``, ``lower``, ``upper`` (the cell keys in ``[lower, upper)`` get ``d``).
        A zero is never perturbed; every row is unbiased.
    """
    k = max(int(k), 1)
    base = _base_shape(int(D), float(V))
    rows = []
    for n in range(0, k + int(D) + 1):
        if n == 0:
            p = (np.arange(-D, D + 1) == 0).astype(float)
        else:  # positive counts stay positive; held at k or above when suppression came first
            p = _unbiased_row(base, int(D), (k if n >= k and not decided else 1) - n)
        upper = np.cumsum(p)
        for d, prob, up in zip(range(-D, D + 1), p, upper):
            if prob > 1e-12:
                rows.append({"count": n, "d": d, "p": float(prob), "lower": float(up - prob), "upper": float(up)})
    table = pd.DataFrame(rows)
    last = table.groupby("count")["upper"].transform("max")
    table.loc[table["upper"] == last, "upper"] = 1.0  # rounding: every key in [0, 1) finds its row
    return table


def perturbation(counts: np.ndarray, keys: np.ndarray, table: pd.DataFrame) -> np.ndarray:
    """The ptable's perturbation of each count at its cell key (NaN counts give NaN)."""
    counts = np.asarray(counts, dtype=float)
    keys = np.asarray(keys, dtype=float)
    out = np.full(len(counts), np.nan)
    shown = ~np.isnan(counts)
    rows = np.minimum(np.rint(counts[shown]).astype(int), int(table["count"].max()))
    found = np.zeros(int(shown.sum()))
    for n, part in table.groupby("count"):
        here = rows == n
        if here.any():  # the first interval whose upper end lies above the key: lower <= key < upper
            at = np.searchsorted(part["upper"].to_numpy(), keys[shown][here], side="right")
            found[here] = part["d"].to_numpy()[np.minimum(at, len(part) - 1)]
    out[shown] = found
    return out


def population_key(customer_ids: pd.Series) -> bytes:
    """A digest of the run's customers, the same whatever their order: the count and the sum of their
    64-bit hashes. Removing or adding any one customer gives an unrelated digest."""
    hashes = pd.util.hash_pandas_object(customer_ids.astype(str), index=False).to_numpy(dtype=np.uint64)
    total = int(hashes.sum(dtype=np.uint64))  # wraps mod 2^64: order-free
    return f"{len(hashes)}:{total}".encode()


def cell_keys(identities: list[tuple], settings: CellKeySettings) -> np.ndarray:
    """Each quantity's cell key, uniform on [0, 1): HMAC-SHA256(secret, population key | identity)."""
    out = np.empty(len(identities))
    for i, identity in enumerate(identities):
        message = settings.population + b"|" + json.dumps(identity, default=str).encode()
        digest = hmac.new(settings.secret, message, hashlib.sha256).digest()
        out[i] = int.from_bytes(digest[:8], "big") / 2.0**64
    return out


def _identities(long: pd.DataFrame) -> list[tuple]:
    population = long["population"].fillna("") if "population" in long else pd.Series("", index=long.index)
    return [cell_key(a, str(b), c, str(d), p) for a, b, c, d, p in
            zip(long["row_dim"], long["row"], long["col_dim"], long["column"], population)]


def perturb_long(long: pd.DataFrame, settings: CellKeySettings, decided: bool = True) -> pd.DataFrame:
    """The registry's long form with every published ``n`` perturbed (hidden cells stay NaN).

    The same quantity (the same :func:`._linked.cell_key`) gets the same key, hence the same printed
    value, in every table of the run. ``decided``: the table's primary suppression was decided on these
    perturbed counts (:func:`grid_shift`; see :func:`perturbation_table`).
    """
    out = long.copy()
    n, keys = out["n"].to_numpy(float), cell_keys(_identities(out), settings)
    held = perturbation(n, keys, perturbation_table(settings.max_perturbation, settings.variance, settings.k, False))
    shift = held
    if decided:
        shift = perturbation(n, keys, perturbation_table(settings.max_perturbation, settings.variance, settings.k, True))
        # a quantity whose showing was decided by an earlier table suppressed on exact counts is printed as
        # that table printed it (held): never below k
        below = (n > 0) & (n + shift < settings.k)
        shift = np.where(below, held, shift)
    out["n"] = n + shift
    return out


def grid_shift(full: pd.DataFrame, row_dim: str, col_dim: str, population: str,
               settings: CellKeySettings) -> np.ndarray:
    """The perturbation each cell of an exact table (margins included) will be printed with.

    Primary suppression is decided on ``full + grid_shift(...)`` (ABS TableBuilder's order: perturb, then
    hide what is printed below ``k``): whether a count near ``k`` is shown then depends on its cell key,
    which every erasure redraws, not on the exact count alone. The perturbations are those
    :func:`perturb_long` (``decided=True``) prints the shown cells with.
    """
    rows, cols = [str(r) for r in full.index], [str(c) for c in full.columns]
    long = pd.DataFrame({"row_dim": row_dim, "row": [r for r in rows for _ in cols], "col_dim": col_dim,
                         "column": [c for _ in rows for c in cols], "population": population or ""})
    ptable = perturbation_table(settings.max_perturbation, settings.variance, settings.k, True)
    values = full.to_numpy(dtype=float).ravel()
    return perturbation(values, cell_keys(_identities(long), settings), ptable).reshape(full.shape)


def perturb_table(table: pd.DataFrame, long: pd.DataFrame) -> pd.DataFrame:
    """``table`` (a published 2-D table) with the values of its perturbed long form, attrs kept."""
    values = long["n"].to_numpy(float).reshape(table.shape)
    out = pd.DataFrame(values, index=table.index.copy(), columns=table.columns.copy())
    out.attrs = dict(table.attrs)
    return out


def magnitude_draw(keys: np.ndarray) -> np.ndarray:
    """The magnitude perturbation ``p`` at each cell key: uniform on ``[-1, -0.5] ∪ [0.5, 1]``, mean zero.

    The offices' magnitude ptables are symmetric and bounded; this one also leaves out the values near
    zero, so that no cell is printed (almost) exactly: with mass at zero, two runs drawing ``p ≈ 0`` for
    the same cell would print the erased customer's exact contribution as their difference.
    """
    keys = np.asarray(keys, dtype=float)
    sign = np.where(keys >= 0.5, 1.0, -1.0)
    return sign * (0.5 + np.mod(keys, 0.5))


def perturb_magnitudes(values: np.ndarray, tops: np.ndarray, identities: list[tuple],
                       settings: CellKeySettings) -> np.ndarray:
    """``values + m × p(cell key) × tops``: each published magnitude perturbed (NaN stays NaN).

    Parameters
    ----------
    values : array
        The exact cell totals (a sum, or a sum of squares).
    tops : array
        Each cell's largest absolute contribution to ``values`` (from the engine's group-by).
    identities : list of tuple
        Each quantity's identity (:func:`._linked.cell_key` plus the magnitude's name): its cell key.
    settings : CellKeySettings
    """
    values = np.asarray(values, dtype=float)
    tops = np.abs(np.nan_to_num(np.asarray(tops, dtype=float)))
    noise = settings.magnitude_scale * magnitude_draw(cell_keys(identities, settings)) * tops
    return values + noise
