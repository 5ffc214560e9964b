"""I — information between teacher and student activations (docs/theory.md I1, I2, I3, Gaussian MI).

I1 (data processing, then the Gaussian maximum-entropy bound on the clone error; nats):

.. math:: I(h_T; h_S) \\ge I(h_T; \\hat h_T) \\ge h(h_T) - \\tfrac d2 \\log(2\\pi e\\,\\varepsilon^2/d)

and for Gaussian :math:`h_T`, :math:`h(h_T) = \\tfrac12\\log((2\\pi e)^d\\det\\Sigma_T)` gives
:math:`\\tfrac12\\log\\det\\Sigma_T - \\tfrac d2\\log(\\varepsilon^2/d)` (derived by substitution below).
I2 (rank cap with read-out noise :math:`\\xi\\sim N(0, \\sigma_n^2 I_r)`; Cover & Thomas Thm. 9.4.1 + Jensen):
:math:`I(h_T; h_S+\\xi) \\le \\tfrac12\\sum_{i\\le r}\\log(1+\\mu_i/\\sigma_n^2) \\le \\tfrac r2\\log(1+\\operatorname{tr}\\Sigma_S/(r\\sigma_n^2))`.
I3 (best rank-r linear clone, PCA / Eckart–Young): :math:`\\min\\varepsilon^2 = \\sum_{k>r}\\lambda_k`, put into I1.
Gaussian MI: :math:`I = \\tfrac12\\log(\\det\\Sigma_{XX}\\det\\Sigma_{YY}/\\det\\Sigma) = -\\tfrac12\\sum_i\\log(1-\\rho_i^2)`.

Determinants enter as log-determinants (``numpy.linalg.slogdet``) so large dimensions never overflow.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import log1p

from bounds.result import Result
from bounds.symbols import corr, d, eps2, h_T, logdet_T, logdet_joint, logdet_xx, logdet_yy, r, sigma_n, tail, tr_S

_REF_I = "docs/theory.md I; Cover & Thomas 2006, Elements of Information Theory (Thms. 2.8.1, 8.6.5, 9.4.1)"
_A_CLONE = "clone map \\hat h_T = g(h_S) with clone MSE eps2 = E||h_T - \\hat h_T||^2 (any measurable g)"
_A_GAUSS_T = "h_T Gaussian with covariance Sigma_T (else estimate h(h_T), e.g. Kozachenko-Leonenko; a plug-in Gaussian entropy overstates it and is no bound)"
_LHS, _LHS_TEX = "MI", r"I(h_T; h_S)"


@lru_cache(maxsize=None)
def results() -> tuple[Result, ...]:
    """I1 (general and Gaussian forms), I2, I3, the Gaussian MI and its one-correlation form."""
    # log(eps2/d) kept whole: d log(eps2) - d log(d) cancels catastrophically when d and eps2 are both huge
    i1 = h_T - d / 2 * (sp.log(2 * sp.pi) + 1 + sp.log(eps2 / d))
    # Gaussian teacher: substitute h(h_T) = 1/2 (d log(2 pi e) + log det Sigma_T); the d log(2 pi e) terms
    # cancel symbolically (log=False keeps log(eps2/d) unexpanded)
    i1_gauss = sp.expand(i1.subs(h_T, (d * (sp.log(2 * sp.pi) + 1) + logdet_T) / 2), log=False)
    i3 = i1_gauss.subs(eps2, tail)
    i2 = r / 2 * log1p(tr_S / (r * sigma_n**2))
    gmi = (logdet_xx + logdet_yy - logdet_joint) / 2
    # one pair of unit-variance scalars with correlation rho: det [[1, rho], [rho, 1]] = 1 - rho^2
    gmi_corr = sp.simplify(gmi.subs({logdet_xx: 0, logdet_yy: 0,
                                      logdet_joint: sp.log(sp.Matrix([[1, corr], [corr, 1]]).det())}))
    # evaluated as -log1p(-rho^2)/2: log(1 - rho^2) is 0 for rho < 1e-8 (1 - rho^2 rounds to 1); near rho = 1,
    # rho^2 = 1 - 2 d + d^2 is exact to ~d^2, so 1 - rho^2 keeps its digits
    accurate = -log1p(-corr**2) / 2
    as_logs = accurate.replace(log1p, lambda x: sp.log(1 + x))
    if sp.simplify(sp.exp(-2 * gmi_corr) - sp.exp(-2 * as_logs)) != 0:
        raise RuntimeError(f"log1p form {accurate} differs from the derived {gmi_corr}")
    gmi_corr = accurate
    return (
        Result(id="I1", title="clone MSE lower-bounds the teacher-student MI",
               statement="I(h_T; h_S) >= h(h_T) - (d/2) log(2 pi e eps2/d): lowering the clone MSE raises this bound",
               assumptions=(_A_CLONE, "h(h_T) is the (known or estimated) differential entropy of h_T in nats"),
               expr=i1, args=(h_T, d, eps2), reference=_REF_I, lhs=_LHS, lhs_latex=_LHS_TEX, relation=">=",
               units="nats"),
        Result(id="I1.gaussian", title="I1 for a Gaussian teacher activation",
               statement="for Gaussian h_T, I(h_T; h_S) >= (1/2) log det Sigma_T - (d/2) log(eps2/d)",
               assumptions=(_A_CLONE, _A_GAUSS_T), expr=i1_gauss, args=(logdet_T, d, eps2), reference=_REF_I,
               lhs=_LHS, lhs_latex=_LHS_TEX, relation=">=", units="nats", derived_from="I1"),
        Result(id="I2", title="rank cap on the information a rank-r student carries",
               statement="through read-out noise N(0, sigma_n^2 I_r), I(h_T; h_S + xi) <= (r/2) log(1 + tr Sigma_S/(r sigma_n^2))",
               assumptions=("student activation h_S in R^r with covariance Sigma_S",
                            "read through independent noise xi ~ N(0, sigma_n^2 I_r) (without it the MI is infinite)"),
               expr=i2, args=(r, tr_S, sigma_n), reference=_REF_I, lhs="MI", lhs_latex=r"I(h_T; h_S + \xi)",
               units="nats"),
        Result(id="I3", title="best rank-r linear clone in I1",
               statement=("the best rank-r linear clone has MSE sum_{k>r} lambda_k (PCA), so "
                          "I >= (1/2) log det Sigma_T - (d/2) log(sum_{k>r} lambda_k / d), increasing in r"),
               assumptions=(_A_GAUSS_T, "clone restricted to rank-r linear maps of h_T (Eckart-Young)"),
               expr=i3, args=(logdet_T, d, tail), reference=_REF_I, lhs=_LHS, lhs_latex=_LHS_TEX, relation=">=",
               units="nats"),
        Result(id="GaussianMI", title="mutual information of jointly Gaussian vectors",
               statement="for jointly Gaussian X, Y, I(X; Y) = (1/2) log(det Sigma_XX det Sigma_YY / det Sigma)",
               assumptions=("(X, Y) jointly Gaussian with non-singular covariance Sigma",
                            "estimated from samples: unstable when samples <~ dim_x + dim_y (shrink)"),
               expr=gmi, args=(logdet_xx, logdet_yy, logdet_joint), reference=_REF_I, lhs="MI",
               lhs_latex=r"I(X; Y)", relation="=", units="nats",
               domain=(("logdet_joint <= logdet_xx + logdet_yy (Fischer's inequality: else Sigma is no covariance)",
                        logdet_joint <= logdet_xx + logdet_yy),)),
        Result(id="GaussianMI.corr", title="Gaussian MI of one canonical pair",
               statement="a canonical pair with correlation rho carries -(1/2) log(1 - rho^2) nats; I is the sum over pairs",
               assumptions=("(X, Y) jointly Gaussian", "0 < rho < 1"),
               expr=gmi_corr, args=(corr,), reference=_REF_I, lhs="MI", lhs_latex=r"I", relation="=",
               units="nats", derived_from="GaussianMI",
               domain=(("corr < 1 (a correlation; at 1 the MI is infinite)", corr < 1),)),
    )


def _get(rid: str) -> Result:
    return _by_id()[rid]


@lru_cache(maxsize=None)
def _by_id() -> dict:
    return {res.id: res for res in results()}


def _logdet(cov) -> float:
    sign, value = np.linalg.slogdet(np.asarray(cov, dtype=float))
    if sign <= 0:
        raise ValueError("covariance is not positive definite")
    return float(value)


def gaussian_mi(cov, dim_x: int) -> float:
    """Closed-form MI (nats) of jointly Gaussian (X, Y) from the joint covariance; X is the first ``dim_x`` coordinates."""
    cov = np.asarray(cov, dtype=float)
    return _get("GaussianMI")(logdet_xx=_logdet(cov[:dim_x, :dim_x]), logdet_yy=_logdet(cov[dim_x:, dim_x:]),
                              logdet_joint=_logdet(cov))


def gaussian_mi_from_correlations(rhos) -> float:
    """MI (nats) as the sum over canonical correlations of ``GaussianMI.corr``."""
    return float(np.sum(_get("GaussianMI.corr")(corr=np.asarray(rhos, dtype=float))))


def i1_lower_bound_gaussian(cov_teacher, clone_mse) -> float:
    """I1 for a Gaussian teacher: :math:`\\tfrac12\\log\\det\\Sigma_T - \\tfrac d2\\log(\\varepsilon^2/d)` (nats)."""
    cov = np.atleast_2d(np.asarray(cov_teacher, dtype=float))
    return _get("I1.gaussian")(logdet_T=_logdet(cov), d=cov.shape[0], eps2=clone_mse)


def i2_cap(cov_student, noise_std) -> float:
    """I2 trace form :math:`\\tfrac r2\\log(1 + \\operatorname{tr}\\Sigma_S/(r\\sigma_n^2))` (nats)."""
    cov = np.atleast_2d(np.asarray(cov_student, dtype=float))
    return _get("I2")(r=cov.shape[0], tr_S=float(np.trace(cov)), sigma_n=noise_std)


def i2_cap_eigen(eigenvalues, noise_std) -> float:
    """I2 eigenvalue form :math:`\\tfrac12\\sum_i\\log(1+\\mu_i/\\sigma_n^2)` (nats): the rank-1 I2 per eigenvalue."""
    mu = np.asarray(eigenvalues, dtype=float)
    return float(np.sum(_get("I2")(r=1.0, tr_S=mu, sigma_n=noise_std)))


def i3_curve(eigenvalues) -> np.ndarray:
    """I3 lower bound for r = 0, 1, ..., d-1 from the teacher covariance eigenvalues (nats, increasing in r)."""
    lam = np.sort(np.asarray(eigenvalues, dtype=float))[::-1]
    if lam.size == 0 or np.any(lam <= 0) or not np.all(np.isfinite(lam)):
        raise ValueError("i3_curve needs positive finite eigenvalues")
    tails = np.cumsum(lam[::-1])[::-1]  # tails[r] = sum_{k>r} lambda_k (0-based: k >= r)
    return _get("I3")(logdet_T=float(np.sum(np.log(lam))), d=lam.size, tail=tails)
