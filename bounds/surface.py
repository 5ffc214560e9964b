"""The parametric risk surface L(r, N): fit, discrete r*, and validated extrapolation (numpy + scipy, no torch).

THEORY R's risk model, written for held-out loss (INFERENCE.md §4 and §6):

.. math::

    L(r, N) = E + A\\,t(r) + C\\,p(r)^{a} N^{-b},
    \\qquad t(r) = r^{1-2\\alpha}\\ \\text{(power-law tail)}\\ \\text{or a measured tail}\\ \\sum_{k>r}\\sigma_k^2

with p(r) the trainable parameter count (default p(r) = r; any p(r) = k·r only rescales C). The fit follows
Epoch's Chinchilla replication (Besiroglu et al. 2024): each term is written in log space,

.. math::

    \\log \\hat L = \\mathrm{LSE}\\big(e,\\; \\ell_A + \\log t(r),\\; \\ell_C + a\\log p(r) - b\\log N\\big),

and the Huber loss (δ = 1e-3) of :math:`\\log \\hat L - \\log L` is minimised with L-BFGS-B from a grid of
initial values (analytic gradient). Confidence intervals are percentile intervals of a cluster bootstrap over
datasets (bounds.resample; a dataset is one (track, seed, N)), each replicate started at the full-data optimum.
With a measured tail, A absorbs its scale, so multiplying a spectrum by any constant leaves every prediction
and every r* unchanged.

R1 (continuous, power-law tail): :math:`r^* \\propto N^{\\gamma}`, :math:`\\gamma = b/(2\\alpha - 1 + a)`.
On a finite grid r* is the integer argmin of the fitted surface over that grid (:meth:`SurfaceFit.rstar`),
which is what a measured r* must be compared with.

Public API::

    fit_surface(runs, *, tail=None, params_of_rank=None, n_boot=400, seed=0, loss="test_loss") -> SurfaceFit
    identifiability(runs, min_samples=3, min_ranks=4) -> (ok, reason, advice)
    extrapolate(runs, level=0.95, **fit_kw) -> dict
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from .optimum import measured_optima
from .resample import bootstrap_counts, dataset_groups, percentile_interval

#: Huber threshold on log-loss residuals (Hoffmann et al. 2022; Besiroglu et al. 2024)
HUBER_DELTA = 1e-3
PARAMS = ("E", "A", "alpha", "C", "a", "b")
_BOUNDS_EXP = {"c": (0.02, 6.0), "a": (0.02, 3.0), "b": (0.02, 3.0)}


def _huber(u: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    au = np.abs(u)
    val = np.where(au <= delta, 0.5 * u * u, delta * (au - 0.5 * delta))
    return val, np.clip(u, -delta, delta)


@dataclass(frozen=True)
class _Design:
    """Normalised log-design of a fit: log t(r) (or -log r), log p(r), log N, log L, and the reference scales."""

    log_t: np.ndarray
    log_p: np.ndarray
    log_n: np.ndarray
    log_y: np.ndarray
    power_tail: bool
    r_ref: float
    t_ref: float
    p_ref: float
    n_ref: float


def _objective(x: np.ndarray, d: _Design, w: np.ndarray, delta: float) -> tuple[float, np.ndarray]:
    """Weighted Huber loss of log residuals and its gradient; x = (e, lA, lC, c, a, b) (c = 2α-1)."""
    e, la, lc, c, a, b = x
    t1 = la - c * d.log_t if d.power_tail else la + d.log_t
    t2 = lc + a * d.log_p - b * d.log_n
    terms = np.stack([np.full_like(t2, e), t1, t2])
    mx = np.max(terms, axis=0)
    ex = np.exp(terms - mx)
    s = ex.sum(axis=0)
    lse = mx + np.log(s)
    soft = ex / s
    val, dh = _huber(lse - d.log_y, delta)
    g = w * dh
    grad = np.array([
        g @ soft[0], g @ soft[1], g @ soft[2],
        -(g * soft[1]) @ d.log_t if d.power_tail else 0.0,
        (g * soft[2]) @ d.log_p,
        -(g * soft[2]) @ d.log_n,
    ])
    return float(w @ val), grad


def _box(d: _Design) -> list[tuple[float, float]]:
    """Bounds of x = (e, lA, lC, c, a, b); c is pinned (to ~0) when the tail is measured, not a power law."""
    lo_y = float(np.min(d.log_y))
    return [(lo_y - 30, lo_y + 5), (-40, 40), (-40, 40), _BOUNDS_EXP["c"] if d.power_tail else (-1e-9, 1e-9),
            _BOUNDS_EXP["a"], _BOUNDS_EXP["b"]]


def _minimize(d: _Design, w: np.ndarray, starts, delta: float) -> np.ndarray:
    from scipy.optimize import minimize

    bounds = _box(d)
    best, best_f = None, np.inf
    for x0 in starts:
        x0 = np.clip(np.asarray(x0, float), [b[0] for b in bounds], [b[1] for b in bounds])
        res = minimize(_objective, x0, args=(d, w, delta), jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": 500, "ftol": 1e-13, "gtol": 1e-10})
        if np.isfinite(res.fun) and res.fun < best_f:
            best, best_f = res.x, res.fun
    return best


def _lsq_huber(d: _Design, counts: np.ndarray, x0: np.ndarray, delta: float) -> np.ndarray | None:
    """The same Huber objective solved by trust-region least squares (``scipy.optimize.least_squares`` with
    ``loss="huber"``, ``f_scale=δ``: :math:`\\sum 2\\,\\mathrm{Huber}_\\delta(u_i)`, the same minimiser), with
    bootstrap multiplicities as repeated rows. A few Jacobian evaluations from a nearby start: used to polish
    the multi-start optimum and for every bootstrap replicate."""
    from scipy.optimize import least_squares

    rows = np.repeat(np.arange(counts.size), counts.astype(int))
    if rows.size < 7:
        return None
    sub = _Design(**{**d.__dict__, "log_t": d.log_t[rows], "log_p": d.log_p[rows], "log_n": d.log_n[rows],
                     "log_y": d.log_y[rows]})
    power = sub.power_tail
    lb, ub = (list(v) for v in zip(*_box(d)))

    def parts(x):
        e, la, lc, c, a, b = x
        t1 = la - c * sub.log_t if power else la + sub.log_t
        t2 = lc + a * sub.log_p - b * sub.log_n
        terms = np.stack([np.full_like(t2, e), t1, t2])
        mx = terms.max(axis=0)
        ex = np.exp(terms - mx)
        return mx + np.log(ex.sum(axis=0)), ex / ex.sum(axis=0)

    def fun(x):
        return parts(x)[0] - sub.log_y

    def jac(x):
        _, sm = parts(x)
        return np.column_stack([sm[0], sm[1], sm[2], -sm[1] * sub.log_t if power else np.zeros_like(sm[1]),
                                sm[2] * sub.log_p, -sm[2] * sub.log_n])

    x0 = np.clip(x0, np.array(lb) + 1e-12, np.array(ub) - 1e-12)
    res = least_squares(fun, x0, jac=jac, bounds=(lb, ub), loss="huber", f_scale=delta, method="trf",
                        x_scale="jac", ftol=1e-9, xtol=1e-9, gtol=1e-9, max_nfev=100)
    return res.x if np.all(np.isfinite(res.x)) else None


def _starts(d: _Design, keep: int = 3):
    """Initial values from a grid over the exponents with the linear part solved exactly (variable projection):
    for fixed (c, a, b), :math:`L \\approx E + A' t + C' p^a N^{-b}` is linear in (E, A', C') >= 0 (NNLS on
    relative errors). The ``keep`` best grid points by squared log residual start the Huber fits."""
    from scipy.optimize import nnls

    y = np.exp(d.log_y)
    cs = (0.25, 0.5, 1.0, 1.5, 2.5, 4.0) if d.power_tail else (0.0,)
    cand = []
    for c, a, b in itertools.product(cs, (0.25, 0.5, 1.0, 1.5, 2.0), (0.25, 0.5, 0.75, 1.0, 1.5)):
        t = np.exp(-c * d.log_t) if d.power_tail else np.exp(d.log_t)
        v = np.exp(a * d.log_p - b * d.log_n)
        M = np.column_stack([np.ones_like(y), t, v]) / y[:, None]
        coef, _ = nnls(M, np.ones_like(y))
        pred = np.column_stack([np.ones_like(y), t, v]) @ coef
        if not np.all(pred > 0):
            continue
        err = float(np.sum((np.log(pred) - d.log_y) ** 2))
        lg = np.log(np.maximum(coef, 1e-12 * y.min()))
        cand.append((err, np.array([lg[0], lg[1], lg[2], c, a, b])))
    cand.sort(key=lambda z: z[0])
    return [x for _, x in cand[:keep]]


@dataclass(frozen=True, eq=False)
class SurfaceFit:
    """A fitted L(r, N) (see the module docstring). Parameters in the data's own units (r, N, nats)."""

    params: dict
    ci: dict
    gamma: float | None
    gamma_ci: tuple[float, float] | None
    n: int
    n_datasets: int
    ranks: tuple[float, ...]
    samples: tuple[float, ...]
    power_tail: bool
    identifiable: bool
    reason: str
    residual_scale: float
    cell_residuals: np.ndarray = field(repr=False)
    boot: np.ndarray = field(repr=False)           # (n_valid, 6) replicate parameters in PARAMS order
    _tail: Callable | None = field(repr=False, default=None)
    _p: Callable | None = field(repr=False, default=None)

    # ------------------------------------------------------------------ evaluation
    def _predict_with(self, theta, r, n) -> np.ndarray:
        E, A, alpha, C, a, b = theta
        r = np.asarray(r, dtype=float)
        n = np.asarray(n, dtype=float)
        t = r ** (1.0 - 2.0 * alpha) if self.power_tail else _eval_tail(self._tail, r)
        p = _eval_p(self._p, r)
        return E + A * t + C * p ** a * n ** (-b)

    def predict(self, r, N) -> np.ndarray:
        """:math:`\\hat L(r, N)` at the fitted parameters, broadcasting."""
        return self._predict_with([self.params[k] for k in PARAMS], r, N)

    def predict_interval(self, r, N, level: float = 0.95, noise: bool = True, seed: int = 0):
        """(lo, hi) of the predicted loss: bootstrap replicates of the surface, plus (``noise``) the spread of the
        fitted cells' log residuals (the noise of one seed-mean cell), i.e. a prediction interval."""
        r = np.atleast_1d(np.asarray(r, dtype=float))
        if self.boot.shape[0] == 0:
            return np.full(r.shape, np.nan), np.full(r.shape, np.nan)
        preds = np.stack([self._predict_with(th, r, N) for th in self.boot])          # (B, len(r))
        if noise and self.cell_residuals.size:
            rng = np.random.default_rng(seed)
            eps = rng.choice(self.cell_residuals, size=preds.shape)
            preds = preds * np.exp(eps)
        q = [(1 - level) / 2, 1 - (1 - level) / 2]
        lo, hi = np.quantile(preds, q, axis=0)
        return lo, hi

    def rstar(self, N, ranks) -> int:
        """Discrete argmin over the integer ``ranks`` of the fitted surface at sample size ``N``."""
        ranks = np.asarray(ranks, dtype=float)
        return int(ranks[int(np.argmin(self.predict(ranks, N)))])

    def rstar_interval(self, N, ranks, level: float = 0.95) -> tuple[float, float]:
        """Percentile interval of the replicate surfaces' discrete argmins over ``ranks`` at ``N``."""
        ranks = np.asarray(ranks, dtype=float)
        if self.boot.shape[0] == 0:
            return (float("nan"), float("nan"))
        stars = [ranks[int(np.argmin(self._predict_with(th, ranks, N)))] for th in self.boot]
        lo, hi = percentile_interval(stars, level, min_valid=1)
        lo = float(ranks[ranks <= lo + 1e-9].max(initial=ranks.min()))
        hi = float(ranks[ranks >= hi - 1e-9].min(initial=ranks.max()))
        return (lo, hi)

    def to_dict(self) -> dict:
        """Plain-JSON summary."""
        return {"params": dict(self.params), "ci": {k: list(v) for k, v in self.ci.items()},
                "gamma": self.gamma, "gamma_ci": list(self.gamma_ci) if self.gamma_ci else None,
                "n": self.n, "n_datasets": self.n_datasets, "ranks": list(self.ranks),
                "samples": list(self.samples), "tail": "power law r^(1-2 alpha)" if self.power_tail else "measured",
                "identifiable": self.identifiable, "reason": self.reason,
                "residual_scale": self.residual_scale, "n_boot_valid": int(self.boot.shape[0]),
                "huber_delta": HUBER_DELTA, "units": "loss in the data's units (nats); N as given"}


