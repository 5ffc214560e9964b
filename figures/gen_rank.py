"""Figure 2 — generalization gap vs rank r at fixed N (log-log), one panel per track.

Measured: gap = test − train loss (nats), seed mean with a band over seeds. Overlays: G1
:math:`C_G\\,p(r)/\\sqrt N` with a *fitted* constant :math:`C_G`; the fitted law :math:`C r^a N^b` (exponents with
bootstrap CIs, from the tightness report); and where the run measured them, the explicit bounds G2 (covering
number, on the smoothed gap) and G3 (Occam, minus the smoothed train loss), and the loss range B (dashed:
a bound above it is vacuous).
"""
from __future__ import annotations

from figures import gen_common

PANELS = gen_common.panels("rank r", "rank")


def compute(runs, report: dict | None = None):
    """Long frame: gap vs rank at the middle sample size of each track."""
    return gen_common.compute(runs, report, vary="rank", fix="samples")


def plot(df):
    """Figure 2 from :func:`compute`'s frame."""
    from figures import style
    return style.draw_long(df, PANELS, suptitle="G: generalization gap vs rank (fixed N)")
