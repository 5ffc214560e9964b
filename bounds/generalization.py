"""G — generalization of the rank-r student (docs/theory.md G1, G2, G3) and the code length C(h) of G3.

G1 (the paper's claimed rate, constant unknown): :math:`\\mathrm{gen} \\le C_G\\, p/\\sqrt N`.

G2 (covering numbers; an :math:`\\epsilon`-net of the radius-R ball has :math:`\\le (3R/\\epsilon)^p` points,
Hoeffding + union bound + Lipschitz transfer, :math:`\\epsilon = B/(\\rho\\sqrt N)`):

.. math:: \\mathrm{gen} \\le \\frac{2B}{\\sqrt N} + B\\sqrt{\\frac{p\\log(3\\rho R\\sqrt N/B) + \\log(1/\\delta)}{2N}}

(the logarithm is expanded into a sum of logs so huge p, R or N never overflow a product).

G3 (Occam bound for a prefix-free code of C(h) bits; Lotfi et al. 2023, "Non-vacuous generalization bounds
for large language models"): :math:`R(h) \\le \\hat R(h) + B\\sqrt{(C(h)\\ln 2 + \\ln(1/\\delta))/(2N)}`.
With prediction smoothing :math:`\\tilde p = (1-\\alpha)p + \\alpha/V` the loss lies in
:math:`[0, \\log(V/\\alpha)]` (nats); its exact range is :math:`\\log_2(1 + (1-\\alpha)V/\\alpha)` bits.

C(h) (:func:`code_length_bits`) = an Elias-gamma code of the parameter count and of the number of levels
+ the codebook (``float_bits`` per level) + the symbol counts (:math:`\\lceil\\log_2(n+1)\\rceil` bits each)
+ :math:`\\lceil n H(\\hat q)\\rceil + 2` bits of arithmetic coding of the symbols under their empirical
distribution :math:`\\hat q` (Cover & Thomas, Thm. 13.3.1: within 2 bits of the ideal code length).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import log1p

from bounds.result import Result
from bounds.symbols import B, C_G, C_bits, N, R, V, alpha_s, delta, emp_risk, p, rho

_REF_G1 = "the paper's claim O(r(m+n)/sqrt(n)) (arXiv 2603.22355), read as docs/theory.md G1"
_REF_G2 = "docs/theory.md G2 (covering number of the l2 ball, Hoeffding, union bound; e.g. Shalev-Shwartz & Ben-David 2014, ch. 26-27)"
_REF_G3 = ("Lotfi et al. 2023, 'Non-vacuous generalization bounds for large language models' (SubLoRA, "
           "sublora/bounds/compute_bounds.py); Occam bound, Shalev-Shwartz & Ben-David 2014, Thm. 7.7")
_A_IID = "N i.i.d. samples (sequences/documents; tokens inside one sequence are not independent)"
_A_RANGE = "loss in [0, B] (cross-entropy needs prediction smoothing: B = log(V/alpha))"
_LHS, _LHS_TEX = "gen_gap", r"R(h) - \hat{R}(h)"
_D_DELTA = ("delta < 1 (a failure probability)", delta < 1)
_D_SMOOTH = ("alpha_s <= 1 (a smoothing weight in (0, 1])", alpha_s <= 1)


def g2_expr() -> sp.Expr:
    """The G2 expression with its logarithm expanded (sums of logs: no overflow for huge p, R, N)."""
    log_net = sp.log(3) + sp.log(rho) + sp.log(R) + sp.log(N) / 2 - sp.log(B)
    return 2 * B / sp.sqrt(N) + B * sp.sqrt((p * log_net + sp.log(1 / delta)) / (2 * N))


@lru_cache(maxsize=None)
def results() -> tuple[Result, ...]:
    """G1, G2, G3 and the smoothed-loss ranges used by G3."""
    g3 = emp_risk + B * sp.sqrt((C_bits * sp.log(2) + sp.log(1 / delta)) / (2 * N))
    return (
        Result(id="G1", title="the paper's claimed generalization rate (constant unknown)",
               statement="the generalization gap is at most C_G p(r)/sqrt(N), with p(r) = r(m+d) per matrix",
               assumptions=(_A_IID, "C_G is unknown: only the exponents in p and N are checkable"),
               expr=C_G * p / sp.sqrt(N), args=(C_G, p, N), reference=_REF_G1, lhs=_LHS, lhs_latex=_LHS_TEX,
               units="nats"),
        Result(id="G2", title="covering-number bound (explicit constants)",
               statement=("with probability >= 1-delta, the gap of every student in the radius-R ball is at most "
                          "2B/sqrt(N) + B sqrt((p log(3 rho R sqrt(N)/B) + log(1/delta))/(2N))"),
               assumptions=(_A_IID, _A_RANGE, "student parameters theta in R^p with ||theta||_2 <= R",
                            "loss rho-Lipschitz in theta", "needs 3 rho R sqrt(N) > B (net finer than the ball)"),
               expr=g2_expr(), args=(B, p, N, rho, R, delta), reference=_REF_G2, lhs=_LHS, lhs_latex=_LHS_TEX,
               units="nats (same units as B)",
               domain=(("3 rho R sqrt(N) > B (the net's radius B/(rho sqrt N) must be below 3R)",
                        3 * rho * R * sp.sqrt(N) > B), _D_DELTA)),
        Result(id="G3", title="Occam / compression bound (non-vacuous)",
               statement=("with probability >= 1-delta, the risk is at most the empirical risk + "
                          "B sqrt((C(h) ln 2 + ln(1/delta))/(2N)) for a hypothesis coded in C(h) bits"),
               assumptions=(_A_IID, _A_RANGE, "C(h) bits of a prefix-free code fixed before seeing the N samples",
                            "distillation: the teacher was trained on data disjoint from the N samples"),
               expr=g3, args=(emp_risk, B, C_bits, N, delta), reference=_REF_G3, lhs="risk",
               lhs_latex=r"R(h)", units="same units as B and the empirical risk",
               domain=(("emp_risk <= B (the loss lies in [0, B])", emp_risk <= B), _D_DELTA)),
        Result(id="G3.loss_range", title="smoothed cross-entropy upper bound",
               statement="with predictions (1-alpha)p + alpha/V the per-token cross-entropy is at most log(V/alpha) nats",
               assumptions=("prediction smoothing with weight alpha over a vocabulary of V tokens",),
               expr=sp.log(V) - sp.log(alpha_s), args=(V, alpha_s), reference=_REF_G3, lhs="B",
               lhs_latex="B", relation="=", units="nats", derived_from="G3", domain=(_D_SMOOTH,)),
        Result(id="G3.loss_range_bits", title="exact range of the smoothed cross-entropy, in bits",
               statement="the smoothed cross-entropy spans log2(1 + (1-alpha)V/alpha) bits (Lotfi et al. 2023)",
               assumptions=("prediction smoothing with weight alpha over a vocabulary of V tokens",),
               # log1p: log(1 + x) is 0 for x < 1e-16 (V/alpha tiny), log1p keeps every digit
               expr=log1p((1 - alpha_s) * V / alpha_s) / sp.log(2), args=(V, alpha_s), reference=_REF_G3,
               lhs="B_bits", lhs_latex=r"B_{\mathrm{bits}}", relation="=", units="bits", derived_from="G3",
               domain=(_D_SMOOTH,)),
    )


# ------------------------------------------------------------------------------ code length C(h) of G3

def quantize_uniform(theta, n_levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-level quantization of ``theta`` onto ``n_levels`` evenly spaced levels spanning [min, max].

    Returns ``(symbols, codebook)`` with ``codebook[symbols]`` the quantized vector.
    """
    x = np.asarray(theta, dtype=float).ravel()
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError("quantize_uniform needs a non-empty finite parameter vector")
    if int(n_levels) < 1:
        raise ValueError(f"n_levels must be >= 1, got {n_levels}")
    lo, hi = float(x.min()), float(x.max())
    if n_levels == 1 or hi == lo:
        return np.zeros(x.size, dtype=np.int64), np.array([0.5 * (lo + hi)])
    codebook = np.linspace(lo, hi, int(n_levels))
    symbols = np.clip(np.rint((x - lo) / (hi - lo) * (n_levels - 1)), 0, n_levels - 1).astype(np.int64)
    return symbols, codebook


