"""Recommended ranks (docs/theory.md R1, R2, R3) and spectrum baselines; numpy only, so `lrkd rank` stays fast.

numpy is imported inside the functions that need arrays: R1 and R2 from --alpha run on plain floats, so
`lrkd rank --samples N --shape M D --alpha A` never imports numpy either.

R1/R2/R3 evaluate the expressions of :mod:`bounds.rank` through :mod:`bounds._fast`, which sympy printed from
the catalog (``python -m bounds.codegen``); the tests check both agree. The variance term is
:math:`V(r, N) = C\\,p(r)^a N^{-b}` with :math:`p(r) = k r` trainable parameters (``k`` = ``per_rank``: m + d for
a free factorization of an m x d matrix, LRC's count per unit rank for a teacher), i.e. R's
:math:`c = C k^a`.

Baselines on a measured spectrum :math:`\\sigma_1 \\ge \\sigma_2 \\ge \\dots`:

- Gavish & Donoho 2014 optimal hard threshold, for an :math:`m\\times n` matrix with aspect ratio
  :math:`\\beta = \\min/\\max`: noise level known,
  :math:`\\tau = \\lambda^*(\\beta)\\sqrt{n_{\\max}}\\,\\sigma` with
  :math:`\\lambda^*(\\beta) = \\sqrt{2(\\beta+1) + 8\\beta/(\\beta+1+\\sqrt{\\beta^2+14\\beta+1})}`; unknown,
  :math:`\\tau = \\omega(\\beta)\\,\\sigma_{\\mathrm{med}}` with :math:`\\omega(\\beta) = \\lambda^*(\\beta)/\\sqrt{\\mu_\\beta}`,
  :math:`\\mu_\\beta` the median of the Marchenko–Pastur law (computed here by quadrature, not the cubic fit);
- effective rank :math:`\\exp H(\\sigma/\\|\\sigma\\|_1)` (Roy & Vetterli 2007);
- energy ranks: the smallest r with :math:`\\sum_{k\\le r}\\sigma_k^2 \\ge q\\sum_k\\sigma_k^2`.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

from bounds import _fast
from bounds.rates import RATE_FORM_SOURCE, RATE_FORMS

ENERGY_LEVELS = (0.90, 0.95, 0.99)
_LOG_FLOAT_MAX = math.log(sys.float_info.max)


@dataclass(frozen=True)
class Recommendation:
    """One recommended rank: the method, the integer rank, the real-valued optimum where there is one."""

    method: str
    rank: int
    assumption: str
    formula: str
    rank_real: float | None = None
    extra: dict = field(default_factory=dict)
    note: str | None = None  # e.g. the real-valued rank exceeds the float range (rank clamped to r_max)


# ------------------------------------------------------------------------------------------- R1, R2, R3

def log_variance_constant(C: float, per_rank: float, form: str) -> float:
    """:math:`\\log c = \\log C + a\\log k` (never overflows)."""
    a, _ = RATE_FORMS[form]
    return math.log(float(C)) + a * math.log(float(per_rank))


def _exp(x: float) -> float:
    """exp(x), inf above the float range (math.exp raises there)."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _log_or(value: float, log_value: float | None) -> float:
    return math.log(float(value)) if log_value is None else float(log_value)


def r1_rank(s: float, c: float, alpha: float, form: str, N: float, r_max: int, *,
            log_s: float | None = None, log_c: float | None = None) -> tuple[int, float]:
    """R1: the continuous optimum :math:`r^* = (sN^b/(ac))^{1/(2\\alpha-1+a)}` and the better of its integer
    neighbours under the risk model (clamped to [1, r_max]). Needs :math:`\\alpha > 1/2`.

    Evaluated in log space (catalog ``R1.log``), so s, c or r* beyond the float range never overflow; pass
    ``log_s``/``log_c`` when s or c themselves are not representable. Returns ``(rank, r*)`` with
    ``r* = inf`` only when :math:`\\log r^* > \\log(\\text{float max})` (see :func:`r1_log_star`)."""
    if not alpha > 0.5:
        raise ValueError(f"R1 needs alpha > 1/2 (power-law tail must converge), got {alpha}")
    a, b = RATE_FORMS[form]
    ls, lc = _log_or(s, log_s), _log_or(c, log_c)
    log_r = r1_log_star(alpha, form, N, log_s=ls, log_c=lc)
    r_real = _exp(log_r)
    lo = int(min(max(math.floor(r_real), 1), r_max)) if log_r < math.log(r_max + 1) else r_max
    hi = int(min(lo + 1, r_max))
    # the risk in units of s (E/s is E at s = 1, c/s): exact comparison even where s overflows
    ratio = _exp(lc - ls)
    risks = [_fast.risk(1.0, ratio, float(alpha), a, b, float(N), float(k)) for k in (lo, hi)]
    return (lo if risks[0] <= risks[1] else hi), r_real


