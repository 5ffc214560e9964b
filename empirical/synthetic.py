r"""The synthetic linear track (the one the sweep runs): a planted-spectrum linear teacher, the exact rank-r ERM
for the generalization grid, SGD runs with measured convergence constants for the convergence figure, and SGD runs
at the step tuned to their horizon for claim C's rate test. numpy only.

It records what the theory needs: the *exact* empirical-risk minimizer (so the gap is exact, with no
optimization error) and SGD trajectories with measured :math:`\beta, \sigma^2, \Delta` (claim C). (A second,
torch implementation of this track with Adam-trained and LRC-tied students, summed-squared-error units, was
removed: the sweep never ran it.)

Teacher :math:`W = U\,\mathrm{diag}(s k^{-\alpha})\,V^\top \in \mathbb R^{m\times d}` (Haar U, V from
``teacher_seed``: one planted teacher for every run of a track, whatever the run's seed);
inputs :math:`x \sim N(0, I_d)`, labels :math:`y = Wx + \tau\varepsilon`. The loss is the Gaussian negative
log-likelihood per output coordinate in nats,

.. math:: \ell(\hat W; x, y) = \tfrac12\log(2\pi\tau^2) + \frac{\|y - \hat W x\|^2}{2\tau^2 m},

so the population risk is closed-form, :math:`\tfrac12\log(2\pi\tau^2) + (\|W-\hat W\|_F^2 + m\tau^2)/(2\tau^2 m)`,
and the generalization gap is exact (no held-out sample: the test loss is the population risk). A rank-r student
is :math:`\hat W = PQ` with :math:`p(r) = r(m+d)` parameters.

Replication (INFERENCE.md rule 1): a *dataset* is (X, noise) drawn from its own random stream keyed by
(teacher_seed, seed, N): two seeds draw independent data, two N at one seed are independent draws (not the first
rows of one pool), and every rank, optimizer and horizon at one (seed, N) trains on that same dataset. The
student's initialisation, the minibatch stream and the measurements have their own streams keyed by
(seed, N, rank), so every horizon T of one (seed, N, rank) starts from the same :math:`\theta_0`.

- ``optimizer="rrr"`` (generalization grid): the exact empirical-risk minimizer over rank-r matrices, reduced-rank
  regression (OLS, then projection of the fitted values on their top-r left singular subspace; Izenman 1975).
- ``optimizer="sgd"``: constant-step minibatch SGD on (P, Q) from a small random init, with the full-batch
  :math:`\|\nabla L\|^2` at every step, :math:`\beta` = top Hessian eigenvalue by power iteration on
  finite-difference Hessian-vector products, :math:`\sigma^2` = minibatch-gradient variance, and
  :math:`\Delta = L(\theta_0) - L^*` with :math:`L^*` the exact rank-r ERM value (not an estimate).

  - ``lr_rule="half_inverse_beta"`` (``conv`` experiment): :math:`\eta = 0.5/\beta_0`; the exact running average
    is logged at log-spaced steps; :math:`\beta, \sigma^2` are the max of start and end.
  - ``lr_rule="c1_horizon"`` (``horizon`` experiment, claim C in its setting): T = ``steps`` and
    :math:`\eta^*(T) = \min(1/\beta_0, \sqrt{2\Delta/(\beta_0\sigma_0^2 T)})` (docs/theory.md C1.eta_star, from
    :mod:`bounds.catalog`) with :math:`\beta_0, \sigma_0^2, \Delta` measured at :math:`\theta_0` on the run's
    dataset before training; the record's ``grad_norm_sq_running_avg`` is the exact
    :math:`\frac1T\sum_{t<T}\|\nabla L(\theta_t)\|^2` (full-batch gradient at every step) and ``beta_end`` the
    top Hessian eigenvalue at the end (for the reader: C1 assumes one :math:`\beta` along the path).

May import: numpy and :mod:`bounds` (the spectrum fit); never torch.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np


#: bump when a change makes stored synthetic records incomparable with new ones (2: per-(seed, N) datasets, one
#: teacher per track, the horizon experiment)
SYNTHETIC_CACHE_VERSION = 2
#: labels of the independent random streams (the first entry of each seed sequence)
_TEACHER, _DATA, _INIT, _SGD, _MEASURE = range(5)


@dataclass(frozen=True)
class SyntheticConfig:
    """One synthetic-track run. ``seed`` and ``samples`` name its dataset; ``teacher_seed`` its planted W."""

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
    experiment: str = "gen"  # "gen" | "conv" | "horizon" (which experiment the run feeds)
    teacher_seed: int = 0
    lr_rule: str = "half_inverse_beta"  # SGD step: "half_inverse_beta" (0.5/beta_0) | "c1_horizon" (eta*(steps))
    version: int = SYNTHETIC_CACHE_VERSION


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
    r"""Loss and gradients in P, Q of the mean NLL on (X, Y), associated so that every product costs
    O(n (m + d) r) (never an m x d product)."""
    XQ = X @ Q.T                # n x r
    E = Y - XQ @ P.T            # n x m
    n, m = Y.shape
    loss = 0.5 * math.log(2 * math.pi * tau**2) + float(np.vdot(E, E)) / (2 * tau**2 * m * n)
    G = -E / (tau**2 * m * n)   # dL/d(pred)
    gP = G.T @ XQ               # m x r
    gQ = (G @ P).T @ X          # r x d
    return loss, gP, gQ


def moments(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    r"""The full-batch loss's sufficient statistics :math:`(S_{xx}, S_{yx}, s_{yy}) = (X^\top X/n,\ Y^\top X/n,\
    \|Y\|_F^2/n)`."""
    n = X.shape[0]
    return X.T @ X / n, Y.T @ X / n, float(np.sum(Y**2)) / n


