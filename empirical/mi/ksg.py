r"""Kraskov-Stögbauer-Grassberger mutual information estimator (Kraskov et al. 2004, Phys. Rev. E 69,
066138, algorithm 1), max-norm, any dimensions on both sides.

.. math:: \hat I(X;Y) = \psi(k) + \psi(N) - \big\langle \psi(n_x(i)+1) + \psi(n_y(i)+1) \big\rangle_i

where :math:`\varepsilon_i` is the max-norm distance from :math:`z_i=(x_i,y_i)` to its k-th nearest
neighbour in the joint space (:math:`\|z\|=\max(\|x\|_\infty,\|y\|_\infty)`), and
:math:`n_x(i)=\#\{j\ne i: \|x_j-x_i\|_\infty<\varepsilon_i\}` (strictly closer), likewise :math:`n_y`.

Two exact implementations give identical counts: a KD-tree (``scipy.spatial.cKDTree``: joint k-NN query,
then ``query_ball_point(..., return_length=True)`` at radius ``nextafter(eps, 0)`` for the strict count),
fast in low dimension; and a blocked brute force (``torch.cdist`` with p = inf, joint distance = max of the
two marginal distances, so the strictness test uses bit-identical numbers), fast in high dimension where
KD-trees degrade. ``method="auto"`` picks the KD-tree when d_x + d_y <= 12.

Preprocessing (as in scikit-learn's ``mutual_info_regression``): each column is scaled to unit variance
(KSG with the max-norm is not invariant to per-column scale in finite samples, and this makes it
unit-free), and a tiny Gaussian jitter of ``jitter`` (default 1e-10) times the unit standard deviation is
added to break ties from duplicated or discretized values, which would otherwise give
:math:`\varepsilon_i = 0`. The jitter is seeded (``seed``), so results are deterministic; it is far below
any resolution of interest. Pass ``jitter=0`` to disable (duplicates then raise ``ValueError``).

Not clipped at 0 (scikit-learn clips): a negative value is an honest small-sample fluctuation.

**Known failure modes, and when the result warns** (``KSGResult.warning``, one line; :func:`ksg_warning`):

- *High dimension.* A max-norm ball holding k of N points spans about a fraction
  :math:`\ell = (k/N)^{1/(d_x+d_y)}` of each coordinate's range (volume argument); when :math:`\ell` is not
  small the ball is not local and KSG is biased towards 0. Measured on Gaussian pairs (k = 3, 2 seeds,
  estimate / truth at I = 0.5, 2.3, 6 nats): :math:`\ell \le 0.28` (1+1, 2+2): 0.72-1.04, at most 10 %
  low below 6 nats; :math:`\ell = 0.44` (4+4, N = 2000): 0.89, 0.84, 0.71; :math:`\ell = 0.53` (4+4, N = 500):
  0.61, 0.69, 0.56; :math:`\ell \ge 0.67` (8+8, 16+16): 0.20-0.58 (16+16 at 2.3 nats: 0.53-0.65). Warns when
  :math:`\ell >` :data:`LOCALITY_MAX` = 0.4, i.e. when :math:`N < k\,2.5^{d_x+d_y}` (4+4: N < 1.2e4;
  8+8: N < 7.0e5).
- *High MI.* Every sample has at least k-1 neighbours strictly inside its joint ball in each marginal, so
  :math:`n_x, n_y \ge k-1` and :math:`\hat I \le \psi(N)-\psi(k)` (about log(N/k)) whatever the truth; the
  samples needed grow like :math:`e^{I}` (Gao, Ver Steeg & Galstyan 2015). Measured: 1+1 at 6 nats gives 4.74
  at N = 500 (ceiling 5.29) and 5.62 at N = 2000 (ceiling 6.68). Warns when the estimate exceeds half the
  ceiling (no case in the table above is more than 10 % low below it in 1+1 and 2+2).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import digamma

from .samples import KDTREE_MAX_DIM, as_samples, brute_block_rows, rescale_columns


@dataclass(frozen=True)
class KSGResult:
    """Result of :func:`ksg_mi`: ``mi`` in nats, ``k``, ``n``, the ``method`` used, and the per-sample
    neighbour counts ``nx``, ``ny`` (strictly inside eps_i, self excluded) and radii ``eps``."""

    mi: float
    k: int
    n: int
    method: str
    nx: np.ndarray
    ny: np.ndarray
    eps: np.ndarray
    warning: str = ""


#: KSG warns when the k-NN ball's linear extent (k/N)^(1/(d_x+d_y)) exceeds this (module docstring)
LOCALITY_MAX = 0.4


def ksg_ceiling(n: int, k: int) -> float:
    r""":math:`\psi(N) - \psi(k)`: no KSG estimate (algorithm 1) from N samples with k neighbours exceeds it."""
    return float(digamma(n) - digamma(k))


def ksg_warning(n: int, dx: int, dy: int, k: int, mi: float | None = None) -> str:
    r"""One line saying why a KSG estimate is known to be biased down, or ``""``: the k-NN ball is not local
    (:math:`(k/N)^{1/(d_x+d_y)} >` :data:`LOCALITY_MAX`), or the estimate ``mi`` exceeds half of
    :func:`ksg_ceiling` (module docstring for the measurements behind both thresholds)."""
    reasons = []
    locality = (k / n) ** (1.0 / (dx + dy))
    if locality > LOCALITY_MAX:
        need = k * (1.0 / LOCALITY_MAX) ** (dx + dy)
        reasons.append(f"{dx}+{dy} dims with N = {n} (k-NN ball spans {locality:.2f} of each coordinate's range; "
                       f"local needs N >= k*2.5^(d_x+d_y) = {need:.3g})")
    cap = ksg_ceiling(n, k)
    if mi is not None and mi > 0.5 * cap:
        reasons.append(f"estimate {mi:.2f} above half of KSG's ceiling psi(N)-psi(k) = {cap:.2f}")
    if not reasons:
        return ""
    return "KSG biased towards 0: " + "; ".join(reasons)


def _prepare(a: np.ndarray, jitter: float, rng: np.random.Generator) -> np.ndarray:
    a = rescale_columns(a)  # exact; keeps std finite and nonzero at extreme magnitudes (BUGS.md B6)
    sd = a.std(axis=0)
    sd[sd == 0] = 1.0
    a = (a - a.mean(axis=0)) / sd
    if jitter > 0:
        a = a + jitter * rng.standard_normal(a.shape)
    return a


def _counts_kdtree(x: np.ndarray, y: np.ndarray, k: int, workers: int):
    from scipy.spatial import cKDTree

    z = np.hstack([x, y])
    dist, _ = cKDTree(z).query(z, k=k + 1, p=np.inf, workers=workers)
    eps = dist[:, -1]
    radius = np.nextafter(eps, 0.0)  # "strictly closer than eps"; query_ball_point counts <= radius
    nx = cKDTree(x).query_ball_point(x, radius, p=np.inf, return_length=True, workers=workers) - 1
    ny = cKDTree(y).query_ball_point(y, radius, p=np.inf, return_length=True, workers=workers) - 1
    return eps, np.asarray(nx), np.asarray(ny)


def _counts_brute(x: np.ndarray, y: np.ndarray, k: int, block: int):
    import torch

    xt = torch.from_numpy(np.ascontiguousarray(x))
    yt = torch.from_numpy(np.ascontiguousarray(y))
    n = x.shape[0]
    eps = np.empty(n)
    nx = np.empty(n, dtype=np.int64)
    ny = np.empty(n, dtype=np.int64)
    with torch.no_grad():
        for s in range(0, n, block):
            dxb = torch.cdist(xt[s:s + block], xt, p=float("inf"))
            dyb = torch.cdist(yt[s:s + block], yt, p=float("inf"))
            dz = torch.maximum(dxb, dyb)
            # k+1 smallest including self (distance 0)
            e = torch.topk(dz, k + 1, dim=1, largest=False).values[:, -1]
            eps[s:s + block] = e.numpy()
            nx[s:s + block] = ((dxb < e[:, None]).sum(1) - 1).numpy()
            ny[s:s + block] = ((dyb < e[:, None]).sum(1) - 1).numpy()
    return eps, nx, ny


def ksg_mi(x, y, *, k: int = 3, method: str = "auto", jitter: float = 1e-10, seed: int = 0,
           standardize: bool = True, workers: int = -1, block: int | None = None) -> KSGResult:
    r"""KSG estimate (algorithm 1, max-norm) of I(X;Y) in nats; rows of ``x`` (n x d_x) and ``y`` (n x d_y)
    are paired samples.

    ``k``: neighbours (default 3, Kraskov's recommendation 2-4); ``method``: ``"auto"``, ``"kdtree"``
    or ``"brute"``; ``jitter``/``seed``/``standardize``: see the module docstring; ``workers``: KD-tree
    threads (-1 = all); ``block``: rows per block of the brute-force distance matrices (default: about
    5e6 / n, so three float64 blocks stay near 120 MB).
    """
    x, y = as_samples(x, y, min_samples=2)
    n = x.shape[0]
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if n < k + 1:
        raise ValueError(f"KSG with k={k} needs at least {k + 1} samples, got {n}")
    rng = np.random.default_rng(seed)
    if standardize:
        x = _prepare(x, jitter, rng)
        y = _prepare(y, jitter, rng)
    elif jitter > 0:
        x = x + jitter * x.std() * rng.standard_normal(x.shape)
        y = y + jitter * y.std() * rng.standard_normal(y.shape)
    if method == "auto":
        method = "kdtree" if x.shape[1] + y.shape[1] <= KDTREE_MAX_DIM else "brute"
    if method == "kdtree":
        eps, nx, ny = _counts_kdtree(x, y, k, workers)
    elif method == "brute":
        eps, nx, ny = _counts_brute(x, y, k, block or brute_block_rows(n))
    else:
        raise ValueError(f"method must be 'auto', 'kdtree' or 'brute', got {method!r}")
    if np.any(eps <= 0):
        raise ValueError(f"{int(np.sum(eps <= 0))} samples have >= k={k} exact duplicates in the joint space; "
                         "KSG needs distinct points (use jitter > 0)")
    mi = digamma(k) + digamma(n) - np.mean(digamma(nx + 1) + digamma(ny + 1))
    return KSGResult(mi=float(mi), k=int(k), n=int(n), method=method, nx=nx, ny=ny, eps=eps,
                     warning=ksg_warning(n, x.shape[1], y.shape[1], k, float(mi)))
