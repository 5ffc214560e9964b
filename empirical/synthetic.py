r"""Synthetic linear track: a planted-spectrum linear teacher and rank-r students, trained in batches.

Teacher :math:`W = U\,\mathrm{diag}(\sigma)\,V^\top \in \mathbb R^{m\times d}`, :math:`\sigma_k = s\,k^{-\alpha}`,
U, V Haar-random orthonormal (seeded). Data :math:`x\sim\mathcal N(0, I_d)`, :math:`y = Wx + \tau\varepsilon`,
:math:`\varepsilon\sim\mathcal N(0, I_m)`. Loss per example :math:`\|y-\hat W x\|^2` (summed over outputs).

Students of rank r: ``free`` :math:`\hat W = AB` (A m×r, B r×d; p = r(m+d)) and ``lrc``
:math:`\hat W = W Z P^\top` (Z, P d×r; p = 2dr: the teacher's matrix times a trainable projection Z, read
through an input projection P, as LRC's :math:`W^S = W^T Z` with the student's own embedding projection).

Closed forms (THEORY G/R): population risk :math:`R(\hat W) = \|W-\hat W\|_F^2 + m\tau^2`, so the gap
:math:`R(\hat W) - \hat R(\hat W)` is exact; the best rank-r error is the Eckart–Young tail
:math:`\sum_{k>r}\sigma_k^2`; reduced-rank regression has excess risk ≈ :math:`\tau^2 r(m+d-r)/N`.

The empirical risk depends on the data only through :math:`\Sigma_{xx}=X^\top X/N`,
:math:`\Sigma_{xy}=X^\top Y/N` and :math:`\mathrm{tr}\,\Sigma_{yy}`:
:math:`\hat R = \mathrm{tr}(\hat W\Sigma_{xx}\hat W^\top) - 2\,\mathrm{tr}(\hat W\Sigma_{xy}) + \mathrm{tr}\,\Sigma_{yy}`,
so training costs O(md·r) per step whatever N, and :func:`train_many` trains many (rank, N, seed, noise)
runs at once (ranks padded to the largest with masked columns; each run has its own init, data and Adam
state, so its result does not depend on its batch-mates).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from .config import config_hash, to_dict
from .synthetic_fallback import planted_spectrum, rrr


@dataclass(frozen=True)
class SyntheticConfig:
    """One synthetic run. ``noise`` is τ (label-noise standard deviation)."""

    m: int = 32
    d: int = 32
    s: float = 1.0
    alpha: float = 1.0
    noise: float = 0.5
    rank: int = 4
    samples: int = 256
    student: str = "free"  # "free" | "lrc"
    steps: int = 2000
    lr: float = 0.02
    init_std: float = 0.1
    seed: int = 0
    teacher_seed: int = 0


def spectrum(cfg: SyntheticConfig) -> np.ndarray:
    r""":math:`\sigma_k = s\,k^{-\alpha}`, k = 1..min(m, d) (:func:`empirical.synthetic_fallback.planted_spectrum`)."""
    return planted_spectrum(cfg.s, cfg.alpha, min(cfg.m, cfg.d))


def planted_teacher(cfg: SyntheticConfig) -> torch.Tensor:
    """W = U diag(σ) Vᵀ (float64) with Haar factors drawn from ``teacher_seed``."""
    g = torch.Generator().manual_seed(cfg.teacher_seed)
    q = min(cfg.m, cfg.d)
    u, _ = torch.linalg.qr(torch.randn(cfg.m, q, generator=g, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(cfg.d, q, generator=g, dtype=torch.float64))
    return u @ torch.diag(torch.from_numpy(spectrum(cfg))) @ v.T


def sample(cfg: SyntheticConfig, n: int, W: torch.Tensor | None = None, generator=None):
    """(X (n, d), Y (n, m)) with x ~ N(0, I), y = Wx + τ ε (float64)."""
    W = planted_teacher(cfg) if W is None else W
    g = generator if generator is not None else torch.Generator().manual_seed(cfg.seed + 7_000_001)
    X = torch.randn(n, cfg.d, generator=g, dtype=torch.float64)
    E = torch.randn(n, cfg.m, generator=g, dtype=torch.float64)
    return X, X @ W.T + cfg.noise * E


def population_risk(W: torch.Tensor, W_hat: torch.Tensor, noise) -> torch.Tensor:
    r""":math:`\mathbb E\|y-\hat Wx\|^2 = \|W-\hat W\|_F^2 + m\tau^2` (batched over leading dimensions)."""
    m = W.shape[-2]
    return (W - W_hat).pow(2).sum((-2, -1)) + m * torch.as_tensor(noise, dtype=W.dtype) ** 2


def eckart_young_tail(sig: np.ndarray, r: int) -> float:
    r""":math:`\sum_{k>r}\sigma_k^2`, the smallest :math:`\|W-\hat W\|_F^2` over rank-r :math:`\hat W`."""
    return float(np.sum(np.asarray(sig, dtype=np.float64)[r:] ** 2))


def reduced_rank_regression(X: torch.Tensor, Y: torch.Tensor, r: int) -> torch.Tensor:
    r"""Closed-form rank-r least squares (Izenman 1975): OLS :math:`\hat B` then project the fitted values onto
    their top-r right singular vectors; returns :math:`\hat W` (m × d). The numpy implementation
    :func:`empirical.synthetic_fallback.rrr`, on tensors."""
    return torch.from_numpy(rrr(X.numpy(), Y.numpy(), r))


def _stats(cfg: SyntheticConfig, W: torch.Tensor):
    X, Y = sample(cfg, cfg.samples, W)
    n = cfg.samples
    return X.T @ X / n, X.T @ Y / n, (Y * Y).sum() / n


def train_many(cfgs, return_weights: bool = False):
    """Train many synthetic runs, grouped by (m, d, student, steps, lr, init_std); records in input order
    (with ``return_weights``: ``(records, [W_hat (m, d) per run])``)."""
    cfgs = list(cfgs)
    for c in cfgs:
        if c.student not in ("free", "lrc"):
            raise ValueError(f"student must be 'free' or 'lrc', got {c.student!r}")
        if not 1 <= c.rank <= min(c.m, c.d):
            raise ValueError(f"rank must be in [1, min(m, d)], got {c.rank}")
    groups: dict = {}
    for i, c in enumerate(cfgs):
        groups.setdefault((c.m, c.d, c.student, c.steps, c.lr, c.init_std), []).append(i)
    out: list = [None] * len(cfgs)
    weights: list = [None] * len(cfgs)
    for idxs in groups.values():
        recs, whs = _train_group([cfgs[i] for i in idxs])
        for i, rec, wh in zip(idxs, recs, whs):
            out[i], weights[i] = rec, wh
    return (out, weights) if return_weights else out


def train(cfg: SyntheticConfig) -> dict:
    """One synthetic run -> record (same as ``train_many([cfg])[0]``)."""
    return train_many([cfg])[0]


def _train_group(cfgs: list[SyntheticConfig]):
    """Train one group with a single intra-op thread (tiny matrices: threads only add overhead)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train_group_impl(cfgs)
    finally:
        torch.set_num_threads(n)