def r1_log_star(alpha: float, form: str, N: float, *, log_s: float, log_c: float) -> float:
    """:math:`\\log r^*` of R1 from log s and log c (catalog ``R1.log``: a sum of logs, never overflows)."""
    a, b = RATE_FORMS[form]
    return float(_fast.r1_log_star(float(log_s), float(log_c), float(alpha), a, b, float(N)))


def r2_rank(epsilon: float, c: float, form: str, N: float, r_max: int, *,
            log_c: float | None = None) -> tuple[int, float]:
    """R2: the largest integer r with :math:`V(r, N) \\le \\epsilon`, i.e. :math:`\\lfloor(\\epsilon N^b/c)^{1/a}\\rfloor`
    (0 when even r = 1 exceeds the budget; clamped to r_max). Evaluated in log space (catalog ``R2.log``);
    ``r_budget = inf`` only when it exceeds the float range."""
    log_r = r2_log_budget(epsilon, form, N, log_c=_log_or(c, log_c))
    r_real = _exp(log_r)
    rank = r_max if log_r >= math.log(r_max + 1) else int(min(math.floor(r_real * (1 + 1e-12)), r_max))
    return rank, r_real


def r2_log_budget(epsilon: float, form: str, N: float, *, log_c: float) -> float:
    """:math:`\\log r_\\epsilon` of R2 from log c (catalog ``R2.log``)."""
    a, b = RATE_FORMS[form]
    return float(_fast.r2_log_budget(float(epsilon), float(log_c), a, b, float(N)))


def _normalized(singular_values):
    """(sigma / sigma_1 sorted descending, log sigma_1): every spectrum quantity here is computed on the
    normalized values, so that a matrix scaled by 1e300 or 1e-300 (whose squared singular values overflow or
    underflow) gives the same ranks as the unscaled one."""
    import numpy as np

    sv = np.sort(np.asarray(singular_values, dtype=float))[::-1]
    top = float(sv[0]) if sv.size else 0.0
    if not top > 0:
        return sv, -math.inf
    return sv / top, math.log(top)


def _r3_curve_normalized(singular_values, log_c: float, form: str, N: float):
    """R3's objective divided by sigma_1^2 (tails of the normalized energies + (c/sigma_1^2) r^a N^-b), and
    log sigma_1^2."""
    import numpy as np

    a, b = RATE_FORMS[form]
    sv_n, log_top = _normalized(singular_values)
    energy = sv_n**2
    tails = np.concatenate([np.cumsum(energy[::-1])[::-1], [0.0]])  # tails[r] = sum_{k>r} sigma_k^2
    r = np.arange(energy.size + 1, dtype=float)
    # c / sigma_1^2 may be inf (sigma_1 ~ 1e-300): every r >= 1 then costs inf and the argmin is r = 1, which is
    # exact (the variance term dominates any tail); at r = 0 the variance term is 0, not inf * 0
    with np.errstate(over="ignore", invalid="ignore"):
        curve = _fast.r3_objective(tails, _exp(log_c - 2 * log_top), r, a, b, float(N))
    curve[0] = tails[0]
    return curve, 2 * log_top


def r3_objective_curve(singular_values, c: float, form: str, N: float, *, log_c: float | None = None) -> np.ndarray:
    """R3's objective :math:`\\sum_{k>r}\\sigma_k^2 + c r^a N^{-b}` for r = 0, 1, ..., K (in the spectrum's units:
    inf where those overflow; :func:`r3_rank` works on the normalized curve)."""
    import numpy as np

    curve, log_scale = _r3_curve_normalized(singular_values, _log_or(c, log_c), form, N)
    with np.errstate(over="ignore"):
        return curve * _exp(log_scale)