def _eval_tail(tail, r: np.ndarray) -> np.ndarray:
    if callable(tail):
        return np.asarray(tail(r), dtype=float)
    tab = {float(k): float(v) for k, v in dict(tail).items()}
    try:
        return np.vectorize(lambda x: tab[float(x)], otypes=[float])(r)
    except KeyError as exc:
        raise ValueError(f"the measured tail has no value for rank {exc.args[0]:g}") from None


def _eval_p(p, r: np.ndarray) -> np.ndarray:
    return r if p is None else np.asarray(p(r), dtype=float)


def _clean(runs: pd.DataFrame, loss: str) -> pd.DataFrame:
    need = {"rank", "samples", loss}
    if not need <= set(runs.columns):
        raise ValueError(f"the surface fit needs columns {sorted(need)}")
    if "track" in runs.columns and runs["track"].nunique() > 1:
        raise ValueError("fit one track at a time (the runs hold tracks "
                         + ", ".join(map(str, sorted(runs["track"].unique()))) + ")")
    df = runs.copy()
    vals = df[["rank", "samples", loss]].to_numpy(dtype=float)
    df = df[np.all(np.isfinite(vals), axis=1)]
    if (df[["rank", "samples"]].to_numpy(dtype=float) <= 0).any():
        raise ValueError("ranks and sample sizes must be positive")
    if (df[loss].to_numpy(dtype=float) <= 0).any():
        raise ValueError(f"the surface is fitted to log {loss}: every {loss} must be positive")
    return df


