"""Robust log-log fits of power laws with seeded bootstrap confidence intervals (numpy only: no scipy, no torch).

Model (docs/theory.md; Epoch's Chinchilla replication, Besiroglu et al. 2024):

.. math::

    \\log y_i = \\log C + \\sum_j a_j \\log x_{ij} + e_i

fitted with the Huber loss in log space (an M-estimator: quadratic for :math:`|e| \\le k s`, linear beyond,
:math:`k = 1.345`, :math:`s = 1.4826\\,\\mathrm{median}|e|` re-estimated at every step), solved by
iteratively reweighted least squares (IRLS). Confidence intervals are percentile intervals of a seeded
non-parametric bootstrap that resamples whole groups (runs, seeds) when ``groups`` is given, else rows.
Every fit records the span of the data it was fitted on: an exponent means nothing outside that span.

Public API::

    fit_loglinear(X: dict[str, array], y: array, groups=None, n_boot=2000, seed=0, loss="huber", ci=0.95,
                  huber_k=1.345) -> LogLinearFit
    fit_power_law(x, y, groups=None, name="x", **kw) -> LogLinearFit      # y = C * x**a
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .resample import bootstrap_counts, cluster_labels

#: consistency factor of the median absolute deviation for Gaussian errors
_MAD_TO_SIGMA = 1.482602218505602
_LOSSES = ("huber", "linear")


@dataclass(frozen=True, eq=False)
class LogLinearFit:
    """Result of :func:`fit_loglinear`: :math:`y \\approx C \\prod_j x_j^{a_j}`.

    ``exponents[name]`` is :math:`a_j`; ``ci[name]`` its bootstrap percentile interval at level ``ci_level``;
    ``log_prefactor`` is :math:`\\log C` (natural log) with ``log_prefactor_ci``; ``span[name]`` the (min, max)
    of that variable over the fitted rows; ``residuals`` the log-space residuals
    :math:`\\log y - \\log \\hat y`; ``scale`` the robust residual scale s (log space): the Huber threshold
    of the final fit is ``huber_k * scale``.
    """

    names: tuple[str, ...]
    exponents: dict[str, float]
    ci: dict[str, tuple[float, float]]
    log_prefactor: float
    log_prefactor_ci: tuple[float, float]
    span: dict[str, tuple[float, float]]
    n: int
    residuals: np.ndarray
    scale: float
    loss: str
    huber_k: float
    ci_level: float
    n_boot: int
    n_boot_valid: int
    n_groups: int | None
    seed: int
    boot_exponents: np.ndarray = field(repr=False)

    @property
    def prefactor(self) -> float:
        """:math:`C = e^{\\log C}` (may overflow to inf for extreme fits; use ``log_prefactor`` then)."""
        with np.errstate(over="ignore"):
            return float(np.exp(self.log_prefactor))

    @property
    def exponent(self) -> float:
        """The single exponent of a one-variable fit (:func:`fit_power_law`)."""
        if len(self.names) != 1:
            raise AttributeError("exponent is defined for one-variable fits; use exponents[name]")
        return self.exponents[self.names[0]]

    @property
    def exponent_ci(self) -> tuple[float, float]:
        """Bootstrap CI of the single exponent of a one-variable fit."""
        if len(self.names) != 1:
            raise AttributeError("exponent_ci is defined for one-variable fits; use ci[name]")
        return self.ci[self.names[0]]

    def predict(self, **x) -> np.ndarray:
        """:math:`\\hat y = C \\prod_j x_j^{a_j}`, broadcasting numpy arrays; every fitted name is required."""
        missing = [n for n in self.names if n not in x]
        extra = [n for n in x if n not in self.names]
        if missing or extra:
            raise TypeError(f"predict needs exactly {list(self.names)}; missing {missing}, unexpected {extra}")
        log_y = self.log_prefactor
        for name in self.names:
            log_y = log_y + self.exponents[name] * np.log(np.asarray(x[name], dtype=float))
        return np.exp(log_y)

    def covers(self, name: str, value: float) -> bool:
        """Whether ``value`` lies inside the CI of exponent ``name``."""
        lo, hi = self.ci[name]
        return bool(lo <= value <= hi)

    def to_dict(self) -> dict:
        """Plain-JSON summary (no arrays except the residual list)."""
        return {
            "exponents": dict(self.exponents), "ci": {k: list(v) for k, v in self.ci.items()},
            "ci_level": self.ci_level, "log_prefactor": self.log_prefactor,
            "log_prefactor_ci": list(self.log_prefactor_ci), "prefactor": self.prefactor,
            "span": {k: list(v) for k, v in self.span.items()}, "n": self.n, "n_groups": self.n_groups,
            "loss": self.loss, "scale": self.scale, "n_boot": self.n_boot, "n_boot_valid": self.n_boot_valid,
            "seed": self.seed, "residuals": self.residuals.tolist(),
        }


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Row-wise weighted median of ``values`` (B, n) with non-negative ``weights`` (B, n)."""
    order = np.argsort(values, axis=1)
    v = np.take_along_axis(values, order, axis=1)
    w = np.take_along_axis(weights, order, axis=1)
    cw = np.cumsum(w, axis=1)
    half = 0.5 * cw[:, -1:]
    idx = np.argmax(cw >= half, axis=1)
    return v[np.arange(v.shape[0]), idx]


