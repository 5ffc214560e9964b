"""Gaussian MI without the shrinkage cliff: planted jointly Gaussian pairs with closed-form MI.

Before: ``shrinkage="auto"`` applied Ledoit-Wolf whenever n < 4 (d_x + d_y) and returned 0.08 for a true
1 nat at 25+25 dims and n = 150. Now shrinkage is used only where the unshrunk estimate does not exist.
"""
from __future__ import annotations

import numpy as np
import pytest

from empirical.mi.gaussian import gaussian_mi, null_sd
from empirical.mi.samples import gaussian_pair


def test_25_plus_25_at_n150_within_0p3_of_truth():
    est = [gaussian_mi(*gaussian_pair(150, 25, 25, 1.0, s)[:2]) for s in range(8)]
    for r in est:
        assert r.shrinkage == 0.0 and r.bias_corrected and r.warning == ""
        assert abs(r.mi - 1.0) < 0.3
    assert abs(np.mean([r.mi for r in est]) - 1.0) < 0.15


@pytest.mark.parametrize("mi", [0.0, 10.0])
def test_unshrunk_estimate_unbiased_at_few_samples_over_truths(mi):
    est = np.array([gaussian_mi(*gaussian_pair(100, 25, 25, mi, 100 + s)[:2]).mi for s in range(12)])
    se = est.std(ddof=1) / np.sqrt(len(est))
    assert abs(est.mean() - mi) < 4 * se + 0.05


def test_ledoit_wolf_on_request_is_what_biased_the_old_default_down():
    est = [gaussian_mi(*gaussian_pair(150, 25, 25, 1.0, s)[:2], shrinkage="ledoit-wolf") for s in range(4)]
    assert all(r.shrinkage > 0.5 and r.warning for r in est)
    assert np.mean([r.mi for r in est]) < 0.3  # the cliff the issue measured (0.08), kept out of "auto"


def test_shrinkage_still_used_when_the_covariance_is_singular():
    # n < d + 2: no unshrunk estimate exists; the shrunk value is finite, flagged, and below the truth
    x, y, _ = gaussian_pair(40, 25, 25, 5.0, 0)
    r = gaussian_mi(x, y)
    assert r.shrinkage > 0 and r.warning and "n = 40 < d_x + d_y + 2 = 52" in r.warning
    assert np.isfinite(r.mi) and 0 <= r.mi < 5.0 and np.isnan(r.sd_null)
    with pytest.raises(ValueError, match="samples without shrinkage"):
        gaussian_mi(x, y, shrinkage="off")
    # identical arrays: the MI is infinite; auto returns a flagged finite value, "off" names the setting
    x = np.random.default_rng(1).standard_normal((500, 3))
    r = gaussian_mi(x, x)
    assert r.shrinkage > 0 and "collinear" in r.warning
    with pytest.raises(ValueError, match="--shrinkage"):
        gaussian_mi(x, x, shrinkage="off")


def test_high_mi_without_shrinkage_when_well_conditioned():
    # y = x + 1e-7 noise: rcond ~ 1e-14 is above d x machine epsilon; closed form 3/2 log(1 + 1e14) nats
    rng = np.random.default_rng(2)
    x = rng.standard_normal((500, 3))
    y = x + 1e-7 * rng.standard_normal(x.shape)
    r = gaussian_mi(x, y)
    assert r.shrinkage == 0.0
    assert r.mi == pytest.approx(1.5 * np.log1p(1e14), abs=0.5)


def test_null_sd_matches_the_spread_over_seeds():
    n, d = 60, 5
    rng = np.random.default_rng(3)
    est = np.array([gaussian_mi(rng.standard_normal((n, d)), rng.standard_normal((n, d))).mi for _ in range(300)])
    assert est.std(ddof=1) == pytest.approx(null_sd(n, d, d), rel=0.15)
    assert null_sd(n, 2, 7) == pytest.approx(null_sd(n, 7, 2), rel=1e-12)  # Wilks' Lambda is symmetric


@pytest.mark.parametrize("bad", ["shrunk", 1.5, -0.1])
def test_bad_shrinkage_setting(bad):
    x, y, _ = gaussian_pair(100, 2, 2, 1.0, 0)
    with pytest.raises(ValueError, match="shrinkage must be one of auto, off, ledoit-wolf"):
        gaussian_mi(x, y, shrinkage=bad)
