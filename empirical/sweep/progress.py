r"""Progress of a sweep: an ETA weighted by each run's expected cost, calibrated online.

Each config gets a predicted cost :func:`expected_cost` from a simple model of its kind (:func:`cost_kind`), in
rough seconds of one CPU thread:

- synthetic exact ERM (``rrr``): a constant;
- synthetic SGD: :math:`\propto` steps (a full-batch and a minibatch gradient per step) plus its measurements;
- a transformer student: :math:`\propto` steps × batch (its share of a stacked group: a group of g students costs
  g times one) plus its trajectory measurements (points × (β iterations + σ² batches) × probe size);
- a cloning-MI config: :math:`\propto` steps × batch × number of ranks.

The model's constants are only priors: :class:`ETA` rescales each kind by the measured wall time per unit of
predicted cost of its finished runs (:math:`\rho_k = \sum \text{wall} / \sum \text{cost}`; a kind with no finished
run yet takes the pooled rate), and turns the remaining runs' calibrated cost into wall time by the sweep's own
elapsed time per second of finished run time (which absorbs the number of parallel workers):

.. math:: \mathrm{ETA} = t_\text{elapsed}\,\frac{\sum_{\text{remaining}} \rho_{k(c)}\,\mathrm{cost}(c)}
          {\sum_{\text{finished}} \text{wall}(c)}.

The unweighted estimate :math:`t_\text{elapsed}\, n_\text{remaining} / n_\text{finished}` is
:meth:`ETA.unweighted` (tests compare the two).

May import: the standard library and :mod:`empirical.runtime.clock`.
"""
from __future__ import annotations

import time
from collections import defaultdict

from empirical.runtime.clock import fmt_duration


def cost_kind(cfg) -> str:
    """``synthetic/rrr``, ``synthetic/sgd``, ``transformer`` or ``mi`` (the unit of calibration)."""
    name = type(cfg).__name__
    if name == "SyntheticConfig":
        return f"synthetic/{cfg.optimizer}"
    return "mi" if name == "CloningConfig" else "transformer"


def expected_cost(cfg) -> float:
    """Predicted cost of one run (rough seconds on one CPU thread; only ratios within a kind matter)."""
    kind = cost_kind(cfg)
    if kind == "synthetic/rrr":
        return 0.01
    if kind.startswith("synthetic/"):
        return 0.05 + 2e-4 * cfg.steps
    if kind == "mi":
        d = cfg.distill
        return 1.0 + 2e-4 * d.steps * d.batch_size * max(1, len(cfg.ranks))
    measure = getattr(cfg, "n_log_points", 0) * (2 * getattr(cfg, "beta_iters", 0) + getattr(cfg, "sigma2_batches", 0))
    return 0.5 + 2e-4 * (cfg.steps * cfg.batch_size + measure * getattr(cfg, "probe_size", 0))


class ETA:
    """Online ETA over the configs still to compute (:func:`expected_cost`, calibrated per kind)."""

    def __init__(self, cfgs: list, clock=time.perf_counter):
        self.clock = clock
        self.start = clock()
        self.left = defaultdict(float)   # kind -> predicted cost still to run
        self.n_left = 0
        for c in cfgs:
            self.left[cost_kind(c)] += expected_cost(c)
            self.n_left += 1
        self.done_cost = defaultdict(float)
        self.done_wall = defaultdict(float)
        self.n_done = 0

    def finished(self, cfg, wall_s: float | None) -> None:
        """Record that ``cfg`` finished after ``wall_s`` seconds of run time (its record's ``wall_s``)."""
        kind, cost = cost_kind(cfg), expected_cost(cfg)
        self.left[kind] = max(0.0, self.left[kind] - cost)
        self.n_left -= 1
        self.n_done += 1
        self.done_cost[kind] += cost
        self.done_wall[kind] += max(0.0, float(wall_s or 0.0))

    def elapsed(self) -> float:
        """Seconds since the ETA started (the computing part of the sweep)."""
        return self.clock() - self.start

    def rate(self, kind: str) -> float:
        """Measured run seconds per unit of predicted cost of ``kind`` (pooled over kinds until it has one)."""
        if self.done_cost.get(kind, 0.0) > 0 and self.done_wall.get(kind, 0.0) > 0:
            return self.done_wall[kind] / self.done_cost[kind]
        cost, wall = sum(self.done_cost.values()), sum(self.done_wall.values())
        return wall / cost if cost > 0 and wall > 0 else 1.0

    def remaining(self) -> float | None:
        """Seconds of sweep wall time still to come (None before the first finished run)."""
        wall = sum(self.done_wall.values())
        if self.n_left <= 0:
            return 0.0
        if self.n_done == 0 or wall <= 0:
            return None
        todo = sum(self.rate(k) * c for k, c in self.left.items())
        return self.elapsed() * todo / wall

    def unweighted(self) -> float | None:
        """The count-based estimate elapsed × remaining runs / finished runs (for comparison)."""
        if self.n_left <= 0:
            return 0.0
        return None if self.n_done == 0 else self.elapsed() * self.n_left / self.n_done

    def text(self) -> str:
        """``elapsed 1:23 ETA 4:56``."""
        return f"elapsed {fmt_duration(self.elapsed())} ETA {fmt_duration(self.remaining())}"
