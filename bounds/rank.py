"""R — the optimal student rank (docs/theory.md R1, R2, and the objective R3 minimizes).

Risk model :math:`E(r, N) = A(r) + V(r, N)` with the Eckart–Young tail :math:`A(r) = \\sum_{k>r}\\sigma_k^2`,
for a power-law spectrum :math:`\\sigma_k^2 = s k^{-2\\alpha}` (:math:`\\alpha > 1/2`)
:math:`A(r) \\approx s r^{1-2\\alpha}/(2\\alpha-1)`, and :math:`V(r, N) = c\\, r^{a} N^{-b}`.

- R1: :math:`r^*` from :math:`\\partial E/\\partial r = 0` (sympy ``solve``), :math:`\\gamma = d\\log r^*/d\\log N`,
  and for each rate form (a, b) the :math:`\\alpha` that gives :math:`\\gamma = 1/2` (sympy ``solve``).
- R2: the largest r with :math:`V(r, N) \\le \\epsilon` (sympy ``solve``).
- R3: the objective :math:`\\sum_{k>r}\\sigma_k^2 + c r^a N^{-b}` minimized over integers by
  :mod:`bounds.recommend`.

Rate forms (a, b): ``paper`` = G1 (1, 1/2); ``covering`` = G2 (1/2, 1/2) up to logs; ``fast`` (1, 1), the
well-specified reduced-rank regression rate.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from bounds.rates import RATE_FORM_SOURCE, RATE_FORMS  # noqa: F401  (re-exported)
from bounds.result import Result
from bounds.symbols import N, a, alpha, b, c, epsilon, log_c, log_s, r, s, tail

_REF = "docs/theory.md R (risk model A(r) + V(r, N)); Eckart & Young 1936 for the tail"
_A_POWER = ("teacher spectrum follows a power law sigma_k^2 = s k^(-2 alpha) with alpha > 1/2 "
            "(tail approximated by its integral)")
_A_VAR = "variance term V(r, N) = c r^a N^(-b) (a rate form of docs/theory.md G with constant c)"
_A_ADD = "risk is additive: E(r, N) = A(r) + V(r, N)"
_D_ALPHA = (("alpha > 1/2 (the power-law tail must converge)", alpha > sp.Rational(1, 2)),)


def _rational(form: str) -> tuple[sp.Rational, sp.Rational]:
    fa, fb = RATE_FORMS[form]
    return sp.nsimplify(fa), sp.nsimplify(fb)


@lru_cache(maxsize=None)
def _derive() -> dict:
    """Everything R1/R2 derive with sympy (cached: solve/simplify run once per process)."""
    tail_model = s * r ** (1 - 2 * alpha) / (2 * alpha - 1)
    variance = c * r**a * N ** (-b)
    risk = tail_model + variance
    roots = sp.solve(sp.Eq(sp.diff(risk, r), 0), r, manual=True)  # manual: same root, ~2x faster
    if len(roots) != 1:
        raise RuntimeError(f"expected one stationary rank, got {roots}")
    r_star = sp.simplify(roots[0])
    gamma = sp.simplify(N * sp.diff(sp.log(r_star), N))
    alpha_half = sp.solve(sp.Eq(gamma, sp.Rational(1, 2)), alpha)
    if len(alpha_half) != 1:
        raise RuntimeError(f"expected one alpha giving gamma = 1/2, got {alpha_half}")
    budget = sp.solve(sp.Eq(variance, epsilon), r)
    if len(budget) != 1:
        raise RuntimeError(f"expected one budget rank, got {budget}")
    return {"risk": risk, "variance": variance, "r_star": r_star, "gamma": gamma,
            "alpha_half": sp.simplify(alpha_half[0]), "budget": sp.simplify(budget[0])}


def alpha_for_half(form: str) -> sp.Expr:
    """The spectrum exponent alpha giving gamma = 1/2 under rate form ``form`` (exact sympy number)."""
    fa, fb = _rational(form)
    return sp.nsimplify(_derive()["alpha_half"].subs({a: fa, b: fb}))


def _log_form(expr: sp.Expr) -> sp.Expr:
    """``log(expr)`` expanded into a sum of logs (every symbol is positive), with log s, log c as symbols."""
    out = sp.expand_log(sp.log(expr), force=True).subs({sp.log(s): log_s, sp.log(c): log_c})
    if s in out.free_symbols or c in out.free_symbols:
        raise RuntimeError(f"log form still holds s or c: {out}")
    return out


@lru_cache(maxsize=None)
def results() -> tuple[Result, ...]:
    """R1, R2, R3's objective and the derived quantities (risk model, gamma, alpha for gamma = 1/2 per form)."""
    dv = _derive()
    out = [
        Result(id="R1", title="optimal rank under a power-law spectrum",
               statement="the rank minimizing s r^(1-2 alpha)/(2 alpha-1) + c r^a N^(-b) is (s N^b/(a c))^(1/(2 alpha-1+a))",
               assumptions=(_A_POWER, _A_VAR, _A_ADD, "r treated as continuous; round to the better neighbour"),
               expr=dv["r_star"], args=(s, c, alpha, a, b, N), reference=_REF, lhs="r_star", lhs_latex="r^*",
               relation="=", units="rank", domain=_D_ALPHA),
        Result(id="R2", title="budget rank",
               statement="the largest rank whose variance term c r^a N^(-b) stays within a budget epsilon",
               assumptions=(_A_VAR, "a fixed variance (generalization) budget epsilon"),
               expr=dv["budget"], args=(epsilon, c, a, b, N), reference=_REF, lhs="r_budget",
               lhs_latex=r"r_{\epsilon}", relation="=", units="rank"),
        Result(id="R2.log", title="log of R2's budget rank, from log c",
               statement="log r_budget as a sum of logs (exact where c or r_budget exceed the float range)",
               assumptions=(_A_VAR, "a fixed variance (generalization) budget epsilon"),
               expr=_log_form(dv["budget"]), args=(epsilon, log_c, a, b, N), reference=_REF, lhs="log_r_budget",
               lhs_latex=r"\log r_{\epsilon}", relation="=", derived_from="R2"),
        Result(id="R3", title="risk objective on a measured spectrum",
               statement="the recommended rank minimizes the measured tail sum_{k>r} sigma_k^2 plus c r^a N^(-b) over integers",
               assumptions=(_A_VAR, _A_ADD, "the tail is the Eckart-Young error of the measured spectrum"),
               expr=tail + dv["variance"], args=(tail, c, r, a, b, N), reference=_REF, lhs="E", lhs_latex="E(r, N)",
               relation="=", units="loss units of the spectrum"),
        Result(id="R.risk", title="power-law risk model",
               statement="the risk model E(r, N) = s r^(1-2 alpha)/(2 alpha-1) + c r^a N^(-b)",
               assumptions=(_A_POWER, _A_VAR, _A_ADD), expr=dv["risk"], args=(s, c, alpha, a, b, N, r),
               reference=_REF, lhs="E", lhs_latex="E(r, N)", relation="=", derived_from="R1", domain=_D_ALPHA),
        Result(id="R1.gamma", title="exponent of r* in N",
               statement="r* grows as N^gamma with gamma = d log r*/d log N",
               assumptions=(_A_POWER, _A_VAR, _A_ADD), expr=dv["gamma"], args=(alpha, a, b), reference=_REF,
               lhs="gamma", lhs_latex=r"\gamma", relation="=", derived_from="R1", domain=_D_ALPHA),
        Result(id="R1.log", title="log of R1's optimal rank, from log s and log c",
               statement="log r* as a sum of logs, so that r* is exact even where s, c or r* exceed the float range",
               assumptions=(_A_POWER, _A_VAR, _A_ADD),
               expr=_log_form(dv["r_star"]), args=(log_s, log_c, alpha, a, b, N), reference=_REF,
               lhs="log_r_star", lhs_latex=r"\log r^*", relation="=", derived_from="R1", domain=_D_ALPHA),
        Result(id="R1.alpha_half", title="spectrum exponent giving the paper's claim r* ~ sqrt(N)",
               statement="the alpha at which gamma = 1/2, for a rate form (a, b)",
               assumptions=(_A_POWER, _A_VAR, _A_ADD, "needs alpha > 1/2 to be admissible"),
               expr=dv["alpha_half"], args=(a, b), reference=_REF, lhs="alpha_half",
               lhs_latex=r"\alpha_{\gamma=1/2}", relation="=", derived_from="R1"),
    ]
    for form in RATE_FORMS:
        out.append(Result(
            id=f"R1.alpha_half.{form}", title=f"alpha giving gamma = 1/2 under the {form} rate form",
            statement=(f"under {RATE_FORM_SOURCE[form]}, r* ~ sqrt(N) needs alpha = {alpha_for_half(form)}"
                       + (" (the excluded boundary alpha = 1/2)" if alpha_for_half(form) == sp.Rational(1, 2) else "")),
            assumptions=(_A_POWER, _A_VAR, _A_ADD), expr=alpha_for_half(form), args=(), reference=_REF,
            lhs="alpha_half", lhs_latex=r"\alpha_{\gamma=1/2}", relation="=", derived_from="R1"))
    return tuple(out)