def _elias_gamma_bits(k: int) -> int:
    """Length of the Elias-gamma code of a positive integer: 2 floor(log2 k) + 1."""
    return 2 * (int(k).bit_length() - 1) + 1


def code_length_bits(symbols, n_levels: int, float_bits: int = 32) -> float:
    """Prefix-free code length C(h) in bits of a quantized parameter vector (see the module docstring).

    .. math:: C = \\gamma(n) + \\gamma(L) + L\\,b_{\\mathrm{float}} + L\\lceil\\log_2(n+1)\\rceil
              + \\lceil n H(\\hat q)\\rceil + 2
    """
    sym = np.asarray(symbols).ravel()
    n = sym.size
    if n == 0:
        raise ValueError("code_length_bits needs at least one symbol")
    if sym.min() < 0 or sym.max() >= n_levels:
        raise ValueError(f"symbols must lie in [0, {n_levels})")
    counts = np.bincount(sym.astype(np.int64), minlength=n_levels).astype(float)
    q = counts[counts > 0] / n
    entropy_bits = float(-(q * np.log2(q)).sum())
    payload = math.ceil(n * entropy_bits - 1e-9) + 2
    header = _elias_gamma_bits(n) + _elias_gamma_bits(n_levels)
    codebook = n_levels * float_bits + n_levels * math.ceil(math.log2(n + 1))
    return float(header + codebook + payload)


def quantized_code_length_bits(theta, n_levels: int = 16, float_bits: int = 32) -> float:
    """C(h) of ``theta`` quantized onto ``n_levels`` uniform levels (:func:`quantize_uniform`)."""
    symbols, _ = quantize_uniform(theta, n_levels)
    return code_length_bits(symbols, n_levels, float_bits)