def r3_rank(singular_values, c: float, form: str, N: float, *, log_c: float | None = None) -> int:
    """R3: the integer r >= 1 minimizing the measured tail plus the variance term (ties -> smaller r); computed
    on the spectrum normalized by sigma_1 (the argmin is invariant), with c rescaled by 1/sigma_1^2."""
    import numpy as np

    curve, _ = _r3_curve_normalized(singular_values, _log_or(c, log_c), form, N)
    return int(np.argmin(curve[1:]) + 1)


# -------------------------------------------------------------------------------------------- baselines

def gd_lambda_star(beta):
    """Gavish–Donoho threshold coefficient for known noise, :math:`\\lambda^*(\\beta)` (closed form)."""
    import numpy as np

    beta = np.asarray(beta, dtype=float)
    return np.sqrt(2 * (beta + 1) + 8 * beta / (beta + 1 + np.sqrt(beta**2 + 14 * beta + 1)))


def mp_median(beta: float, n_nodes: int = 200) -> float:
    """Median of the Marchenko–Pastur law with ratio :math:`\\beta\\in(0,1]` and unit variance.

    The density :math:`\\sqrt{(b_+-x)(x-b_-)}/(2\\pi\\beta x)` on :math:`[b_-, b_+] = [(1\\mp\\sqrt\\beta)^2]` is
    integrated after :math:`x = m + h\\cos\\phi` (which removes the square-root endpoints) by Gauss–Legendre
    quadrature; the median is found by bisection on :math:`\\phi`.
    """
    import numpy as np

    if not 0.0 < beta <= 1.0:
        raise ValueError(f"beta must be in (0, 1], got {beta}")
    lo_edge, hi_edge = (1 - math.sqrt(beta)) ** 2, (1 + math.sqrt(beta)) ** 2
    mid, half = 0.5 * (lo_edge + hi_edge), 0.5 * (hi_edge - lo_edge)
    nodes, weights = np.polynomial.legendre.leggauss(n_nodes)

    def mass_above(phi0: float) -> float:  # P(X >= m + h cos(phi0)) = integral over phi in [0, phi0]
        phi = 0.5 * phi0 * (nodes + 1)
        x = mid + half * np.cos(phi)
        integrand = half**2 * np.sin(phi) ** 2 / (2 * math.pi * beta * x)
        return float(0.5 * phi0 * np.dot(weights, integrand))

    a, b = 0.0, math.pi
    for _ in range(80):
        m = 0.5 * (a + b)
        if mass_above(m) < 0.5:
            a = m
        else:
            b = m
    return float(mid + half * math.cos(0.5 * (a + b)))


def gd_omega(beta: float) -> float:
    """Gavish–Donoho coefficient for unknown noise, :math:`\\omega(\\beta) = \\lambda^*(\\beta)/\\sqrt{\\mu_\\beta}`."""
    return float(gd_lambda_star(beta) / math.sqrt(mp_median(beta)))


def gd_omega_approx(beta):
    """Gavish & Donoho's cubic fit :math:`\\omega(\\beta)\\approx 0.56\\beta^3-0.95\\beta^2+1.82\\beta+1.43` (for comparison)."""
    import numpy as np

    beta = np.asarray(beta, dtype=float)
    return 0.56 * beta**3 - 0.95 * beta**2 + 1.82 * beta + 1.43


def gavish_donoho_rank(singular_values, shape: tuple[int, int], noise_sigma: float | None = None) -> tuple[int, float]:
    """Number of singular values above the Gavish–Donoho threshold, and the threshold.

    ``noise_sigma`` is the per-entry noise standard deviation when known; ``None`` uses the median rule.
    The singular values must be all :math:`\\min(m, n)` of the matrix for the median rule.
    """
    import numpy as np

    sv = np.sort(np.asarray(singular_values, dtype=float))[::-1]
    m, n = sorted(int(v) for v in shape)
    beta = m / n
    if noise_sigma is None:
        tau = gd_omega(beta) * float(np.median(sv))
    else:
        tau = float(gd_lambda_star(beta)) * math.sqrt(n) * float(noise_sigma)
    return int(np.sum(sv > tau)), tau


def effective_rank(singular_values) -> float:
    """Roy & Vetterli's effective rank :math:`\\exp(-\\sum_k p_k\\log p_k)`, :math:`p = \\sigma/\\|\\sigma\\|_1`."""
    import numpy as np

    sv, _ = _normalized(singular_values)  # scale-invariant; the sum of huge values must not overflow
    p = sv[sv > 0] / sv.sum()
    return float(np.exp(-(p * np.log(p)).sum()))


