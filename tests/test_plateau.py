"""The convergence criterion (empirical.training.plateau) on planted objectives: it fires at the plateau of a
planted quadratic's gradient-descent loss, not before, and never on a run that keeps improving."""
import numpy as np

from empirical.config import PlateauRule
from empirical.training.plateau import PlateauMonitor, plateau_step, relative_improvement


def _gd_on_quadratic(steps: int, lr: float, floor: float = 1.0) -> np.ndarray:
    r"""L(x) = floor + x^2 along gradient descent from x = 3: L_t = floor + 9 (1 - 2 lr)^{2t}."""
    t = np.arange(steps)
    return floor + 9.0 * (1 - 2 * lr) ** (2 * t)


def test_stops_a_planted_quadratic_at_its_plateau_and_not_before():
    rule = PlateauRule(ema=0.05, window=50, eps=0.01, min_steps=100)
    L = _gd_on_quadratic(2000, lr=0.005)      # excess 9 e^{-0.02 t}: a 1 % drop over 50 steps when excess ~ 1.7 %
    t = plateau_step(L, rule)
    assert t is not None
    s = PlateauMonitor(1, rule)
    sm = np.array([s.update([v]) is not None and s.smoothed[-1][0] for v in L])
    rel = (sm[t - 50] - sm[t]) / sm[t - 50]
    assert rel < 0.01                                          # it holds where it fires
    before = [(sm[u - 50] - sm[u]) / sm[u - 50] for u in range(100, t)]
    assert min(before) >= 0.01                                 # and at no earlier step
    assert 9.0 * np.exp(-0.02 * t) < 0.05 * L[-1]              # the loss is within 5 % of its floor there


def test_does_not_fire_while_the_objective_still_falls_or_before_min_steps():
    rule = PlateauRule(ema=0.05, window=50, eps=0.01, min_steps=100)
    assert plateau_step(np.linspace(5, 1, 150), rule) is None              # falls 13 % per 50 steps at the end
    assert plateau_step(np.ones(99), rule) is None                         # flat, but too early
    assert plateau_step(np.ones(101), rule) == 100                         # flat: fires at min_steps
    # a line L_t = 2 - t/299: the EMA lags it by (1 - a)/a = 19 steps, so at T = 299 the smoothed values are
    # L(T - 19) and L(T - 69): improvement (50/299) / (1 + 69/299)
    assert abs(relative_improvement(np.linspace(2.0, 1.0, 300), rule) - (50 / 299) / (1 + 69 / 299)) < 1e-3


def test_monitor_tracks_stacked_runs_separately_and_nan_never_converges():
    rule = PlateauRule(window=10, min_steps=20, eps=0.01)
    m = PlateauMonitor(3, rule)
    for t in range(60):
        done = m.update([1.0, 10.0 - 0.1 * t, np.nan])
    assert done.tolist() == [True, False, False] and m.plateau_step[0] == 20
