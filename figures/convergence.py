"""Figure 1 — convergence: running average of the squared gradient norm vs T (log-log), several ranks.

Per rank: the measured running average :math:`\\frac1T\\sum_{t<T}\\|\\nabla L(\\theta_t)\\|^2` (seed mean, band
over seeds), the raw per-step squared norm (faint), and THEORY C1's explicit bound
:math:`2\\Delta/(\\eta T) + \\beta\\eta\\sigma^2` on the run's *measured* :math:`\\beta, \\sigma^2, \\Delta`
(Ghadimi & Lan 2013). Separately, the reference :math:`C/\\sqrt T` (the claim's slope, constant fitted,
dash-dot) and the fitted law :math:`C\\,T^{s}` with the report's fitted slope :math:`s` over the span it was
fitted on (wide translucent line, slope and CI in its label and the panel title).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from figures import style

_RAW = "per-step ||∇L||², seed mean (faint)"
PANELS = {"synthetic": dict(xlabel="step T", ylabel="squared gradient norm (nats² / param²)", logx=True, logy=True,
                            title="convergence, synthetic track (SGD)", raw_label=_RAW),
          "transformer": dict(xlabel="step T", ylabel="squared gradient norm (nats² / param²)", logx=True, logy=True,
                              title="convergence, transformer track (AdamW: C1 does not apply)", raw_label=_RAW)}


def compute(runs: pd.DataFrame, traj: pd.DataFrame, report: dict | None = None) -> pd.DataFrame:
    """Long frame of what figure 1 draws (see :mod:`figures.style` for the columns)."""
    from bounds.tightness import c1_curves, running_average

    out = []
    ok = runs[runs["status"] == "ok"]
    exp = ok["experiment"] if "experiment" in ok else pd.Series("conv", index=ok.index)
    # per track: its convergence runs when it has any, else its runs at the largest N
    parts = []
    for track, g in ok.groupby("track"):
        e = exp.loc[g.index]
        parts.append(g[e == "conv"] if (e == "conv").any() else g[g["samples"] == g["samples"].max()])
    conv = pd.concat(parts) if parts else ok
    if conv.empty or traj.empty:
        return pd.DataFrame(columns=style.COLUMNS)
    tr = traj[traj["config_hash"].isin(conv["config_hash"])]
    curves = c1_curves(conv, tr)
    fits = {f.get("track"): f for f in (report or {}).get("claims", {}).get("C", {}).get("fits", [])}
    for track in sorted(conv["track"].unique()):
        crun = conv[conv["track"] == track]
        for i, (rank, g) in enumerate(crun.groupby("rank")):
            per = []
            for h in g["config_hash"]:
                t = tr[tr["config_hash"] == h].sort_values("step")
                t = t[t["step"] >= 1]
                if t.empty:
                    continue
                per.append(pd.DataFrame({"step": t["step"].to_numpy(float), "avg": running_average(t),
                                         "raw": t["grad_norm_sq"].to_numpy(float) if "grad_norm_sq" in t else np.nan,
                                         "h": h}))
            if not per:
                continue
            df = pd.concat(per).groupby("step").agg(y=("avg", "mean"), lo=("avg", "min"), hi=("avg", "max"),
                                                    raw=("raw", "mean")).reset_index()
            out.append(style.rows(track, f"measured avg, r={rank}", "measured", df["step"], df["y"], df["lo"], df["hi"], i))
            out.append(style.rows(track, f"raw ||grad||², r={rank}", "raw", df["step"], df["raw"], color_=i))
            c = curves[curves["config_hash"].isin(g["config_hash"])]
            c = c[c["eta_le_inv_beta"] & c["optimizer"].fillna("sgd").astype(str).str.lower().eq("sgd")]
            if not c.empty:  # C1 only where its assumptions (SGD, eta <= 1/beta) hold
                cb = c.groupby("step")["c1_bound"].median().reset_index()
                out.append(style.rows(track, f"C1 bound, r={rank} (explicit: measured β, σ², Δ)", "theory",
                                      cb["step"], cb["c1_bound"], color_=i))
        # the measured seed means of this track (every rank): what the fitted lines are matched to
        allm = pd.concat([d for d in out if (d["panel"] == track).all() and (d["kind"] == "measured").all()] or
                         [pd.DataFrame(columns=style.COLUMNS)])
        allm = allm[allm["y"] > 0]
        slope = fits.get(track)
        if not allm.empty and slope is not None:
            # the report's fitted slope s over its span, C matched to the seed means there: C T^s
            lo_t, hi_t = slope.get("span") or (allm["x"].min(), allm["x"].max())
            inside = allm[(allm["x"] >= lo_t) & (allm["x"] <= hi_t)]
            if not inside.empty:
                s_fit = float(slope["exponent"])
                C = float(np.exp(np.median(np.log(inside["y"]) - s_fit * np.log(inside["x"]))))
                xs = np.geomspace(lo_t, hi_t, 40)
                out.append(style.rows(track, f"fit C·T^{s_fit:.2f} [{slope['ci'][0]:.2f}, {slope['ci'][1]:.2f}] "
                                             f"over T ∈ [{lo_t:g}, {hi_t:g}] (fitted slope and C)", "fitlaw",
                                      xs, C * xs ** s_fit, color_=-1))
        if not allm.empty:
            # the paper's rate as a reference: slope -1/2 from the theory, C = exp(median log(avg sqrt(T)))
            C = float(np.exp(np.median(np.log(allm["y"] * np.sqrt(allm["x"])))))
            xs = np.geomspace(allm["x"].min(), allm["x"].max(), 40)
            out.append(style.rows(track, "reference C/√T: slope −1/2 of the claim (fitted C)", "fitted", xs,
                                  C / np.sqrt(xs), color_=-1))
        if slope is not None:
            out.append(style.rows(track, f"fitted slope {slope['exponent']:.2f} [{slope['ci'][0]:.2f}, "
                                         f"{slope['ci'][1]:.2f}] (theory −1/2 at tuned η)", "note", [0], [0]))
    return style.finite_rows(pd.concat(out, ignore_index=True)) if out else pd.DataFrame(columns=style.COLUMNS)


def plot(df: pd.DataFrame):
    """Figure 1 from :func:`compute`'s frame."""
    return style.draw_long(df, PANELS, suptitle="C: average squared gradient norm vs steps")  # one panel per track