def energy_rank(singular_values, level: float) -> int:
    """Smallest r whose top-r singular values keep a fraction ``level`` of :math:`\\sum\\sigma_k^2`."""
    import numpy as np

    sv, _ = _normalized(singular_values)  # squares of sigma/sigma_1 <= 1: no overflow at any scale
    energy = sv**2
    frac = np.cumsum(energy) / energy.sum()
    return int(np.searchsorted(frac, level * (1 - 1e-12)) + 1)


@dataclass(frozen=True, eq=False)
class SpectrumFit:
    """Power-law fit :math:`\\sigma_k^2 = s k^{-2\\alpha}` of a measured spectrum, with the bootstrap CI of alpha.

    ``log_s`` is exact at any scale; ``s`` = exp(log_s) is inf where that exceeds the float range. ``fit`` is
    the fit of the normalized spectrum :math:`(\\sigma_k/\\sigma_1)^2` (same exponent and residuals)."""

    alpha: float
    alpha_ci: tuple[float, float]
    s: float
    k_span: tuple[int, int]
    fit: object
    log_s: float = math.nan


def fit_spectrum(singular_values, k_max: int | None = None, n_boot: int = 1000, seed: int = 0,
                 k_min: int = 1) -> SpectrumFit:
    """Fit :math:`\\log\\sigma_k^2 = \\log s - 2\\alpha\\log k` (Huber, :func:`bounds.fit.fit_power_law`) over
    k = k_min..k_max (default: every non-negligible singular value, :math:`\\sigma_k > 10^{-12}\\sigma_1`).

    The fit runs on :math:`(\\sigma_k/\\sigma_1)^2` and :math:`\\log s` adds :math:`2\\log\\sigma_1` back, so any
    finite scale works (squares of 1e300 would overflow). ``k_max`` keeps a noise bulk out of the fit."""
    import numpy as np

    from bounds.fit import fit_power_law

    sv, log_top = _normalized(singular_values)
    keep = int(np.sum(sv > 1e-12)) if sv.size and sv[0] > 0 else 0
    k_max = keep if k_max is None else min(int(k_max), keep)
    k_min = max(int(k_min), 1)
    if k_max - k_min + 1 < 3:
        raise ValueError(f"the power-law fit needs at least 3 non-zero singular values in k = {k_min}..{k_max}")
    k = np.arange(k_min, k_max + 1, dtype=float)
    fit = fit_power_law(k, sv[k_min - 1:k_max] ** 2, name="k", n_boot=n_boot, seed=seed)
    lo, hi = fit.exponent_ci
    log_s = float(fit.log_prefactor) + 2 * log_top
    return SpectrumFit(alpha=-fit.exponent / 2, alpha_ci=(-hi / 2, -lo / 2), s=_exp(log_s),
                       k_span=(k_min, k_max), fit=fit, log_s=log_s)


# --------------------------------------------------------------------------------------- everything

def _range_note(method: str, what: str, log_r: float, r_max: int) -> str | None:
    """The note for a real-valued rank beyond the float range (its log is still reported)."""
    if log_r <= _LOG_FLOAT_MAX:
        return None
    return (f"{method}: {what} = exp({log_r:.6g}) exceeds the float range (reported as log_rank_real); "
            f"rank clamped to the max rank {r_max}")


