"""Choosing k: the report card, the verdict per k and the recommended k."""

import numpy as np
import pandas as pd
from sklearn.datasets import make_blobs

from workbench import segment


def test_choose_k_recommends_the_planted_number_on_blobs():
    Z, _ = make_blobs(3000, centers=4, n_features=6, cluster_std=1.0, random_state=0)
    card = segment.choose_k(Z, (2, 7), n_bootstrap=6, random_state=0)
    assert list(card["k"]) == [2, 3, 4, 5, 6, 7]
    assert {"silhouette", "calinski_harabasz", "davies_bouldin", "stability_ari", "min_jaccard", "min_jaccard_se",
            "jaccard", "smallest_share", "refit_ari", "refit_min_jaccard"} <= set(card)
    assert all(len(r) == 6 for r in card["refit_ari"])
    k, reason = segment.recommend_k(card)
    assert k == 4 and "k = 4" in reason and "Jaccard" in reason
    assert card.set_index("k").loc[4, "min_jaccard"] > 0.95


def _card(rows):
    """Report-card rows: k, silhouette, smallest share, per-refit ARI and per-refit least-segment Jaccard."""
    out = []
    for k, sil, share, aris, jacs in rows:
        out.append({"k": k, "silhouette": sil, "smallest_share": share, "refit_ari": aris,
                    "refit_min_jaccard": jacs, "stability_ari": float(np.mean(aris)),
                    "min_jaccard": float(np.mean(jacs))})
    return pd.DataFrame(out)


GOOD = [0.99] * 12


def test_a_k_with_a_tiny_segment_is_not_recommended_even_when_stable():
    card = _card([(3, 0.3, 0.20, GOOD, GOOD), (4, 0.31, 0.01, GOOD, GOOD)])
    k, reason = segment.recommend_k(card, min_share=0.02)
    assert k == 3
    assert "k = 4: smallest segment 1.0% < 2%" in reason


def test_one_refit_in_a_poor_local_optimum_does_not_dissolve_a_segment():
    # the mean Jaccard (0.91) falls below 0.85 + noise, yet every segment reproduces in 11 of 12 refits
    card = _card([(4, 0.20, 0.10, GOOD, GOOD), (5, 0.15, 0.08, GOOD, [0.98] * 11 + [0.12])])
    assert segment.recommend_k(card)[0] == 5


def test_a_k_that_reproduces_in_too_few_refits_is_unstable():
    card = _card([(5, 0.15, 0.10, GOOD, GOOD), (6, 0.15, 0.05, GOOD, [0.9] * 7 + [0.2] * 5)])
    k, reason = segment.recommend_k(card)
    assert k == 5 and "k = 6: a segment dissolves (every segment reproduced in 58% of refits < 80%)" in reason


def test_a_marginally_stable_larger_k_needs_the_silhouette_to_win():
    marginal = [0.95] * 10 + [0.2] * 2   # 83%: stable, not clearly
    worse = _card([(4, 0.20, 0.10, GOOD, GOOD), (5, 0.15, 0.08, GOOD, marginal)])
    assert segment.recommend_k(worse)[0] == 4
    better = _card([(4, 0.20, 0.10, GOOD, GOOD), (5, 0.25, 0.08, GOOD, marginal)])
    assert segment.recommend_k(better)[0] == 5
    clearly = _card([(4, 0.20, 0.10, GOOD, GOOD), (5, 0.15, 0.08, GOOD, GOOD)])
    assert segment.recommend_k(clearly)[0] == 5


def test_verdicts_say_why_each_k_was_not_chosen():
    card = _card([(2, 0.3, 0.4, GOOD, GOOD), (3, 0.2, 0.2, [0.5] * 12, GOOD), (4, 0.2, 0.1, GOOD, [0.5] * 12)])
    why = segment.k_verdicts(card).set_index("k")["why"]
    assert why[2] == "clearly stable"
    assert why[3].startswith("refits disagree")
    assert why[4].startswith("a segment dissolves")


def test_no_stable_k_warns_and_takes_the_most_stable_eligible():
    card = _card([(2, 0.3, 0.4, [0.5] * 12, [0.4] * 12), (3, 0.2, 0.005, [0.6] * 12, [0.5] * 12)])
    k, reason = segment.recommend_k(card)
    assert k == 2 and "caution" in reason
