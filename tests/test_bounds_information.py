"""I1-I3 and the Gaussian MI on jointly Gaussian synthetic pairs: closed-form MI between the I1 lower bound
(from the best linear clone's MSE) and the I2 cap; I3 increasing in r; invariances."""
import math

import numpy as np
import pytest

from bounds import catalog
from bounds.information import (gaussian_mi, gaussian_mi_from_correlations, i1_lower_bound_gaussian, i2_cap,
                                i2_cap_eigen, i3_curve)


def _pair(rng, d, r, noise):
    """h_T ~ N(0, Sigma_T) in R^d; student read-out h_S = W h_T + xi, xi ~ N(0, noise^2 I_r)."""
    A = rng.normal(size=(d, d)) / math.sqrt(d)
    cov_t = A @ A.T + 0.1 * np.eye(d)
    W = rng.normal(size=(r, d))
    cov_clean = W @ cov_t @ W.T                      # Sigma_S of the clean student activation
    cov_s = cov_clean + noise**2 * np.eye(r)
    cross = cov_t @ W.T                               # Cov(h_T, h_S)
    joint = np.block([[cov_t, cross], [cross.T, cov_s]])
    return cov_t, cov_clean, cov_s, cross, joint


@pytest.mark.parametrize("seed", range(8))
def test_closed_form_mi_between_i1_and_i2(seed):
    rng = np.random.default_rng(seed)
    d, r = int(rng.integers(3, 12)), int(rng.integers(1, 8))
    noise = 10 ** rng.uniform(-1, 0.5)
    cov_t, cov_clean, cov_s, cross, joint = _pair(rng, d, r, noise)
    mi = gaussian_mi(joint, d)
    # best linear clone of h_T from h_S (the conditional mean for Gaussians): MSE = tr(S_T - C S_S^-1 C^T)
    mse = float(np.trace(cov_t - cross @ np.linalg.solve(cov_s, cross.T)))
    lower = i1_lower_bound_gaussian(cov_t, mse)
    cap = i2_cap(cov_clean, noise)
    assert lower <= mi + 1e-9
    assert mi <= i2_cap_eigen(np.linalg.eigvalsh(cov_clean), noise) + 1e-9 <= cap + 2e-9
    # for Gaussian signal through Gaussian noise the eigenvalue form of I2 is exact
    assert mi == pytest.approx(i2_cap_eigen(np.linalg.eigvalsh(cov_clean), noise), rel=1e-8, abs=1e-10)


def test_sampled_pairs_also_respect_the_bounds():
    rng = np.random.default_rng(11)
    d, r, noise, n = 6, 3, 0.5, 200_000
    cov_t, cov_clean, *_ = _pair(rng, d, r, noise)
    L = np.linalg.cholesky(cov_t)
    Wr = rng.normal(size=(r, d))
    h_t = rng.normal(size=(n, d)) @ L.T
    h_s = h_t @ Wr.T + noise * rng.normal(size=(n, r))
    joint = np.cov(np.hstack([h_t, h_s]), rowvar=False)
    mi = gaussian_mi(joint, d)
    coef, *_ = np.linalg.lstsq(np.hstack([h_s, np.ones((n, 1))]), h_t, rcond=None)
    mse = float(np.mean(np.sum((h_t - np.hstack([h_s, np.ones((n, 1))]) @ coef) ** 2, axis=1)))
    cov_hat = np.cov(h_t, rowvar=False)
    assert i1_lower_bound_gaussian(cov_hat, mse) <= mi <= i2_cap(np.cov(h_t @ Wr.T, rowvar=False), noise)


def test_mi_from_canonical_correlations_equals_determinant_form():
    rng = np.random.default_rng(2)
    rhos = rng.uniform(0.05, 0.95, size=3)
    # three independent canonical pairs, each unit-variance with correlation rho_i
    joint = np.eye(6)
    for i, rho in enumerate(rhos):
        joint[i, 3 + i] = joint[3 + i, i] = rho
    assert gaussian_mi(joint, 3) == pytest.approx(gaussian_mi_from_correlations(rhos), rel=1e-12)
    assert gaussian_mi_from_correlations([0.6]) == pytest.approx(-0.5 * math.log(1 - 0.36), rel=1e-14)


def test_mi_invariant_under_invertible_linear_maps():
    rng = np.random.default_rng(3)
    *_, joint = _pair(rng, 4, 3, 0.3)
    Ax, Ay = rng.normal(size=(4, 4)), rng.normal(size=(3, 3))
    M = np.block([[Ax, np.zeros((4, 3))], [np.zeros((3, 4)), Ay]])
    assert gaussian_mi(M @ joint @ M.T, 4) == pytest.approx(gaussian_mi(joint, 4), rel=1e-9)


def test_i3_increases_in_rank_and_matches_i1_at_pca_mse():
    lam = np.sort(np.random.default_rng(4).gamma(1.0, size=10))[::-1]
    curve = i3_curve(lam)
    assert np.all(np.diff(curve) > 0)
    r = 3
    assert curve[r] == pytest.approx(i1_lower_bound_gaussian(np.diag(lam), lam[r:].sum()), rel=1e-12)


def test_i1_general_form_equals_gaussian_form_with_gaussian_entropy():
    lam = np.array([2.0, 1.0, 0.5])
    h = 0.5 * (3 * math.log(2 * math.pi * math.e) + np.log(lam).sum())
    general = catalog.get("I1")(h_T=h, d=3, eps2=0.2)
    assert general == pytest.approx(i1_lower_bound_gaussian(np.diag(lam), 0.2), rel=1e-12)
