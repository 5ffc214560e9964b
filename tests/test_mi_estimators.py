"""Gaussian/CCA MI, KSG and Kozachenko-Leonenko entropy against closed forms and independent references."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.special import digamma

from empirical.mi.entropy import gaussian_entropy, kl_entropy
from empirical.mi.gaussian import gaussian_mi, ledoit_wolf_shrinkage
from empirical.mi.ksg import ksg_mi
from empirical.mi.samples import as_samples, gaussian_pair, mi_from_rho, random_rotation, rho_for_mi
from empirical.mi.validate import make_task


# ----------------------------------------------------------------------------------------------- samples
def test_rho_for_mi_roundtrip_and_population_formula():
    for mi, m in [(0.1, 1), (1.0, 2), (8.0, 32), (8.0, 1)]:
        rho = rho_for_mi(mi, m)
        assert mi_from_rho(rho) == pytest.approx(mi, rel=1e-10)
        # independent: log-det form of the population covariance [[I, P], [P^T, I]], P = diag(rho)
        cov = np.block([[np.eye(m), np.diag(rho)], [np.diag(rho), np.eye(m)]])
        assert 0.5 * -np.linalg.slogdet(cov)[1] == pytest.approx(mi, rel=1e-6)


def test_random_rotation_is_orthogonal():
    q = random_rotation(7, np.random.default_rng(0))
    np.testing.assert_allclose(q @ q.T, np.eye(7), atol=1e-12)


def test_gaussian_pair_sample_covariance_matches_target():
    x, y, rho = gaussian_pair(200_000, 3, 2, 1.5, 1)
    c = np.cov(np.hstack([x, y]), rowvar=False)
    mi = 0.5 * (np.linalg.slogdet(c[:3, :3])[1] + np.linalg.slogdet(c[3:, 3:])[1] - np.linalg.slogdet(c)[1])
    assert mi == pytest.approx(1.5, abs=0.02)


@pytest.mark.parametrize("bad, msg", [
    (np.zeros((5, 2, 2)), "1-D or 2-D"),
    (np.array([[1.0, np.nan]] * 5), "NaN"),
    (np.array([["a", "b"]] * 5), "numeric"),
])
def test_as_samples_rejects(bad, msg):
    with pytest.raises(ValueError, match=msg):
        as_samples(bad, np.zeros((5, 1)))


def test_as_samples_rejects_mismatch_and_few():
    with pytest.raises(ValueError, match="different numbers of rows"):
        as_samples(np.zeros((5, 1)), np.zeros((6, 1)))
    with pytest.raises(ValueError, match="at least 10"):
        as_samples(np.zeros((5, 1)), np.zeros((5, 1)), min_samples=10)


# ---------------------------------------------------------------------------------------------- Gaussian
def test_ledoit_wolf_matches_sklearn():
    from sklearn.covariance import ledoit_wolf

    rng = np.random.default_rng(0)
    for n, p in [(30, 10), (200, 5), (20, 40)]:
        z = rng.standard_normal((n, p)) @ rng.standard_normal((p, p))
        _, delta = ledoit_wolf(z)
        assert ledoit_wolf_shrinkage(z) == pytest.approx(delta, rel=1e-9, abs=1e-12)


def test_canonical_correlations_match_qr_svd_reference():
    """Bjorck-Golub: canonical correlations = singular values of Qx^T Qy (orthonormal bases of centred data)."""
    x, y, _ = gaussian_pair(500, 4, 3, 2.0, 3)
    r = gaussian_mi(x, y, shrinkage=None)
    qx, _ = np.linalg.qr(x - x.mean(0))
    qy, _ = np.linalg.qr(y - y.mean(0))
    ref = np.linalg.svd(qx.T @ qy, compute_uv=False)
    np.testing.assert_allclose(r.canonical_correlations, ref, atol=1e-10)
    assert r.mi_plugin == pytest.approx(mi_from_rho(ref), rel=1e-9)


def test_gaussian_mi_accurate_at_1e4():
    for dx, dy, mi in [(1, 1, 1.0), (2, 2, 1.0), (8, 4, 3.0)]:
        x, y, _ = gaussian_pair(10_000, dx, dy, mi, dx)
        assert gaussian_mi(x, y).mi == pytest.approx(mi, rel=0.03)


def test_gaussian_mi_unbiased_in_expectation_plugin_is_not():
    """Few samples (n=40, 4+4 dims): the Wishart-corrected estimate is unbiased over seeds; the plug-in is
    biased up by about dx*dy/(2n) -- the test would fail without the correction."""
    n, d, mi = 40, 4, 1.0
    est, plug = [], []
    for s in range(400):
        x, y, _ = gaussian_pair(n, d, d, mi, 1000 + s)
        r = gaussian_mi(x, y, shrinkage=None)
        est.append(r.mi)
        plug.append(r.mi_plugin)
    est, plug = np.array(est), np.array(plug)
    se = est.std(ddof=1) / np.sqrt(len(est))
    assert abs(est.mean() - mi) < 3.5 * se
    assert plug.mean() - mi > 0.15  # plug-in bias ~ d*d/(2n) = 0.2 nats


def test_gaussian_mi_independent_is_near_zero_and_shrinkage_used_when_few_samples():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((20, 16)), rng.standard_normal((20, 16))
    r = gaussian_mi(x, y)  # n < 4d: Ledoit-Wolf, not singular
    assert r.shrinkage > 0 and not r.bias_corrected and np.isfinite(r.mi)
    with pytest.raises(ValueError, match="samples without shrinkage"):
        gaussian_mi(x, y, shrinkage=None)


# --------------------------------------------------------------------------------------------------- KSG
def _ksg_reference(x, y, k):
    """Direct O(n^2) transcription of Kraskov et al. (2004) algorithm 1 (max-norm, strict counts)."""
    n = len(x)
    dxm = np.abs(x[:, None, :] - x[None, :, :]).max(-1)
    dym = np.abs(y[:, None, :] - y[None, :, :]).max(-1)
    dz = np.maximum(dxm, dym)
    np.fill_diagonal(dz, np.inf)
    eps = np.sort(dz, axis=1)[:, k - 1]
    nx = (dxm < eps[:, None]).sum(1) - 1
    ny = (dym < eps[:, None]).sum(1) - 1
    return digamma(k) + digamma(n) - np.mean(digamma(nx + 1) + digamma(ny + 1))


@pytest.mark.parametrize("dx,dy,k", [(1, 1, 3), (2, 3, 1), (5, 4, 5)])
def test_ksg_matches_bruteforce_reference(dx, dy, k):
    x, y, _ = gaussian_pair(400, dx, dy, 1.0, 7)
    ref = _ksg_reference(*(a / a.std(0) for a in (x - x.mean(0), y - y.mean(0))), k)
    for method in ("kdtree", "brute"):
        assert ksg_mi(x, y, k=k, method=method, jitter=0.0).mi == pytest.approx(ref, abs=1e-9)


def test_ksg_kdtree_and_brute_counts_identical():
    x, y, _ = gaussian_pair(2000, 3, 3, 2.0, 11)
    a, b = ksg_mi(x, y, method="kdtree"), ksg_mi(x, y, method="brute")
    np.testing.assert_array_equal(a.nx, b.nx)
    np.testing.assert_array_equal(a.ny, b.ny)
    assert a.mi == b.mi


def test_ksg_equals_sklearn_on_1d():
    """scikit-learn's mutual_info_regression is KSG per feature (same scaling, 1e-10 jitter, k=3)."""
    from sklearn.feature_selection import mutual_info_regression

    for mi, seed in [(0.5, 0), (1.0, 1), (2.0, 2)]:
        x, y, _ = gaussian_pair(3000, 1, 1, mi, seed)
        ours = ksg_mi(x, y).mi
        theirs = mutual_info_regression(x, y[:, 0], n_neighbors=3, random_state=0)[0]
        assert ours == pytest.approx(theirs, abs=1e-9)  # identical up to rounding


