"""Two runs compared: verdicts, segments, migration and input drift, with a one-sentence summary.

:func:`compare` takes what each run published (and its pseudonymised assignments and inputs) as
:class:`RunData`; it reads no run directory (``stage`` does) and writes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import privacy
from ._drift import WITHHELD, input_drift, withhold_if_few_differ
from ._migration import ONLY_A, ONLY_B, migration_counts, moved_share, publish_migration, segment_ids
from ._segments import match_segments, segment_sizes
from ._verdicts import verdict_changes


@dataclass
class RunData:
    """What a comparison needs of one run (read by :func:`workbench.compare.load_run`).

    ``facts`` holds provenance (dataset, fingerprint, config hash, seed, commit, run date, key
    origin, k, customers) and nothing identifying; ``verdicts`` every stage's verdict rows;
    ``selection`` the published selection table (or None); ``sizes`` the published segment sizes
    (``segment_name``, ``n``); ``assignments`` and ``features`` are per pseudonym and never published;
    ``published`` every table of counts the run registered for its disclosure check (long form; None
    for a run older than the registry); ``perturbation`` its cell keys
    (:func:`workbench.privacy.perturbation_settings`; None when it does not perturb).
    """

    label: str
    facts: dict
    verdicts: list[dict]
    selection: pd.DataFrame | None
    sizes: pd.DataFrame
    assignments: pd.DataFrame
    features: pd.DataFrame
    inputs: list[str]
    k: int
    published: pd.DataFrame | None = None
    perturbation: object | None = None


@dataclass
class Comparison:
    """The comparison of an earlier run (``a``) with a later one (``b``); every table as published."""

    facts_a: dict
    facts_b: dict
    k: int
    verdicts: pd.DataFrame
    matches: pd.DataFrame
    segments: pd.DataFrame
    migration: pd.DataFrame
    movement: dict
    psi: pd.DataFrame
    shares: pd.DataFrame
    summary: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        """The same facts as ``compare.html``, JSON-ready and deterministic (NaN -> None: hidden)."""
        return {
            "summary": self.summary,
            "earlier_run": self.facts_a,
            "later_run": self.facts_b,
            "suppression_k": self.k,
            "verdicts": _records(self.verdicts),
            "segments": {"k_before": self.facts_a.get("k_segments"), "k_after": self.facts_b.get("k_segments"),
                         "matches": _records(self.matches), "sizes": _records(self.segments)},
            "migration": {"rows": "earlier segment", "columns": "later segment",
                          "table": {str(r): {str(c): _plain(v) for c, v in row.items()}
                                    for r, row in self.migration.iterrows()},
                          **self.movement},
            "drift": {"psi": _records(self.psi), "binned_shares": _records(self.shares)},
        }


def compare(a: RunData, b: RunData) -> Comparison:
    """Compare two runs of the same dataset whose pseudonyms come from the same key.

    Parameters
    ----------
    a, b : RunData
        The earlier and the later run.

    Returns
    -------
    Comparison
        Verdicts before/after (:func:`verdict_changes`), matched segments with published sizes,
        the suppressed migration table, how many moved (from published cells only), PSI per input
        with published binned shares, and the summary sentences.
    """
    k = max(int(a.k), int(b.k))
    verdicts = verdict_changes(a.verdicts, b.verdicts, a.selection, b.selection)
    matches = match_segments(a.features, a.assignments, b.features, b.assignments)
    segments = segment_sizes(a.sizes, b.sizes, matches)
    pairs = {m.earlier: m.later for m in matches.itertuples(index=False) if m.earlier is not None}
    counts = migration_counts(a.assignments, b.assignments)
    # later segments in the order of their earlier counterparts: who stayed is on the diagonal
    first = [pairs[r] for r in counts.index if pairs.get(r) in counts.columns]
    counts = counts[first + [c for c in counts.columns if c not in first]]
    linked = a.published is not None and b.published is not None
    cells = privacy.two_run_perturbation(a.perturbation, b.perturbation)  # printed counts: both runs' keys
    migration = publish_migration(counts, k, *(((a.published, segment_ids(a.assignments)),
                                                (b.published, segment_ids(b.assignments))) if linked else ()),
                                  perturbation=cells)
    movement = moved_share(migration, pairs)
    shared = [c for c in a.inputs if c in b.inputs and c in a.features and c in b.features]
    psi_table, shares = input_drift(a.features, b.features, shared, k, perturbation=(a.perturbation, b.perturbation))
    only_one = int(counts.loc[ONLY_B].sum() + counts[ONLY_A].sum())  # customers in one run only
    psi_table, shares = withhold_if_few_differ(psi_table, shares, only_one, k)
    psi_table["only_in"] = None
    only = [(c, "earlier run") for c in a.inputs if c not in b.inputs] + \
        [(c, "later run") for c in b.inputs if c not in a.inputs]
    if only:
        psi_table = pd.concat([psi_table, pd.DataFrame(
            [{"input": c, "psi": np.nan, "reading": f"input of the {w} only", "hidden_bins": 0, "only_in": w}
             for c, w in only])], ignore_index=True)
    out = Comparison(a.facts, b.facts, k, verdicts, matches, segments, migration, movement, psi_table, shares)
    out.summary = summary_sentences(out)
    return out


def summary_sentences(c: Comparison) -> list[str]:
    """The sentences at the top of ``compare.html``: "No change" when nothing differs, else what did."""
    changed = c.verdicts.loc[c.verdicts["changed"]] if len(c.verdicts) else c.verdicts
    k_a, k_b = c.facts_a.get("k_segments"), c.facts_b.get("k_segments")
    renamed = (c.matches["matched_by"] != "same name").any() if len(c.matches) else False
    moved = c.movement.get("moved")
    psi_max = c.psi["psi"].max() if len(c.psi) and c.psi["psi"].notna().any() else 0.0
    drifted = c.psi.loc[c.psi["psi"] >= 0.1] if len(c.psi) else c.psi
    only = (c.movement.get("only_earlier") or 0) + (c.movement.get("only_later") or 0)
    no_change = (len(changed) == 0 and k_a == k_b and not renamed and moved == 0 and len(drifted) == 0
                 and only == 0 and psi_max == 0)
    if no_change:
        return ["No change: the same verdicts, the same segments, no customer changed segment and no "
                "segmentation input drifted (every PSI is 0)."]
    out = []
    n_v = len(c.verdicts)
    out.append(f"{len(changed)} of {n_v} verdicts changed." if n_v else "Neither run has a verdict-bearing check.")
    out += [str(s) for s in changed["sentence"]] if len(changed) else []
    seg = f"Segments: {k_a} before, {k_b} after"
    if renamed:
        ways = sorted(set(c.matches["matched_by"]) - {"same name"})
        seg += f"; some segments were renamed or refitted (paired by {' / '.join(ways)})."
    else:
        seg += ", the same names."
    out.append(seg)
    if moved is None:
        out.append("How many customers changed segment is not shown: a cell it needs is hidden by suppression.")
    else:
        share = c.movement.get("share_moved")
        pct = f" ({100 * share:.1f}%)" if share is not None else ""
        out.append(f"{moved:,} of the {c.movement['in_both']:,} customers in both runs changed segment{pct}.")
    if len(c.psi) and (c.psi["reading"] == WITHHELD).all():
        out.append("Input drift is withheld: the runs differ by fewer than k customers, whose values its bins "
                   "would give away.")
    elif len(drifted):
        top = drifted.sort_values("psi", ascending=False, kind="stable").iloc[0]
        out.append(f"{len(drifted)} input(s) drifted (PSI >= 0.1); the largest: {top['input']} "
                   f"(PSI {top['psi']:.2f}, {top['reading']}).")
    else:
        out.append(f"No input drifted (largest PSI {psi_max:.3f} < 0.1).")
    return out


def _plain(v):
    if v is None:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return None if math.isnan(f) else (int(f) if f.is_integer() else round(f, 4))
    if isinstance(v, (np.bool_,)):
        return bool(v)
    return v


def _records(df: pd.DataFrame) -> list[dict]:
    return [{str(k): _plain(v) for k, v in row.items()} for row in df.to_dict(orient="records")]
