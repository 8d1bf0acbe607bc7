"""RFM scores (ties, direction) and the named RFM groups."""

import numpy as np
import pandas as pd

from workbench import features as feat


def test_rfm_scores_ties_and_direction():
    t = pd.DataFrame({
        "customer_id": list("abcdefghij"),
        "recency": [1, 2, 3, 4, 5, 6, 7, 8, 9, 300],
        "frequency": [1, 1, 1, 1, 1, 1, 2, 3, 4, 9],
        "monetary": np.arange(10.0),
    })
    s = feat.rfm_scores(t)
    assert s.loc[0, "r_score"] == 5 and s.loc[9, "r_score"] == 1  # recency 5 = most recent
    assert s["f_score"].iloc[:6].nunique() == 1  # equal frequencies, equal scores
    assert s.loc[9, "f_score"] == 5 and s.loc[0, "f_score"] == 1
    assert s["m_score"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert s.loc[9, "rfm_cell"] == "155"


def test_rfm_groups_cover_every_cell_once_and_mean_what_they_say():
    for r in range(1, 6):
        for f in range(1, 6):
            hits = [g.group for g in feat.RFM_GROUPS.itertuples() if r in g.r_scores and f in g.f_scores]
            assert feat.rfm_group(r, f) in hits
            assert len(hits) == 1 or (r, f) == (1, 1)  # Lost is carved out of Hibernating
    assert feat.rfm_group(5, 5) == "Champions" and feat.rfm_group(1, 1) == "Lost"
    assert feat.rfm_group(1, 5) == "Cannot lose" and feat.rfm_group(5, 1) == "New"


def test_rfm_group_names_on_cdnow(cdnow):
    r = feat.rfm_scores(feat.rfm(cdnow.transactions))
    champs = r[r["rfm_group"] == "Champions"]
    lost = r[r["rfm_group"] == "Lost"]
    assert len(champs) > 100 and len(lost) > 100
    # a Champion has top recency and frequency: more recent and more frequent than everyone outside the group
    assert champs["recency"].max() <= r["recency"].quantile(0.25)
    assert champs["frequency"].min() >= r["frequency"].median()
    assert lost["recency"].min() >= r["recency"].quantile(0.75) and (lost["frequency"] == lost["frequency"].min()).all()
    new = r[r["rfm_group"] == "New"]
    assert (new["r_score"] == 5).all() and (new["f_score"] == 1).all()
