r"""Figure 1 — convergence, claim C: the rate test in its own setting, and the fixed-step trajectories as a
description.

*Horizon panel* (one per track with the ``horizon`` experiment; the rate test of
:mod:`bounds.tightness.claim_c`): one SGD run per horizon T at the step tuned to it,
:math:`\eta^*(T) = \min(1/\beta, \sqrt{2\Delta/(\beta\sigma^2 T)})` (docs/theory.md C1). Per rank, the final average
squared gradient norm :math:`\frac1T\sum_{t<T}\|\nabla L(\theta_t)\|^2` vs T (seed mean, band over seeds); C1's
explicit bound :math:`2\Delta/(\eta T) + \beta\eta\sigma^2` at each T on the run's measured
:math:`\beta, \sigma^2, \Delta` and its :math:`\eta^*(T)` (median over seeds; Ghadimi & Lan 2013, Cor. 2.2); the
report's fitted slope :math:`C\,T^{s}` over the T range the verdict rests on (upper half, else the whole span; the
constant matched to the seed-mean cells the judge fitted), with its CI in the label; and the claim's slope as a
reference :math:`C/\sqrt T` (constant fitted).

*Fixed-step panel* (one per track): SGD at one fixed :math:`\eta` for the whole run, the running average along
the trajectory (seed mean, band; raw per-step values faint) with C1 at that :math:`\eta`, and the fitted slope of
the running average labelled as what it is, a description (``report["claims"]["C"]["description_fits"]``): any
summable gradient sequence gives about −1, so it tests nothing about :math:`O(1/\sqrt T)`. The transformer
track's students use AdamW, where C1 does not apply: no bound is drawn there.
"""
from __future__ import annotations


import numpy as np
import pandas as pd

from figures import style

_RAW = "per-step ||∇L||², seed mean (faint)"
_YLABEL = "squared gradient norm (nats² / param²)"
HORIZON = "rate test at η*(T)"
FIXED = "fixed η (description)"


def _panel(kind: str, track: str) -> str:
    return f"{kind}: {track}"


def _spec(panel: str) -> dict:
    kind, _, track = panel.partition(": ")
    if kind == HORIZON:
        return dict(xlabel="horizon T (SGD steps, one run per T)", ylabel="final " + _YLABEL, logx=True, logy=True,
                    title=f"{track}: one SGD run per T at η*(T)")
    what = "AdamW, no C1" if track == "transformer" else "SGD"
    return dict(xlabel="step T", ylabel=_YLABEL, logx=True, logy=True, raw_label=_RAW,
                title=f"{track}: along a run at fixed η ({what})\na description, not the rate test")


def _c1(beta, sigma2, delta, eta, T) -> np.ndarray:
    """C1 (``bounds.catalog``) at the measured constants."""
    from bounds.catalog import get

    return np.asarray(get("C1")(beta=beta, sigma=np.sqrt(sigma2), Delta=delta, eta=eta, T=T), float)


def _power_line(track_panel: str, label: str, kind: str, x, y, s: float, lo_t: float, hi_t: float):
    """``C T^s`` over [lo_t, hi_t] with C the median of log(y) - s log(x) over the points inside (the fitted
    constant)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    inside = (x >= lo_t) & (x <= hi_t) & (y > 0)
    if not inside.any():
        return None
    C = float(np.exp(np.median(np.log(y[inside]) - s * np.log(x[inside]))))
    xs = np.geomspace(lo_t, hi_t, 40)
    return style.rows(track_panel, label, kind, xs, C * xs**s, color_=-1)


def _horizon(runs: pd.DataFrame, traj: pd.DataFrame, report: dict | None) -> list[pd.DataFrame]:
    """The horizon panels' rows."""
    from bounds.tightness.claim_c import horizon_rows

    hz = horizon_rows(runs, traj)
    out = []
    if hz.empty:
        return out
    by_track = ((report or {}).get("claims", {}).get("C", {}) or {}).get("by_track", {})
    for track, rows in hz.groupby("track", sort=True):
        panel = _panel(HORIZON, str(track))
        rows = rows[np.isfinite(rows["grad_norm_sq_running_avg"].to_numpy(float))]
        for i, (rank, g) in enumerate(rows.groupby("rank")):
            agg = g.groupby("T")["grad_norm_sq_running_avg"].agg(["mean", "min", "max"]).reset_index()
            out.append(style.rows(panel, f"measured at η*(T), r={rank:g}", "measured", agg["T"], agg["mean"],
                                  agg["min"], agg["max"], i))
            ok = g[(g["lr"] <= 1.0 / g["beta"])]
            if not ok.empty:
                b = ok.assign(c1=_c1(ok["beta"].to_numpy(float), ok["sigma2"].to_numpy(float),
                                     ok["delta"].to_numpy(float), ok["lr"].to_numpy(float), ok["T"].to_numpy(float)))
                cb = b.groupby("T")["c1"].median().reset_index()
                out.append(style.rows(panel, f"C1 bound at η*(T), r={rank:g} (explicit: measured β, σ², Δ)",
                                      "theory", cb["T"], cb["c1"], color_=i))
        cells = rows.groupby("T")["grad_norm_sq_running_avg"].mean()
        cells = cells[cells > 0]
        fits = (by_track.get(str(track)) or {}).get("fits", {})
        fit = fits.get("upper half") or fits.get("global")
        if fit is not None and not cells.empty:
            lo_t, hi_t = fit["span"]
            s, (clo, chi) = float(fit["exponent"]), fit["ci"]
            line = _power_line(panel, f"fit C·T^{s:.2f} [{clo:.2f}, {chi:.2f}], T ∈ [{lo_t:g}, {hi_t:g}] "
                                      f"({fit['range']}, fitted slope and C)", "fitlaw",
                               cells.index, cells.to_numpy(), s, lo_t, hi_t)
            if line is not None:
                out.append(line)
            verdict = (by_track.get(str(track)) or {}).get("verdict")
            if verdict:
                out.append(style.rows(panel, f"rate test ({fit['range']}): slope {s:.2f} [{clo:.2f}, {chi:.2f}] "
                                             "vs −1/2", "note", [0], [0]))
                out.append(style.rows(panel, f"verdict: {verdict}", "note", [0], [0]))
        if not cells.empty:
            line = _power_line(panel, "reference C/√T: slope −1/2 of the claim (fitted C)", "fitted",
                               cells.index, cells.to_numpy(), -0.5, float(cells.index.min()), float(cells.index.max()))
            if line is not None:
                out.append(line)
    return out


