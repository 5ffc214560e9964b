"""Spectrum baselines: Gavish-Donoho constants vs the paper's numbers, planted low-rank recovery, effective
and energy ranks vs direct computations, and the power-law fit of a planted spectrum."""
import math

import numpy as np
import pytest
from scipy import integrate

from bounds import recommend


def test_lambda_star_at_one_is_4_over_sqrt3():
    assert float(recommend.gd_lambda_star(1.0)) == pytest.approx(4 / math.sqrt(3), rel=1e-12)


def test_omega_at_one_is_2_858():
    # Gavish & Donoho 2014: omega(1) ~ 2.858 (their Table / eq. (10))
    assert recommend.gd_omega(1.0) == pytest.approx(2.858, abs=5e-4)


@pytest.mark.parametrize("beta", [0.1, 0.25, 0.5, 0.75, 1.0])
def test_mp_median_against_scipy_quadrature(beta):
    lo, hi = (1 - math.sqrt(beta)) ** 2, (1 + math.sqrt(beta)) ** 2
    dens = lambda x: math.sqrt(max((hi - x) * (x - lo), 0.0)) / (2 * math.pi * beta * x)  # noqa: E731
    med = recommend.mp_median(beta)
    mass, _ = integrate.quad(dens, lo, med, limit=200)
    assert mass == pytest.approx(0.5, abs=1e-6)


@pytest.mark.parametrize("beta", [0.1, 0.3, 0.5, 0.8, 1.0])
def test_omega_close_to_the_cubic_fit(beta):
    assert recommend.gd_omega(beta) == pytest.approx(float(recommend.gd_omega_approx(beta)), abs=0.02)


@pytest.mark.parametrize("shape", [(300, 300), (400, 200)])
def test_planted_low_rank_is_recovered(shape):
    rng = np.random.default_rng(0)
    m, n = shape
    k, noise = 7, 0.5
    U, _ = np.linalg.qr(rng.normal(size=(m, k)))
    V, _ = np.linalg.qr(rng.normal(size=(n, k)))
    strengths = np.linspace(5, 10, k) * math.sqrt(max(m, n)) * noise  # well above the sqrt(n) sigma bulk edge
    X = (U * strengths) @ V.T + noise * rng.normal(size=(m, n))
    sv = np.linalg.svd(X, compute_uv=False)
    assert recommend.gavish_donoho_rank(sv, shape, noise_sigma=noise)[0] == k
    assert recommend.gavish_donoho_rank(sv, shape, None)[0] == k


def test_effective_and_energy_ranks():
    sv = np.array([4.0, 2.0, 1.0, 1.0])
    p = sv / sv.sum()
    assert recommend.effective_rank(sv) == pytest.approx(math.exp(-sum(q * math.log(q) for q in p)))
    assert recommend.effective_rank(np.ones(10)) == pytest.approx(10.0)
    energy = sv**2 / np.sum(sv**2)  # 16, 4, 1, 1 of 22
    for level in (0.5, 0.72, 0.73, 0.9, 0.95, 0.99):
        expected = next(r for r in range(1, 5) if energy[:r].sum() >= level)
        assert recommend.energy_rank(sv, level) == expected


def test_power_law_fit_recovers_planted_alpha():
    k = np.arange(1, 201)
    rng = np.random.default_rng(3)
    sv = 3.0 * k**-0.8 * np.exp(0.05 * rng.normal(size=k.size))
    fit = recommend.fit_spectrum(sv, n_boot=300)
    assert fit.alpha == pytest.approx(0.8, abs=0.02)
    assert fit.alpha_ci[0] < fit.alpha < fit.alpha_ci[1]
    assert fit.s == pytest.approx(9.0, rel=0.15)
    assert fit.k_span == (1, 200)


def test_recommend_lists_every_reading():
    sv = np.arange(1, 51, dtype=float)[::-1] ** 1.0
    recs = recommend.recommend(1000, per_rank=100, r_max=50, alpha=1.0, singular_values=sv, shape=(50, 50),
                               noise_sigma=0.1)
    methods = [r.method for r in recs]
    for form in ("paper", "covering", "fast"):
        assert f"R1/{form}" in methods and f"R2/{form}" in methods and f"R3/{form}" in methods
    for m in ("gavish-donoho/known-sigma", "gavish-donoho/unknown-sigma", "effective-rank",
              "energy-90", "energy-95", "energy-99"):
        assert m in methods
    # R2 and Gavish-Donoho may legitimately say 0 (nothing within budget / nothing above the noise)
    assert all(1 <= r.rank <= 50 for r in recs if not r.method.startswith(("R2/", "gavish")))
    assert all(0 <= r.rank <= 50 for r in recs)
