r"""The running average of a logged trajectory, the measured side of THEORY C1.

C1 bounds :math:`\frac1T\sum_{t=T_0}^{T-1}\|\nabla L(\theta_t)\|^2`. A trajectory is logged at steps
:math:`T_0 < T_1 < \dots` (every step, or log-spaced); between two logs the last logged value is held, so at
:math:`T_i`

.. math:: \bar g(T_i) = \frac{1}{T_i - T_0}\sum_{j<i} g_{T_j}\,(T_{j+1} - T_j), \qquad \bar g(T_0) = g_{T_0},

which is the exact mean of the previous steps when every step is logged. Pure Python (no numpy, no torch): the
training code (``empirical.training.measure``) and the report (``bounds.tightness``) share it.
"""
from __future__ import annotations


def running_average(steps, values) -> list[float]:
    """:math:`\\bar g(T_i)` (module docstring) at each logged step ``steps[i]`` (increasing)."""
    steps = [float(t) for t in steps]
    vals = [float(v) for v in values]
    out, acc = [], 0.0
    for i, (t, v) in enumerate(zip(steps, vals)):
        if i == 0:
            out.append(v)
            continue
        acc += vals[i - 1] * (t - steps[i - 1])
        out.append(acc / (t - steps[0]))
    return out
