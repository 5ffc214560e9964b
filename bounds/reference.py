"""Reference scaling: a rank known to work at one data size, carried to another by r* ∝ N^γ (no constants).

A reference (r_0, N_0) — e.g. LRC's student width 1536 at 20B tokens (../shared/LRC.md) — fixes the unknown
constants of THEORY R; only the exponent γ is needed:

.. math:: r(N) = r_0\\,(N/N_0)^{\\gamma}.

γ comes from each reading of R: R1's :math:`\\gamma = b/(2\\alpha-1+a)` (needs the spectrum exponent α),
R2's budget rank :math:`r_\\epsilon = (\\epsilon N^b/c)^{1/a}` gives :math:`\\gamma = b/a` (no α), or a
calibrated γ with its interval (:mod:`bounds.surface`, R1's γ of the fitted surface), whose interval maps
through the monotone map :math:`\\gamma\\mapsto r_0 (N/N_0)^\\gamma`. N and N_0 must be in one unit.

Plain Python (R1's γ through :mod:`bounds._fast`), so ``lrkd rank --reference`` stays fast.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from bounds import _fast
from bounds.rates import RATE_FORMS
from bounds.units import format_count, parse_count


@dataclass(frozen=True)
class Reference:
    """A rank r0 known to be right at N0 samples (N0 in the same unit as the target N)."""

    rank: int
    samples: int

    def __str__(self) -> str:
        return f"{self.rank}@{format_count(self.samples)}"


def parse_reference(text: str) -> Reference:
    """``RANK@N0`` (e.g. ``1536@20B``) -> :class:`Reference`; ``ValueError`` with a one-line reason."""
    rank_text, sep, n_text = str(text).partition("@")
    if not sep:
        raise ValueError(f"expected RANK@N0 such as 1536@20B, got {text!r}")
    try:
        rank = int(rank_text.strip())
    except ValueError:
        raise ValueError(f"the reference rank must be a positive integer, got {rank_text!r}") from None
    if rank < 1:
        raise ValueError(f"the reference rank must be a positive integer, got {rank_text!r}")
    return Reference(rank=rank, samples=parse_count(n_text))


def scaled_rank(ref: Reference, n: float, gamma: float) -> float:
    """The closed form :math:`r_0 (N/N_0)^\\gamma` (real-valued)."""
    return ref.rank * math.exp(gamma * (math.log(float(n)) - math.log(float(ref.samples))))


def to_integer_rank(r_real: float, r_max: int) -> int:
    """Nearest integer in [1, r_max] (a reference never recommends rank 0)."""
    if not math.isfinite(r_real):
        return r_max if r_real > 0 else 1
    return int(min(max(round(r_real), 1), r_max))


@dataclass(frozen=True)
class ScaledRank:
    """One reference-scaled rank: the γ it used and where γ came from."""

    method: str
    gamma: float
    rank_real: float
    rank: int
    source: str
    gamma_ci: tuple[float, float] | None = None
    rank_interval: tuple[int, int] | None = None


def rate_form_gammas(alpha: float | None, forms=tuple(RATE_FORMS)) -> dict[str, tuple[float, str]]:
    """method -> (γ, where it comes from): R2's b/a for every form, and R1's b/(2α−1+a) when α > 1/2."""
    out = {}
    for form in forms:
        a, b = RATE_FORMS[form]
        if alpha is not None and alpha > 0.5:
            out[f"R1/{form}"] = (float(_fast.r1_gamma(alpha, a, b)), f"R1, gamma = b/(2 alpha - 1 + a), alpha = {alpha:.4g}")
        out[f"R2/{form}"] = (b / a, "R2 budget rank, gamma = b/a")
    return out


def reference_ranks(ref: Reference, n: float, r_max: int, *, alpha: float | None = None, forms=tuple(RATE_FORMS),
                    calibrated_gamma: float | None = None,
                    calibrated_gamma_ci: tuple[float, float] | None = None) -> list[ScaledRank]:
    """:math:`r_0 (N/N_0)^\\gamma` for every γ the inputs give (see the module docstring), clamped to [1, r_max]."""
    out = []
    if calibrated_gamma is not None and math.isfinite(calibrated_gamma):
        interval = None
        if calibrated_gamma_ci is not None and all(math.isfinite(g) for g in calibrated_gamma_ci):
            ends = sorted(to_integer_rank(scaled_rank(ref, n, g), r_max) for g in calibrated_gamma_ci)
            interval = (ends[0], ends[1])
        r_real = scaled_rank(ref, n, calibrated_gamma)
        out.append(ScaledRank("reference/calibrated", calibrated_gamma, r_real, to_integer_rank(r_real, r_max),
                              "gamma of the calibrated surface", calibrated_gamma_ci, interval))
    for method, (gamma, source) in rate_form_gammas(alpha, forms).items():
        r_real = scaled_rank(ref, n, gamma)
        out.append(ScaledRank(f"reference/{method}", gamma, r_real, to_integer_rank(r_real, r_max), source))
    return out
