r"""Differential entropy (nats): the Kozachenko-Leonenko k-nearest-neighbour estimator and the Gaussian
plug-in entropy.

Kozachenko & Leonenko (1987); in the form of Kraskov et al. 2004, eq. (20), Euclidean norm:

.. math:: \hat h(X) = \psi(N) - \psi(k) + \log V_d + \frac{d}{N}\sum_{i=1}^N \log r_i,
          \qquad V_d = \frac{\pi^{d/2}}{\Gamma(1+d/2)},

with :math:`r_i` the distance from :math:`x_i` to its k-th nearest neighbour and :math:`V_d` the volume
of the unit ball. Consistent for any density (no Gaussian assumption), which is what the I1 bound needs for
non-Gaussian activations. It is biased in high dimension (the k-NN ball is not small) and near the
boundary of a bounded support.

Gaussian plug-in entropy (the maximum entropy at a given covariance, so an *upper* bound on h(X) up to
estimation error): :math:`h_G = \frac12\log\big((2\pi e)^d\det\hat\Sigma\big)`.
"""
from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

from .samples import KDTREE_MAX_DIM, as_samples, brute_block_rows


def kl_entropy(x, *, k: int = 3, jitter: float = 0.0, seed: int = 0, workers: int = -1) -> float:
    r"""Kozachenko-Leonenko entropy estimate of the density of the rows of ``x`` (n x d), in nats.

    ``jitter`` (default 0): std of Gaussian noise added (relative to each column's std) to break exact
    duplicates; with duplicates and no jitter a ``ValueError`` is raised (their k-NN distance is 0 and the
    density is not continuous there).
    """
    x = as_samples(x, min_samples=k + 1)
    n, d = x.shape
    if jitter > 0:
        rng = np.random.default_rng(seed)
        sd = x.std(axis=0)
        sd[sd == 0] = 1.0
        x = x + jitter * sd * rng.standard_normal(x.shape)
    r = _kth_distance(x, k, workers)
    if np.any(r <= 0):
        raise ValueError(f"{int(np.sum(r <= 0))} samples have >= k={k} exact duplicates; "
                         "the Kozachenko-Leonenko estimator needs distinct points (use jitter > 0)")
    log_vd = (d / 2.0) * np.log(np.pi) - gammaln(1.0 + d / 2.0)
    return float(digamma(n) - digamma(k) + log_vd + d * np.mean(np.log(r)))


def _kth_distance(x: np.ndarray, k: int, workers: int) -> np.ndarray:
    """Euclidean distance to the k-th nearest neighbour (self excluded): KD-tree in low d, blocked brute
    force through the Gram matrix in high d."""
    n, d = x.shape
    if d <= KDTREE_MAX_DIM:
        from scipy.spatial import cKDTree

        dist, _ = cKDTree(x).query(x, k=k + 1, workers=workers)
        return dist[:, -1]
    out = np.empty(n)
    x = x - x.mean(axis=0)  # centring keeps the Gram-matrix distances accurate
    sq = np.einsum("ij,ij->i", x, x)
    block = brute_block_rows(n)
    for s in range(0, n, block):
        d2 = sq[s:s + block, None] + sq[None, :] - 2.0 * x[s:s + block] @ x.T
        np.maximum(d2, 0.0, out=d2)
        d2[np.arange(d2.shape[0]), np.arange(s, s + d2.shape[0])] = np.inf  # exclude self
        out[s:s + block] = np.sqrt(np.partition(d2, k - 1, axis=1)[:, k - 1])
    return out


def gaussian_entropy(x=None, *, cov=None) -> float:
    r"""Gaussian entropy :math:`\frac12\log((2\pi e)^d\det\Sigma)` in nats, of the sample covariance of the
    rows of ``x`` (unbiased, 1/(n-1)) or of a given ``cov``. The maximum entropy at that covariance: for
    non-Gaussian data it overstates h(X) — label it as Gaussian wherever it is used."""
    if cov is None:
        x = as_samples(x, min_samples=2)
        cov = np.atleast_2d(np.cov(x, rowvar=False))
    cov = np.atleast_2d(np.asarray(cov, dtype=np.float64))
    d = cov.shape[0]
    sign, logdet = np.linalg.slogdet(cov)
    if sign <= 0:
        return float("-inf")
    return float(0.5 * (d * np.log(2.0 * np.pi * np.e) + logdet))