def identifiability(runs: pd.DataFrame, min_samples: int = 3, min_ranks: int = 4,
                    loss: str = "test_loss") -> tuple[bool, str, str]:
    """Whether a pilot can identify the surface's constants: (ok, reason, advice).

    Needs ``min_samples`` distinct N, ``min_ranks`` distinct ranks, at least two seeds (datasets) per N for the
    bootstrap, and at least one N whose measured optimum is not at an edge of the rank grid (a censored optimum
    says only that r* lies beyond the grid).
    """
    df = _clean(runs, loss)
    ns, rs = np.unique(df["samples"]), np.unique(df["rank"])
    if ns.size < min_samples:
        return (False, f"{ns.size} sample size(s) ({', '.join(f'{v:g}' for v in ns)}); the N-exponent b needs at least "
                       f"{min_samples}", f"add runs at {min_samples - ns.size} more sample size(s), e.g. "
                       + ", ".join(f"{v:g}" for v in (ns.max() * 4 ** np.arange(1, min_samples - ns.size + 1))))
    if rs.size < min_ranks:
        return (False, f"{rs.size} rank(s); the tail and variance terms need at least {min_ranks}",
                f"add ranks log-spaced between {rs.min():g} and {rs.max() * 4:g}")
    seeds = df.groupby("samples")["seed"].nunique() if "seed" in df.columns else pd.Series(1, index=ns)
    if seeds.min() < 2:
        return (False, "fewer than two seeds (independent datasets) at some sample size",
                "repeat each (rank, N) with at least 2 seeds, each with its own data draw")
    opt = measured_optima(df if "seed" in df.columns else df.assign(seed=0), n_boot=0, loss=loss)
    if not (opt["status"].isin(["interior", "flat"])).any():
        edge = opt["status"].iloc[0] if len(opt) else "none"
        more = f"ranks above {rs.max():g}" if edge == "upper edge" else f"ranks below {rs.min():g}"
        return (False, f"every measured optimum is censored at the {edge} of the rank grid", f"add {more}")
    return (True, "", "")