def _fixed_eta(runs: pd.DataFrame, traj: pd.DataFrame, report: dict | None) -> list[pd.DataFrame]:
    """The fixed-step panels' rows: per track its ``conv`` runs when it has any, else its runs at the largest N."""
    from bounds.tightness import c1_curves, running_average

    ok = runs[runs["status"] == "ok"]
    exp = ok["experiment"].fillna("gen").astype(str) if "experiment" in ok else pd.Series("conv", index=ok.index)
    ok, exp = ok[exp != "horizon"], exp[exp != "horizon"]
    parts = []
    for _, g in ok.groupby("track"):
        e = exp.loc[g.index]
        parts.append(g[e == "conv"] if (e == "conv").any() else g[g["samples"] == g["samples"].max()])
    conv = pd.concat(parts) if parts else ok
    if conv.empty or traj.empty:
        return []
    tr = traj[traj["config_hash"].isin(conv["config_hash"])]
    curves = c1_curves(conv, tr)
    desc = {f.get("track"): f for f in ((report or {}).get("claims", {}).get("C", {}) or {}).get("description_fits", [])}
    out = []
    for track in sorted(conv["track"].unique()):
        panel = _panel(FIXED, str(track))
        means = []
        for i, (rank, g) in enumerate(conv[conv["track"] == track].groupby("rank")):
            per = []
            for h in g["config_hash"]:
                t = tr[tr["config_hash"] == h].sort_values("step")
                t = t[t["step"] >= 1]
                if t.empty:
                    continue
                per.append(pd.DataFrame({"step": t["step"].to_numpy(float), "avg": running_average(t),
                                         "raw": t["grad_norm_sq"].to_numpy(float) if "grad_norm_sq" in t else np.nan}))
            if not per:
                continue
            df = pd.concat(per).groupby("step").agg(y=("avg", "mean"), lo=("avg", "min"), hi=("avg", "max"),
                                                    raw=("raw", "mean")).reset_index()
            means.append(df)
            out.append(style.rows(panel, f"running avg at fixed η, r={rank:g}", "measured", df["step"], df["y"],
                                  df["lo"], df["hi"], i))
            out.append(style.rows(panel, f"raw ||grad||², r={rank:g}", "raw", df["step"], df["raw"], color_=i))
            c = curves[curves["config_hash"].isin(g["config_hash"])]
            c = c[c["eta_le_inv_beta"] & c["optimizer"].fillna("sgd").astype(str).str.lower().eq("sgd")]
            if not c.empty:  # C1 only where its assumptions (SGD, eta <= 1/beta) hold
                cb = c.groupby("step")["c1_bound"].median().reset_index()
                out.append(style.rows(panel, f"C1 bound at fixed η, r={rank:g} (explicit: measured β, σ², Δ)",
                                      "theory", cb["step"], cb["c1_bound"], color_=i))
        fit = desc.get(track)
        if fit is not None and means:
            allm = pd.concat(means)
            lo_t, hi_t = fit["span"]
            s, (clo, chi) = float(fit["exponent"]), fit["ci"]
            line = _power_line(panel, f"description: slope {s:.2f} [{clo:.2f}, {chi:.2f}] of the running average, "
                                      f"T ∈ [{lo_t:g}, {hi_t:g}] (fitted)", "fitlaw",
                               allm["step"], allm["y"], s, lo_t, hi_t)
            if line is not None:
                out.append(line)
    return out


def compute(runs: pd.DataFrame, traj: pd.DataFrame, report: dict | None = None) -> pd.DataFrame:
    """Long frame of what figure 1 draws (see :mod:`figures.style` for the columns): the horizon panels, then the
    fixed-step panels."""
    out = _horizon(runs, traj, report) + _fixed_eta(runs, traj, report)
    return style.finite_rows(pd.concat(out, ignore_index=True)) if out else pd.DataFrame(columns=style.COLUMNS)


def plot(df: pd.DataFrame):
    """Figure 1 from :func:`compute`'s frame: one panel per (experiment, track), horizon panels first."""
    names = list(dict.fromkeys(df["panel"])) if len(df) else [_panel(HORIZON, "synthetic")]
    ncols = min(2, len(names))
    return style.draw_long(df, {n: _spec(n) for n in names}, ncols=ncols,
                           suptitle="C: average squared gradient norm — rate test at η*(T), and fixed-η descriptions")
