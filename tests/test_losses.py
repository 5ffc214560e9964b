"""Losses: KL direction and value against torch.distributions, reductions, smoothing bounds, grads."""
import math

import pytest
import torch
from torch.distributions import Categorical, kl_divergence

from bounds._fast import g3_loss_range as loss_range  # catalog G3.loss_range
from empirical.training.losses import (clone_mse, cross_entropy, forward_kl, reverse_kl,
                              smoothed_cross_entropy)


@pytest.mark.parametrize("tau", [1.0, 2.5, 40.0])
def test_forward_kl_matches_torch_distributions(tau):
    g = torch.Generator().manual_seed(0)
    t, s = torch.randn(3, 5, 11, generator=g) * 3, torch.randn(3, 5, 11, generator=g) * 3
    ref = kl_divergence(Categorical(logits=t / tau), Categorical(logits=s / tau))  # KL(teacher || student)
    tol = dict(rtol=1e-4, atol=1e-7)
    assert torch.allclose(forward_kl(t, s, tau, reduction="none"), ref, **tol)
    assert torch.allclose(forward_kl(t, s, tau, reduction="batchmean"), ref.sum() / 3, **tol)
    assert torch.allclose(forward_kl(t, s, tau, reduction="mean"), ref.mean(), **tol)
    rev = kl_divergence(Categorical(logits=s / tau), Categorical(logits=t / tau))
    assert torch.allclose(reverse_kl(t, s, tau, reduction="none"), rev, **tol)
    # the two directions genuinely differ here, far beyond the tolerance (the test can tell them apart)
    assert ((ref - rev).abs() / ref).max() > 1e-2


def test_forward_kl_gradient_reaches_only_student_and_is_zero_at_equality():
    t = torch.randn(2, 4, 7, requires_grad=True)
    s = torch.randn(2, 4, 7, requires_grad=True)
    forward_kl(t, s, 2.0).backward()
    assert t.grad is None and s.grad is not None and s.grad.abs().sum() > 0
    same = t.detach().clone().requires_grad_(True)
    v = forward_kl(t.detach(), same, 2.0)
    v.backward()
    assert abs(v.item()) < 1e-6 and same.grad.abs().max() < 1e-6


def test_cross_entropy_and_smoothed_bounds():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(2, 6, 9, generator=g) * 5
    y = torch.randint(0, 9, (2, 6), generator=g)
    p = torch.softmax(z, -1).gather(-1, y[..., None]).squeeze(-1)
    assert torch.allclose(cross_entropy(z, y), -p.log().mean(), atol=1e-5)
    a = 0.1
    sm = smoothed_cross_entropy(z, y, a, reduction="none")
    assert torch.allclose(sm, -((1 - a) * p + a / 9).log(), atol=1e-5)
    assert sm.max() <= loss_range(9, a) + 1e-6 and abs(loss_range(9, a) - math.log(90)) < 1e-12
    # extreme logits: smoothed CE stays within [0, B]
    z2 = torch.full((1, 1, 9), -1e4)
    z2[..., 0] = 1e4
    assert smoothed_cross_entropy(z2, torch.tensor([[3]]), a).item() <= loss_range(9, a) + 1e-5


def test_clone_mse_is_element_mean():
    a, b = torch.randn(3, 4), torch.randn(3, 4)
    assert torch.allclose(clone_mse(a, b), ((a - b) ** 2).sum() / 12)
