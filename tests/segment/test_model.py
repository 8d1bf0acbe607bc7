"""SegmentationModel: the estimator contract, recorded transforms, planted segments, stable ids, methods."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from workbench import segment


def test_kmeans_contract_and_recorded_transforms(data, model):
    X = data[1]
    Z = model.transform(X)
    assert Z.shape == (len(X), len(model.input_names_)) == (len(X), len(model.input_feature_))
    assert set(model.input_feature_) == set(model.feature_names_in_) == set(X.columns)
    C = model.cluster_centers_
    assert C.shape == (5, Z.shape[1])
    d2 = ((Z[:, None, :] - C[None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(model.predict(X), d2.argmin(axis=1))
    assert model.transforms_["monetary"] == "log" and model.transforms_["region"] == "onehot"
    assert model.transforms_["holiday_share"] == "none"
    assert "region=North" in model.input_names_
    assert sorted(model.segment_names_) == [0, 1, 2, 3, 4]


def test_recovers_planted_segments(data, model):
    assert adjusted_rand_score(data[2], model.predict(data[1])) >= 0.9


def test_ids_are_stable_across_refits_and_aligned_by_centroid(data, model):
    X = data[1]
    other = segment.SegmentationModel(k=5, random_state=7, fit_sample=2000).fit(X)
    assert (other.predict(X) == model.predict(X)).mean() > 0.95  # value order: same ids without help
    shuffled = segment.SegmentationModel(k=5, random_state=7).fit(X)
    shuffled._relabel(np.array([3, 0, 4, 1, 2]))  # scramble the ids
    assert (shuffled.predict(X) == model.predict(X)).mean() < 0.5
    shuffled.align_to(model, X)
    assert (shuffled.predict(X) == model.predict(X)).mean() > 0.95
    # ids follow value: segment 0 spends least, segment 4 most
    spend = X.groupby(model.predict(X))["monetary"].mean()
    assert spend.idxmin() == 0 and spend.idxmax() == 4


@pytest.mark.parametrize("method", ["gmm", "ward"])
def test_other_methods(data, method):
    X = data[1]
    m = segment.SegmentationModel(method=method, k=5, random_state=0, ward_sample=1500).fit(X)
    labels = m.predict(X)
    assert set(labels) <= set(range(5)) and len(set(labels)) == 5
    assert adjusted_rand_score(data[2], labels) > 0.5  # far better than chance (0)
    if method == "ward":  # sample clustered by Ward, the rest by nearest centroid
        Z = m.transform(X)
        np.testing.assert_array_equal(labels, ((Z[:, None] - m.cluster_centers_[None]) ** 2).sum(2).argmin(1))
    else:
        assert m.cluster_centers_ is None and m.predict_proba(X).shape == (len(X), 5)


def test_one_segment_is_a_model_no_structure_is_an_answer(data):
    model = segment.SegmentationModel(k=1, random_state=0).fit(data[1])
    assert set(model.predict(data[1])) == {0}


def test_invalid_parameters(data):
    with pytest.raises(ValueError, match="method"):
        segment.SegmentationModel(method="dbscan").fit(data[1])
    with pytest.raises(ValueError, match="k must"):
        segment.SegmentationModel(k=0).fit(data[1])
