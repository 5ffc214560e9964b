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
Known failure modes: biased down at high MI and in high dimension (the k-NN ball stops being local).
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
    return KSGResult(mi=float(mi), k=int(k), n=int(n), method=method, nx=nx, ny=ny, eps=eps)