def _full_loss_grad(P, Q, stats, tau):
    r""":func:`_loss_grad` on the whole sample from its :func:`moments`, in O((m + d) d r) whatever n: with
    :math:`M = PQ`, :math:`L = \tfrac12\log 2\pi\tau^2 + (s_{yy} - 2\langle M, S_{yx}\rangle + \langle M S_{xx},
    M\rangle)/(2\tau^2 m)`, :math:`\partial L/\partial M = (M S_{xx} - S_{yx})/(\tau^2 m)`,
    :math:`\nabla_P = (\partial L/\partial M) Q^\top`, :math:`\nabla_Q = P^\top \partial L/\partial M`."""
    Sxx, Syx, syy = stats
    m = Syx.shape[0]
    QS = Q @ Sxx                          # r x d
    PtS = P.T @ Syx                       # r x d
    cross, quad = float(np.vdot(PtS, Q)), float(np.vdot(P.T @ P, QS @ Q.T))
    loss = 0.5 * math.log(2 * math.pi * tau**2) + (syy - 2 * cross + quad) / (2 * tau**2 * m)
    gP = (P @ (QS @ Q.T) - Syx @ Q.T) / (tau**2 * m)
    gQ = ((P.T @ P) @ QS - PtS) / (tau**2 * m)
    return loss, gP, gQ


def _flat(a, b):
    return np.concatenate([a.ravel(), b.ravel()])


def _beta(P, Q, stats, tau, rng, iters=30, h=1e-4) -> float:
    """Top Hessian eigenvalue (largest |lambda|) of the full-batch loss (its :func:`moments` ``stats``) by power
    iteration with central-difference HVPs."""
    shapes = (P.shape, Q.shape)
    v = rng.standard_normal(P.size + Q.size)
    v /= np.linalg.norm(v)
    lam = 0.0
    for _ in range(iters):
        dP, dQ = v[:P.size].reshape(shapes[0]), v[P.size:].reshape(shapes[1])
        _, a1, b1 = _full_loss_grad(P + h * dP, Q + h * dQ, stats, tau)
        _, a0, b0 = _full_loss_grad(P - h * dP, Q - h * dQ, stats, tau)
        hv = (_flat(a1, b1) - _flat(a0, b0)) / (2 * h)
        lam = float(v @ hv)
        nrm = np.linalg.norm(hv)
        if nrm == 0:
            break
        v = hv / nrm
    return abs(lam)


