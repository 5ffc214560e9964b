"""MI estimator validation — each estimator against closed-form ground truth (smile-mi-estimator grammar).

Input: the raw frame of :func:`empirical.mi.validate.run` (one row per estimator, task family, dims, n,
true MI and seed). One panel per (task family, estimator); x is the true MI and y the estimate, both in nats;
the truth y = x is a black line, each seed's estimates are a faint line (one per seed), the seed mean is a
marker line with a min-max band in the colour of its series, and the InfoNCE ceiling log(batch) is dashed.
A series is one dimension pair, named "d_x+d_y dims" (``1+1 dims``: X and Y scalars; ``32+32 dims``: both
32-dimensional), with the sample size added when the grid has several. All panels share the y-limits, so a saturating or collapsing estimator is visible at a glance.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from figures import style

XLABEL = "true MI (nats)"
YLABEL = "estimated MI (nats)"
RAW_LABEL = "one seed (faint)"


def _panel(family: str, estimator: str) -> str:
    return f"{estimator} | {family}"


def compute(raw: pd.DataFrame) -> pd.DataFrame:
    """Long frame (``figures.style.COLUMNS``) of exactly what :func:`plot` draws."""
    if raw is None or raw.empty:
        return pd.DataFrame(columns=style.COLUMNS)
    out = []
    series_keys = sorted({(int(dx), int(dy), int(n)) for dx, dy, n in raw[["dx", "dy", "n"]].itertuples(index=False)})
    colour = {key: i for i, key in enumerate(series_keys)}
    multi_n = raw["n"].nunique() > 1
    for (fam, est), g in raw.groupby(["family", "estimator"], sort=False):
        panel = _panel(fam, est)
        truth = np.sort(g["true_mi"].unique())
        out.append(style.rows(panel, "truth", "theory", truth, truth, color_=-1))
        for (dx, dy, n), s in g.groupby(["dx", "dy", "n"], sort=True):
            name = f"{dx}+{dy} dims" + (f", n={n}" if multi_n else "")
            c = colour[(int(dx), int(dy), int(n))]
            for seed, r in s.groupby("seed"):
                r = r.sort_values("true_mi")
                out.append(style.rows(panel, f"{name} seed {seed}", "raw", r["true_mi"], r["estimate"], color_=c))
            agg = s.groupby("true_mi")["estimate"].agg(["mean", "min", "max"]).reset_index()
            out.append(style.rows(panel, name, "measured", agg["true_mi"], agg["mean"], agg["min"], agg["max"], c))
        ceil = g["ceiling"].dropna()
        if len(ceil):
            out.append(style.rows(panel, f"ceiling log B = {ceil.max():.2f}", "ceiling", [0.0], [ceil.max()],
                                  color_=-1))
    return style.finite_rows(pd.concat(out, ignore_index=True))


def plot(df: pd.DataFrame):
    """The validation figure from :func:`compute`'s frame: panels (family x estimator), shared y-limits."""
    panel_names = list(dict.fromkeys(df["panel"])) if len(df) else ["empty"]
    estimators = list(dict.fromkeys(p.split(" | ")[0] for p in panel_names))
    families = list(dict.fromkeys(p.split(" | ")[-1] for p in panel_names))
    ordered = [_panel(f, e) for f in families for e in estimators]
    panels = {p: dict(xlabel=XLABEL, ylabel=YLABEL, title=p, raw_label=RAW_LABEL) for p in ordered}
    fig = style.draw_long(df, panels, ncols=max(1, len(estimators)),
                          suptitle="MI estimators vs closed-form truth (black); series d_x+d_y = dimensions of X "
                                   "and Y; ceilings dashed")
    if len(df):
        lo = float(min(df["lo"].min(), df["y"].min(), 0.0))
        hi = float(max(df["hi"].max(), df["y"].max()))
        pad = 0.05 * (hi - lo or 1.0)
        for ax in fig.axes:
            if ax.get_visible():
                ax.set_ylim(lo - pad, hi + pad)
    return fig
