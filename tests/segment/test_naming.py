"""Segment names say what distinguishes each segment."""

from workbench import segment


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