def recommend(N: int, per_rank: float, r_max: int, *, forms=tuple(RATE_FORMS), alpha: float | None = None,
              scale: float = 1.0, C: float = 1.0, epsilon: float = 0.1, singular_values=None,
              shape: tuple[int, int] | None = None, noise_sigma: float | None = None,
              spectrum_fit: SpectrumFit | None = None) -> list[Recommendation]:
    """Every reading of THEORY R that the inputs allow, as a list of :class:`Recommendation`.

    ``per_rank`` = p(r)/r; ``r_max`` caps every rank (min(m, d), or d_T for LRC); ``alpha``/``scale`` give the
    power law :math:`\\sigma_k^2 = s k^{-2\\alpha}` for R1 (a spectrum's fit overrides them); ``C`` and
    ``epsilon`` are the variance constant and R2's budget. With ``singular_values``: R3 and the baselines
    (Gavish–Donoho needs ``shape``).
    """
    out: list[Recommendation] = []
    fitted = spectrum_fit is not None
    log_scale = math.log(scale)
    if fitted:
        alpha, scale, log_scale = spectrum_fit.alpha, spectrum_fit.s, spectrum_fit.log_s
    for form in forms:
        a, b = RATE_FORMS[form]
        log_c = log_variance_constant(C, per_rank, form)
        c = _exp(log_c)
        v_text = f"V(r, N) = C p(r)^{a:g} N^-{b:g} with C = {C:g} ({RATE_FORM_SOURCE[form]})"
        if alpha is not None and alpha > 0.5:
            log_r = r1_log_star(alpha, form, N, log_s=log_scale, log_c=log_c)
            rank, r_real = r1_rank(scale, c, alpha, form, N, r_max, log_s=log_scale, log_c=log_c)
            s_text = f"{scale:.4g}" if math.isfinite(scale) else f"exp({log_scale:.6g})"
            src = (f"power law fitted to the spectrum (alpha = {alpha:.4g}, s = {s_text})" if fitted
                   else f"power-law spectrum sigma_k^2 = s k^(-2 alpha), alpha = {alpha:g}, s = {s_text}")
            gamma = float(_fast.r1_gamma(alpha, a, b))
            out.append(Recommendation(
                method=f"R1/{form}", rank=rank, formula=_fast.FORMULAS["R1"],
                rank_real=r_real if math.isfinite(r_real) else None,
                assumption=f"{src}; {v_text}; additive risk; r* ~ N^{gamma:.4g}",
                extra={"gamma": gamma, "alpha_for_gamma_half": float(_fast.alpha_half(a, b)), "c": c,
                       "log_rank_real": log_r},
                note=_range_note(f"R1/{form}", "r_star", log_r, r_max)))
        log_r = r2_log_budget(epsilon, form, N, log_c=log_c)
        rank, r_real = r2_rank(epsilon, c, form, N, r_max, log_c=log_c)
        out.append(Recommendation(
            method=f"R2/{form}", rank=rank, formula=_fast.FORMULAS["R2"],
            rank_real=r_real if math.isfinite(r_real) else None,
            assumption=f"largest rank whose variance term stays within epsilon = {epsilon:g}; {v_text}",
            extra={"c": c, "log_rank_real": log_r}, note=_range_note(f"R2/{form}", "r_budget", log_r, r_max)))
        if singular_values is not None:
            out.append(Recommendation(
                method=f"R3/{form}", rank=min(r3_rank(singular_values, c, form, N, log_c=log_c), r_max),
                formula=_fast.FORMULAS["R3"] + "  (argmin over integers r >= 1)",
                assumption=f"measured Eckart-Young tail in the spectrum's units plus {v_text}; additive risk",
                extra={"c": c}))
    if singular_values is not None:
        import numpy as np

        sv = np.asarray(singular_values, dtype=float)
        if shape is not None:
            if noise_sigma is not None:
                rank, tau = gavish_donoho_rank(sv, shape, noise_sigma)
                out.append(Recommendation(
                    method="gavish-donoho/known-sigma", rank=rank,
                    formula="#{k: sigma_k > lambda*(beta) sqrt(n_max) sigma}",
                    assumption=f"matrix = low rank + i.i.d. noise of known std {noise_sigma:g} per entry",
                    extra={"threshold": tau}))
            if sv.size == min(shape):
                rank, tau = gavish_donoho_rank(sv, shape, None)
                out.append(Recommendation(
                    method="gavish-donoho/unknown-sigma", rank=rank, formula="#{k: sigma_k > omega(beta) median(sigma)}",
                    assumption="matrix = low rank + i.i.d. noise of unknown level (median singular value is noise)",
                    extra={"threshold": tau}))
        erank = effective_rank(sv)
        out.append(Recommendation(
            method="effective-rank", rank=max(1, min(int(round(erank)), r_max)), rank_real=erank,
            formula="exp(-sum_k p_k log p_k), p = sigma/||sigma||_1",
            assumption="spread of the singular values (Roy & Vetterli 2007); ignores N"))
        for level in ENERGY_LEVELS:
            out.append(Recommendation(
                method=f"energy-{int(round(level * 100))}", rank=min(energy_rank(sv, level), r_max),
                formula=f"min r: sum_(k<=r) sigma_k^2 >= {level:g} sum_k sigma_k^2",
                assumption=f"keep {level:.0%} of the spectrum's energy; ignores N"))
    return out
