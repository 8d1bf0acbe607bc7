import numpy as np
import pytest
from lifetimes import BetaGeoFitter

from workbench.value import BetaGeo, fit_bgnbd


def _sig(v: float, digits: int = 2) -> float:
    return float(f"{v:.{digits - 1}e}")


def test_reproduces_the_papers_parameters_on_the_cdnow_sample(cdnow_summary):
    d = cdnow_summary
    assert len(d) == 2357
    m = fit_bgnbd(d["x"], d["t_x"], d["T"])
    # Fader, Hardie & Lee (2005), table/figure: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4
    assert [_sig(v) for v in (m.r, m.alpha, m.a, m.b)] == [_sig(0.243), _sig(4.414), _sig(0.793), _sig(2.426)]
    assert m.loglik == pytest.approx(-9582.4, abs=0.1)
    assert m.converged


def test_predictions_agree_with_lifetimes_at_the_same_parameters(cdnow_summary):
    d = cdnow_summary
    ref = BetaGeoFitter().fit(d["x"], d["t_x"], d["T"])
    p = ref.params_
    m = BetaGeo(r=p["r"], alpha=p["alpha"], a=p["a"], b=p["b"])
    np.testing.assert_allclose(m.p_alive(d["x"], d["t_x"], d["T"]),
                               ref.conditional_probability_alive(d["x"], d["t_x"], d["T"]), rtol=1e-9)
    np.testing.assert_allclose(m.expected_purchases(52, d["x"], d["t_x"], d["T"]),
                               ref.conditional_expected_number_of_purchases_up_to_time(52, d["x"], d["t_x"], d["T"]),
                               rtol=1e-9)
    assert m.expected_purchases_new(39) == pytest.approx(ref.expected_number_of_purchases_up_to_time(39), rel=1e-9)


def test_time_unit_scales_only_alpha(cdnow_summary):
    d = cdnow_summary
    weeks = fit_bgnbd(d["x"], d["t_x"], d["T"])
    days = fit_bgnbd(d["x"], d["t_x"] * 7, d["T"] * 7)
    assert days.rescaled(7).alpha == pytest.approx(weeks.alpha, rel=1e-3)
    assert (days.r, days.a, days.b) == pytest.approx((weeks.r, weeks.a, weeks.b), rel=1e-3)


def test_no_repeat_purchase_means_alive_and_bad_input_is_named():
    m = BetaGeo(r=0.5, alpha=5.0, a=0.8, b=2.5)
    assert m.p_alive([0], [0], [30]) == pytest.approx([1.0])
    assert m.p_alive([3], [1], [30])[0] < m.p_alive([3], [29], [30])[0]  # long silence: less likely alive
    with pytest.raises(ValueError, match="recency <= T"):
        fit_bgnbd([1, 2], [5, 40], [30, 30])
    with pytest.raises(ValueError, match="missing"):
        fit_bgnbd([1, np.nan], [5, 4], [30, 30])


def test_analytic_gradient_matches_finite_differences(cdnow_summary):
    from scipy.optimize import approx_fprime

    from workbench.value._bgnbd import bgnbd_loglik_grad

    d = cdnow_summary
    w = np.ones(len(d))
    theta = np.log([0.3, 4.0, 0.7, 2.0])
    _, grad = bgnbd_loglik_grad(np.exp(theta), d["x"].to_numpy(float), d["t_x"].to_numpy(float), d["T"].to_numpy(float), w)
    numeric = approx_fprime(theta, lambda t: bgnbd_loglik_grad(np.exp(t), d["x"].to_numpy(float), d["t_x"].to_numpy(float),
                                                                d["T"].to_numpy(float), w)[0], 1e-6)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4)
