r"""The synthetic linear track (the one the sweep runs): a planted-spectrum linear teacher, the exact rank-r ERM
for the generalization grid and SGD runs with measured convergence constants for figure 1. numpy only.

It records what the theory needs: the *exact* empirical-risk minimizer (so the gap is exact, with no
optimization error) and SGD trajectories with measured :math:`\beta, \sigma^2, \Delta` (claim C). (A second,
torch implementation of this track with Adam-trained and LRC-tied students, summed-squared-error units, was
removed: the sweep never ran it.)

Teacher :math:`W = U\,\mathrm{diag}(s k^{-\alpha})\,V^\top \in \mathbb R^{m\times d}` (Haar U, V from the seed);
inputs :math:`x \sim N(0, I_d)`, labels :math:`y = Wx + \tau\varepsilon`. The loss is the Gaussian negative
log-likelihood per output coordinate in nats,

.. math:: \ell(\hat W; x, y) = \tfrac12\log(2\pi\tau^2) + \frac{\|y - \hat W x\|^2}{2\tau^2 m},

so the population risk is closed-form, :math:`\tfrac12\log(2\pi\tau^2) + (\|W-\hat W\|_F^2 + m\tau^2)/(2\tau^2 m)`,
and the generalization gap is exact. A rank-r student is :math:`\hat W = PQ` with :math:`p(r) = r(m+d)` parameters.

- ``optimizer="rrr"`` (generalization grid): the exact empirical-risk minimizer over rank-r matrices, reduced-rank
  regression (OLS, then projection of the fitted values on their top-r left singular subspace; Izenman 1975).
- ``optimizer="sgd"`` (convergence runs): constant-step minibatch SGD on (P, Q) from a small random init, with
  the full-batch :math:`\|\nabla L\|^2` at every step (its exact running average logged at log-spaced steps),
  :math:`\beta` = top Hessian eigenvalue by power iteration on finite-difference Hessian-vector products (max of
  start and end), :math:`\sigma^2` = minibatch-gradient variance (max of start and end), and
  :math:`\Delta = L(\theta_0) - L^*` with :math:`L^*` the exact rank-r ERM value (not an estimate). Step
  :math:`\eta = 0.5/\beta_0`.

May import: numpy and :mod:`bounds` (the spectrum fit); never torch.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SyntheticConfig:
    """One synthetic-track run."""

    m: int = 24
    d: int = 24
    alpha: float = 1.0
    scale: float = 1.0
    noise: float = 0.5
    rank: int = 4
    samples: int = 256
    steps: int = 300
    seed: int = 0
    optimizer: str = "rrr"  # "rrr" (exact rank-r ERM) | "sgd"
    batch_size: int = 32
    init_std: float = 0.15
    n_log_points: int = 24
    experiment: str = "gen"  # "gen" | "conv" (which figure the run feeds)


def planted_spectrum(scale: float, alpha: float, q: int) -> np.ndarray:
    r""":math:`\sigma_k = s\,k^{-\alpha}`, k = 1..q (float64)."""
    return scale * np.arange(1, q + 1, dtype=np.float64) ** -alpha


def teacher(cfg: SyntheticConfig, rng) -> tuple[np.ndarray, np.ndarray]:
    """(W, singular values) with the planted spectrum s k^-alpha."""
    k = min(cfg.m, cfg.d)
    U, _ = np.linalg.qr(rng.standard_normal((cfg.m, k)))
    V, _ = np.linalg.qr(rng.standard_normal((cfg.d, k)))
    sv = planted_spectrum(cfg.scale, cfg.alpha, k)
    return (U * sv) @ V.T, sv


def nll(sq_err_per_coord: float, tau: float) -> float:
    """Gaussian NLL in nats per output coordinate from the mean squared error per coordinate."""
    return 0.5 * math.log(2 * math.pi * tau**2) + sq_err_per_coord / (2 * tau**2)


def rrr(X: np.ndarray, Y: np.ndarray, r: int) -> np.ndarray:
    """Reduced-rank regression: the rank-r least-squares minimizer (m x d)."""
    B = np.linalg.lstsq(X, Y, rcond=None)[0]
    _, _, vt = np.linalg.svd(X @ B, full_matrices=False)
    P = vt[:r].T @ vt[:r]
    return (B @ P).T


def _loss_grad(P, Q, X, Y, tau):
    E = Y - X @ Q.T @ P.T  # n x m
    n, m = Y.shape
    loss = 0.5 * math.log(2 * math.pi * tau**2) + np.sum(E**2) / (2 * tau**2 * m * n)
    G = -E / (tau**2 * m * n)  # dL/d(pred)
    gP = G.T @ X @ Q.T          # m x r
    gQ = P.T @ G.T @ X          # r x d
    return loss, gP, gQ


def _flat(a, b):
    return np.concatenate([a.ravel(), b.ravel()])


def _beta(P, Q, X, Y, tau, rng, iters=30, h=1e-4) -> float:
    """Top Hessian eigenvalue (largest |lambda|) by power iteration with central-difference HVPs."""
    shapes = (P.shape, Q.shape)
    v = rng.standard_normal(P.size + Q.size)
    v /= np.linalg.norm(v)
    lam = 0.0
    for _ in range(iters):
        dP, dQ = v[:P.size].reshape(shapes[0]), v[P.size:].reshape(shapes[1])
        _, a1, b1 = _loss_grad(P + h * dP, Q + h * dQ, X, Y, tau)
        _, a0, b0 = _loss_grad(P - h * dP, Q - h * dQ, X, Y, tau)
        hv = (_flat(a1, b1) - _flat(a0, b0)) / (2 * h)
        lam = float(v @ hv)
        nrm = np.linalg.norm(hv)
        if nrm == 0:
            break
        v = hv / nrm
    return abs(lam)


def _sigma2(P, Q, X, Y, tau, bs, rng, k=32) -> float:
    _, gP, gQ = _loss_grad(P, Q, X, Y, tau)
    full = _flat(gP, gQ)
    dev = []
    for _ in range(k):
        idx = rng.integers(0, X.shape[0], bs)
        _, a, b = _loss_grad(P, Q, X[idx], Y[idx], tau)
        dev.append(np.sum((_flat(a, b) - full) ** 2))
    return float(np.mean(dev))


def run(cfg: SyntheticConfig) -> dict:
    """Train/solve one config and return its record (notes/RECORD.md)."""
    return solve(cfg)[0]


def solve(cfg: SyntheticConfig) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`run` with what it drew and fitted: ``(record, W, W_hat, X, Y)`` (teacher, student, training sample)."""
    t0 = time.perf_counter()
    rng = np.random.default_rng([cfg.seed, cfg.m, cfg.d])
    W, sv = teacher(cfg, rng)
    X = rng.standard_normal((cfg.samples, cfg.d))
    Y = X @ W.T + cfg.noise * rng.standard_normal((cfg.samples, cfg.m))
    tau, m = cfg.noise, cfg.m
    W_erm = rrr(X, Y, cfg.rank)
    l_star = nll(np.mean(np.sum((Y - X @ W_erm.T) ** 2, axis=1)) / m, tau)
    rec = {"track": "synthetic", "seed": cfg.seed, "rank": cfg.rank, "samples": cfg.samples, "tokens": cfg.samples,
           "params": cfg.rank * (cfg.m + cfg.d), "m": cfg.m, "d": cfg.d, "vocab": None, "device": "cpu",
           "optimizer": cfg.optimizer, "steps": cfg.steps if cfg.optimizer == "sgd" else 0,
           "batch_size": cfg.batch_size, "spectrum_alpha": _fit_alpha(sv), "status": "ok", "failure_reason": None}
    if cfg.optimizer == "rrr":
        W_hat = W_erm
    else:
        P = cfg.init_std * rng.standard_normal((m, cfg.rank))
        Q = cfg.init_std * rng.standard_normal((cfg.rank, cfg.d))
        beta0 = _beta(P, Q, X, Y, tau, rng)
        sig0 = _sigma2(P, Q, X, Y, tau, cfg.batch_size, rng)
        eta = 0.5 / beta0
        loss0 = _loss_grad(P, Q, X, Y, tau)[0]
        g2, losses, best = [], [], loss0
        for _ in range(cfg.steps):
            loss, gP, gQ = _loss_grad(P, Q, X, Y, tau)
            if not math.isfinite(loss):
                rec.update(status="failed", failure_reason=f"non-finite loss {loss}")
                break
            g2.append(float(np.sum(gP**2) + np.sum(gQ**2)))
            losses.append(loss)
            best = min(best, loss)
            idx = rng.integers(0, cfg.samples, cfg.batch_size)
            _, bP, bQ = _loss_grad(P, Q, X[idx], Y[idx], tau)
            P, Q = P - eta * bP, Q - eta * bQ
        logged = sorted({int(round(t)) for t in np.geomspace(1, len(g2), cfg.n_log_points)}) if g2 else []
        avg = np.cumsum(g2) / np.arange(1, len(g2) + 1)
        rec.update(lr=eta, beta=max(beta0, _beta(P, Q, X, Y, tau, rng)),
                   sigma2=max(sig0, _sigma2(P, Q, X, Y, tau, cfg.batch_size, rng)),
                   delta=loss0 - l_star, loss_init=loss0, loss_best=best, loss_star_is_estimate=False,
                   trajectory={"step": logged, "grad_norm_sq": [g2[t - 1] for t in logged],
                               "grad_norm_sq_running_avg": [float(avg[t - 1]) for t in logged],
                               "train_loss": [losses[t - 1] for t in logged]})
        W_hat = P @ Q
    rec["param_norm"] = param_norm(W_hat, cfg.rank) if cfg.optimizer == "rrr" else float(np.sqrt(np.sum(P**2) + np.sum(Q**2)))
    train = nll(np.mean(np.sum((Y - X @ W_hat.T) ** 2, axis=1)) / m, tau)
    test = nll((np.sum((W - W_hat) ** 2) + m * tau**2) / m, tau)
    rec.update(train_loss=train, test_loss=test, gap=test - train, wall_s=time.perf_counter() - t0)
    return rec, W, W_hat, X, Y


def param_norm(W: np.ndarray, rank: int) -> float:
    r"""\|\theta\|_2 of the student ``W = P Q`` (P: m x r, Q: r x d) in its balanced factorization
    :math:`P = U_r S_r^{1/2}, Q = S_r^{1/2} V_r^\top`, the smallest over all factorizations of W:
    :math:`\min_{PQ=W} \|P\|_F^2 + \|Q\|_F^2 = 2\|W\|_*` (AM-GM on each singular value), so
    :math:`\|\theta\|_2 = \sqrt{2 \sum_{k \le r} s_k(W)}`. The exact ERM (``optimizer="rrr"``) has no factors of its
    own; this is the radius R it needs in THEORY G2."""
    s = np.linalg.svd(W, compute_uv=False)[:rank]
    return float(np.sqrt(2.0 * np.sum(s)))


def _fit_alpha(sv: np.ndarray) -> float:
    """Spectrum exponent alpha of sigma_k ~ k^-alpha, measured by bounds.fit (Huber log-log)."""
    from bounds.fit import fit_power_law

    k = np.arange(1, sv.size + 1, dtype=float)
    return -fit_power_law(k, sv, n_boot=0).exponent
