r"""Measurements THEORY.md's checks need, for one model or S stacked students at once.

All functions take ``loss_fn() -> (S,)`` (one loss per student; students independent, so the gradient of
the sum restricted to student s is student s's gradient) and ``params``, a list of tensors whose first
dimension is the student index S. Results are per student, shape (S,).

- :func:`grad_norm_sq` — :math:`\|\nabla L(\theta)\|^2` (full batch = whatever ``loss_fn`` evaluates: the probe).
- :func:`hessian_top_eig` — β by power iteration on Hessian–vector products (double backward):
  :math:`v \leftarrow Hv/\|Hv\|`, :math:`\beta \approx |v^\top H v|` (the top |eigenvalue|, a lower estimate of
  the smoothness constant on the probe batch).
- :func:`gradient_variance` — σ²: :math:`\frac{1}{K-1}\sum_k \|g_k - \bar g\|^2` over K minibatch gradients.
- :func:`log_spaced_steps`, :func:`running_average` — the C1 trajectory: measured at log-spaced steps, the
  running average :math:`\frac1T\sum_{t<T}\|\nabla L(\theta_t)\|^2` with each measurement held constant until
  the next (an estimate between measurement points).
- :func:`collect_activations` — teacher and student activations at one layer and term, for MI.
"""
from __future__ import annotations

import numpy as np
import torch

from bounds.running import running_average  # noqa: F401  (re-exported: the C1 trajectory's running average)


def _per_student_sq(tensors) -> torch.Tensor:
    return sum(t.double().pow(2).reshape(t.shape[0], -1).sum(1) for t in tensors)


def grad_norm_sq(loss_fn, params) -> torch.Tensor:
    r"""Per-student :math:`\|\nabla L\|^2` (S,), float64."""
    return grad_norm_sq_of(loss_fn(), params)


def grad_norm_sq_of(loss: torch.Tensor, params) -> torch.Tensor:
    r"""Per-student :math:`\|\nabla L\|^2` (S,), float64, of an already computed per-student ``loss`` (S,)."""
    grads = torch.autograd.grad(loss.sum(), params, allow_unused=True)
    grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
    return _per_student_sq(grads)


def hessian_top_eig(loss_fn, params, iters: int = 10, generators=None) -> torch.Tensor:
    r"""Per-student top |eigenvalue| of the Hessian by power iteration on HVPs (S,).

    ``generators``: one ``torch.Generator`` per student for its random start vector (so a student's β does
    not depend on which others share the stack)."""
    loss = loss_fn()
    grads = torch.autograd.grad(loss.sum(), params, create_graph=True)
    S = params[0].shape[0]
    gens = generators if generators is not None else [None] * S
    v = [torch.stack([torch.randn(p.shape[1:], generator=g) for g in gens]).to(p) for p in params]

    def normalise(vs):
        n = _per_student_sq(vs).sqrt().clamp_min(1e-30).to(vs[0].dtype)
        return [x / n.view(S, *([1] * (x.dim() - 1))) for x in vs]

    v = normalise(v)
    eig = torch.zeros(S, dtype=torch.float64)
    for _ in range(max(1, iters)):
        hv = torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True, allow_unused=True)
        hv = [torch.zeros_like(p) if h is None else h for p, h in zip(params, hv)]
        eig = sum((a.double() * b.double()).reshape(S, -1).sum(1) for a, b in zip(v, hv)).abs()
        v = normalise([h.detach() for h in hv])
    return eig


def gradient_variance(batch_loss_fn, params, n_batches: int) -> torch.Tensor:
    r"""σ² (S,): unbiased spread :math:`\frac{1}{K-1}\sum_k\|g_k-\bar g\|^2` of K minibatch gradients;
    ``batch_loss_fn(k)`` returns the (S,) losses on the k-th minibatch."""
    gs = []
    for k in range(n_batches):
        loss = batch_loss_fn(k)
        g = torch.autograd.grad(loss.sum(), params, allow_unused=True)
        gs.append([torch.zeros_like(p) if x is None else x.detach() for p, x in zip(params, g)])
    mean = [sum(g[i] for g in gs) / n_batches for i in range(len(params))]
    dev = sum(_per_student_sq([g[i] - mean[i] for i in range(len(params))]) for g in gs)
    return dev / max(1, n_batches - 1)


def log_spaced_steps(total: int, n: int) -> list[int]:
    """Sorted unique steps in [0, total]: 0, ~n log-spaced points in [1, total], and total."""
    pts = {0, total}
    if total >= 1:
        pts.update(int(round(x)) for x in np.geomspace(1, total, num=max(2, n)))
    return sorted(p for p in pts if 0 <= p <= total)




@torch.no_grad()
def collect_activations(student, tokens: torch.Tensor, layer: int, term: str, index: int = 0):
    """Teacher and student activations at ``layer`` and ``term`` for byte tokens (B, T), as numpy arrays
    of shape (B·T, width). ``student`` is an :class:`empirical.models.lrc.LRCStudent` (student ``index`` of its
    stack). Terms: the clone terms ``q, k, v, attn, gate, up`` (both in the teacher's width), ``ffn`` and
    ``resid`` (teacher d_T, student r: the FFN output and the residual stream after the layer)."""
    from empirical.models.teacher import decoder_forward
    t_cap: list = []
    student.teacher(tokens, capture=t_cap)
    emb, layers, final, head = student.student_weights()
    sel = lambda w: w[index]  # noqa: E731
    s_cap: list = []
    decoder_forward(tokens, sel(emb), [{k: sel(v) for k, v in w.items()} for w in layers], sel(final),
                    sel(head), student.cfg, student.teacher.rope_cos, student.teacher.rope_sin, capture=s_cap)
    t = t_cap[layer][term]
    s = s_cap[layer][term]
    return (t.reshape(-1, t.shape[-1]).float().cpu().numpy(), s.reshape(-1, s.shape[-1]).float().cpu().numpy())
