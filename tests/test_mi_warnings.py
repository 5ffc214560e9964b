"""KSG and InfoNCE say when their known bias is large: planted Gaussian pairs where the bias is (or is not)
large, and the rules' thresholds."""
from __future__ import annotations

import numpy as np
import pytest

from empirical.mi.infonce import OVERFIT_GAP, SATURATION_MARGIN, infonce_mi, infonce_warning
from empirical.mi.ksg import ksg_ceiling, ksg_mi, ksg_warning
from empirical.mi.samples import gaussian_pair

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_ksg_warns_in_high_dimension_where_it_collapses():
    x, y, _ = gaussian_pair(1000, 16, 16, 2.30, 0)
    r = ksg_mi(x, y)
    assert r.mi < 0.5 * 2.30  # the collapse the warning is about (issue: 0.75)
    assert "16+16 dims" in r.warning and "k-NN ball" in r.warning


def test_ksg_silent_where_it_is_accurate():
    x, y, _ = gaussian_pair(2000, 1, 1, 1.0, 0)
    r = ksg_mi(x, y)
    assert abs(r.mi - 1.0) < 0.1 and r.warning == ""


def test_ksg_warns_near_its_ceiling_at_high_mi():
    x, y, _ = gaussian_pair(500, 1, 1, 6.0, 0)
    r = ksg_mi(x, y)
    assert r.mi < 6.0 - 0.5 and "ceiling" in r.warning and "dims" not in r.warning


def test_ksg_ceiling_holds_for_a_near_deterministic_pair():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 1))
    r = ksg_mi(x, x + 1e-9 * rng.standard_normal(x.shape), k=3)  # true MI about 20 nats
    assert r.mi <= ksg_ceiling(300, 3) + 1e-12 and r.mi > 0.9 * ksg_ceiling(300, 3)


def test_ksg_dimension_rule_threshold():
    # warns iff N < k 2.5^(dx+dy): 4+4 with k = 3 flips at 3 * 2.5^8 = 4577.6
    assert ksg_warning(4577, 4, 4, 3) and not ksg_warning(4578, 4, 4, 3)
    assert ksg_warning(18, 1, 1, 3) and not ksg_warning(19, 1, 1, 3)  # 1+1 needs N >= 3 * 2.5^2 = 18.75


def test_infonce_warning_rule():
    assert infonce_warning(4.85 - SATURATION_MARGIN + 0.01, 4.85, 3.0)
    assert not infonce_warning(4.85 - SATURATION_MARGIN - 0.01, 4.85, 2.9)
    assert "overfits" in infonce_warning(0.5, 4.85, 0.5 + OVERFIT_GAP + 0.01)
    assert infonce_warning(0.5, 4.85, float("nan")) == ""


def test_infonce_warns_when_saturated():
    x, y, _ = gaussian_pair(3000, 1, 1, 6.0, 0)
    r = infonce_mi(x, y, batch_size=64, steps=150, hidden=32)
    assert r.mi < 6.0 - 1.0 and "ceiling" in r.warning


def test_infonce_warns_when_the_critic_overfits_in_high_dimension():
    x, y, _ = gaussian_pair(1000, 16, 16, 2.0, 0)
    r = infonce_mi(x, y, steps=200)
    assert r.mi < 2.0 - 1.0 and "overfits" in r.warning
