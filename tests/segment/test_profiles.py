"""Profiles: small segments (and a complement) suppressed, the population row kept."""

import numpy as np

from workbench import segment


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


def test_outcome_rate_is_masked_where_its_event_count_is_hidden(data):
    """rate x n must not give away a hidden cell: 3 churners in a segment of 200 are suppressed."""
    X = data[1].iloc[:400]
    labels = np.r_[np.zeros(200, int), np.ones(200, int)]
    churn = np.r_[np.ones(3), np.zeros(197), np.ones(60), np.zeros(140)]
    counts = segment.segment_count_table(labels, [0, 1], churn, suppression_k=10)
    assert np.isnan(counts.loc[0, 1])
    prof = segment.profile_segments(X.assign(customer_id="x"), labels, {0: "a", 1: "b"}, outcome=churn,
                                    suppression_k=10, counts=counts).set_index("segment")
    assert np.isnan(prof.loc[0, "churn_rate"])
    # the complementary cell in the other segment is hidden too, so its rate cannot be used either
    assert np.isnan(prof.loc[1, "churn_rate"]) == bool(np.isnan(counts.loc[1, 1]))
    # what is published cannot pin the hidden cell down: every shown rate x n equals a shown count
    for j in (0, 1):
        if not np.isnan(prof.loc[j, "churn_rate"]):
            assert prof.loc[j, "churn_rate"] * prof.loc[j, "n"] == counts.loc[j, 1]
    assert prof.loc[0, "n"] == 200 and prof.loc[-1, "n"] == 400


def test_profile_sizes_are_the_published_table_totals(data):
    X = data[1].iloc[:300]
    labels = np.r_[np.zeros(150, int), np.ones(146, int), np.full(4, 2)]
    counts = segment.segment_count_table(labels, [0, 1, 2], None, suppression_k=10)
    prof = segment.profile_segments(X.assign(customer_id="x"), labels, suppression_k=10, counts=counts)
    hidden = prof.loc[prof["segment"] >= 0].set_index("segment")["n"].isna()
    assert hidden.to_dict() == counts.loc[[0, 1, 2], "Total"].isna().to_dict()
    assert hidden[2] and hidden[1]


def test_profile_marks_segments_hidden_only_to_protect_a_smaller_one():
    import pandas as pd

    from workbench.report import table

    labels = np.array([0] * 4 + [1] * 40 + [2] * 500)
    features = pd.DataFrame({"customer_id": [f"c{i}" for i in range(len(labels))],
                             "monetary": np.arange(len(labels), dtype=float)})
    prof = segment.profile_segments(features, labels, suppression_k=10)
    # segment 0 (4 customers) is below k; segment 1 (40) is hidden so that 0 cannot be worked out
    assert prof.loc[prof["segment"] == 0, "suppressed"].item() and prof.loc[prof["segment"] == 1, "suppressed"].item()
    rows = {r for r, _ in prof.attrs["complementary"]}
    assert rows == {1} and (1, "n") in prof.attrs["complementary"]
    shown = table(prof[["segment", "n", "share"]], k=10).frame
    assert shown["N"].tolist()[:3] == ["< 10", "hidden†", "500"]


def test_segment_moments_give_predict_and_segment_z_slice_by_slice(data, model):
    from workbench.segment import segment_moments, segment_z

    X = data[1]
    labels, z, centres = segment_moments(model, X, batch_rows=700)  # five slices, the last one short
    np.testing.assert_array_equal(labels, model.predict(X))  # every customer's segment, exactly
    Z = model.transform(X)
    np.testing.assert_allclose(z.to_numpy(), segment_z(model, Z, labels).to_numpy(), rtol=0, atol=1e-9)
    assert list(z.columns) == model.input_names_ and list(z.index) == list(range(model.k))
    for j in range(model.k):
        np.testing.assert_allclose(centres[j], Z[labels == j].mean(axis=0), rtol=0, atol=1e-12)
    given, _, _ = segment_moments(model, X, labels=np.zeros(len(X), int))  # segments known: kept, not predicted
    assert (given == 0).all()


def test_projection_sample_is_seeded_sorted_and_bounded(data, model):
    from workbench.segment import projection_sample

    X = data[1]
    labels = model.predict(X)
    Z, lab = projection_sample(model, X, labels, sample=500)
    again, _ = projection_sample(model, X, labels, sample=500)
    assert Z.shape == (500, len(model.input_names_)) and np.array_equal(Z, again)
    rows = np.sort(np.random.default_rng(0).choice(len(X), 500, replace=False))
    np.testing.assert_array_equal(Z, model.transform(X.iloc[rows]))
    np.testing.assert_array_equal(lab, labels[rows])
    everyone, _ = projection_sample(model, X, labels)  # fewer customers than the sample: all of them, in order
    np.testing.assert_array_equal(everyone, model.transform(X))
