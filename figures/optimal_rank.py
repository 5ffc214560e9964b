"""Figure 4 — optimal rank: held-out loss vs r for several N (the U-curves), and r*(N) vs N.

Left panels (one per track): seed-mean held-out loss (nats) vs rank, one curve per N, band over seeds; on the
synthetic track each N's curve is rescaled to [0, 1] (its minimum, at r*, is 0), because the curves differ by a
factor of 60 between N = 64 and 8192 while the large-N U-curves vary by 0.01 nats (absolute values: the CSV of
gen_rank, or runs.csv).
Right panel: r* = argmin_r of the seed-mean held-out loss vs N (markers: the seed-mean r*, band: per-seed
argmins), the fitted power law with its bootstrap CI (tightness report, claim R), the seed's √N reference
and R1's N^γ with γ from the *measured* spectrum exponent α (THEORY R1, bounds.catalog); both references
carry a fitted constant and are labelled so.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from figures import style

PANELS = {
    "U synthetic": dict(xlabel="rank r", ylabel="held-out loss, rescaled per N (0 = min, 1 = max)", logx=True,
                        title="held-out loss vs r, synthetic (each N rescaled: 0 at r*)"),
    "U transformer": dict(xlabel="rank r", ylabel="held-out loss (nats / token)", logx=True,
                          title="held-out loss vs r, transformer"),
    "r*": dict(xlabel="sample size N", ylabel="optimal rank r*", logx=True, logy=True, title="r*(N)"),
}


def _geo_const(x, y, k):
    """exp(mean(log y - k log x)): the constant of y = C x^k through the geometric mean of the points."""
    return float(np.exp(np.mean(np.log(y) - k * np.log(x))))


def compute(runs: pd.DataFrame, report: dict | None = None) -> pd.DataFrame:
    """Long frame of figure 4 (U-curves per track and r*(N))."""
    from bounds.tightness import optimal_ranks

    out = []
    ok = runs[(runs["status"] == "ok") & (runs.get("experiment", "gen") == "gen")]
    for track in ("synthetic", "transformer"):
        rows = ok[ok["track"] == track]
        for i, (n, g) in enumerate(rows.groupby("samples")):
            agg = g.groupby("rank")["test_loss"].agg(["mean", "min", "max"]).reset_index()
            if track == "synthetic":  # curves differ by 60x between N: rescale each to [0, 1], 0 at its r*
                lo_, span = agg["mean"].min(), agg["mean"].max() - agg["mean"].min()
                agg[["mean", "min", "max"]] = (agg[["mean", "min", "max"]] - lo_) / (span if span > 0 else 1.0)
            out.append(style.rows(f"U {track}", f"N={n:g}", "measured", agg["rank"], agg["mean"], agg["min"], agg["max"], i))
    table = optimal_ranks(ok)
    rclaim = (report or {}).get("claims", {}).get("R", {}).get("by_track", {})
    for i, track in enumerate(("synthetic", "transformer")):
        t = table[table["track"] == track] if not table.empty else table
        if t.empty:
            continue
        lo = [min(v) for v in t["r_star_seeds"]]
        hi = [max(v) for v in t["r_star_seeds"]]
        mean = [float(np.mean(v)) for v in t["r_star_seeds"]]
        out.append(style.rows("r*", f"measured r*, {track} (censored: {int(t['censored'].sum())})", "measured",
                              t["samples"], mean, lo, hi, i))
        xs = np.geomspace(t["samples"].min(), t["samples"].max(), 30)
        info = rclaim.get(track, {})
        y = np.asarray(mean, float)
        x = t["samples"].to_numpy(float)
        if "fit" in info:
            f = info["fit"]
            c = _geo_const(x, y, f["exponent"])
            out.append(style.rows("r*", f"{track}: N^{f['exponent']:.2f} [{f['ci'][0]:.2f}, {f['ci'][1]:.2f}] (fitted)",
                                  "fitted", xs, c * xs ** f["exponent"], color_=i))
        # R1's readings (gamma from the measured alpha); one within 0.01 of 1/2 is the seed's line itself
        r1 = info.get("r1", {})
        same = [n for n, g in r1.get("gamma", {}).items() if abs(g - 0.5) < 0.01]
        out.append(style.rows("r*", f"{track}: seed's √N (fitted constant)"
                              + (f" = R1 under {', '.join(same)}" if same else ""), "fitted", xs,
                              _geo_const(x, y, 0.5) * np.sqrt(xs), color_=-1))
        others = [(n, g) for n, g in r1.get("gamma", {}).items() if n not in same]
        for j, (name, gam) in enumerate(others):
            out.append(style.rows("r*", f"{track}: R1 N^{gam:.2f}, measured α={r1['alpha']:.2f}, "
                                        f"{name} (fitted constant)", "fitted", xs, _geo_const(x, y, gam) * xs ** gam,
                                  color_=i + 2 + j))
    if not out:
        return pd.DataFrame(columns=style.COLUMNS)
    return style.finite_rows(pd.concat(out, ignore_index=True))


def plot(df: pd.DataFrame):
    """Figure 4 from :func:`compute`'s frame."""
    return style.draw_long(df, PANELS, suptitle="R: optimal rank vs sample size")
