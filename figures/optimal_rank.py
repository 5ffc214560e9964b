"""Figure 4 — optimal rank: held-out loss vs r for every N (the U-curves), and r*(N) vs N.

Left panels (one per track): seed-mean held-out loss vs rank, one curve per N, band = range over seeds (each
seed its own dataset). Synthetic: each N's curve is rescaled by its seed mean, (L - min_r mean)/(max_r mean -
min_r mean), because the curves differ by a factor of 60 between N = 64 and 8192; the seed bands use the same
affine map, so they may leave [0, 1]. Transformer: absolute held-out CE (nats/token), N in sequences and tokens.
Right panel: measured r*(N) = argmin over the rank grid of the seed-mean held-out loss
(:func:`bounds.optimum.measured_optima`) with its bootstrap-over-seeds interval; an r* at a grid edge is censored
and drawn as a one-sided open triangle at the edge (▲: r* ≥ r_max, ▼: r* ≤ r_min), never joined to a line.
Beside it, per track from the report (claim R, ``by_track``): the fitted R1 surface's discrete argmin on the
same grid (wide translucent line), the paper's √N with a constant fitted through the uncensored r* only
(dash-dot), both in the track's colour, and the extrapolation to the largest N in the panel title.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from figures import style

PANELS = {
    "U synthetic": dict(xlabel="rank r", ylabel="held-out loss, rescaled per N\n(seed mean: 0 at r*, 1 at its max)",
                        logx=True, title="held-out loss vs r, synthetic (bands: seed range, same scale)"),
    "U transformer": dict(xlabel="rank r", ylabel="held-out CE (nats / token)", logx=True,
                          title="held-out loss vs r, transformer (N sequences / tokens)"),
    "r*": dict(xlabel="N (transformer: sequences, tokens in the middle legend; synthetic: samples)",
               ylabel="optimal rank r*", logx=True, logy=True,
               title="r*(N); extrapolated from smaller N (R1 surface):"),
}

TRACKS = ("synthetic", "transformer")


def _n_label(track: str, n: float, tokens_per_sample: float | None) -> str:
    if track == "transformer" and tokens_per_sample:
        return f"N={n:g} seq = {n * tokens_per_sample:,.0f} tok"
    return f"N={n:g}"


def _tokens_per_sample(g: pd.DataFrame) -> float | None:
    if "tokens" not in g.columns:
        return None
    t = (g["tokens"] / g["samples"]).dropna()
    return float(t.iloc[0]) if len(t) else None


def compute(runs: pd.DataFrame, report: dict | None = None) -> pd.DataFrame:
    """Long frame of figure 4 (U-curves per track and r*(N) with intervals, censoring and the R1 surface)."""
    from bounds.optimum import measured_optima

    out = []
    ok = runs[(runs["status"] == "ok") & (runs.get("experiment", "gen") == "gen")]
    for track in TRACKS:
        rows = ok[ok["track"] == track]
        tps = _tokens_per_sample(rows)
        for i, (n, g) in enumerate(rows.groupby("samples")):
            agg = g.groupby("rank")["test_loss"].agg(["mean", "min", "max"]).reset_index()
            if track == "synthetic":  # curves differ by 60x between N: rescale each by its seed mean
                lo_, span = agg["mean"].min(), agg["mean"].max() - agg["mean"].min()
                agg[["mean", "min", "max"]] = (agg[["mean", "min", "max"]] - lo_) / (span if span > 0 else 1.0)
            out.append(style.rows(f"U {track}", _n_label(track, n, tps), "measured", agg["rank"], agg["mean"],
                                  agg["min"], agg["max"], i))
    opt = measured_optima(ok) if len(ok) else pd.DataFrame()
    rclaim = (report or {}).get("claims", {}).get("R", {}).get("by_track", {})
    for i, track in enumerate(TRACKS):
        t = opt[opt["track"] == track] if len(opt) else opt
        if t.empty:
            continue
        inner = t[t["censored"] == ""]
        if len(inner):
            out.append(style.rows("r*", f"{track}: measured r* (interval: bootstrap over seeds)", "measured",
                                  inner["samples"], inner["rstar"], inner["rstar_lo"], inner["rstar_hi"], i))
        for side, sym, edge in (("upper", "≥", "r_max"), ("lower", "≤", "r_min")):
            c = t[t["censored"] == side]
            if len(c):
                out.append(style.rows("r*", f"{track}: censored, r* {sym} {side} edge of the grid", "censored",
                                      c["samples"], c[edge], color_=i))
        info = rclaim.get(track, {})
        cmp_ = [c for c in info.get("compare", []) if np.isfinite(c.get("predicted", np.nan))]
        if cmp_:
            out.append(style.rows("r*", f"{track}: R1 surface's discrete argmin on the grid (fitted)", "fitlaw",
                                  [c["samples"] for c in cmp_], [c["predicted"] for c in cmp_], color_=i))
        if len(inner):
            x, y = inner["samples"].to_numpy(float), inner["rstar"].to_numpy(float)
            xs = np.geomspace(t["samples"].min(), t["samples"].max(), 30)
            c0 = float(np.exp(np.mean(np.log(y) - 0.5 * np.log(x))))
            out.append(style.rows("r*", f"{track}: paper's √N, constant fitted to the uncensored r*", "fitted", xs,
                                  c0 * np.sqrt(xs), color_=i))
        ext = info.get("extrapolation") or {}
        if ext.get("ok"):
            lo, hi = ext.get("rstar_interval", (np.nan, np.nan))
            out.append(style.rows("r*", f"{track} N={ext['target_samples']:g}: predicted r* {ext['rstar_predicted']:g} "
                                        f"[{lo:g}, {hi:g}], measured {ext['rstar_measured']:g}"
                                        f"{'' if ext.get('covered') else ' (NOT covered)'}",
                                  "note", [0.0], [0.0]))
    if not out:
        return pd.DataFrame(columns=style.COLUMNS)
    return style.finite_rows(pd.concat(out, ignore_index=True))


def plot(df: pd.DataFrame):
    """Figure 4 from :func:`compute`'s frame."""
    return style.draw_long(df, PANELS, suptitle="R: optimal rank vs sample size")
