import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter

from workbench.value import fit_models, growth_potential, predict_value, top_share_selected


def _weeks_to_days(d: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": d["ID"].astype(str), "frequency": d["x"], "recency": d["t_x"] * 7,
                         "T": d["T"] * 7, "monetary_value": d["zbar"]})


def test_clv_equals_lifetimes_discrete_sum(cdnow_summary):
    s = _weeks_to_days(cdnow_summary)
    bg, gg = fit_models(s)
    monthly = 0.01
    out = predict_value(s, bg, gg, horizon_days=360, discount_rate=(1 + monthly) ** (365 / 30) - 1, step_days=30)
    ref_bg = BetaGeoFitter()
    ref_bg.params_ = pd.Series(bg.params)
    ref_bg.predict = ref_bg.conditional_expected_number_of_purchases_up_to_time  # what fit() would set
    ref_gg = GammaGammaFitter()
    ref_gg.params_ = pd.Series(gg.params)
    ref = ref_gg.customer_lifetime_value(ref_bg, s["frequency"], s["recency"], s["T"], s["monetary_value"],
                                         time=12, discount_rate=monthly, freq="D")
    np.testing.assert_allclose(out["clv"], ref, rtol=1e-6)
    assert (out["p_alive"].between(0, 1)).all() and (out["expected_purchases"] >= 0).all()


def test_fit_does_not_depend_on_row_order_or_ids(cdnow_summary):
    s = _weeks_to_days(cdnow_summary)
    a = fit_models(s, fit_sample=1000, seed=3)
    shuffled = s.sample(frac=1, random_state=1).assign(customer_id=lambda d: "x" + d["customer_id"])
    b = fit_models(shuffled, fit_sample=1000, seed=3)
    assert a[0].params == b[0].params and a[1].params == b[1].params
    assert fit_models(s, fit_sample=1000, seed=4)[0].params != a[0].params


def test_growth_potential_and_top_share():
    historical = [1, 2, 3, 4, 100]
    predicted = [100, 2, 3, 4, 1]
    assert growth_potential(historical, predicted, gap=0.5).tolist() == [True, False, False, False, False]
    assert top_share_selected([5, 5, 1, 0, np.nan], 0.25).tolist() == [True, True, False, False, False]
    with pytest.raises(ValueError, match="top_share"):
        top_share_selected([1, 2], 1.5)
    with pytest.raises(ValueError, match="horizon_days"):
        predict_value(pd.DataFrame({"frequency": [1], "recency": [1.0], "T": [2.0], "monetary_value": [1.0]}),
                      *fit_models(_weeks_to_days(pd.DataFrame({"ID": [1, 2, 3, 4], "x": [1, 2, 0, 3], "t_x": [3.0, 4, 0, 5],
                                                                "T": [6.0, 6, 6, 6], "zbar": [10.0, 20, 0, 15]}))),
                      horizon_days=0)
