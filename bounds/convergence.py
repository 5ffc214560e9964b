"""C — convergence of SGD on the student's trainable parameters (docs/theory.md C1, C2).

C1 (Ghadimi & Lan 2013, Cor. 2.2): for a :math:`\\beta`-smooth :math:`L \\ge L^*`, unbiased gradients with
variance :math:`\\le\\sigma^2` and a constant step :math:`\\eta \\le 1/\\beta`,

.. math:: \\frac1T\\sum_{t<T}\\mathbb E\\|\\nabla L(\\theta_t)\\|^2 \\le \\frac{2\\Delta}{\\eta T} + \\beta\\eta\\sigma^2 .

C2 (rank-r projected updates with a fresh Haar projection, :math:`\\mathbb E\\|PP^\\top v\\|^2 = (r/D)\\|v\\|^2`)
multiplies the first term by :math:`D/r`. The step :math:`\\eta^*` is derived by solving
:math:`dB/d\\eta = 0` and capping at :math:`1/\\beta`; the optimized bound and its rate are derived from it.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from bounds.result import Result
from bounds.symbols import D, Delta, T, beta, eta, r, sigma

_REF_C1 = "Ghadimi & Lan 2013, SIAM J. Optim. 23(4), Cor. 2.2; docs/theory.md C1"
_REF_C2 = "docs/theory.md C2 (Ghadimi & Lan 2013 argument with E||PP^T v||^2 = (r/D)||v||^2)"
_A_C1 = (
    "L >= L* and grad L is beta-Lipschitz (beta-smooth, possibly non-convex)",
    "unbiased stochastic gradients with variance <= sigma^2",
    "constant step eta <= 1/beta for T steps",
    "bounds the average (equivalently a random iterate's) squared gradient norm, not the last iterate",
)
_A_C2 = _A_C1 + (
    "update theta <- theta - eta P P^T g with P in R^{D x r} orthonormal, drawn fresh (Haar) and independent "
    "of g; for data-dependent P (GaLore-style SVD) replace r/D by the measured captured-energy ratio",
)
_LHS = "avg_sq_grad_norm"
_LHS_TEX = r"\frac{1}{T}\sum_{t<T}\mathbb{E}\|\nabla L(\theta_t)\|^2"


def _step_bound(projected: bool) -> sp.Expr:
    factor = D / r if projected else sp.Integer(1)
    return 2 * factor * Delta / (eta * T) + beta * eta * sigma**2


@lru_cache(maxsize=None)
def _derive(projected: bool) -> dict:
    """Solve dB/deta = 0 for eta (sympy), cap at 1/beta, and derive the bound at eta* and its rate form."""
    bound = _step_bound(projected)
    # solve with sigma > 0 (the stationary point exists only then), then restore the non-negative symbol
    sig_pos = sp.Symbol("sigma_pos", positive=True)
    roots = sp.solve(sp.Eq(sp.diff(bound.subs(sigma, sig_pos), eta), 0), eta)
    roots = [root for root in roots if root.is_positive]
    if len(roots) != 1:
        raise RuntimeError(f"expected one positive stationary step, got {roots}")
    eta_unc = sp.simplify(roots[0].subs(sig_pos, sigma))
    eta_star = sp.Min(1 / beta, eta_unc)
    at_unc = sp.simplify(bound.subs(eta, eta_unc))
    at_cap = sp.simplify(bound.subs(eta, 1 / beta))
    # B(eta*) exactly: the capped branch when 1/beta <= the unconstrained root
    at_star = sp.Piecewise((at_cap, eta_unc >= 1 / beta), (at_unc, True))
    # one smooth upper bound valid in both regimes: the noise-free capped term plus the unconstrained optimum
    rate = sp.simplify(bound.subs({eta: 1 / beta, sigma: 0}) + at_unc)
    return {"bound": bound, "eta_unc": eta_unc, "eta_star": eta_star, "at_star": at_star, "rate": rate}


def _args(projected: bool, with_eta: bool) -> tuple:
    base = (Delta, beta, sigma, T)
    if projected:
        base = base + (D, r)
    return base + ((eta,) if with_eta else ())


@lru_cache(maxsize=None)
def results() -> tuple[Result, ...]:
    """C1, C2 and their derived quantities (eta*, the bound at eta*, the rate form)."""
    out = []
    for cid, projected, ref, assumptions, title in (
        ("C1", False, _REF_C1, _A_C1, "SGD on a smooth non-convex loss"),
        ("C2", True, _REF_C2, _A_C2, "SGD with rank-r random projected updates"),
    ):
        dv = _derive(projected)
        dom = (("r <= D (a rank-r projection of D parameters)", r <= D),) if projected else ()
        out.append(Result(
            id=cid, title=title,
            statement=("the average squared gradient norm over T SGD steps with constant step eta is at most "
                       + ("2D Delta/(r eta T) + beta eta sigma^2" if projected else "2 Delta/(eta T) + beta eta sigma^2")),
            assumptions=assumptions, expr=dv["bound"], args=_args(projected, True), reference=ref,
            lhs=_LHS, lhs_latex=_LHS_TEX, units="squared gradient norm",
            domain=dom + (("eta <= 1/beta (constant step)", beta * eta <= 1),)))
        out.append(Result(
            id=f"{cid}.eta_star", title=f"optimal constant step of {cid}",
            statement=f"the step minimizing the {cid} bound: the root of dB/deta = 0, capped at 1/beta",
            assumptions=assumptions, expr=dv["eta_star"], args=_args(projected, False), reference=ref,
            lhs="eta_star", lhs_latex=r"\eta^*", relation="=", units="step size", derived_from=cid, domain=dom))
        out.append(Result(
            id=f"{cid}.at_eta_star", title=f"{cid} bound at the optimal step",
            statement=f"the {cid} bound evaluated at eta*",
            assumptions=assumptions, expr=dv["at_star"], args=_args(projected, False), reference=ref,
            lhs=_LHS, lhs_latex=_LHS_TEX, units="squared gradient norm", derived_from=cid, domain=dom))
        out.append(Result(
            id=f"{cid}.rate", title=f"{cid} rate form",
            statement=(f"an upper bound on the {cid} bound at eta*, slope -1 in T while the noise-free term "
                       "dominates and -1/2 after"),
            assumptions=assumptions, expr=dv["rate"], args=_args(projected, False), reference=ref,
            lhs=_LHS, lhs_latex=_LHS_TEX, units="squared gradient norm", derived_from=cid, domain=dom))
    return tuple(out)
