"""Figure 6 — tightness: bound / measured ratio over (r, N) for the explicit bounds G2 and G3.

x = N, one series per rank (seed mean, band over seeds), y = bound / measured on a log axis: G2 over the
smoothed generalization gap, G3 over the smoothed held-out loss. The dashed grey line at 1 is "bound =
measured"; the dashed coloured curves are the vacuity line B / measured per rank: a ratio above it means
the bound exceeds the loss range B and says nothing.
"""
from __future__ import annotations

import pandas as pd

from figures import style

PANELS = {
    "G2": dict(xlabel="sample size N", ylabel="G2 bound / measured smoothed gap", logx=True, logy=True,
               title="G2 (covering number)", empty="G2 not evaluable: runs lack lipschitz / param_norm"),
    "G3": dict(xlabel="sample size N", ylabel="G3 bound / measured smoothed test loss", logx=True, logy=True,
               title="G3 (Occam / compression)", empty="G3 not evaluable"),
}


def compute(runs: pd.DataFrame) -> pd.DataFrame:
    """Long frame of figure 6."""
    from bounds.tightness import g_bound_points

    out = []
    pts = g_bound_points(runs[runs.get("experiment", "gen") == "gen"] if "experiment" in runs else runs)
    if pts.empty:
        return pd.DataFrame(columns=style.COLUMNS)
    for bid, col, meas in (("G2", "g2_bound", "gap_smoothed"), ("G3", "g3_bound", "test_loss_smoothed")):
        sel = pts[pts[col].notna() & (pts[meas] > 0)].copy()
        if sel.empty:
            continue
        sel["ratio"] = sel[col] / sel[meas]
        sel["vac"] = sel["loss_range_B"] / sel[meas]
        track = "transformer" if "transformer" in set(sel["track"]) else sel["track"].iloc[0]
        sel = sel[sel["track"] == track]
        for i, (rank, g) in enumerate(sel.groupby("rank")):
            agg = g.groupby("samples").agg(y=("ratio", "mean"), lo=("ratio", "min"), hi=("ratio", "max"),
                                           vac=("vac", "mean")).reset_index()
            out.append(style.rows(bid, f"r={rank:g} ({track})", "measured", agg["samples"], agg["y"], agg["lo"], agg["hi"], i))
            out.append(style.rows(bid, f"vacuous above (bound = B), per rank|r={rank:g}", "ceiling", agg["samples"], agg["vac"],
                                  color_=i))
        out.append(style.rows(bid, "bound = measured", "ceiling", [sel["samples"].min()], [1.0]))
    if not out:
        return pd.DataFrame(columns=style.COLUMNS)
    return style.finite_rows(pd.concat(out, ignore_index=True))


def plot(df: pd.DataFrame):
    """Figure 6 from :func:`compute`'s frame."""
    return style.draw_long(df, PANELS, suptitle="Tightness of the explicit generalization bounds")
