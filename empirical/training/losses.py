r"""Distillation losses as small pure functions; softmax in float32, reductions explicit.

- :func:`forward_kl` — KL(teacher ‖ student) at temperature τ, as Low-Rank Clone's code computes it
  (Hao et al. 2025, ``CURRENTF/LowRankClone``): **no τ² factor**, ``batchmean`` reduction = summed over
  tokens and vocabulary, divided by the number of sequences.
- :func:`reverse_kl` — KL(student ‖ teacher), for contrast only.
- :func:`cross_entropy` — next-token CE, mean per token (nats).
- :func:`smoothed_cross_entropy` — CE of the prediction-smoothed distribution
  :math:`\tilde p = (1-\alpha)p + \alpha/V`, bounded by :math:`B = \log(V/\alpha)` (THEORY G; Lotfi et al. 2023).
- :func:`clone_mse` — element-mean squared error, the LRC clone term.

Why the default τ = 8 (empirical.config): without the τ² factor and with a per-sequence sum, the KL term is
≈ T/(2τ²)·Var(logit gap) per sequence; with τ² ≈ T it has the weight of a per-token KL at τ = 1. LRC's
released τ = 40 (40² = 1600) is of the order of its sequence lengths; with context T = 64 we take τ = 8.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _reduce(per_token: torch.Tensor, reduction: str, n_sequences: int) -> torch.Tensor:
    if reduction == "batchmean":
        return per_token.sum() / n_sequences
    if reduction == "mean":
        return per_token.mean()
    if reduction == "sum":
        return per_token.sum()
    if reduction == "none":
        return per_token
    raise ValueError(f"unknown reduction {reduction!r}")


def forward_kl(teacher_logits: torch.Tensor, student_logits: torch.Tensor, tau: float = 1.0,
               reduction: str = "batchmean") -> torch.Tensor:
    r"""Forward KL(teacher ‖ student) of the temperature-τ softmaxes, no τ² factor.

    :math:`\mathrm{KL}_\tau = \sum_v p^T_v (\log p^T_v - \log p^S_v)`, :math:`p = \mathrm{softmax}(z/\tau)`,
    per token. Reductions over the leading (B, ..., T) token axes: ``batchmean`` (LRC's: sum over tokens /
    B = first dimension), ``mean`` (per token), ``sum``, ``none`` (per-token values). Float32 softmax; the
    teacher side is detached.
    """
    t = F.log_softmax(teacher_logits.detach().float() / tau, dim=-1)
    s = F.log_softmax(student_logits.float() / tau, dim=-1)
    per_token = (t.exp() * (t - s)).sum(-1)
    return _reduce(per_token, reduction, student_logits.shape[0])


def teacher_kl_stats(teacher_logits: torch.Tensor, tau: float):
    r"""Teacher-side constants of :func:`forward_kl`: :math:`p^T = \mathrm{softmax}(z_T/\tau)` and
    :math:`\sum_v p^T_v \log p^T_v` per token (float32, no grad)."""
    with torch.no_grad():
        t = F.log_softmax(teacher_logits.float() / tau, dim=-1)
        p = t.exp()
        return p, (p * t).sum(-1)


def forward_kl_from_stats(p_teacher: torch.Tensor, neg_entropy: torch.Tensor, student_logits: torch.Tensor,
                          tau: float = 1.0, reduction: str = "batchmean") -> torch.Tensor:
    r"""Same value as :func:`forward_kl`, from precomputed teacher stats (:func:`teacher_kl_stats`):

    :math:`\mathrm{KL}_\tau = \sum_v p^T_v\log p^T_v - \tfrac1\tau\sum_v p^T_v z^S_v +
    \mathrm{logsumexp}(z^S/\tau)` (uses :math:`\sum_v p^T_v = 1`); fewer passes over the vocabulary.
    """
    s = student_logits.float()
    per_token = neg_entropy - (p_teacher * s).sum(-1) / tau + torch.logsumexp(s / tau, dim=-1)
    return _reduce(per_token, reduction, student_logits.shape[0])


def reverse_kl(teacher_logits: torch.Tensor, student_logits: torch.Tensor, tau: float = 1.0,
               reduction: str = "batchmean") -> torch.Tensor:
    r"""Reverse KL(student ‖ teacher) = :math:`\sum_v p^S_v(\log p^S_v - \log p^T_v)`; same conventions."""
    t = F.log_softmax(teacher_logits.detach().float() / tau, dim=-1)
    s = F.log_softmax(student_logits.float() / tau, dim=-1)
    per_token = (s.exp() * (s - t)).sum(-1)
    return _reduce(per_token, reduction, student_logits.shape[0])


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    r"""Next-token CE :math:`-\log p_{y}` in nats, float32; ``mean`` per token by default."""
    per_token = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                reduction="none").view(targets.shape)
    return _reduce(per_token, reduction, targets.shape[0])


def smoothed_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, alpha: float,
                           reduction: str = "mean") -> torch.Tensor:
    r"""CE of :math:`\tilde p = (1-\alpha)\,\mathrm{softmax}(z) + \alpha/V`; lies in :math:`[0, \log(V/\alpha)]`."""
    logp = F.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return _reduce(smoothed_nll(logp, alpha, logits.shape[-1]), reduction, targets.shape[0])


def smoothed_nll(logp: torch.Tensor, alpha: float, vocab: int) -> torch.Tensor:
    r"""Per-token smoothed CE from the target's log-probability :math:`\log p_y`:
    :math:`-\log((1-\alpha)p_y + \alpha/V)`, computed as a ``logaddexp`` (no underflow)."""
    return -torch.logaddexp(logp + math.log1p(-alpha), torch.full_like(logp, math.log(alpha / vocab)))


def clone_mse(student: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Element-mean :math:`\frac{1}{n}\sum (h_S - h_T)^2` in float32 (LRC's clone term)."""
    return F.mse_loss(student.float(), target.float())
