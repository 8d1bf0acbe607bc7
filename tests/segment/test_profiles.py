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
