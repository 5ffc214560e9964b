"""Measurements: gradient norm, HVP power iteration, gradient variance, log-spaced running average, and
activation capture, each against an independent computation."""
import numpy as np
import pytest
import torch

from empirical.training import measure
from empirical.config import TeacherConfig
from empirical.models.lrc import LRCStudent
from empirical.models.teacher import Decoder


def _quadratic(S=2, n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    Q = torch.linalg.qr(torch.randn(S, n, n, generator=g, dtype=torch.float64))[0]
    eig = torch.stack([torch.linspace(-1.0, 3.0 + s, n, dtype=torch.float64) for s in range(S)])  # gap at top
    A = Q @ torch.diag_embed(eig) @ Q.transpose(1, 2)
    b = torch.randn(S, n, generator=g, dtype=torch.float64)
    x = torch.nn.Parameter(torch.randn(S, n, generator=g, dtype=torch.float64))

    def loss():
        return 0.5 * torch.einsum("si,sij,sj->s", x, A, x) - (b * x).sum(1)
    return A, b, x, loss, eig


def test_grad_norm_sq_is_per_student():
    A, b, x, loss, _ = _quadratic()
    g = torch.einsum("sij,sj->si", A, x.detach()) - b
    torch.testing.assert_close(measure.grad_norm_sq(loss, [x]), (g ** 2).sum(1))


def test_hessian_power_iteration_finds_top_abs_eigenvalue():
    A, _, x, loss, eig = _quadratic(n=8)
    gens = [torch.Generator().manual_seed(s) for s in range(2)]
    beta = measure.hessian_top_eig(loss, [x], iters=200, generators=gens)
    ref = torch.linalg.eigvalsh(A).abs().max(1).values
    torch.testing.assert_close(beta, ref, rtol=1e-4, atol=1e-6)
    assert abs(beta[0] - beta[1]) > 0.5  # per-student, not pooled


def test_gradient_variance_matches_numpy():
    g = torch.Generator().manual_seed(3)
    data = torch.randn(5, 2, 4, generator=g, dtype=torch.float64)  # 5 minibatches, 2 students, dim 4
    w = torch.nn.Parameter(torch.zeros(2, 4, dtype=torch.float64))

    def batch_loss(k):  # gradient = data[k]
        return (w * data[k]).sum(1)
    got = measure.gradient_variance(batch_loss, [w], 5)
    d = data.numpy()
    ref = ((d - d.mean(0)) ** 2).sum(axis=(0, 2)) / 4
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12)


def test_log_spaced_steps_and_running_average():
    steps = measure.log_spaced_steps(400, 16)
    assert steps[0] == 0 and steps[-1] == 400 and steps == sorted(set(steps)) and 10 <= len(steps) <= 18
    ratios = np.diff(np.log(steps[2:]))
    assert ratios.max() < 3 * ratios.min() + 0.2  # roughly geometric
    # running average with each value held until the next measurement, by brute force
    vals = np.random.default_rng(0).random(len(steps))
    ra = measure.running_average(steps, vals)
    dense = np.concatenate([np.full(steps[i + 1] - steps[i], vals[i]) for i in range(len(steps) - 1)])
    for t, v in zip(steps[1:], ra[1:]):
        assert v == pytest.approx(dense[:t].mean())


def test_collect_activations_shapes_and_identity():
    cfg = TeacherConfig(d_model=8, n_layers=2, n_heads=2, n_kv_heads=2, d_ff=12, context=6)
    t = Decoder(cfg, torch.Generator().manual_seed(0))
    s = LRCStudent(t, 8, seeds=(0,))
    with torch.no_grad():
        for z in s.z.values():
            z.copy_(torch.eye(8)[None])
    tok = torch.randint(0, 256, (3, 6))
    for term, width in [("q", 8), ("gate", 12), ("ffn", 8), ("resid", 8)]:
        ht, hs = measure.collect_activations(s, tok, layer=1, term=term)
        assert ht.shape == (18, width) and hs.shape == (18, width) and ht.dtype == np.float32
        np.testing.assert_allclose(hs, ht, atol=1e-5)  # identity projections, teacher norms are 1 at init
    s2 = LRCStudent(t, 3, seeds=(1,))
    ht, hs = measure.collect_activations(s2, tok, layer=0, term="resid")
    assert ht.shape == (18, 8) and hs.shape == (18, 3)
