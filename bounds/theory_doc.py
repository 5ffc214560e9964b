"""Generate ``docs/theory.md``: the theory the toolkit checks, rendered from the catalog (:mod:`bounds.catalog`).

Every statement, assumption, formula (LaTeX from ``sympy.latex``), reference and derived quantity in the
document is printed from the catalog's :class:`~bounds.result.Result` objects; only the introduction, the claim
table and the per-family notes below are prose. ``python -m bounds.theory_doc`` (or
``lrkd bounds --markdown > docs/theory.md``) rewrites the file, and ``tests/test_theory_doc.py`` fails if the
committed file differs from what the catalog renders now.
"""
from __future__ import annotations

import sys
from pathlib import Path

TARGET = Path(__file__).resolve().parents[1] / "docs" / "theory.md"

PAPER = "*Demystifying Low-Rank Knowledge Distillation in Large Language Models* (arXiv 2603.22355, 2026)"

_INTRO = f"""\
# The theory lrkd checks

<!-- Generated from bounds/catalog.py by `python -m bounds.theory_doc` (or `lrkd bounds --markdown`).
     Do not edit by hand: tests/test_theory_doc.py fails when this file and the catalog disagree. -->

This is the toolkit's **reconstruction** of the theory in {PAPER}, for Low-Rank Clone (LRC) distillation.
The paper's body is not available to this project: only its four claims, at the level of rates, with no
constants, assumptions or figures. Everything below is our own reading of those claims, with explicit
assumptions and constants, so that each statement can be evaluated on measured quantities and *checked*
(`lrkd bounds --eval ID name=value ...`), not merely plotted. Where a result is standard, its reference is
given; "docs/theory.md X" in a reference means the result is stated here and derived by the toolkit.

Notation: log is natural (nats) unless a name says bits. p(r) is the number of trainable student parameters
at rank r (r(m+d) for one free rank-r factorization of a teacher matrix W in R^(m x d)); N the number of
i.i.d. training samples (sequences); Delta = L(theta_0) - L*; beta the smoothness constant; sigma^2 the
variance of the stochastic gradient; B the range of the loss.
"""

#: (claim, the paper's claim, our reading)
CLAIMS = (
    ("C", "low-rank projection preserves optimization dynamics; convergence O(1/sqrt(T))",
     "smooth non-convex SGD on the student's trainable parameters; the average squared gradient norm (C1, C2)"),
    ("G", "generalization error scales with rank as O(r(m+n)/sqrt(n))",
     "n is used twice (matrix side and sample size): we write W in R^(m x d) and N samples, so the claim is "
     "gen <= C_G r(m+d)/sqrt(N) with an unknown constant (G1); explicit bounds G2, G3"),
    ("I", "activation cloning maximizes mutual information between teacher and student representations",
     "minimizing the clone MSE maximizes a lower bound on I(h_T; h_S) (I1), under a rank cap (I2); the best "
     "rank-r linear clone gives I3"),
    ("R", "optimal rank r* = O(sqrt(N))",
     "follows only under stated assumptions: R1 (power-law spectrum, a rate form of the variance term), R2 "
     "(a variance budget); R3 picks r* from a measured spectrum"),
)

