"""Migration between two runs' segment assignments, for the customers in both, as a suppressed table.

Customers are joined by their keyed pseudonym, which is the same customer in both runs only when
both runs used the same persistent key (``stage`` checks that before anything here is called).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import privacy

#: Row / column labels of customers present in one run only.
ONLY_A = "not in the earlier run"
ONLY_B = "not in the later run"


def migration_counts(assign_a: pd.DataFrame, assign_b: pd.DataFrame) -> pd.DataFrame:
    """Exact counts of customers by (earlier segment, later segment), joined by pseudonym.

    Parameters
    ----------
    assign_a, assign_b : DataFrame
        ``customer_id`` (pseudonym) and ``segment_name`` of each run (``segments/assignments.parquet``).

    Returns
    -------
    DataFrame
        Rows: the earlier run's segment names, then :data:`ONLY_B` (customers only in the later run);
        columns: the later run's segment names, then :data:`ONLY_A` (customers only in the earlier
        run). Integer counts, no totals; the (only B, only A) cell is 0 by construction. Row sums
        are the earlier run's segment sizes, column sums the later run's.
    """
    a = assign_a[["customer_id", "segment_name"]].rename(columns={"segment_name": "earlier"})
    b = assign_b[["customer_id", "segment_name"]].rename(columns={"segment_name": "later"})
    joined = a.merge(b, on="customer_id", how="outer")
    joined["earlier"] = joined["earlier"].fillna(ONLY_B)
    joined["later"] = joined["later"].fillna(ONLY_A)
    rows = [*_ordered(assign_a), ONLY_B]
    cols = [*_ordered(assign_b), ONLY_A]
    counts = pd.crosstab(joined["earlier"], joined["later"]).reindex(index=rows, columns=cols, fill_value=0)
    counts.index.name, counts.columns.name = "earlier segment", "later segment"
    return counts.astype(int)


def publish_migration(counts: pd.DataFrame, k: int) -> pd.DataFrame:
    """The migration table as published: small-cell suppression with margins (``"Total"``).

    Cells from 1 to ``k - 1`` and the complementary cells that would let them be worked out from
    the totals are hidden (NaN), exactly as :func:`workbench.privacy.suppress_counts` hides them in
    every other table of a run. Everything shown about migration is derived from this table.
    """
    return privacy.suppress_counts(counts, k=k, margins=True)


def moved_share(published: pd.DataFrame, matches: dict[str, str | None]) -> dict:
    """How many customers in both runs changed segment, from the published table only.

    A customer stayed when their later segment is the match of their earlier one (``matches``:
    earlier name -> later name or None). The count that moved is the customers in both runs minus
    the published "stayed" cells; when one of those cells (or a total they need) is hidden the
    count cannot be given without disclosing it, and ``moved`` is None.

    Returns
    -------
    dict
        ``in_both``, ``moved``, ``share_moved`` (None where not derivable), ``only_earlier``,
        ``only_later`` (None where hidden).
    """
    seg_a = [r for r in published.index if r not in (ONLY_B, privacy.TOTAL)]
    seg_b = [c for c in published.columns if c not in (ONLY_A, privacy.TOTAL)]
    inner = published.loc[seg_a, seg_b]
    in_both = None if inner.isna().any().any() else float(inner.to_numpy().sum())
    if in_both is None:  # the sum of the inner cells is still published as totals minus the "only" margins
        in_both = _from_margins(published, seg_a)
    stayed = [published.loc[a, b] for a, b in matches.items() if b is not None and a in seg_a and b in seg_b]
    moved = None
    if in_both is not None and not any(np.isnan(v) for v in stayed):
        moved = in_both - float(sum(stayed))
    return {
        "in_both": _int(in_both),
        "moved": _int(moved),
        "share_moved": None if moved is None or not in_both else round(moved / in_both, 4),
        "only_earlier": _int(published.loc[privacy.TOTAL, ONLY_A]),
        "only_later": _int(published.loc[ONLY_B, privacy.TOTAL]),
    }


def _from_margins(published: pd.DataFrame, seg_a: list[str]) -> float | None:
    """Customers in both runs = (earlier segments' total) - (earlier-only customers), when both are shown."""
    total = published.loc[seg_a, privacy.TOTAL]
    only = published.loc[seg_a, ONLY_A]
    if total.isna().any() or only.isna().any():
        return None
    return float(total.sum() - only.sum())


def _ordered(assign: pd.DataFrame) -> list[str]:
    """Segment names in segment-id order (stable ids of the run), not by name or pseudonym."""
    pairs = assign[["segment", "segment_name"]].drop_duplicates().sort_values("segment", kind="stable")
    return list(dict.fromkeys(pairs["segment_name"].astype(str)))


def _int(value) -> int | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else int(round(float(value)))
