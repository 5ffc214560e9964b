"""Sample matrices in, sample matrices out: input checks shared by the estimators, and correlated Gaussian
pairs with closed-form mutual information (the ground truth of the validation suite).

Ground truth (jointly Gaussian X, Y with canonical correlations :math:`\\rho_i`; e.g. Cover & Thomas,
Elements of Information Theory, 2nd ed., Sec. 8.5):

.. math:: I(X;Y) = -\\tfrac12 \\sum_i \\log(1-\\rho_i^2)
          = \\tfrac12 \\log\\frac{\\det\\Sigma_{XX}\\det\\Sigma_{YY}}{\\det\\Sigma}.

The pair is built from ``m = min(d_x, d_y)`` canonical pairs with equal :math:`\\rho`, then each side is
rotated by its own Haar-random orthogonal matrix (an invertible map of one side, so the MI is unchanged).
"""
from __future__ import annotations

import numpy as np

#: neighbour searches (KSG: d_x + d_y; Kozachenko-Leonenko: d) use a KD-tree up to this many dimensions, blocked
#: brute force above (same counts)
KDTREE_MAX_DIM = 12


def brute_block_rows(n: int) -> int:
    """Rows per block of a blocked brute-force neighbour search over ``n`` samples (about 5e6 distances,
    between 16 and 4096 rows)."""
    return max(16, min(4096, 5_000_000 // n))


def as_samples(x, y=None, *, min_samples: int = 2, name_x: str = "x", name_y: str = "y"):
    """Check and convert sample matrices (rows are samples) to 2-D float64 arrays.

    A 1-D array is read as ``n`` samples of a scalar. Raises ``ValueError`` with a one-line message on
    wrong ``ndim``, mismatched row counts, non-finite values, non-numeric dtype, or fewer than
    ``min_samples`` rows. Returns ``x`` (and ``y`` when given).
    """
    out = []
    for arr, name in ((x, name_x), (y, name_y)):
        if arr is None:
            continue
        a = np.asarray(arr)
        if a.dtype.kind not in "biuf":
            raise ValueError(f"{name} must be a numeric array, got dtype {a.dtype}")
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2:
            raise ValueError(f"{name} must be 1-D or 2-D (rows are samples), got {a.ndim}-D shape {a.shape}")
        if a.shape[1] == 0:
            raise ValueError(f"{name} has no columns")
        a = a.astype(np.float64, copy=False)
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} contains NaN or inf")
        out.append(a)
    if len(out) == 2 and out[0].shape[0] != out[1].shape[0]:
        raise ValueError(f"{name_x} and {name_y} have different numbers of rows "
                         f"({out[0].shape[0]} vs {out[1].shape[0]})")
    if out[0].shape[0] < min_samples:
        raise ValueError(f"{name_x}: need at least {min_samples} samples (rows), got {out[0].shape[0]}")
    return out[0] if len(out) == 1 else tuple(out)


def rescale_columns(a: np.ndarray) -> np.ndarray:
    """``a`` with each column multiplied by a power of two (exact) that brings its largest magnitude into
    [0.5, 1): estimators that standardize per column are invariant under this, and their squares then
    neither overflow nor underflow at extreme but finite magnitudes (1e+-300). Zero columns stay zero."""
    m = np.max(np.abs(a), axis=0)
    _, e = np.frexp(np.where(m > 0, m, 1.0))
    return np.ldexp(a, -e)


def mi_from_rho(rho) -> float:
    r"""Closed-form MI (nats) of a Gaussian pair from its canonical correlations: :math:`-\frac12\sum\log(1-\rho_i^2)`."""
    rho = np.asarray(rho, dtype=np.float64)
    return float(-0.5 * np.sum(np.log1p(-rho**2)))


def rho_for_mi(mi: float, m: int) -> np.ndarray:
    r"""Equal canonical correlations for ``m`` pairs with total MI ``mi``: :math:`\rho^2 = 1 - e^{-2I/m}`."""
    if mi < 0 or m < 1:
        raise ValueError("need mi >= 0 and m >= 1")
    return np.full(m, np.sqrt(-np.expm1(-2.0 * mi / m)))


def random_rotation(d: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random orthogonal ``d x d`` matrix (QR of a Gaussian matrix with the sign fix of Mezzadri 2007)."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def gaussian_pair(n: int, dx: int, dy: int, mi: float, rng: np.random.Generator | int | None = None,
                  rotate: bool = True):
    """``n`` samples of a jointly Gaussian pair (X in R^dx, Y in R^dy) with exact MI ``mi`` nats.

    Canonical pairs ``y_i = rho x_i + sqrt(1 - rho^2) e_i`` for ``i < min(dx, dy)``; the remaining
    coordinates are independent N(0, 1); then a random rotation of each side when ``rotate``.
    Returns ``(x, y, rho)``; ``mi_from_rho(rho) == mi``.
    """
    rng = np.random.default_rng(rng)
    m = min(dx, dy)
    rho = rho_for_mi(mi, m)
    x = rng.standard_normal((n, dx))
    y = rng.standard_normal((n, dy))
    noise = np.exp(-mi / m)  # sqrt(1 - rho^2), computed without cancellation at high MI
    y[:, :m] = rho * x[:, :m] + noise * y[:, :m]
    if rotate:
        x = x @ random_rotation(dx, rng)
        y = y @ random_rotation(dy, rng)
    return x, y, rho