#: family letter -> (heading, a note printed before its results)
_FAMILIES = {
    "C": ("C — Convergence",
          "LRC trains its projection matrices directly, so C1 applies with theta = the projections; beta, "
          "sigma^2 and Delta are measured on the student (L* is estimated by the best loss seen). Expected "
          "log-log slope of the running average: -1 while the deterministic term dominates, -1/2 after."),
    "G": ("G — Generalization",
          "Losses must be bounded: cross-entropy with prediction smoothing p~ = (1 - alpha) p + alpha/V has "
          "range B = log(V/alpha). In the well-specified linear case (the synthetic track) reduced-rank least "
          "squares has excess risk ~ tau^2 r(m+d-r)/N: exponent -1 in N, faster than G1's -1/2."),
    "R": ("R — Optimal rank",
          "Risk model E(r, N) = A(r) + V(r, N): A(r) = sum_{k>r} sigma_k^2 (the Eckart-Young tail), and for a "
          "power-law spectrum sigma_k^2 = s k^(-2 alpha), alpha > 1/2, A(r) ~ s r^(1-2 alpha)/(2 alpha - 1); "
          "V(r, N) = c r^a N^(-b) with (a, b) = (1, 1/2) for G1 (`paper`), (1/2, 1/2) for G2 up to logs "
          "(`covering`), (1, 1) for the fast rate (`fast`). R3 also reports baselines (`lrkd rank --spectrum`): "
          "the Gavish-Donoho optimal hard threshold (Gavish & Donoho 2014; noise known: lambda*(beta) "
          "sqrt(n_max) sigma, unknown: omega(beta) times the median singular value), the effective rank "
          "exp(H(sigma/||sigma||_1)) (Roy & Vetterli 2007) and the 90/95/99 % energy ranks."),
    "I": ("I — Information",
          "h_T in R^d is a teacher activation with covariance eigenvalues lambda_1 >= ... >= lambda_d, h_S in "
          "R^r the student's, and eps^2 = E||h_T - g(h_S)||^2 the clone MSE of a read-out g. For non-Gaussian "
          "activations the entropy h(h_T) in I1 must be estimated (Kozachenko-Leonenko): plugging in the "
          "Gaussian entropy overstates it and the result is no longer a bound. Gaussian MI is exact for "
          "jointly Gaussian pairs and is the ground truth the MI estimators (Gaussian/CCA, KSG, InfoNCE) are "
          "validated against (`lrkd mi --validate`)."),
}

#: claim -> what is measured and how it is judged (as in the tightness report)
CHECKS = (
    ("C", "running average of the squared full-batch gradient norm vs T",
     "measured <= C1 with measured beta, sigma^2, Delta; log-log slope with bootstrap CI vs -1/2"),
    ("G", "gap = held-out - train loss vs p(r) and N, >= 3 seeds",
     "fitted exponents (a, b) with CIs; which rate form fits; G2/G3 hold (measured <= bound); vacuous or not"),
    ("R", "argmin_r held-out loss for each N", "slope of log r* vs log N with CI vs 1/2 and vs R1's gamma"),
    ("I", "MI estimates of (h_T, h_S) vs r and training step",
     "MI rises as clone MSE falls (rank correlation); estimates >= I1 and <= I2"),
)


def _family_of(result_id: str) -> str:
    return "I" if result_id.startswith("GaussianMI") else result_id[0]


def _result_block(res, derived: list) -> list[str]:
    out = [f"### {res.id} — {res.title}", "", res.statement[:1].upper() + res.statement[1:] + ".", "",
           "```math", res.latex, "```", ""]
    if res.assumptions:
        out += ["Assumptions:", ""] + [f"- {item}" for item in res.assumptions] + [""]
    out.append(f"Reference: {res.reference}.  ")
    out.append(f"Arguments of `lrkd bounds --eval {res.id}`: {', '.join(f'`{a}`' for a in res.arg_names)}"
               + (f" (units: {res.units})." if res.units else "."))
    out.append("")
    if derived:
        out += ["Derived by sympy from it:", ""]
        for sub in derived:
            out += [f"- **{sub.id}** — {sub.title}: {sub.statement}", "", "  ```math", f"  {sub.latex}", "  ```", ""]
    return out


def generate() -> str:
    """The markdown text of docs/theory.md, rendered from the catalog now."""
    from bounds import catalog

    lines = [_INTRO, "## The paper's claims and our reading", "",
             "| claim | paper's claim | our reading |", "|---|---|---|"]
    lines += [f"| {c} | {paper} | {ours} |" for c, paper, ours in CLAIMS]
    lines.append("")
    family = None
    for res in catalog.all_results(derived=False):
        if _family_of(res.id) != family:
            family = _family_of(res.id)
            heading, note = _FAMILIES[family]
            lines += [f"## {heading}", "", note, ""]
        derived = [d for d in catalog.all_results(derived=True) if d.derived_from == res.id]
        lines += _result_block(res, derived)
    lines += ["## What each claim is checked with", "",
              "A verdict is one of: holds, holds only under a stated assumption, contradicted, inconclusive "
              "(confidence interval too wide). `lrkd tightness RESULTS` writes the report.", "",
              "| claim | measured quantity | check |", "|---|---|---|"]
    lines += [f"| {c} | {what} | {check} |" for c, what, check in CHECKS]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m bounds.theory_doc [PATH]``: write the document (default: docs/theory.md)."""
    argv = sys.argv[1:] if argv is None else argv
    target = Path(argv[0]) if argv else TARGET
    target.write_text(generate(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
