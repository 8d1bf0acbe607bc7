"""Transaction families: the DuckDB aggregation against plain pandas, and as_of."""

import numpy as np
import pandas as pd

from workbench import features as feat


def _pandas_features(tx: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """An independent, plain pandas computation of the transaction features."""
    tx = tx[tx["timestamp"] < as_of]
    buy = tx[tx["amount"] >= 0]
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
    np.testing.assert_array_equal(ours["recency"].to_numpy(), ref["recency"].to_numpy())
    # CDNOW has no returns: every customer ordered, so every customer has a purchase ($0 orders count)
    assert ours["recency"].notna().all() and (ours["frequency"] >= 1).all()
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


def test_zero_dollar_orders_are_purchases_and_returns_are_not():
    """CDNOW-like rows: a customer whose only order is $0 did order; a return alone is no purchase."""
    tx = pd.DataFrame({
        "customer_id": ["00001", "00002", "00002", "00003", "00004", "00004"],
        "timestamp": pd.to_datetime(["1997-01-01", "1997-01-05", "1997-03-01", "1997-02-01", "1997-01-10", "1997-01-20"]),
        "amount": [0.0, 0.0, 12.5, -10.0, 20.0, -20.0],
    })
    out = feat.transaction_features(tx, as_of="1997-04-01").set_index("customer_id")
    assert out.loc["00001", "frequency"] == 1 and out.loc["00001", "recency"] == 90
    assert out.loc["00001", "tenure"] == 90 and out.loc["00001", "monetary"] == 0
    assert out.loc["00002", "frequency"] == 2 and out.loc["00002", "tenure"] == 86
    assert out.loc["00002", "average_order_value"] == 6.25
    assert out.loc["00003", "frequency"] == 0 and np.isnan(out.loc["00003", "recency"])  # a return only
    assert out.loc["00004", "frequency"] == 1 and out.loc["00004", "monetary"] == 0  # bought, returned
    assert out.loc["00004", "returns_rate"] == 0.5
