"""The feature plan and table: customers without purchases, family selection, sensitive attributes."""

import numpy as np
import pandas as pd

from workbench import features as feat


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