def _sigma2(P, Q, X, Y, stats, tau, bs, rng, k=32) -> float:
    r""":math:`\sigma^2 = \mathbb E\|g_B - \nabla L\|^2` over ``k`` minibatches B of size ``bs`` drawn with
    replacement (the SGD's own sampling)."""
    _, gP, gQ = _full_loss_grad(P, Q, stats, tau)
    full = _flat(gP, gQ)
    dev = []
    for _ in range(k):
        idx = rng.integers(0, X.shape[0], bs)
        _, a, b = _loss_grad(P, Q, X[idx], Y[idx], tau)
        dev.append(np.sum((_flat(a, b) - full) ** 2))
    return float(np.mean(dev))


def _stream(label: int, cfg: SyntheticConfig, *keys: int) -> np.random.Generator:
    """The random stream ``label`` of a run, keyed by the track's sizes, its teacher seed and ``keys``."""
    return np.random.default_rng([label, cfg.teacher_seed, cfg.m, cfg.d, *keys])


def dataset(cfg: SyntheticConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""``(W, singular values, X, Y)``: the track's teacher (stream keyed by ``teacher_seed`` and the shape, never by
    the run's seed) and the
    dataset of (``seed``, ``samples``): :math:`X \in \mathbb R^{N\times d}`, :math:`Y = XW^\top + \tau E`, drawn
    fresh from the stream keyed by (seed, N) (independent of rank, optimizer and steps)."""
    W, sv = teacher(cfg, _stream(_TEACHER, cfg))
    rng = _stream(_DATA, cfg, cfg.seed, cfg.samples)
    X = rng.standard_normal((cfg.samples, cfg.d))
    Y = X @ W.T + cfg.noise * rng.standard_normal((cfg.samples, cfg.m))
    return W, sv, X, Y


def c1_step(beta: float, sigma2: float, delta: float, horizon: int) -> float:
    r""":math:`\eta^*(T) = \min(1/\beta, \sqrt{2\Delta/(\beta\sigma^2 T)})`, docs/theory.md C1.eta_star (Ghadimi &
    Lan 2013, Cor. 2.2), evaluated by :mod:`bounds.catalog`."""
    from bounds.catalog import get

    return float(get("C1.eta_star")(Delta=delta, beta=beta, sigma=math.sqrt(sigma2), T=float(horizon)))


def run(cfg: SyntheticConfig) -> dict:
    """Train/solve one config and return its record (notes/RECORD.md)."""
    return solve(cfg)[0]


def solve(cfg: SyntheticConfig) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`run` with what it drew and fitted: ``(record, W, W_hat, X, Y)`` (teacher, student, training sample)."""
    if cfg.lr_rule not in ("half_inverse_beta", "c1_horizon"):
        raise ValueError(f"unknown lr_rule {cfg.lr_rule!r}")
    t0 = time.perf_counter()
    W, sv, X, Y = dataset(cfg)
    tau, m = cfg.noise, cfg.m
    W_erm = rrr(X, Y, cfg.rank)
    l_star = nll(np.mean(np.sum((Y - X @ W_erm.T) ** 2, axis=1)) / m, tau)
    rec = {"track": "synthetic", "seed": cfg.seed, "rank": cfg.rank, "samples": cfg.samples, "tokens": cfg.samples,
           "params": cfg.rank * (cfg.m + cfg.d), "m": cfg.m, "d": cfg.d, "vocab": None, "device": "cpu",
           "optimizer": cfg.optimizer, "steps": cfg.steps if cfg.optimizer == "sgd" else 0,
           "batch_size": cfg.batch_size, "spectrum_alpha": _fit_alpha(sv), "teacher_seed": cfg.teacher_seed,
           "status": "ok", "failure_reason": None}
    if cfg.optimizer == "rrr":
        W_hat = W_erm
        rec["param_norm"] = param_norm(W_hat, cfg.rank)
    else:
        W_hat, sgd = _sgd(cfg, X, Y, l_star)
        rec.update(sgd)
    train = nll(np.mean(np.sum((Y - X @ W_hat.T) ** 2, axis=1)) / m, tau)
    test = nll((np.sum((W - W_hat) ** 2) + m * tau**2) / m, tau)
    rec.update(train_loss=train, test_loss=test, gap=test - train, wall_s=time.perf_counter() - t0)
    return rec, W, W_hat, X, Y


def _sgd(cfg: SyntheticConfig, X: np.ndarray, Y: np.ndarray, l_star: float) -> tuple[np.ndarray, dict]:
    """Constant-step minibatch SGD on (P, Q) for ``cfg.steps`` steps with the step of ``cfg.lr_rule``; returns
    the student and the record fields (constants, step, exact average of the full-batch squared gradient norm)."""
    tau, keys = cfg.noise, (cfg.seed, cfg.samples, cfg.rank)
    init, meas, batches = (_stream(label, cfg, *keys) for label in (_INIT, _MEASURE, _SGD))
    P = cfg.init_std * init.standard_normal((cfg.m, cfg.rank))
    Q = cfg.init_std * init.standard_normal((cfg.rank, cfg.d))
    stats = moments(X, Y)
    beta0 = _beta(P, Q, stats, tau, meas)
    sig0 = _sigma2(P, Q, X, Y, stats, tau, cfg.batch_size, meas)
    loss0 = _full_loss_grad(P, Q, stats, tau)[0]
    delta = loss0 - l_star
    eta = 0.5 / beta0 if cfg.lr_rule == "half_inverse_beta" else c1_step(beta0, sig0, delta, cfg.steps)
    g2, losses, best, out = [], [], loss0, {"status": "ok"}
    for _ in range(cfg.steps):
        loss, gP, gQ = _full_loss_grad(P, Q, stats, tau)
        if not math.isfinite(loss):
            out.update(status="failed", failure_reason=f"non-finite loss {loss}")
            break
        g2.append(float(np.vdot(gP, gP) + np.vdot(gQ, gQ)))
        losses.append(loss)
        best = min(best, loss)
        idx = batches.integers(0, cfg.samples, cfg.batch_size)
        _, bP, bQ = _loss_grad(P, Q, X[idx], Y[idx], tau)
        P, Q = P - eta * bP, Q - eta * bQ
    avg = np.cumsum(g2) / np.arange(1, len(g2) + 1)
    beta_end = _beta(P, Q, stats, tau, meas)
    out.update(lr=eta, delta=delta, loss_init=loss0, loss_best=best, loss_star_is_estimate=False,
               param_norm=float(np.sqrt(np.sum(P**2) + np.sum(Q**2))), beta_end=beta_end)
    if cfg.lr_rule == "c1_horizon":  # the constants eta was tuned with, measured before training
        out.update(beta=beta0, sigma2=sig0, horizon=cfg.steps, lr_rule=cfg.lr_rule,
                   grad_norm_sq_running_avg=float(avg[-1]) if len(g2) == cfg.steps else None)
    else:
        out.update(beta=max(beta0, beta_end), sigma2=max(sig0, _sigma2(P, Q, X, Y, stats, tau, cfg.batch_size, meas)))
    if cfg.n_log_points and g2:
        logged = sorted({int(round(t)) for t in np.geomspace(1, len(g2), cfg.n_log_points)})
        out["trajectory"] = {"step": logged, "grad_norm_sq": [g2[t - 1] for t in logged],
                             "grad_norm_sq_running_avg": [float(avg[t - 1]) for t in logged],
                             "train_loss": [losses[t - 1] for t in logged]}
    return P @ Q, out


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
