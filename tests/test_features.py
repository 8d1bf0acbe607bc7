"""Feature families: DuckDB aggregation against plain pandas, as_of, input selection, RFM scores and groups."""

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench import features as feat


@pytest.fixture(scope="module")
def cdnow():
    return workbench.load("cdnow")


@pytest.fixture(scope="module")
def synthetic():
    return workbench.load("synthetic", n_customers=1500, seed=1)


def _pandas_features(tx: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """An independent, plain pandas computation of the transaction features."""
    tx = tx[tx["timestamp"] < as_of]
    buy = tx[tx["amount"] > 0]
    g = buy.groupby("customer_id")
    day = lambda s: s.dt.normalize()  # noqa: E731  date_diff('day') counts day boundaries
    out = pd.DataFrame({
        "frequency": g.size(),
        "recency": (as_of.normalize() - day(g["timestamp"].max())).dt.days.astype(float),
        "tenure": (as_of.normalize() - day(g["timestamp"].min())).dt.days.astype(float),
        "average_order_value": g["amount"].sum() / g.size(),
    })
    span = (day(g["timestamp"].max()) - day(g["timestamp"].min())).dt.days
    out["inter_purchase_time"] = (span / (out["frequency"] - 1)).where(out["frequency"] > 1)
    md = buy["timestamp"].dt.month * 100 + buy["timestamp"].dt.day
    out["holiday_share"] = md.between(1115, 1224).astype(float).groupby(buy["customer_id"]).mean()
    allg = tx.groupby("customer_id")
    out = out.reindex(allg.size().index)
    out["frequency"] = out["frequency"].fillna(0).astype("int64")
    out["monetary"] = allg["amount"].sum()
    out["returns_rate"] = (tx["amount"] < 0).astype(float).groupby(tx["customer_id"]).mean()
    return out.rename_axis("customer_id").reset_index()


def test_rfm_on_cdnow_equals_pandas_exactly(cdnow):
    tx = cdnow.transactions
    ours = feat.rfm(tx).sort_values("customer_id").reset_index(drop=True)
    ref = _pandas_features(tx, feat.default_as_of(tx))[["customer_id", "recency", "frequency", "monetary"]]
    ref = ref.sort_values("customer_id").reset_index(drop=True)
    assert len(ours) == 23_570
    np.testing.assert_array_equal(ours["frequency"].to_numpy(), ref["frequency"].to_numpy())
    # exact, NaN where equal: customers whose only purchases are $0 (CDNOW has some) have no recency
    np.testing.assert_array_equal(ours["recency"].to_numpy(), ref["recency"].to_numpy())
    assert ours["recency"].isna().sum() == (ours["frequency"] == 0).sum()
    # money: summed in another order, equal to the cent
    np.testing.assert_array_equal(ours["monetary"].round(6).to_numpy(), ref["monetary"].round(6).to_numpy())
    assert ours["customer_id"].tolist() == ref["customer_id"].tolist()


def test_all_transaction_features_on_cdnow_match_pandas(cdnow):
    tx = cdnow.transactions
    as_of = pd.Timestamp("1998-01-01")  # also checks that later transactions do not count
    ours = feat.transaction_features(tx, as_of=as_of).set_index("customer_id").sort_index()
    ref = _pandas_features(tx, as_of).set_index("customer_id").sort_index()
    assert ours.index.equals(ref.index)
    for col in ["frequency", "recency", "tenure", "inter_purchase_time", "average_order_value",
                "holiday_share", "monetary", "returns_rate"]:
        np.testing.assert_allclose(ours[col].to_numpy(float), ref[col].to_numpy(float), rtol=1e-12, equal_nan=True,
                                   err_msg=col)
    buyers = ours["frequency"] > 0
    assert ours["recency"].min() >= 1 and ours.loc[buyers, "tenure"].ge(ours.loc[buyers, "recency"]).all()


def test_as_of_customers_without_purchases(synthetic):
    as_of = pd.Timestamp("2025-01-01")
    f = feat.build_features(synthetic.customers, synthetic.transactions, synthetic.roles, as_of=as_of)
    assert len(f) == len(synthetic.customers) and f["customer_id"].is_unique
    tx = synthetic.transactions
    first = tx[tx["amount"] > 0].groupby("customer_id")["timestamp"].min()
    later = f["customer_id"].map(first).isna() | (f["customer_id"].map(first) >= as_of)
    assert later.any()
    inactive = f[later]
    assert (inactive["frequency"] == 0).all() and (inactive["monetary"] <= 0).all()
    assert inactive["recency"].isna().all() and inactive["tenure"].isna().all()
    assert f.loc[~later, "recency"].notna().all()


def test_shares_sum_to_one_and_families_are_selectable(synthetic):
    f = feat.build_features(synthetic.customers, synthetic.transactions, synthetic.roles)
    buyers = f["frequency"] > 0
    cats = [c for c in f if c.startswith("category_")]
    chans = [c for c in f if c.startswith("channel_")]
    assert len(cats) == 5 and len(chans) == 3
    np.testing.assert_allclose(f.loc[buyers, cats].sum(axis=1), 1.0)
    np.testing.assert_allclose(f.loc[buyers, chans].sum(axis=1), 1.0)
    only = feat.build_features(synthetic.customers, synthetic.transactions, synthetic.roles,
                               {"transaction_families": ["recency", "frequency"], "customer_families": ["engagement"]})
    assert set(only.columns) == {"customer_id", "recency", "frequency", "email_opens_90d", "site_visits_90d"}


def test_sensitive_attributes_excluded_unless_allowed(synthetic):
    roles = synthetic.roles
    f = feat.build_features(synthetic.customers, synthetic.transactions, roles)
    assert not set(roles.sensitive) & set(f.columns)  # age, gender, ethnicity
    assert "postcode" not in f  # 400 levels: too many categories
    plan = feat.feature_plan(synthetic.customers, synthetic.transactions, roles)
    assert plan.set_index("feature").loc["age", "reason"].startswith("sensitive")
    allowed = feat.build_features(synthetic.customers, synthetic.transactions, roles, {"allow_sensitive": ["age"]})
    assert "age" in allowed and "gender" not in allowed


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