def _train_group_impl(cfgs: list[SyntheticConfig]):
    t0 = time.perf_counter()
    base = cfgs[0]
    S, m, d, R = len(cfgs), base.m, base.d, max(c.rank for c in cfgs)
    teachers: dict = {}
    Ws, Sxx, Sxy, Syy, A0, B0 = [], [], [], [], [], []
    for c in cfgs:
        key = (c.m, c.d, c.s, c.alpha, c.teacher_seed)
        if key not in teachers:
            teachers[key] = planted_teacher(c)
        W = teachers[key]
        sxx, sxy, syy = _stats(c, W)
        Ws.append(W), Sxx.append(sxx), Sxy.append(sxy), Syy.append(syy)
        g = torch.Generator().manual_seed(c.seed)
        rows = m if c.student == "free" else d
        a = torch.zeros(rows, R, dtype=torch.float64)
        b = torch.zeros(R, d, dtype=torch.float64)
        a[:, :c.rank] = torch.randn(rows, c.rank, generator=g, dtype=torch.float64) * c.init_std
        b[:c.rank] = torch.randn(c.rank, d, generator=g, dtype=torch.float64) * c.init_std
        A0.append(a), B0.append(b)
    W, Sxx, Sxy, Syy = torch.stack(Ws), torch.stack(Sxx), torch.stack(Sxy), torch.stack(Syy)
    mask = (torch.arange(R)[None, :] < torch.tensor([c.rank for c in cfgs])[:, None]).to(torch.float64)
    A = torch.nn.Parameter(torch.stack(A0))
    B = torch.nn.Parameter(torch.stack(B0))

    def w_hat():
        a = A * mask[:, None, :]
        b = B * mask[:, :, None]
        if base.student == "free":
            return a @ b                      # (S, m, d)
        return W @ a @ b                      # W Z Pᵀ with Z = a (d×r), Pᵀ = b (r×d)

    def emp_risk(wh):
        return ((wh @ Sxx) * wh).sum((1, 2)) - 2 * (wh * Sxy.transpose(1, 2)).sum((1, 2)) + Syy

    opt = torch.optim.Adam([A, B], lr=base.lr)
    for _ in range(base.steps):
        loss = emp_risk(w_hat())
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
    with torch.no_grad():
        wh = w_hat()
        train_r = emp_risk(wh)
        noise = torch.tensor([c.noise for c in cfgs], dtype=torch.float64)
        pop = population_risk(W, wh, noise)
        approx = (W - wh).pow(2).sum((1, 2))
    wall = time.perf_counter() - t0
    recs = []
    for s, c in enumerate(cfgs):
        sig = spectrum(c)
        tail = eckart_young_tail(sig, c.rank)
        p = c.rank * (c.m + c.d) if c.student == "free" else 2 * c.d * c.rank
        tr, te = float(train_r[s]), float(pop[s])
        recs.append({
            "track": "synthetic", "config": to_dict(c), "config_hash": config_hash(c), "seed": c.seed,
            "status": "ok" if math.isfinite(te) and math.isfinite(tr) else "failed",
            "failure_reason": None, "device": "cpu", "wall_s": wall / S, "group_size": S,
            "rank": c.rank, "samples": c.samples, "tokens": c.samples, "params": p, "m": c.m, "d": c.d,
            "student": c.student, "noise": c.noise, "spectrum_alpha": c.alpha, "spectrum_s": c.s,
            "train_loss": tr, "test_loss": te, "gap": te - tr, "gap_is_exact": True,
            "noise_floor": c.m * c.noise ** 2, "approx_error": float(approx[s]), "eckart_young_tail": tail,
            "excess_risk": te - c.m * c.noise ** 2 - tail,
            "rrr_excess_rate": c.noise ** 2 * c.rank * (c.m + c.d - c.rank) / c.samples,
            "optimizer": "adam", "lr": c.lr, "steps": c.steps, "batch_size": c.samples,
        })
    return recs, list(wh.detach())


def train_sweep(ranks, samples, seeds, **common) -> list[dict]:
    """Records of the full grid ranks × samples × seeds (one batched call), ``common`` fields shared."""
    cfgs = [SyntheticConfig(rank=r, samples=n, seed=s, **common) for r in ranks for n in samples for s in seeds]
    return train_many(cfgs)


__all__ = ["SyntheticConfig", "spectrum", "planted_teacher", "sample", "population_risk", "eckart_young_tail",
           "reduced_rank_regression", "train", "train_many", "train_sweep"]
