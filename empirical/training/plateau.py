r"""The convergence criterion of a training run: a plateau of its smoothed training objective.

With the per-step objective :math:`L_t` (the minibatch objective of one student), the smoothed objective is
the exponential moving average

.. math:: s_0 = L_0, \qquad s_t = (1-a)\,s_{t-1} + a\,L_t ,

and the run has converged at the first step :math:`t \ge \max(t_{\min}, K)` with

.. math:: \frac{s_{t-K} - s_t}{|s_{t-K}|} < \varepsilon

(the objective improved by less than a fraction :math:`\varepsilon` over the last :math:`K` steps). The rule's
constants are :class:`empirical.config.PlateauRule`. :class:`PlateauMonitor` applies it online to stacked
students (one value per student per step); :func:`plateau_step` and :func:`relative_improvement` are the same
rule on a finished history.

May import: numpy, :mod:`empirical.config`.
"""
from __future__ import annotations

import numpy as np

from empirical.config import PlateauRule


class PlateauMonitor:
    """Online plateau detection for ``n`` stacked runs: :meth:`update` once per step with their objectives."""

    def __init__(self, n: int, rule: PlateauRule):
        self.rule = rule
        self.smoothed: list[np.ndarray] = []            # s_t per step, shape (n,)
        self.plateau_step = [None] * n                   # first step the criterion held, per run

    def update(self, values) -> np.ndarray:
        """Feed step t's objectives (n,); returns the mask of runs that have converged by step t."""
        v = np.asarray(values, dtype=float)
        a = self.rule.ema
        s = v.copy() if not self.smoothed else (1 - a) * self.smoothed[-1] + a * v
        self.smoothed.append(s)
        t = len(self.smoothed) - 1
        if t >= max(self.rule.min_steps, self.rule.window):
            rel = self.improvement(t)
            for i in np.flatnonzero(rel < self.rule.eps):  # NaN (diverged) never converges
                if self.plateau_step[i] is None:
                    self.plateau_step[i] = t
        return np.array([p is not None for p in self.plateau_step])

    def improvement(self, t: int | None = None) -> np.ndarray:
        r""":math:`(s_{t-K} - s_t)/|s_{t-K}|` per run at step ``t`` (default: the last); NaN when t < K."""
        t = len(self.smoothed) - 1 if t is None else t
        K = self.rule.window
        if t < K:
            return np.full(self.smoothed[-1].shape if self.smoothed else 0, np.nan)
        old, new = self.smoothed[t - K], self.smoothed[t]
        with np.errstate(divide="ignore", invalid="ignore"):
            return (old - new) / np.abs(old)


def plateau_step(values, rule: PlateauRule) -> int | None:
    """The first step at which the history ``values`` (one run's objective per step) meets the criterion."""
    m = PlateauMonitor(1, rule)
    for v in values:
        if m.update([v])[0]:
            break
    return m.plateau_step[0]


def relative_improvement(values, rule: PlateauRule) -> float:
    r""":math:`(s_{T-K} - s_T)/|s_{T-K}|` at the last step T of ``values`` (NaN when T < K): how far the run was
    from the plateau when it stopped."""
    m = PlateauMonitor(1, rule)
    for v in values:
        m.update([v])
    return float(m.improvement()[0]) if m.smoothed else float("nan")
