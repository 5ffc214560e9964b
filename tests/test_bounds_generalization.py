"""G1-G3: monotonicity of G2, G3 -> empirical risk as N grows, loss ranges, and the code length C(h)."""
import math

import numpy as np
import pytest
from scipy.stats import entropy

from bounds import catalog
from bounds.generalization import code_length_bits, quantize_uniform, quantized_code_length_bits

G2_BASE = dict(B=5.5, p=1e4, N=1e5, rho=1.0, R=10.0, delta=0.05)


def test_g2_increases_in_p_and_decreases_in_n():
    g2 = catalog.get("G2")
    p = np.geomspace(1, 1e12, 200)
    vals = g2(**dict(G2_BASE, p=p))
    assert np.all(np.diff(vals) > 0)
    N = np.geomspace(10, 1e15, 200)
    vals = g2(**dict(G2_BASE, N=N))
    assert np.all(np.diff(vals) < 0)


def test_g2_scales_as_sqrt_p_over_n_for_large_p():
    g2 = catalog.get("G2")
    a, b = g2(**dict(G2_BASE, p=1e10)), g2(**dict(G2_BASE, p=4e10))
    assert b / a == pytest.approx(2.0, rel=1e-3)


def test_g1_exponents():
    g1 = catalog.get("G1")
    assert g1(C_G=2.0, p=300.0, N=400.0) == pytest.approx(2.0 * 300 / 20)


def test_g3_tends_to_empirical_risk():
    g3 = catalog.get("G3")
    N = np.geomspace(1e2, 1e16, 30)
    gaps = g3(emp_risk=1.3, B=math.log(256 / 0.01), C_bits=1e5, N=N, delta=0.05) - 1.3
    assert np.all(gaps > 0) and np.all(np.diff(gaps) < 0)
    assert gaps[-1] < 1e-4
    # the gap is B sqrt((C ln2 + ln(1/delta))/(2N)), written out independently
    expected = math.log(256 / 0.01) * math.sqrt((1e5 * math.log(2) + math.log(20)) / (2 * N[0]))
    assert gaps[0] == pytest.approx(expected, rel=1e-12)


def test_loss_ranges():
    V, alpha = 50257.0, 0.1
    assert catalog.get("G3.loss_range")(V=V, alpha_s=alpha) == pytest.approx(math.log(V / alpha))
    # exact range of -log((1-alpha)p + alpha/V) over p in [0, 1], in bits
    lo, hi = -math.log2(1 - alpha + alpha / V), -math.log2(alpha / V)
    assert catalog.get("G3.loss_range_bits")(V=V, alpha_s=alpha) == pytest.approx(hi - lo, rel=1e-12)


def test_quantize_uniform_round_trip():
    rng = np.random.default_rng(0)
    theta = rng.normal(size=1000)
    sym, book = quantize_uniform(theta, 16)
    assert book.size == 16 and sym.min() >= 0 and sym.max() < 16
    step = (theta.max() - theta.min()) / 15
    assert np.max(np.abs(book[sym] - theta)) <= step / 2 + 1e-12


def test_code_length_counts_every_part():
    rng = np.random.default_rng(1)
    sym = rng.integers(0, 8, size=5000)
    n, L = sym.size, 8
    h = entropy(np.bincount(sym, minlength=L), base=2)  # scipy's entropy, independent of ours
    expected = (2 * math.floor(math.log2(n)) + 1) + (2 * math.floor(math.log2(L)) + 1) + L * 32 \
        + L * math.ceil(math.log2(n + 1)) + math.ceil(n * h) + 2
    assert code_length_bits(sym, L) == pytest.approx(expected)
    # a constant vector costs almost nothing beyond the header; a uniform one ~ n log2 L
    assert quantized_code_length_bits(np.ones(10000), 16) < 16 * 32 + 16 * 14 + 100
    assert code_length_bits(sym, L) > 0.99 * n * math.log2(L)


def test_code_length_rejects_bad_symbols():
    with pytest.raises(ValueError):
        code_length_bits(np.array([0, 1, 9]), 4)