#: fits already made in this process, by data and settings (the report's claim R and its rank-advice section fit
#: the same runs with the same settings: the second asks here instead of refitting); bounded, oldest dropped
_FITS: dict = {}
_FITS_MAX = 32


def _fit_key(df: pd.DataFrame, loss: str, **settings) -> str | None:
    """Content key of a fit: the data it reads (rank, samples, seed, track, loss, in order) and its settings;
    None (not cached) when a setting is a callable or mapping that cannot be keyed by value."""
    if any(callable(v) or isinstance(v, dict) for v in settings.values()):
        return None
    import hashlib

    cols = [c for c in ("rank", "samples", "seed", "track", loss) if c in df.columns]
    h = hashlib.sha1(pd.util.hash_pandas_object(df[cols], index=False).to_numpy().tobytes())
    h.update(repr((cols, sorted(settings.items()))).encode())
    return h.hexdigest()


def fit_surface(runs: pd.DataFrame, *, tail=None, params_of_rank: Callable | None = None, n_boot: int = 400,
                seed: int = 0, loss: str = "test_loss", level: float = 0.95, check: bool = True) -> SurfaceFit:
    """:func:`_fit_surface`, served from this process's cache of identical fits (same data, same settings)."""
    key = _fit_key(_clean(runs, loss), loss, tail=tail, params_of_rank=params_of_rank, n_boot=n_boot, seed=seed,
                   level=level, check=check)
    if key is not None and key in _FITS:
        return _FITS[key]
    fit = _fit_surface(runs, tail=tail, params_of_rank=params_of_rank, n_boot=n_boot, seed=seed, loss=loss,
                       level=level, check=check)
    if key is not None:
        if len(_FITS) >= _FITS_MAX:
            _FITS.pop(next(iter(_FITS)))
        _FITS[key] = fit
    return fit


