"""Shared computation of figures 2 and 3 (gap vs one of rank / N with the other fixed).

G1: :math:`\\mathrm{gen} \\le C_G\\,p(r)/\\sqrt N` with :math:`C_G = \\exp\\operatorname{median}\\log(\\mathrm{gap}\\sqrt N/p)`
over the track's runs with a positive gap (a fitted constant, labelled so). G2, G3 from :mod:`bounds.tightness`
(which evaluates :mod:`bounds.catalog`). The fitted law :math:`C r^a N^b` (kind ``fitlaw``) is drawn as a wide
translucent line beneath G1, so that when the two coincide (the transformer track's b is close to -1/2) G1 still
shows. On the synthetic track, vs N, the interpolation threshold N = d is marked: exact least squares on d inputs
has a gap that diverges as N approaches d, which is why the smallest N sits far above the rest.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from figures import style

TRACKS = ("synthetic", "transformer", "real", "user")


def panels(xlabel: str, key: str) -> dict:
    return {t: dict(xlabel=xlabel, ylabel="generalization gap (nats)", logx=True, logy=True,
                    title=f"{t} track") for t in TRACKS}


def _params(rows: pd.DataFrame) -> np.ndarray:
    if "params" in rows and rows["params"].notna().all():
        return rows["params"].to_numpy(float)
    return rows["rank"].to_numpy(float) * (rows["m"].to_numpy(float) + rows["d"].to_numpy(float))


def compute(runs: pd.DataFrame, report: dict | None, vary: str, fix: str) -> pd.DataFrame:
    from bounds import catalog
    from bounds.tightness import g_bound_points

    out = []
    ok = runs[(runs["status"] == "ok") & (runs.get("experiment", "gen") == "gen")]
    gclaim = (report or {}).get("claims", {}).get("G", {}).get("by_track", {})
    for track in [t for t in TRACKS if t in set(ok["track"])]:
        rows = ok[ok["track"] == track].copy()
        levels = sorted(rows[fix].unique())
        if len(levels) == 0 or rows[vary].nunique() < 2:
            continue
        level = levels[len(levels) // 2]
        sel = rows[rows[fix] == level]
        pts = g_bound_points(sel)
        agg = sel.groupby(vary)["gap"].agg(["mean", "min", "max"]).reset_index()
        what = "N" if fix == "samples" else "r"
        out.append(style.rows(track, f"measured gap ({what}={level:g})", "measured", agg[vary], agg["mean"],
                              agg["min"], agg["max"], 0))
        pos = rows[rows["gap"] > 0]
        xs = np.array(sorted(rows[vary].unique()), float)
        if len(pos):
            g1 = catalog.get("G1")
            unit = g1(C_G=1.0, p=_params(pos), N=pos["samples"].to_numpy(float))
            cg = float(np.exp(np.median(np.log(pos["gap"].to_numpy(float) / unit))))
            per = sel.groupby(vary).first().reset_index()
            out.append(style.rows(track, f"G1: C_G·p(r)/√N (fitted C_G={cg:.2g})", "fitted", per[vary],
                                  g1(C_G=cg, p=_params(per), N=per["samples"].to_numpy(float)), color_=-1))
        fit = gclaim.get(track, {})
        if "rank_exponent" in fit:
            a, b = fit["rank_exponent"], fit["samples_exponent"]
            r = xs if vary == "rank" else np.full_like(xs, level)
            n = xs if vary == "samples" else np.full_like(xs, level)
            y = np.exp(fit["log_prefactor"]) * r ** a["exponent"] * n ** b["exponent"]
            out.append(style.rows(track, f"fit r^{a['exponent']:.2f} [{a['ci'][0]:.2f},{a['ci'][1]:.2f}] "
                                         f"N^{b['exponent']:.2f} [{b['ci'][0]:.2f},{b['ci'][1]:.2f}] (fitted)",
                                  "fitlaw", xs, y, color_=2))
        if not pts.empty and pts["g2_bound"].notna().any():
            g2 = pts.groupby(vary)["g2_bound"].median().reset_index()
            out.append(style.rows(track, "G2 bound on smoothed gap (explicit)", "theory", g2[vary], g2["g2_bound"], color_=-1))
        if not pts.empty and pts["g3_bound"].notna().any():
            g3 = (pts.assign(b=pts["g3_bound"] - pts["train_loss_smoothed"])
                  .groupby(vary)["b"].median().reset_index())
            out.append(style.rows(track, "G3 bound − smoothed train loss (explicit)", "theory", g3[vary], g3["b"], color_=1))
        if "loss_range_B" in sel and sel["loss_range_B"].notna().any():
            out.append(style.rows(track, f"loss range B = {sel['loss_range_B'].median():.2f} (vacuous above)",
                                  "ceiling", [xs.min()], [sel["loss_range_B"].median()]))
        if track == "synthetic" and vary == "samples" and "d" in sel and sel["d"].nunique() == 1:
            d = float(sel["d"].iloc[0])
            if xs.min() / 2 <= d <= 2 * xs.min():  # least squares on d inputs: the gap diverges as N -> d
                out.append(style.rows(track, f"N = d = {d:g}: interpolation threshold (gap → ∞ as N → d)",
                                      "ceiling", [d, d], [1.0, 1.0]))
    if not out:
        return pd.DataFrame(columns=style.COLUMNS)
    df = pd.concat(out, ignore_index=True)
    # log-log axes: a measured mean or band <= 0 is kept; the plot cuts it at the axis bottom and marks the cut
    # (figures.style); any other non-positive value cannot be drawn and is dropped
    df = df[(df["y"] > 0) | df["kind"].isin(["note", "measured"])]
    return style.finite_rows(df)
