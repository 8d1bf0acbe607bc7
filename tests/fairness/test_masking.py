"""Disclosure: the selection and composition tables are suppressed once; nothing derived reveals a hidden cell."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench import fairness, privacy
from workbench.fairness._masking import event_counts, mask_composition, mask_rates


def test_masked_rates_hide_every_figure_of_a_hidden_cell():
    t = fairness.compare_counts(["a", "b", "c"], [500, 300, 32], [100, 60, 2])
    sup = privacy.suppress_counts(event_counts(t), 10, margins=True)
    m = mask_rates(t, sup).set_index("group")
    assert m.loc["c", "masked"] and not m.loc["a", "masked"]
    hidden = [g for g in m.index if m.loc[g, "masked"]]
    for g in hidden:  # nothing that gives the hidden count back: rate x n, the interval, the p-value
        assert m.loc[g, ["events", "rate", "rate_low", "rate_high", "ratio", "ratio_low", "p_value"]].isna().all()
        assert not (np.isfinite(m.loc[g, "n"]) and np.isfinite(m.loc[g, "rate"]))
    # The attack on the published table itself finds no hidden cell.
    bounds = privacy.disclosure_intervals(event_counts(t), sup, margins=True)
    assert len(bounds) >= 2 and not bounds["disclosed"].any()


def test_masked_reference_masks_every_comparison():
    t = fairness.compare_counts(["a", "b"], [300, 40], [5, 0], reference="a")
    sup = privacy.suppress_counts(event_counts(t), 10, margins=True)
    m = mask_rates(t, sup)
    assert m["ratio"].isna().all() and m["difference"].isna().all()


def test_composition_shares_follow_the_suppressed_table():
    segs = np.repeat([0, 0, 1, 1, 2, 2], [120, 60, 200, 4, 150, 90])
    groups = pd.Series(np.tile(["x", "y"], 3)).repeat([120, 60, 200, 4, 150, 90]).to_numpy()
    long, _ = fairness.composition(segs, groups, n_boot=50)
    counts = long.pivot(index="segment", columns="group", values="n")
    counts.index = counts.index.astype(str)
    sup = privacy.suppress_counts(counts, 10, margins=True)
    m = mask_composition(long, sup).set_index(["segment", "group"])
    assert np.isnan(m.loc[(1, "y"), "share"]) and np.isnan(m.loc[(1, "y"), "representation_ratio"])
    # Every cell the table hides is hidden in the shares too, and vice versa.
    for (seg, grp), row in m.iterrows():
        assert np.isnan(sup.loc[str(seg), grp]) == np.isnan(row["n"])
        if np.isnan(row["n"]):
            assert np.isnan(row["share"])


def test_outcome_rates_follow_their_suppressed_table():
    from workbench.fairness._groups import _codes
    from workbench.fairness._masking import mask_outcome, outcome_counts

    rng = np.random.default_rng(2)
    groups = pd.Series(np.repeat(["a", "b", "c"], [800, 600, 40]))
    y = rng.uniform(size=len(groups)) < 0.3
    sel = rng.uniform(size=len(groups)) < np.where(groups == "c", 0.05, 0.4)
    tab, _ = fairness.outcome_rates_by_group(sel, y, groups, n_boot=20)
    codes, labels = _codes(groups)
    counts = outcome_counts(sel, y, codes, labels)
    assert counts.to_numpy().sum() == len(groups) and counts.loc["a", "positive, selected"] == (y & sel)[:800].sum()
    sup = privacy.suppress_counts(counts, 10, margins=True)
    m = mask_outcome(tab, sup).set_index("group")
    assert m.loc["c", "masked"] and np.isnan(m.loc["c", "tpr"])  # 40 customers, ~0.6 selected churners
    for g in m.index:
        if sup.loc[g, ["positive, selected", "positive, not selected"]].isna().any():
            assert np.isnan(m.loc[g, "tpr"]) and np.isnan(m.loc[g, "tpr_low"])