def _fit_surface(runs: pd.DataFrame, *, tail, params_of_rank, n_boot: int, seed: int, loss: str, level: float,
                 check: bool) -> SurfaceFit:
    """Fit L(r, N) to one track's runs (columns rank, samples, ``loss``; seed and track for the datasets).

    ``tail``: None for the power-law tail r^(1-2α) (α fitted), else a callable or a {rank: tail} mapping (a
    measured Σ_{k>r} σ_k²; α is then not a parameter and reported as NaN). ``params_of_rank``: p(r) (default
    r). Raises ``ValueError`` on unusable data; an unidentifiable pilot still returns a fit with
    ``identifiable=False`` and the reason unless ``check`` is False.
    """
    df = _clean(runs, loss)
    if len(df) < 7:
        raise ValueError(f"{len(df)} usable runs; the surface has 6 constants")
    ok, reason, advice = identifiability(df, loss=loss) if check else (True, "", "")
    r = df["rank"].to_numpy(dtype=float)
    n = df["samples"].to_numpy(dtype=float)
    y = df[loss].to_numpy(dtype=float)
    power = tail is None
    r_ref = float(np.exp(np.mean(np.log(r))))
    t_raw = None if power else _eval_tail(tail, r)
    if t_raw is not None and (np.any(t_raw < 0) or not np.all(np.isfinite(t_raw))):
        raise ValueError("a measured tail must be finite and non-negative")
    t_pos = t_raw[t_raw > 0] if t_raw is not None else None
    t_ref = float(np.exp(np.mean(np.log(t_pos)))) if t_pos is not None and t_pos.size else 1.0
    p = _eval_p(params_of_rank, r)
    p_ref = float(np.exp(np.mean(np.log(p))))
    n_ref = float(np.exp(np.mean(np.log(n))))
    with np.errstate(divide="ignore"):
        log_t = np.log(r / r_ref) if power else np.log(t_raw / t_ref)
    d = _Design(log_t=log_t, log_p=np.log(p / p_ref), log_n=np.log(n / n_ref), log_y=np.log(y),
                power_tail=power, r_ref=r_ref, t_ref=t_ref, p_ref=p_ref, n_ref=n_ref)
    x = _minimize(d, np.ones(r.size), _starts(d), HUBER_DELTA)
    polished = _lsq_huber(d, np.ones(r.size), x, HUBER_DELTA)
    if polished is not None and _objective(polished, d, np.ones(r.size), HUBER_DELTA)[0] <= \
            _objective(x, d, np.ones(r.size), HUBER_DELTA)[0]:
        x = polished

    def to_params(x):
        e, la, lc, c, a, b = x
        A = np.exp(la) * (r_ref ** c if power else 1.0 / t_ref)
        C = np.exp(lc) * p_ref ** (-a) * n_ref ** b
        return np.array([np.exp(e), A, (c + 1.0) / 2.0 if power else np.nan, C, a, b])

    theta = to_params(x)
    groups = dataset_groups(df)
    boot = []
    if n_boot > 0 and np.unique(groups).size >= 2:
        for counts in bootstrap_counts(groups, r.size, n_boot, seed=seed):
            for w in counts:
                xb = _lsq_huber(d, w, x, HUBER_DELTA)  # started at the full-data optimum
                if xb is not None:
                    boot.append(to_params(xb))
    boot = np.array(boot).reshape(-1, 6)
    ci = {k: percentile_interval(boot[:, j], level) for j, k in enumerate(PARAMS)}
    gamma = gamma_ci = None
    if power:
        gamma = float(theta[5] / (2 * theta[2] - 1 + theta[4]))
        gb = boot[:, 5] / (2 * boot[:, 2] - 1 + boot[:, 4]) if boot.size else np.array([])
        gamma_ci = percentile_interval(gb, level)
    # residuals of the seed-mean cells: the noise a predicted cell mean carries
    fitted = SurfaceFit(params=dict(zip(PARAMS, map(float, theta))), ci=ci, gamma=gamma, gamma_ci=gamma_ci,
                        n=int(r.size), n_datasets=int(np.unique(groups).size), ranks=tuple(np.unique(r)),
                        samples=tuple(np.unique(n)), power_tail=power, identifiable=ok,
                        reason=(reason + (f"; {advice}" if advice else "")), residual_scale=float("nan"),
                        cell_residuals=np.array([]), boot=boot, _tail=tail, _p=params_of_rank)
    cells = df.assign(_res=np.log(y) - np.log(fitted.predict(r, n))).groupby(["rank", "samples"])["_res"].mean()
    res = cells.to_numpy(dtype=float)
    scale = float(1.482602218505602 * np.median(np.abs(res - np.median(res)))) if res.size else float("nan")
    return dataclasses.replace(fitted, cell_residuals=res, residual_scale=scale)