@pytest.mark.parametrize("d", [1, 2])
def test_ksg_accurate_low_dim_moderate_mi(d):
    errs = [ksg_mi(*gaussian_pair(10_000, d, d, 1.0, s)[:2]).mi - 1.0 for s in range(3)]
    assert abs(np.mean(errs)) < 0.05 and max(abs(e) for e in errs) < 0.1


def test_ksg_independent_near_zero():
    rng = np.random.default_rng(0)
    assert abs(ksg_mi(rng.standard_normal((5000, 2)), rng.standard_normal((5000, 2))).mi) < 0.02


@pytest.mark.parametrize("family", ["cube", "asinh", "rotate-monotone"])
def test_ksg_invariant_under_marginal_maps_1d(family):
    """I(f(X); g(Y)) = I(X; Y) for invertible f, g: in 1+1 dims KSG on mapped samples stays within tolerance
    of the truth (the Gaussian estimator, which only sees linear dependence, does not for the cube)."""
    for mi in (0.5, 1.0, 2.0):
        x, y = make_task(family, 10_000, 1, 1, mi, 0)
        assert ksg_mi(x, y).mi == pytest.approx(mi, abs=0.06)
    if family == "cube":
        x, y = make_task(family, 10_000, 1, 1, 2.0, 0)
        assert gaussian_mi(x, y).mi < 2.0 - 0.2


