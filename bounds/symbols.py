"""The sympy symbols of docs/theory.md, defined once with their assumptions, and how each is typeset.

A symbol's *name* is what a user types on the command line (``lrkd bounds --eval G2 p=1e6 N=1e4 ...``):
plain identifiers. Its LaTeX rendering comes from :data:`LATEX_NAMES` (passed to ``sympy.latex``).
"""
from __future__ import annotations

import sympy as sp

_pos = dict(positive=True, real=True)

# --- C: convergence (Ghadimi & Lan 2013)
Delta = sp.Symbol("Delta", **_pos)          # L(theta_0) - L*
beta = sp.Symbol("beta", **_pos)            # smoothness constant
sigma = sp.Symbol("sigma", nonnegative=True, real=True)  # std of the stochastic gradient (sigma^2 = variance)
T = sp.Symbol("T", **_pos)                  # number of steps
eta = sp.Symbol("eta", **_pos)              # constant step size
D = sp.Symbol("D", **_pos)                  # number of trainable parameters projected (C2)
r = sp.Symbol("r", **_pos)                  # rank

# --- G: generalization
B = sp.Symbol("B", **_pos)                  # loss range (nats)
p = sp.Symbol("p", **_pos)                  # trainable parameter count p(r)
N = sp.Symbol("N", **_pos)                  # number of i.i.d. samples
C_G = sp.Symbol("C_G", **_pos)              # unknown constant of the paper's claimed rate
rho = sp.Symbol("rho", **_pos)              # Lipschitz constant of the loss in theta
R = sp.Symbol("R", **_pos)                  # radius of the parameter ball
delta = sp.Symbol("delta", **_pos)          # failure probability
emp_risk = sp.Symbol("emp_risk", nonnegative=True, real=True)  # empirical risk \hat R(h)
C_bits = sp.Symbol("C_bits", **_pos)        # code length C(h) in bits
V = sp.Symbol("V", **_pos)                  # vocabulary size
alpha_s = sp.Symbol("alpha_s", **_pos)      # prediction-smoothing weight alpha (G3)

# --- R: optimal rank
s = sp.Symbol("s", **_pos)                  # spectrum scale: sigma_k^2 = s k^{-2 alpha}
c = sp.Symbol("c", **_pos)                  # constant of the variance term V(r, N) = c r^a N^{-b}
alpha = sp.Symbol("alpha", **_pos)          # spectrum decay exponent
a = sp.Symbol("a", **_pos)                  # rank exponent of the variance term
b = sp.Symbol("b", **_pos)                  # sample exponent of the variance term
epsilon = sp.Symbol("epsilon", **_pos)      # variance budget (R2)
log_s = sp.Symbol("log_s", real=True)       # log s (a fitted scale may exceed the float range)
log_c = sp.Symbol("log_c", real=True)       # log c

# --- I: information
d = sp.Symbol("d", **_pos)                  # teacher activation dimension
h_T = sp.Symbol("h_T", real=True)           # differential entropy of h_T (nats)
logdet_T = sp.Symbol("logdet_T", real=True)  # log det Sigma_T = sum_k log lambda_k
eps2 = sp.Symbol("eps2", **_pos)            # clone MSE E||h_T - \hat h_T||^2
tail = sp.Symbol("tail", **_pos)            # sum_{k>r} lambda_k
tr_S = sp.Symbol("tr_S", nonnegative=True, real=True)  # tr Sigma_S
sigma_n = sp.Symbol("sigma_n", **_pos)      # read-out noise std
logdet_xx = sp.Symbol("logdet_xx", real=True)
logdet_yy = sp.Symbol("logdet_yy", real=True)
logdet_joint = sp.Symbol("logdet_joint", real=True)
corr = sp.Symbol("corr", positive=True, real=True)  # a canonical correlation in (0, 1)

#: how symbols whose names are not LaTeX are typeset
LATEX_NAMES = {
    C_G: "C_G", emp_risk: r"\hat{R}(h)", C_bits: r"C(h)", alpha_s: r"\alpha", h_T: r"h(h_T)",
    logdet_T: r"\log\det\Sigma_T", eps2: r"\varepsilon^2", tail: r"\sum_{k>r}\lambda_k",
    tr_S: r"\operatorname{tr}\Sigma_S", sigma_n: r"\sigma_n", logdet_xx: r"\log\det\Sigma_{XX}",
    logdet_yy: r"\log\det\Sigma_{YY}", logdet_joint: r"\log\det\Sigma", corr: r"\rho_1",
    log_s: r"\log s", log_c: r"\log c",
}
