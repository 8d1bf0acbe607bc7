"""Choosing k: the report card and the recommended k on blobs with a known number of clusters."""

from sklearn.datasets import make_blobs

from workbench import segment


def test_choose_k_recommends_the_planted_number_on_blobs():
    Z, _ = make_blobs(3000, centers=4, n_features=6, cluster_std=1.0, random_state=0)
    card = segment.choose_k(Z, (2, 7), n_bootstrap=3, random_state=0)
    assert list(card["k"]) == [2, 3, 4, 5, 6, 7]
    assert {"silhouette", "calinski_harabasz", "davies_bouldin", "stability_ari", "min_jaccard", "jaccard"} <= set(card)
    k, reason = segment.recommend_k(card)
    assert k == 4 and "k = 4" in reason and "Jaccard" in reason
    assert card.set_index("k").loc[4, "min_jaccard"] > 0.95
