"""Recommended ranks (THEORY.md R1, R2, R3) and spectrum baselines; numpy only, so `lrkd rank` stays fast.

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
from dataclasses import dataclass, field

from bounds import _fast
from bounds.rates import RATE_FORM_SOURCE, RATE_FORMS

ENERGY_LEVELS = (0.90, 0.95, 0.99)


@dataclass(frozen=True)
class Recommendation:
    """One recommended rank: the method, the integer rank, the real-valued optimum where there is one."""

    method: str
    rank: int
    assumption: str
    formula: str
    rank_real: float | None = None
    extra: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------------------- R1, R2, R3

def variance_constant(C: float, per_rank: float, form: str) -> float:
    """R's c for :math:`V = C\\,p(r)^a N^{-b}` with :math:`p(r) = k r`: :math:`c = C k^a`."""
    a, _ = RATE_FORMS[form]
    return float(C) * float(per_rank) ** a


def r1_rank(s: float, c: float, alpha: float, form: str, N: float, r_max: int) -> tuple[int, float]:
    """R1: the continuous optimum :math:`r^* = (sN^b/(ac))^{1/(2\\alpha-1+a)}` and the better of its integer
    neighbours under the risk model (clamped to [1, r_max]). Needs :math:`\\alpha > 1/2`."""
    a, b = RATE_FORMS[form]
    if not alpha > 0.5:
        raise ValueError(f"R1 needs alpha > 1/2 (power-law tail must converge), got {alpha}")
    try:
        r_real = float(_fast.r1_star(float(s), float(c), float(alpha), a, b, float(N)))
    except OverflowError:
        r_real = math.inf
    lo = int(min(max(math.floor(r_real), 1), r_max)) if math.isfinite(r_real) else r_max
    hi = int(min(lo + 1, r_max))
    risks = [_fast.risk(float(s), float(c), float(alpha), a, b, float(N), float(k)) for k in (lo, hi)]
    return (lo if risks[0] <= risks[1] else hi), r_real


def r2_rank(epsilon: float, c: float, form: str, N: float, r_max: int) -> tuple[int, float]:
    """R2: the largest integer r with :math:`V(r, N) \\le \\epsilon`, i.e. :math:`\\lfloor(\\epsilon N^b/c)^{1/a}\\rfloor`
    (0 when even r = 1 exceeds the budget; clamped to r_max)."""
    a, b = RATE_FORMS[form]
    try:
        r_real = float(_fast.r2_budget(float(epsilon), float(c), a, b, float(N)))
    except OverflowError:
        r_real = math.inf
    rank = r_max if not math.isfinite(r_real) else int(min(math.floor(r_real * (1 + 1e-12)), r_max))
    return rank, r_real


def r3_objective_curve(singular_values, c: float, form: str, N: float) -> np.ndarray:
    """R3's objective :math:`\\sum_{k>r}\\sigma_k^2 + c r^a N^{-b}` for r = 0, 1, ..., K."""
    import numpy as np

    a, b = RATE_FORMS[form]
    energy = np.sort(np.asarray(singular_values, dtype=float))[::-1] ** 2
    tails = np.concatenate([np.cumsum(energy[::-1])[::-1], [0.0]])  # tails[r] = sum_{k>r} sigma_k^2
    r = np.arange(energy.size + 1, dtype=float)
    return _fast.r3_objective(tails, c, r, a, b, float(N))


def r3_rank(singular_values, c: float, form: str, N: float) -> int:
    """R3: the integer r >= 1 minimizing the measured tail plus the variance term (ties -> smaller r)."""
    import numpy as np

    curve = r3_objective_curve(singular_values, c, form, N)
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

    sv = np.asarray(singular_values, dtype=float)
    p = sv[sv > 0] / sv.sum()
    return float(np.exp(-(p * np.log(p)).sum()))


def energy_rank(singular_values, level: float) -> int:
    """Smallest r whose top-r singular values keep a fraction ``level`` of :math:`\\sum\\sigma_k^2`."""
    import numpy as np

    energy = np.sort(np.asarray(singular_values, dtype=float))[::-1] ** 2
    frac = np.cumsum(energy) / energy.sum()
    return int(np.searchsorted(frac, level * (1 - 1e-12)) + 1)


@dataclass(frozen=True, eq=False)
class SpectrumFit:
    """Power-law fit :math:`\\sigma_k^2 = s k^{-2\\alpha}` of a measured spectrum, with the bootstrap CI of alpha."""

    alpha: float
    alpha_ci: tuple[float, float]
    s: float
    k_span: tuple[int, int]
    fit: object


def fit_spectrum(singular_values, k_max: int | None = None, n_boot: int = 1000, seed: int = 0) -> SpectrumFit:
    """Fit :math:`\\log\\sigma_k^2 = \\log s - 2\\alpha\\log k` (Huber, :func:`bounds.fit.fit_power_law`) over
    k = 1..k_max (default: every non-negligible singular value, :math:`\\sigma_k > 10^{-12}\\sigma_1`)."""
    import numpy as np

    from bounds.fit import fit_power_law

    sv = np.sort(np.asarray(singular_values, dtype=float))[::-1]
    keep = int(np.sum(sv > 1e-12 * sv[0]))
    k_max = keep if k_max is None else min(int(k_max), keep)
    if k_max < 3:
        raise ValueError("the power-law fit needs at least 3 non-zero singular values")
    k = np.arange(1, k_max + 1, dtype=float)
    fit = fit_power_law(k, sv[:k_max] ** 2, name="k", n_boot=n_boot, seed=seed)
    lo, hi = fit.exponent_ci
    return SpectrumFit(alpha=-fit.exponent / 2, alpha_ci=(-hi / 2, -lo / 2), s=fit.prefactor,
                       k_span=(1, k_max), fit=fit)


# --------------------------------------------------------------------------------------- everything

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
    if fitted:
        alpha, scale = spectrum_fit.alpha, spectrum_fit.s
    for form in forms:
        a, b = RATE_FORMS[form]
        c = variance_constant(C, per_rank, form)
        v_text = f"V(r, N) = C p(r)^{a:g} N^-{b:g} with C = {C:g} ({RATE_FORM_SOURCE[form]})"
        if alpha is not None and alpha > 0.5:
            rank, r_real = r1_rank(scale, c, alpha, form, N, r_max)
            src = (f"power law fitted to the spectrum (alpha = {alpha:.4g}, s = {scale:.4g})" if fitted
                   else f"power-law spectrum sigma_k^2 = s k^(-2 alpha), alpha = {alpha:g}, s = {scale:g}")
            gamma = float(_fast.r1_gamma(alpha, a, b))
            out.append(Recommendation(
                method=f"R1/{form}", rank=rank, rank_real=r_real, formula=_fast.FORMULAS["R1"],
                assumption=f"{src}; {v_text}; additive risk; r* ~ N^{gamma:.4g}",
                extra={"gamma": gamma, "alpha_for_gamma_half": float(_fast.alpha_half(a, b)), "c": c}))
        rank, r_real = r2_rank(epsilon, c, form, N, r_max)
        out.append(Recommendation(
            method=f"R2/{form}", rank=rank, rank_real=r_real, formula=_fast.FORMULAS["R2"],
            assumption=f"largest rank whose variance term stays within epsilon = {epsilon:g}; {v_text}",
            extra={"c": c}))
        if singular_values is not None:
            out.append(Recommendation(
                method=f"R3/{form}", rank=min(r3_rank(singular_values, c, form, N), r_max),
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
