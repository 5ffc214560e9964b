"""Pilot design: the (rank, N) runs a calibration of L(r, N) needs, and what they cost next to one full run.

A calibration (:mod:`bounds.calibrate`) needs at least 3 sample sizes to fit and one more, the largest, held out
for the validated extrapolation (INFERENCE.md §4), at least 4 ranks with the optimum inside the grid at every
N, and several independent datasets (seeds that redraw the data) for the cluster bootstrap (INFERENCE §1).

Sample sizes are fixed fractions :math:`f_j` of the full data :math:`N_{\\text{full}}` (default 1/1000, 1/300,
1/100, 1/30). Ranks are log-spaced over :math:`[\\min_j g_j/4,\\ 4\\max_j g_j]` (widened to at least a factor 2
between neighbours, and at least 1) where :math:`g_j = g\\,f_j^{\\gamma_0}` carries the guess g at the full N
down to each pilot N with the seed's :math:`\\gamma_0 = 1/2` (a guess only: the calibration measures γ). The
cost of a run is taken proportional to its N: an LRC step costs about the same at every rank (the frozen
teacher's forward and backward dominate), and so does a LoRA step, so the relative cost is
:math:`\\sum_{\\text{runs}} N / N_{\\text{full}}`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_FRACTIONS = (1 / 1000, 1 / 300, 1 / 100, 1 / 30)
GAMMA_GUESS = 0.5


@dataclass(frozen=True)
class PilotPlan:
    """The runs: every rank at every sample size, ``seeds`` independent datasets each."""

    samples: tuple[int, ...]
    ranks: tuple[int, ...]
    seeds: int
    n_full: int
    unit: str
    guess: int
    note: str

    @property
    def runs(self) -> list[dict]:
        return [{"rank": r, "samples": n, "seed": s} for n in self.samples for r in self.ranks
                for s in range(self.seeds)]

    @property
    def relative_cost(self) -> float:
        """:math:`\\sum_{\\text{runs}} N / N_{\\text{full}}`."""
        return self.seeds * len(self.ranks) * sum(self.samples) / self.n_full

    def to_dict(self) -> dict:
        return {"samples": list(self.samples), "ranks": list(self.ranks), "seeds": self.seeds,
                "n_full": self.n_full, "unit": self.unit, "guess_rank_at_full_N": self.guess,
                "relative_cost": self.relative_cost, "runs": self.runs, "note": self.note,
                "cost_per_sample_size": {str(n): self.seeds * len(self.ranks) * n / self.n_full for n in self.samples}}


def log_spaced_ranks(lo: float, hi: float, count: int, r_max: int) -> tuple[int, ...]:
    """``count`` ranks log-spaced on [lo, hi], rounded, clipped to [1, r_max], duplicates removed."""
    lo, hi = max(lo, 1.0), max(min(hi, r_max), 1.0)
    if count < 2 or hi <= lo:
        return (int(round(lo)),)
    step = (math.log(hi) - math.log(lo)) / (count - 1)
    return tuple(sorted({int(min(max(round(math.exp(math.log(lo) + i * step)), 1), r_max)) for i in range(count)}))


def plan_pilot(n_full: int, guess: int | None, r_max: int, *, unit: str = "sequences",
               fractions=DEFAULT_FRACTIONS, n_ranks: int = 6, seeds: int = 3) -> PilotPlan:
    """A :class:`PilotPlan` (see the module docstring); ``guess=None`` uses r_max/8 and says so."""
    if n_full < 1 or r_max < 1:
        raise ValueError("n_full and r_max must be positive")
    note = ("cost ~ N per run (the teacher's forward/backward dominates at every rank); fit on the three smallest N, "
            "the largest is held out to validate the extrapolation")
    if guess is None:
        guess = max(1, r_max // 8)
        note += f"; no rank guess (pass --reference or --guess-rank): used r_max/8 = {guess}"
    samples = tuple(sorted({max(1, int(round(n_full * f))) for f in fractions}))
    scaled = [guess * (n / n_full) ** GAMMA_GUESS for n in samples]
    lo = max(1.0, min(scaled) / 4)
    hi = max(max(scaled) * 4, lo * 2.0 ** (n_ranks - 1))  # at least a factor 2 between neighbouring ranks
    ranks = log_spaced_ranks(lo, hi, n_ranks, r_max)
    if len(ranks) < 4:
        note += f"; only {len(ranks)} distinct ranks fit in 1..{r_max}: the calibration needs 4"
    if len(samples) < 4:
        note += f"; only {len(samples)} distinct sample sizes: N_full is too small for these fractions"
    return PilotPlan(samples, ranks, seeds, int(n_full), unit, int(guess), note)
