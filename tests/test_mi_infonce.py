"""InfoNCE: never above its log(batch) ceiling, close to the truth when the truth is well below it."""
from __future__ import annotations

import math

import numpy as np
import pytest

from empirical.mi.infonce import InfoNCEConfig, infonce_bound, infonce_mi
from empirical.mi.samples import gaussian_pair

FAST = InfoNCEConfig(steps=300, hidden=64, batch_size=128)


def test_infonce_bound_formula_against_numpy():
    import torch

    s = np.random.default_rng(0).standard_normal((6, 6))
    ref = np.mean(np.diag(s) - np.log(np.exp(s).sum(1))) + np.log(6)
    assert float(infonce_bound(torch, torch.tensor(s))) == pytest.approx(ref, rel=1e-12)
    # a perfect critic (huge diagonal) reaches exactly the ceiling log B and no more
    assert float(infonce_bound(torch, torch.eye(6, dtype=torch.float64) * 1e4)) == pytest.approx(math.log(6))


def test_infonce_close_to_truth_well_below_ceiling():
    x, y, _ = gaussian_pair(6000, 2, 2, 1.0, 0)
    r = infonce_mi(x, y, FAST)
    assert r.ceiling == pytest.approx(math.log(128))
    assert r.mi == pytest.approx(1.0, abs=0.15)
    assert r.mi <= r.ceiling


@pytest.mark.parametrize("critic", ["separable", "concat"])
def test_infonce_saturates_at_ceiling_when_truth_is_high(critic):
    """True MI 8 nats >> log 16: the estimate is capped at log 16 (and comes near it)."""
    x, y, _ = gaussian_pair(3000, 2, 2, 8.0, 1)
    r = infonce_mi(x, y, FAST, batch_size=16, critic=critic, steps=200)
    assert r.ceiling == pytest.approx(math.log(16))
    assert r.mi <= r.ceiling + 1e-6
    assert r.mi > r.ceiling - 0.6


def test_infonce_independent_near_zero_and_deterministic():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((2000, 3)), rng.standard_normal((2000, 3))
    a = infonce_mi(x, y, FAST, steps=100)
    b = infonce_mi(x, y, FAST, steps=100)
    assert a.mi == b.mi
    assert abs(a.mi) < 0.1


def test_infonce_rejects_bad_critic():
    x, y, _ = gaussian_pair(100, 1, 1, 1.0, 0)
    with pytest.raises(ValueError, match="critic"):
        infonce_mi(x, y, critic="bilinear")