def extrapolate(runs: pd.DataFrame, level: float = 0.95, loss: str = "test_loss", **fit_kw) -> dict:
    """Fit on every sample size but the largest and predict there (INFERENCE §4: predictions over slopes).

    Returns fit_samples, target_samples, predicted (per grid rank: predicted loss with its prediction interval
    and the measured seed mean), rstar_predicted and rstar_interval (discrete argmin over the measured grid),
    rstar_measured with its status and interval (bounds.optimum), covered (the predicted r* interval overlaps
    the measured one; a censored measured r* counts as the half-line beyond its edge), ok and reason.
    """
    df = _clean(runs, loss)
    ns = np.unique(df["samples"])
    out = {"ok": False, "reason": "", "fit_samples": [float(v) for v in ns[:-1]],
           "target_samples": float(ns[-1]) if ns.size else None}
    if ns.size < 4:
        out["reason"] = (f"{ns.size} sample size(s): extrapolation fits on all but the largest and needs at least "
                         "3 there (4 in all)")
        return out
    train, target = df[df["samples"] < ns[-1]], df[df["samples"] == ns[-1]]
    ok, reason, advice = identifiability(train, loss=loss)
    if not ok:
        out["reason"] = f"the smaller sample sizes cannot identify the surface: {reason}; {advice}"
        return out
    fit = fit_surface(train, loss=loss, level=level, **fit_kw)
    grid = np.unique(target["rank"]).astype(float)
    pred = fit.predict(grid, ns[-1])
    lo, hi = fit.predict_interval(grid, ns[-1], level=level)
    meas = target.groupby("rank")[loss].mean()
    opt = measured_optima(target, n_boot=1000, loss=loss, level=level)
    m = opt.iloc[0]
    p_lo, p_hi = fit.rstar_interval(ns[-1], grid, level)
    m_lo = m["rstar_lo"] if m["censored"] != "lower" else -np.inf
    m_hi = m["rstar_hi"] if m["censored"] != "upper" else np.inf
    out.update({
        "ok": True, "fit": fit.to_dict(),
        "predicted": [{"rank": float(g), "loss": float(pv), "lo": float(a), "hi": float(b),
                       "measured": float(meas.get(g, np.nan))} for g, pv, a, b in zip(grid, pred, lo, hi)],
        "rstar_predicted": fit.rstar(ns[-1], grid), "rstar_interval": [p_lo, p_hi],
        "rstar_measured": float(m["rstar"]), "rstar_measured_interval": [float(m["rstar_lo"]), float(m["rstar_hi"])],
        "measured_status": m["status"], "covered": bool(p_lo <= m_hi and m_lo <= p_hi),
        "loss_covered": int(sum(a <= mv <= b for a, b, mv in zip(lo, hi, meas.reindex(grid).to_numpy()))),
        "n_ranks": int(grid.size),
    })
    return out
