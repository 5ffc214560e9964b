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


@pytest.mark.parametrize("t", [1e-300, 1e-150, 1e150, 1e300])
def test_spectrum_quantities_are_scale_invariant_at_extreme_magnitudes(t):
    """B7: energy ranks, effective rank and Gavish-Donoho are invariant under sigma -> t sigma; R3 at
    (t sigma, t^2 c) equals R3 at (sigma, c); the fitted alpha is unchanged and log s moves by 2 log t. At
    t = 1e+-300 the squares of sigma under/overflow, which must not change anything (no warnings either)."""
    k = np.arange(1, 41, dtype=float)
    sv = k**-1.0 * np.exp(0.1 * np.sin(k))
    for level in recommend.ENERGY_LEVELS:
        assert recommend.energy_rank(t * sv, level) == recommend.energy_rank(sv, level)
    assert recommend.effective_rank(t * sv) == pytest.approx(recommend.effective_rank(sv), rel=1e-12)
    assert recommend.gavish_donoho_rank(t * sv, (50, 40))[0] == recommend.gavish_donoho_rank(sv, (50, 40))[0]
    for form in ("paper", "covering", "fast"):
        for c in (1e-4, 1e-2, 1.0):
            ref = recommend.r3_rank(sv, c, form, 1000.0)
            assert recommend.r3_rank(t * sv, None, form, 1000.0, log_c=math.log(c) + 2 * math.log(t)) == ref
    f1, ft = recommend.fit_spectrum(sv, n_boot=50), recommend.fit_spectrum(t * sv, n_boot=50)
    assert ft.alpha == pytest.approx(f1.alpha, rel=1e-9)
    assert ft.log_s == pytest.approx(f1.log_s + 2 * math.log(t), rel=1e-12, abs=1e-9)


def test_r3_with_a_variance_term_beyond_the_float_range_is_rank_one():
    """sigma_1 = 1e-300 and c = 1: c/sigma_1^2 = 1e600 dominates every tail, so the argmin over r >= 1 is 1."""
    sv = 1e-300 * np.arange(1, 31, dtype=float) ** -1.0
    assert recommend.r3_rank(sv, 1.0, "fast", 100.0) == 1


def test_r1_r2_real_ranks_in_log_space():
    """B8: c = 5e-324 overflowed the direct formula (N^b s/(a c) = inf) though r* ~ 1.4e162 is finite; an
    epsilon of 1e308 gives r_budget beyond the float range: rank clamped, a note, and log_rank_real exact."""
    rank, r_real = recommend.r1_rank(1.0, 5e-324, 1.0, "fast", 100.0, 50)
    expected = math.exp(0.5 * (math.log(100.0) - math.log(5e-324)))  # (N s/(a c))^(1/2), a = b = 1, alpha = 1
    assert r_real == pytest.approx(expected, rel=1e-12) and rank == 50
    recs = {r.method: r for r in recommend.recommend(100, per_rank=16, r_max=8, alpha=1.0, epsilon=1e308)}
    r2 = recs["R2/fast"]  # (N eps / c)^(1/a) with c = 16, a = b = 1
    assert r2.rank == 8 and r2.rank_real is None and "exceeds the float range" in r2.note
    assert r2.extra["log_rank_real"] == pytest.approx(math.log(100.0) + math.log(1e308) - math.log(16.0), rel=1e-14)
    assert recs["R1/fast"].note is None and recs["R1/fast"].rank_real is not None
