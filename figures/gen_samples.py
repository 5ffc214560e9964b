"""Figure 3 — generalization gap vs sample size N at fixed rank r (log-log), one panel per track.

Same overlays as figure 2 (G1 with a fitted constant, the fitted law with CIs, explicit G2 and G3 where
measurable, the loss range B dashed); the paper's claimed N^{-1/2} and the well-specified fast rate N^{-1} differ by
a factor √N, which this figure makes visible.
"""
from __future__ import annotations

from figures import gen_common

PANELS = gen_common.panels("sample size N (sequences / examples)", "samples")


def compute(runs, report: dict | None = None):
    """Long frame: gap vs N at the middle rank of each track."""
    return gen_common.compute(runs, report, vary="samples", fix="rank")


def plot(df):
    """Figure 3 from :func:`compute`'s frame."""
    from figures import style
    return style.draw_long(df, PANELS, suptitle="G: generalization gap vs sample size (fixed r)")
