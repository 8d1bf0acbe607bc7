"""Segmentation model contract, k selection, stable ids, names, profiles, the stage and `assign`."""

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

import workbench
from workbench import features as feat
from workbench import segment
from workbench.data import load_config
from workbench.pipeline import prepare


@pytest.fixture(scope="module")
def data():
    d = workbench.load("synthetic", n_customers=3000, seed=3)
    f = feat.build_features(d.customers, d.transactions, d.roles)
    truth = d.truth.segments.loc[f["customer_id"]].to_numpy()
    return d, f.drop(columns="customer_id"), truth


@pytest.fixture(scope="module")
def model(data):
    return segment.SegmentationModel(k=5, random_state=42).fit(data[1])


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


def test_invalid_parameters(data):
    with pytest.raises(ValueError, match="method"):
        segment.SegmentationModel(method="dbscan").fit(data[1])
    with pytest.raises(ValueError, match="k must"):
        segment.SegmentationModel(k=1).fit(data[1])


def test_choose_k_recommends_the_planted_number_on_blobs():
    Z, _ = make_blobs(3000, centers=4, n_features=6, cluster_std=1.0, random_state=0)
    card = segment.choose_k(Z, (2, 7), n_bootstrap=3, random_state=0)
    assert list(card["k"]) == [2, 3, 4, 5, 6, 7]
    assert {"silhouette", "calinski_harabasz", "davies_bouldin", "stability_ari", "min_jaccard", "jaccard"} <= set(card)
    k, reason = segment.recommend_k(card)
    assert k == 4 and "k = 4" in reason and "Jaccard" in reason
    assert card.set_index("k").loc[4, "min_jaccard"] > 0.95


def test_names_mean_what_they_say(data, model):
    X = data[1]
    Z = model.transform(X)
    z = segment.segment_z(model, Z, model.predict(X))
    names = segment.name_segments(z)
    assert len(set(names.values())) == 5
    lookup = {}
    for feature, (hi, lo) in segment.PHRASES.items():
        lookup[hi] = (feature, 1)
        lookup[lo] = (feature, -1)
    checked = 0
    for seg, name in names.items():
        for term in name.split(", "):
            term = term[0].lower() + term[1:]
            if term in lookup and lookup[term][0] in z.columns:
                feature, sign = lookup[term]
                assert sign * z.loc[seg, feature] >= 0.5, (name, feature)
                checked += 1
    assert checked >= 5
    lapsed = [s for s, n in names.items() if "lapsed" in n.lower()]
    assert lapsed and z.loc[lapsed[0], "recency"] == z["recency"].max()


def test_profiles_suppress_small_segments(data):
    X = data[1].iloc[:400]
    labels = np.r_[np.zeros(200, int), np.ones(195, int), np.full(5, 2)]
    prof = segment.profile_segments(X.assign(customer_id="x"), labels, {0: "a", 1: "b", 2: "tiny"}, suppression_k=10)
    rows = prof.set_index("segment")
    assert rows.loc[2, "suppressed"] and np.isnan(rows.loc[2, "n"]) and np.isnan(rows.loc[2, "monetary"])
    assert rows.loc[2, "segment_name"] == "tiny"  # shown as suppressed, not dropped
    assert rows.loc[1, "suppressed"]  # complementary: 5 = total - 200 - 195 otherwise
    assert rows.loc[-1, "n"] == 400 and not rows.loc[0, "suppressed"]
    np.testing.assert_allclose(rows.loc[0, "share"], 0.5)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    import os

    os.environ["WORKBENCH_PSEUDONYM_KEY"] = "test-key-0123456789abcdef"
    try:
        cfg = load_config(dataset="synthetic", overrides=[
            "dataset.params.n_customers=1500", "dataset.params.seed=3", "segmentation.k_range=[3,6]",
        ])
        run = prepare(cfg, tmp_path_factory.mktemp("run"))
        result = segment.segment_run(run)
    finally:
        del os.environ["WORKBENCH_PSEUDONYM_KEY"]
    return run, result


def test_segment_run_writes_the_artifact_contract(run_dir):
    run, result = run_dir
    a = run.read_table("segments/assignments.parquet")
    assert list(a.columns) == ["customer_id", "segment", "segment_name"] and len(a) == len(run.customers())
    f = run.read_table("segments/features.parquet")
    assert f["customer_id"].tolist() == a["customer_id"].tolist()
    info = run.read_json("artifacts/segments/segments.json")
    assert {"method", "k", "names", "inputs", "value_order"} <= set(info)
    assert sorted(info["value_order"]) == list(range(info["k"]))
    model = joblib.load(run.artifact("segments/model.joblib"))
    np.testing.assert_array_equal(model.predict(f), a["segment"].to_numpy())
    assert not set(info["inputs"]) & {"age", "gender", "ethnicity"}
    summary = run.read_json("summary/02_segmentation.json")
    assert "p" not in "".join(str(v) for v in summary.get("names", {}).values())[:1]
    assert summary["truth_ari"] > 0.8 and result.card is not None and 3 <= result.k <= 6
    assert result.rfm_groups is not None and "Champions" in set(result.rfm_groups["group"])


def test_assign_new_customers_uses_the_run_key(run_dir, tmp_path, monkeypatch):
    run, _ = run_dir
    d = workbench.load("synthetic", n_customers=1500, seed=3)
    raw = feat.build_features(d.customers, d.transactions, d.roles).iloc[:50]
    path = tmp_path / "new.csv"
    raw.to_csv(path, index=False)
    monkeypatch.setenv("WORKBENCH_PSEUDONYM_KEY", "test-key-0123456789abcdef")
    from typer.testing import CliRunner

    from workbench.cli import app

    out = tmp_path / "assigned.csv"
    res = CliRunner().invoke(app, ["assign", "--run", str(run.path), str(path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out)
    assert not got["customer_id"].isin(raw["customer_id"]).any()  # raw ids never leave
    saved = run.read_table("segments/assignments.parquet").set_index("customer_id")
    known = got[got["customer_id"].isin(saved.index)]
    assert len(known) >= 45  # the same key gives the run's pseudonyms (opted-out customers are absent)
    assert (known["segment"].to_numpy() == saved.loc[known["customer_id"], "segment"].to_numpy()).mean() > 0.97
    bad = tmp_path / "bad.csv"
    raw.drop(columns=["monetary"]).to_csv(bad, index=False)
    res = CliRunner().invoke(app, ["assign", "--run", str(run.path), str(bad)])
    assert res.exit_code == 2 and "monetary" in res.output
