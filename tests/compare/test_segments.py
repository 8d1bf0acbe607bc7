import numpy as np
import pandas as pd

from workbench.compare import match_segments, segment_sizes


def _run(names, centres, seed, n=200, prefix="p"):
    rng = np.random.default_rng(seed)
    rows, assign = [], []
    for s, (name, c) in enumerate(zip(names, centres)):
        for i in range(n):
            cid = f"{prefix}{s}-{i}"
            rows.append({"customer_id": cid, "x": c[0] + rng.normal(0, 0.1), "y": c[1] + rng.normal(0, 0.1)})
            assign.append({"customer_id": cid, "segment": s, "segment_name": name})
    return pd.DataFrame(rows), pd.DataFrame(assign)


def test_same_customers_are_paired_by_the_customers_they_keep():
    fa, aa = _run(["Big", "Small", "Mid"], [(5, 5), (0, 0), (2, 2)], 0)
    fb, ab = fa.copy(), aa.copy()
    # a refit renames Small and Mid, and its centroids moved so that they alone would pair them wrongly
    ab["segment_name"] = ab["segment_name"].map({"Big": "Big", "Small": "Low", "Mid": "Middle"})
    fb.loc[ab["segment_name"] == "Low", ["x", "y"]] += 2.5
    m = match_segments(fa, aa, fb, ab)
    got = {(r.earlier, r.later): r.matched_by for r in m.itertuples()}
    assert got == {("Big", "Big"): "same name", ("Small", "Low"): "shared customers",
                   ("Mid", "Middle"): "shared customers"}


def test_other_customers_same_names_first_then_nearest_centroid_one_to_one():
    fa, aa = _run(["Big", "Small", "Mid"], [(5, 5), (0, 0), (2, 2)], 0)
    fb, ab = _run(["Big", "Tiny", "Middle", "New"], [(5, 5), (0.1, 0), (2.2, 2), (9, 0)], 1, prefix="q")
    m = match_segments(fa, aa, fb, ab)
    got = {(r.earlier, r.later): r.matched_by for r in m.itertuples()}
    assert got[("Big", "Big")] == "same name"
    assert got[("Small", "Tiny")] == "centroid" and got[("Mid", "Middle")] == "centroid"
    assert got[(None, "New")] == "no counterpart"
    sizes = segment_sizes(pd.DataFrame({"segment_name": ["Big", "Small", "Mid"], "n": [200, np.nan, 200]}),
                          pd.DataFrame({"segment_name": ["Big", "Tiny", "Middle", "New"], "n": [200] * 4}), m)
    small = sizes.loc[sizes["earlier segment"] == "Small"].iloc[0]
    assert np.isnan(small["customers before"]) and small["customers after"] == 200  # hidden stays hidden
