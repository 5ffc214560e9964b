"""bounds.fit: robust log-log fits with bootstrap CIs, checked against known exponents, independent
solvers (numpy.polyfit, scipy's Huber least squares) and the nominal coverage of the intervals."""
import numpy as np
import pytest
from scipy.optimize import least_squares

from bounds.fit import fit_loglinear, fit_power_law


def _draw(rng, n=40, noise=0.1, a=0.7, b=-0.5, c=3.0):
    p = np.exp(rng.uniform(0, 5, n))
    N = np.exp(rng.uniform(2, 8, n))
    y = c * p**a * N**b * np.exp(noise * rng.normal(size=n))
    return p, N, y


def test_recovers_known_exponents_from_noisy_data():
    rng = np.random.default_rng(11)
    p, N, y = _draw(rng, n=60, noise=0.1)
    fit = fit_loglinear({"p": p, "N": N}, y, n_boot=500, seed=1)
    assert abs(fit.exponents["p"] - 0.7) < 0.03
    assert abs(fit.exponents["N"] + 0.5) < 0.03
    assert abs(fit.log_prefactor - np.log(3.0)) < 0.15
    for name in ("p", "N"):  # intervals bracket the estimate and are of the size the noise implies
        lo, hi = fit.ci[name]
        assert lo < fit.exponents[name] < hi and 0.005 < hi - lo < 0.1
    assert fit.span["p"] == (p.min(), p.max()) and fit.n == 60
    # predict is the fitted law: y_hat = C p^a N^b, compared with the formula written out
    yhat = fit.predict(p=p, N=N)
    np.testing.assert_allclose(yhat, fit.prefactor * p ** fit.exponents["p"] * N ** fit.exponents["N"], rtol=1e-12)
    np.testing.assert_allclose(np.log(y) - np.log(yhat), fit.residuals, atol=1e-12)


def test_linear_loss_equals_polyfit():
    rng = np.random.default_rng(3)
    x = np.exp(rng.uniform(0, 4, 30))
    y = 2.0 * x**-1.3 * np.exp(0.2 * rng.normal(size=30))
    fit = fit_power_law(x, y, loss="linear", n_boot=50)
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    assert fit.exponent == pytest.approx(slope, rel=1e-9)
    assert fit.log_prefactor == pytest.approx(intercept, rel=1e-9, abs=1e-12)


def test_huber_matches_scipy_least_squares_at_the_same_threshold():
    rng = np.random.default_rng(5)
    x = np.exp(rng.uniform(0, 4, 50))
    y = 2.0 * x**0.4 * np.exp(0.3 * rng.standard_t(2, size=50))
    fit = fit_power_law(x, y, n_boot=20)

    def resid(theta):
        return np.log(y) - theta[0] - theta[1] * np.log(x)

    ref = least_squares(resid, x0=[0.0, 0.0], loss="huber", f_scale=fit.huber_k * fit.scale, xtol=1e-14,
                        ftol=1e-14, gtol=1e-14)
    assert fit.log_prefactor == pytest.approx(ref.x[0], abs=1e-6)
    assert fit.exponent == pytest.approx(ref.x[1], abs=1e-6)


def test_robust_to_a_few_outliers():
    rng = np.random.default_rng(7)
    x = np.exp(np.linspace(0, 5, 40))
    y = 1.5 * x**-0.5 * np.exp(0.05 * rng.normal(size=40))
    y[[35, 37, 39]] *= 50.0  # three gross outliers at the high end, pulling the slope up
    huber = fit_power_law(x, y, n_boot=200)
    ols = fit_power_law(x, y, loss="linear", n_boot=10)
    assert abs(huber.exponent + 0.5) < 0.03
    assert abs(ols.exponent + 0.5) > 0.1  # the test data really do break least squares


def test_ci_coverage_is_near_nominal():
    rng = np.random.default_rng(2024)
    hits, draws = 0, 100
    for i in range(draws):
        p, N, y = _draw(rng, n=30, noise=0.3)
        fit = fit_loglinear({"p": p, "N": N}, y, n_boot=200, seed=i)
        hits += fit.covers("N", -0.5)
    assert 0.85 <= hits / draws <= 0.99


def test_group_bootstrap_widens_ci_for_correlated_groups():
    rng = np.random.default_rng(9)
    groups = np.repeat(np.arange(6), 10)
    x = np.tile(np.exp(np.linspace(0, 4, 10)), 6)
    shared = rng.normal(size=6)[groups] * 0.3 * np.log(x) / 4  # a per-run slope error shared by its rows
    y = x**-0.5 * np.exp(shared + 0.02 * rng.normal(size=60))
    by_row = fit_power_law(x, y, n_boot=400)
    by_group = fit_power_law(x, y, groups=groups, n_boot=400)
    assert by_group.n_groups == 6
    width = lambda f: f.exponent_ci[1] - f.exponent_ci[0]  # noqa: E731
    assert width(by_group) > 1.5 * width(by_row)


def test_seeded_and_deterministic():
    rng = np.random.default_rng(1)
    p, N, y = _draw(rng)
    a = fit_loglinear({"p": p, "N": N}, y, n_boot=100, seed=4)
    b = fit_loglinear({"p": p, "N": N}, y, n_boot=100, seed=4)
    c = fit_loglinear({"p": p, "N": N}, y, n_boot=100, seed=5)
    assert a.ci == b.ci and a.ci != c.ci


@pytest.mark.parametrize("x, y", [
    ([1, 2, 3, 4], [1, 2, -3, 4]),
    ([1, 2, 0, 4], [1, 2, 3, 4]),
    ([1, 2, 3, 4], [1, 2, np.nan, 4]),
    ([1, 2], [1, 2]),
    ([2, 2, 2, 2, 2], [1, 2, 3, 4, 5]),
    ([1, 2, 3, 4], [1, 2, 3]),
])
def test_bad_data_raises_value_error(x, y):
    with pytest.raises(ValueError):
        fit_power_law(x, y, n_boot=10)