def _irls(A: np.ndarray, z: np.ndarray, counts: np.ndarray, loss: str, k: float,
          max_iter: int = 50, tol: float = 1e-9, init: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batched Huber IRLS. ``A`` (n, p) design, ``z`` (n,) response shared by the replicates or (B, n) one per
    replicate (e.g. bootstrap cell means), ``counts`` (B, n) row multiplicities.

    ``init`` (p,): start every Huber replicate there (bootstrap replicates start at the full-data fit, which
    is close to their own solution) instead of at their least-squares fit.

    Returns (coef (B, p), scale (B,), valid (B,)). A replicate is invalid when its weighted design is singular.
    """
    B, p = counts.shape[0], A.shape[1]
    eye = np.eye(p)

    # Huber weights are > 0, so a replicate's weighted design is singular iff its count-weighted one is:
    # flag singular replicates (e.g. a resample with one distinct x) once, and never solve them.
    AA = (A[:, :, None] * A[:, None, :]).reshape(A.shape[0], p * p)
    G0 = (counts @ AA).reshape(B, p, p)
    cond = np.linalg.cond(G0)
    valid = np.isfinite(cond) & (cond < 1e12)

    Z = np.broadcast_to(z, (B, A.shape[0])) if np.ndim(z) == 2 else z[None, :]

    def solve(w, rows=slice(None)):
        """Weighted least squares for the replicates ``rows`` with row weights ``w`` (len(rows), n)."""
        G = (w @ AA).reshape(-1, p, p)
        G = np.where(valid[rows][:, None, None], G, eye)
        rhs = (w * (Z[rows] if Z.shape[0] > 1 else Z)) @ A
        return np.linalg.solve(G, rhs[..., None])[..., 0]

    coef = solve(counts) if (init is None or loss == "linear") else np.tile(np.asarray(init, float), (B, 1))
    scale = np.zeros(B)
    if loss == "linear":
        r = Z - coef @ A.T
        scale = _MAD_TO_SIGMA * _weighted_median(np.abs(r), counts)
        return coef, scale, valid
    # Scale re-estimated in a few outer rounds; with the scale held fixed, Huber IRLS minimizes a convex
    # objective and converges monotonically (re-estimating it at every step can cycle).
    for _ in range(3):
        r = Z - coef @ A.T
        scale = _MAD_TO_SIGMA * _weighted_median(np.abs(r), counts)
        tiny = scale <= 1e-300
        thr = k * np.where(tiny, 1.0, scale)[:, None]
        active = valid.copy()  # replicates still moving; converged ones are frozen
        for _ in range(max_iter):
            idx = np.flatnonzero(active)
            if idx.size == 0:
                break
            absr = np.abs((Z[idx] if Z.shape[0] > 1 else Z) - coef[idx] @ A.T)
            np.maximum(absr, 1e-300, out=absr)
            w = np.minimum(1.0, np.divide(thr[idx], absr, out=absr))  # Huber weights min(1, k s/|r|)
            w[tiny[idx]] = 1.0  # exact fit: nothing to down-weight
            w *= counts[idx]
            new = solve(w, idx)
            moved = np.max(np.abs(new - coef[idx]), axis=1)
            coef[idx] = new
            active[idx[moved < tol]] = False
    return coef, scale, valid  # ``scale``: the one the final Huber threshold k*scale used


def fit_loglinear(X: dict, y, groups=None, n_boot: int = 2000, seed: int = 0, loss: str = "huber",
                  ci: float = 0.95, huber_k: float = 1.345) -> LogLinearFit:
    """Fit :math:`\\log y = \\log C + \\sum_j a_j \\log x_j` robustly, with bootstrap CIs.

    ``X`` maps a variable name to a positive array (same length as ``y``); ``y`` must be positive and finite.
    ``groups`` (optional, same length) labels rows that are not independent (e.g. one training run's points,
    or one seed): the bootstrap then resamples whole groups. ``loss`` is ``"huber"`` (default) or
    ``"linear"`` (ordinary least squares). ``ci`` is the two-sided level of the percentile intervals.
    The bootstrap is seeded (``numpy.random.default_rng(seed)``): the same inputs give the same CIs.
    Raises ``ValueError`` for non-positive or non-finite data, mismatched lengths, too few rows or an
    unknown loss.
    """
    if loss not in _LOSSES:
        raise ValueError(f"loss must be one of {_LOSSES}, got {loss!r}")
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be in (0, 1), got {ci!r}")
    if not X:
        raise ValueError("X needs at least one variable")
    names = tuple(X)
    yv = np.asarray(y, dtype=float).ravel()
    cols = []
    for name in names:
        col = np.asarray(X[name], dtype=float).ravel()
        if col.shape != yv.shape:
            raise ValueError(f"X[{name!r}] has {col.size} values, y has {yv.size}")
        cols.append(col)
    data = np.column_stack([*cols, yv])
    if not np.all(np.isfinite(data)) or np.any(data <= 0):
        raise ValueError("fit_loglinear needs positive, finite x and y (log-log fit)")
    n, p = yv.size, len(names)
    if n < p + 2:
        raise ValueError(f"need at least {p + 2} rows to fit {p} exponent(s) and a prefactor, got {n}")
    logx = np.log(np.column_stack(cols))
    center = logx.mean(axis=0)
    A = np.column_stack([np.ones(n), logx - center])  # centred columns: well-conditioned normal equations
    z = np.log(yv)

    coef, scale, valid = _irls(A, z, np.ones((1, n)), loss, huber_k, tol=1e-11)
    if not valid[0]:
        raise ValueError("the design is singular: some variable takes a single value (or variables are collinear)")
    coef = coef[0]

    if groups is None:
        n_groups = None
    else:
        n_groups = cluster_labels(groups, n)[1]

    boot = np.full((n_boot, p + 1), np.nan)
    first = 0
    for counts in bootstrap_counts(groups, n, n_boot, seed=seed):  # whole clusters when groups is given
        b = counts.shape[0]
        bcoef, _, bvalid = _irls(A, z, counts, loss, huber_k, tol=1e-6, init=coef)  # tol << CI widths
        block = boot[first:first + b]
        block[bvalid] = bcoef[bvalid]
        first += b
    # intercept at the centred design -> log C at x = 1
    boot_logc = boot[:, 0] - boot[:, 1:] @ center
    good = np.all(np.isfinite(boot), axis=1)
    n_valid = int(good.sum())
    q = [(1 - ci) / 2, 1 - (1 - ci) / 2]

    def interval(values):
        if n_valid < max(10, n_boot // 2):
            return (float("nan"), float("nan"))
        lo, hi = np.quantile(values[good], q)
        return (float(lo), float(hi))

    log_c = float(coef[0] - coef[1:] @ center)
    residuals = z - (log_c + logx @ coef[1:])
    return LogLinearFit(
        names=names,
        exponents={nm: float(coef[j + 1]) for j, nm in enumerate(names)},
        ci={nm: interval(boot[:, j + 1]) for j, nm in enumerate(names)},
        log_prefactor=log_c,
        log_prefactor_ci=interval(boot_logc),
        span={nm: (float(cols[j].min()), float(cols[j].max())) for j, nm in enumerate(names)},
        n=n, residuals=residuals, scale=float(scale[0]), loss=loss, huber_k=huber_k, ci_level=ci, n_boot=n_boot,
        n_boot_valid=n_valid, n_groups=n_groups, seed=seed, boot_exponents=boot[:, 1:],
    )


def fit_power_law(x, y, groups=None, name: str = "x", **kwargs) -> LogLinearFit:
    """One-variable convenience: fit :math:`y = C x^{a}` (see :func:`fit_loglinear`); ``.exponent`` is a."""
    return fit_loglinear({name: x}, y, groups=groups, **kwargs)
