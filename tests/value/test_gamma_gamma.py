import numpy as np
import pytest
from lifetimes import GammaGammaFitter

from workbench.value import GammaGamma, fit_gamma_gamma, spend_frequency_correlation


def test_cdnow_spend_parameters_match_lifetimes(cdnow_summary):
    d = cdnow_summary
    g = fit_gamma_gamma(d["x"], d["zbar"])  # customers without repeats are left out by the fit
    repeat = d[d["x"] > 0]
    ref = GammaGammaFitter().fit(repeat["x"], repeat["zbar"])
    assert g.n == len(repeat) == 946
    assert (g.p, g.q, g.v) == pytest.approx((ref.params_["p"], ref.params_["q"], ref.params_["v"]), rel=1e-3)
    assert (round(g.p, 2), round(g.q, 2), round(g.v, 1)) == (6.25, 3.74, 15.4)
    np.testing.assert_allclose(g.expected_spend(repeat["x"], repeat["zbar"]),
                               ref.conditional_expected_average_profit(repeat["x"], repeat["zbar"]), rtol=1e-3)


def test_no_repeat_purchase_gets_the_population_mean_and_few_buyers_raise():
    g = GammaGamma(p=6.0, q=4.0, v=15.0)
    assert g.expected_spend([0], [0.0])[0] == pytest.approx(g.population_mean())
    # more purchases: closer to the customer's own mean
    own = 100.0
    assert abs(g.expected_spend([20], [own])[0] - own) < abs(g.expected_spend([1], [own])[0] - own)
    with pytest.raises(ValueError, match="repeat purchases"):
        fit_gamma_gamma([0, 0, 1], [0, 0, 5.0])


def test_spend_frequency_correlation_is_measured_on_repeat_buyers():
    assert spend_frequency_correlation([0, 1, 2, 3], [0, 10, 20, 30]) == pytest.approx(1.0)
    assert np.isnan(spend_frequency_correlation([0, 1], [0, 10]))


def test_analytic_gradient_matches_finite_differences(cdnow_summary):
    from scipy.optimize import approx_fprime

    from workbench.value._gamma_gamma import gamma_gamma_loglik_grad

    r = cdnow_summary[cdnow_summary["x"] > 0]
    x, m = r["x"].to_numpy(float), r["zbar"].to_numpy(float)
    theta = np.log([5.0, 3.0, 12.0])
    _, grad = gamma_gamma_loglik_grad(np.exp(theta), x, m)
    numeric = approx_fprime(theta, lambda t: gamma_gamma_loglik_grad(np.exp(t), x, m)[0], 1e-6)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4)