def test_ksg_invariance_2d_holds_for_mild_map_fails_for_heavy_tails():
    """Documented limit: in 2+2 dims a mild map (asinh) keeps KSG within 0.1 nats, while the cube of rotated
    coordinates (heavy tails, mixed) biases it down by more than 0.1 nats at 1e4 samples."""
    x, y = make_task("asinh", 10_000, 2, 2, 1.0, 0)
    assert ksg_mi(x, y).mi == pytest.approx(1.0, abs=0.1)
    x, y = make_task("cube", 10_000, 2, 2, 1.0, 0)
    assert ksg_mi(x, y).mi < 1.0 - 0.1


def test_ksg_duplicates_need_jitter():
    x = np.repeat(np.arange(50.0), 5)[:, None]
    with pytest.raises(ValueError, match="duplicates"):
        ksg_mi(x, x, jitter=0.0)
    assert np.isfinite(ksg_mi(x, x).mi)


# ------------------------------------------------------------------------------------------------ entropy
@pytest.mark.parametrize("d", [1, 3, 16])
def test_kl_entropy_gaussian_closed_form(d):
    rng = np.random.default_rng(d)
    a = rng.standard_normal((d, d))
    cov = a @ a.T / d + 0.5 * np.eye(d)
    x = rng.multivariate_normal(np.zeros(d), cov, size=10_000)
    truth = 0.5 * (d * np.log(2 * np.pi * np.e) + np.linalg.slogdet(cov)[1])
    tol = 0.03 * d if d <= 3 else 0.06 * d  # KL is biased in high dimension; 16-D stays within ~6%/dim
    assert kl_entropy(x) == pytest.approx(truth, abs=tol)
    assert gaussian_entropy(x) == pytest.approx(truth, abs=0.01 * d)
    assert gaussian_entropy(cov=cov) == pytest.approx(truth, rel=1e-12)


@pytest.mark.parametrize("d", [1, 2])
def test_kl_entropy_uniform_box(d):
    rng = np.random.default_rng(10 + d)
    widths = np.array([2.0, 0.5])[:d]
    x = rng.uniform(0, widths, size=(10_000, d))
    assert kl_entropy(x) == pytest.approx(np.log(np.prod(widths)), abs=0.03)


def test_kl_entropy_1d_matches_scipy_reference():
    from scipy.stats import differential_entropy

    x = np.random.default_rng(3).gamma(2.0, size=5000)
    # scipy's Vasicek spacing estimator: a different method for the same quantity
    assert kl_entropy(x) == pytest.approx(differential_entropy(x), abs=0.05)


def test_kl_entropy_bruteforce_path_matches_kdtree():
    from empirical.mi.entropy import _kth_distance

    x = np.random.default_rng(0).standard_normal((800, 20)) + 50.0  # large mean: tests the centring
    from scipy.spatial import cKDTree

    ref = cKDTree(x).query(x, k=4)[0][:, -1]
    np.testing.assert_allclose(_kth_distance(x, 3, 1), ref, rtol=1e-8)


@pytest.mark.parametrize("scale", [2.0**-990, 2.0**990, 1e-300, 1e300])
def test_estimates_are_scale_invariant_at_extreme_magnitudes(scale):
    """MI is invariant under x -> c x; the estimators standardize per column, and the power-of-two column
    rescaling (BUGS.md B6) keeps their squares from over/underflowing: at c = 2^+-990 (x c exact) the same
    bits as at 1, at c = 1e+-300 (x c rounded) the same to rounding."""
    x, y, _ = gaussian_pair(400, 3, 2, 0.7, rng=0)
    exact = np.frexp(scale)[0] == 0.5
    for est in (gaussian_mi, ksg_mi):
        ref, got = est(x, y).mi, est(x * scale, y).mi
        assert got == ref if exact else got == pytest.approx(ref, rel=1e-9), est.__name__


def test_too_few_samples_names_the_argument():
    with pytest.raises(ValueError, match="^--x: need at least 3 samples"):
        as_samples(np.zeros((2, 1)), np.zeros((2, 1)), min_samples=3, name_x="--x")
