"""Migration between two runs' segment assignments, for the customers in both, as a suppressed table.

Customers are joined by their keyed pseudonym, which is the same customer in both runs only when
both runs used the same persistent key (``stage`` checks that before anything here is called).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import privacy

#: Column label of customers in the earlier run only (run A): they are not in the later run.
ONLY_A = "not in the later run"
#: Row label of customers in the later run only (run B): they are not in the earlier run.
ONLY_B = "not in the earlier run"


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


def publish_migration(counts: pd.DataFrame, k: int, earlier=None, later=None, perturbation=None) -> pd.DataFrame:
    """The migration table as published: small-cell suppression with margins (``"Total"``), joint
    with everything both runs published.

    Its row totals are the earlier run's segment sizes and its column totals the later run's, which
    each run's reports already show or hide. So the table is suppressed with
    :func:`workbench.privacy.suppress_jointly` against every table both runs registered
    (:func:`run_tables`): a size a run hid stays hidden here, one it showed is known to the
    attacker, and complementary cells are chosen so that no hidden cell of either run or of this
    table can be worked out from all of them together. Everything shown about migration is derived
    from this table.

    Parameters
    ----------
    counts : DataFrame
        :func:`migration_counts`.
    k : int
        The threshold (the larger of the two runs').
    earlier, later : (DataFrame, dict), optional
        Each run's registered tables (:func:`workbench.privacy.published_tables`) and its
        ``{segment name: segment id}``. Without them (runs older than the registry) the table is
        suppressed on its own.
    perturbation : CellKeySettings, optional
        Both runs' cell keys (:func:`workbench.privacy.two_run_perturbation`): what is hidden is decided on
        the perturbed count and shown counts are printed perturbed (:func:`workbench.privacy.suppress_printed`),
        so two comparisons one erasure apart do not differ by exactly the erased customer. None: exact.
    """
    if earlier is None or later is None:
        return privacy.suppress_printed(counts, "earlier segment", "later segment", k, perturbation)
    (tables_a, ids_a), (tables_b, ids_b) = earlier, later
    by_id = counts.rename(index=lambda r: str(ids_a.get(r, r)), columns=lambda c: str(ids_b.get(c, c)))
    published = pd.concat([run_tables(tables_a, "earlier"), run_tables(tables_b, "later")], ignore_index=True)
    shown = privacy.suppress_printed(by_id, "earlier segment", "later segment", k, perturbation, published)
    names_a = {str(i): n for n, i in ids_a.items()}
    names_b = {str(i): n for n, i in ids_b.items()}
    out = shown.rename(index=lambda r: names_a.get(r, r), columns=lambda c: names_b.get(c, c))
    out.index.name, out.columns.name = counts.index.name, counts.columns.name
    out.attrs["complementary"] = [(names_a.get(r, r), names_b.get(c, c)) for r, c in shown.attrs["complementary"]]
    return out


def run_tables(published: pd.DataFrame, label: str) -> pd.DataFrame:
    """One run's registered tables as one of two: dimensions prefixed by ``label``, its own populations.

    A run registers segment sizes under the dimension ``segment`` (segment ids); here they become
    ``earlier segment`` or ``later segment``, the migration table's dimensions, so its margins are
    linked to the sizes each run published. Every other dimension of the two runs stays apart (the
    women of the earlier run are not those of the later one), and so do their grand totals and
    the populations their tables name.
    """
    out = published.copy()
    own = out["population"].fillna("").astype(str) if "population" in out else pd.Series("", index=out.index)
    grand = (out["row"].astype(str) == privacy.TOTAL) & (out["column"].astype(str) == privacy.TOTAL) & own.eq("")
    out["table"] = f"{label}: " + out["table"].astype(str)
    out["row_dim"] = f"{label} " + out["row_dim"].astype(str)
    out["col_dim"] = f"{label} " + out["col_dim"].astype(str)
    out["population"] = own.where(own.eq(""), f"the {label} run: " + own).where(~grand, f"the {label} run")
    return out


def segment_ids(assign: pd.DataFrame) -> dict[str, int]:
    """``{segment name: segment id}`` of a run's assignments."""
    pairs = assign[["segment", "segment_name"]].drop_duplicates()
    return {str(n): int(i) for i, n in zip(pairs["segment"], pairs["segment_name"])}


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
        moved = max(in_both - float(sum(stayed)), 0.0)  # printed cells need not add up to printed margins
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
