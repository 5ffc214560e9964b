r"""Claim C, the paper's convergence rate :math:`O(1/\sqrt{T})`, judged in its own setting.

C1 (Ghadimi & Lan 2013, Cor. 2.2; ``docs/theory.md``): for smooth non-convex SGD with a constant step
:math:`\eta \le 1/\beta` for T steps,

.. math:: \frac1T\sum_{t<T}\mathbb E\|\nabla L(\theta_t)\|^2 \le \frac{2\Delta}{\eta T} + \beta\eta\sigma^2,
          \qquad \eta^*(T) = \min\Big(\frac1\beta, \sqrt{\frac{2\Delta}{\beta\sigma^2 T}}\Big)

and at :math:`\eta^*(T)` the bound is :math:`O(1/\sqrt T)` (slope −1 while the deterministic term dominates).

*The rate test* needs one SGD run per horizon T at :math:`\eta^*(T)` (:data:`HORIZON_COLUMNS`, rows with
``experiment == "horizon"``): the slope of the final average squared gradient norm vs T (seed-mean cells,
cluster bootstrap over seeds, :mod:`.cellfit`), on the global span and its two halves; the upper half decides,
against the candidates −1/2 (stochastic regime: the paper's rate, tight) and −1 (deterministic regime). C1 is
checked at each T. Without those rows the rate is *not tested*: the slope of a running average at a fixed
:math:`\eta` is shown as a description only (any summable gradient sequence gives about −1).

*The bound check* evaluates C1 on every logged step of SGD runs only (AdamW runs are another experiment).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .cellfit import cell_mean_fit, halves
from .common import (ASSUMED, CONTRADICTED, HOLDS, INCONCLUSIVE, MAX_CI_WIDTH, N_BOOT, catalog, ci_width,
                     combine_tracks, consistent_laws, covers_exponent, exponent_summary, fmt, fmt_ci, has, ok, ratios)
from .tables import run_kind

#: the rows the horizon experiment writes into runs.csv (one SGD run per horizon T at eta*(T))
HORIZON_COLUMNS = {
    "experiment": 'the text "horizon"',
    "track": "the track (e.g. synthetic)",
    "seed": "the seed (one dataset per seed, shared by its horizons)",
    "horizon": "T, the number of SGD steps of the run",
    "lr": "the constant step eta*(T) = min(1/beta, sqrt(2 Delta/(beta sigma2 T)))",
    "grad_norm_sq_running_avg": "(1/T) sum_{t<T} ||grad L(theta_t)||^2 at the end of the run (full probe batch)",
    "beta": "measured smoothness", "sigma2": "measured gradient variance", "delta": "measured L(theta_0) - L*",
    "optimizer": 'the text "sgd"',
}
#: slope candidates of the rate test: label -> exponent of T
C_CANDIDATES = {"stochastic regime (paper's rate): T^-1/2": -0.5, "deterministic regime: T^-1": -1.0}
PAPER_SLOPE = -0.5


def running_average(traj_run: pd.DataFrame) -> np.ndarray:
    """The running average :math:`\\frac1T\\sum_{t<T}\\|\\nabla L_t\\|^2` at each logged step: the run's own
    ``grad_norm_sq_running_avg`` when given; else :func:`bounds.running.running_average` of the logged
    ``grad_norm_sq`` (each value held until the next log: exact when every step is logged)."""
    if "grad_norm_sq_running_avg" in traj_run and traj_run["grad_norm_sq_running_avg"].notna().all():
        return traj_run["grad_norm_sq_running_avg"].to_numpy(float)
    from bounds.running import running_average as held_average

    return np.asarray(held_average(traj_run["step"], traj_run["grad_norm_sq"]), float)


def _c1(row, T) -> np.ndarray:
    return np.asarray(catalog("C1")(beta=float(row["beta"]), sigma=math.sqrt(float(row["sigma2"])),
                                    Delta=float(row["delta"]), eta=float(row["lr"]), T=np.asarray(T, float)), float)


def c1_curves(runs: pd.DataFrame, traj: pd.DataFrame) -> pd.DataFrame:
    """Long frame: per run and logged step T >= 1, the measured running average and the C1 bound on the run's
    measured beta, sigma2, delta and step size lr (``bounds.catalog`` C1), with the run's optimizer."""
    cols = ["config_hash", "track", "rank", "samples", "seed", "step", "running_avg", "c1_bound",
            "eta_le_inv_beta", "optimizer"]
    if traj.empty or not has(runs, "beta", "sigma2", "delta", "lr"):
        return pd.DataFrame(columns=cols)
    consts = ok(runs).drop_duplicates("config_hash").set_index("config_hash")
    out = []
    for h, tr in traj.groupby("config_hash", sort=False):
        if h not in consts.index:
            continue
        row = consts.loc[h]
        if not all(np.isfinite(float(row[c])) for c in ("beta", "sigma2", "delta", "lr")):
            continue
        tr = tr.sort_values("step")
        avg, T = running_average(tr), tr["step"].to_numpy(float)
        keep = T >= 1
        out.append(pd.DataFrame({
            "config_hash": h, "track": row["track"], "rank": row["rank"], "samples": row["samples"], "seed": row["seed"],
            "step": T[keep], "running_avg": avg[keep], "c1_bound": np.broadcast_to(_c1(row, T[keep]), T[keep].shape),
            "eta_le_inv_beta": bool(float(row["lr"]) <= 1.0 / float(row["beta"])),
            "optimizer": str(row["optimizer"]).lower() if "optimizer" in row and pd.notna(row["optimizer"]) else "sgd"}))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=cols)


def horizon_rows(runs: pd.DataFrame, traj: pd.DataFrame) -> pd.DataFrame:
    """The horizon experiment's runs with T (``horizon``, else ``steps``) and the final running average (the
    run's ``grad_norm_sq_running_avg``, else its trajectory's last value)."""
    if "experiment" not in runs.columns:
        return runs.iloc[:0]
    h = ok(runs)[ok(runs)["experiment"].astype(str) == "horizon"].copy()
    if h.empty:
        return h
    h["T"] = h["horizon"] if has(h, "horizon") else h.get("steps", np.nan)
    if not has(h, "grad_norm_sq_running_avg") and not traj.empty:
        last = {k: running_average(t.sort_values("step"))[-1] for k, t in traj.groupby("config_hash")}
        h["grad_norm_sq_running_avg"] = h["config_hash"].map(last)
    return h


def _slope(rows: pd.DataFrame, x: str, y: str, datasets, n_boot: int, seed: int, theory: float | None):
    """Slope summaries (global, lower half, upper half) of ``y`` vs ``x`` on seed-mean cells."""
    out = {}
    parts = {"global": rows}
    hv = halves(rows[x])
    if hv:
        parts["lower half"] = rows[rows[x].isin(hv[0])]
        parts["upper half"] = rows[rows[x].isin(hv[1])]
    for name, part in parts.items():
        f = cell_mean_fit(part, {"T": x}, y, dataset_cols=datasets, n_boot=n_boot, seed=seed)
        if f is not None:
            out[name] = exponent_summary("T", f.exponents["T"], f.ci["T"], f.span["T"], f.n_cells, theory,
                                         range=name, **f.counts())
    return out


def _rate_verdict(fits: dict, c1_held: bool | None) -> tuple[str, str]:
    """Verdict of the rate test from the upper-half slope (global when there are too few horizons)."""
    decide = fits.get("upper half") or fits.get("global")
    if decide is None:
        return INCONCLUSIVE, "fewer than 4 horizons: no slope"
    txt = (f"slope of the final average squared gradient norm vs T on the {decide['range']} T in "
           f"[{fmt(decide['span'][0])}, {fmt(decide['span'][1])}]: {fmt(decide['exponent'], '.2f')} "
           f"{fmt_ci(decide['ci'], '.2f')}")
    if "lower half" in fits and "upper half" in fits:
        lo, up = fits["lower half"], fits["upper half"]
        drift = lo["ci"][1] < up["ci"][0] or up["ci"][1] < lo["ci"][0]
        txt += f" (lower half {fmt(lo['exponent'], '.2f')} {fmt_ci(lo['ci'], '.2f')}{': a drift' if drift else ''})"
    if c1_held is False:
        return CONTRADICTED, txt + "; C1 is violated at a horizon where its assumptions hold."
    if ci_width(decide["ci"]) > MAX_CI_WIDTH:
        return INCONCLUSIVE, txt + f"; CI wider than {MAX_CI_WIDTH}."
    laws = consistent_laws({"T": decide["ci"]}, {k: {"T": v} for k, v in C_CANDIDATES.items()})
    if len(laws) > 1:
        return INCONCLUSIVE, txt + f"; consistent with {' and '.join(laws)}: the data cannot tell the regimes apart."
    if decide["ci"][0] > PAPER_SLOPE and not covers_exponent(decide["ci"], PAPER_SLOPE):
        return CONTRADICTED, txt + "; slower than T^-1/2."
    if laws == [next(iter(C_CANDIDATES))]:
        return HOLDS, txt + "; the CI covers -1/2 and excludes -1."
    return ASSUMED, txt + ("; faster than T^-1/2: the rate holds as an upper rate, but the stochastic regime where "
                           "it is tight is not reached over these T.")


def _horizon_track(rows: pd.DataFrame, n_boot: int, seed: int) -> dict:
    """Rate test and C1 at each T on one track's horizon runs."""
    fits = _slope(rows, "T", "grad_norm_sq_running_avg", ("track", "seed"), n_boot, seed, PAPER_SLOPE)
    c1 = None
    if has(rows, "beta", "sigma2", "delta", "lr"):
        good = rows[(rows["lr"] <= 1.0 / rows["beta"]) & rows["optimizer"].fillna("sgd").astype(str).str.lower().eq("sgd")]
        bound = np.array([_c1(r, r["T"]).item() for _, r in good.iterrows()]) if len(good) else np.array([])
        c1 = {"id": "C1", "explicit": True, "evaluated": bool(len(good)), "measured": "final running average at each T",
              **ratios(bound, good["grad_norm_sq_running_avg"].to_numpy(float))}
    verdict, reason = _rate_verdict(fits, None if c1 is None else c1["held_all"])
    return {"n_runs": int(len(rows)), "horizons": sorted(float(t) for t in rows["T"].unique()), "fits": fits,
            "c1": c1, "verdict": verdict, "reason": reason}


def _describe_fixed_eta(runs: pd.DataFrame, traj: pd.DataFrame, n_boot: int, seed: int) -> list[dict]:
    """Per track: the log-log slope of the running average vs T >= 10 of the fixed-step SGD runs (``conv``
    experiment when present). A description of the trajectories, not a test of the rate."""
    if traj.empty:
        return []
    info = ok(runs).drop_duplicates("config_hash").set_index("config_hash")
    kinds = run_kind(info)
    sgd = kinds[kinds.str.endswith("/sgd") & ~kinds.str.startswith("horizon/")]
    if (sgd.str.startswith("conv/")).any():
        sgd = sgd[sgd.str.startswith("conv/")]
    pts = []
    for h, tr in traj[traj["config_hash"].isin(sgd.index)].groupby("config_hash", sort=False):
        tr = tr.sort_values("step")
        avg, T = running_average(tr), tr["step"].to_numpy(float)
        keep = (T >= 10) & np.isfinite(avg)
        pts.append(pd.DataFrame({"T": T[keep], "y": avg[keep], "track": info.loc[h, "track"],
                                 "seed": info.loc[h, "seed"], "samples": info.loc[h, "samples"]}))
    if not pts:
        return []
    df, out = pd.concat(pts, ignore_index=True), []
    for track, d in df.groupby("track", sort=True):
        f = cell_mean_fit(d, {"T": "T"}, "y", n_boot=n_boot, seed=seed)
        if f is not None:
            out.append(exponent_summary("T (fixed eta, description)", f.exponents["T"], f.ci["T"], f.span["T"],
                                        f.n_cells, None, track=str(track), **f.counts()))
    return out


def claim_C(runs: pd.DataFrame, traj: pd.DataFrame, seed: int = 0, n_boot: int = N_BOOT) -> dict:
    """C: the rate test on the horizon experiment (per track) and C1 on every logged step of the SGD runs."""
    res = {"claim": "C", "paper_claim": "convergence O(1/sqrt(T))",
           "measured_quantity": "average squared gradient norm (1/T) sum_t ||grad L||^2 on a full probe batch",
           "assumptions": ["beta-smooth loss, unbiased gradients with variance <= sigma2, constant step eta <= 1/beta (SGD)",
                           "L* estimated by the best loss seen (Delta = loss_init - loss_best)"],
           "fits": [], "bounds": [], "by_track": {}, "horizon_columns": HORIZON_COLUMNS}
    hz = horizon_rows(runs, traj)
    verdicts = {}
    for track, rows in hz.groupby("track", sort=True):
        t = _horizon_track(rows, n_boot, seed)
        res["by_track"][str(track)] = t
        verdicts[str(track)] = t["verdict"]
        res["fits"] += [dict(f, track=str(track)) for f in t["fits"].values()]
        if t["c1"]:
            res["bounds"].append(dict(t["c1"], track=str(track), setting="horizon experiment, eta*(T)"))
    res["rate_tested"] = bool(verdicts)
    res["description_fits"] = _describe_fixed_eta(runs, traj, n_boot, seed)
    curves = c1_curves(runs, traj)
    sgd = curves[curves["optimizer"].eq("sgd") & curves["eta_le_inv_beta"].astype(bool)] if len(curves) else curves
    n_other = int(len(curves) - len(sgd))
    if len(sgd):
        first = sgd.groupby("config_hash")["running_avg"].transform("first")
        vac = sgd["c1_bound"] >= first
        res["bounds"].append({"id": "C1", "track": "all SGD runs", "explicit": True, "evaluated": True,
                              "setting": f"fixed eta, every logged step of {sgd['config_hash'].nunique()} SGD runs "
                                         f"({n_other} points of other optimizers or eta > 1/beta not counted)",
                              **ratios(sgd["c1_bound"], sgd["running_avg"]), "vacuous": bool(vac.all()),
                              "vacuous_fraction": float(vac.mean()), "n_points_not_sgd": n_other,
                              "vacuity_rule": "bound >= the running average at the first logged step"})
    fixed = next((b for b in res["bounds"] if b["track"] == "all SGD runs"), None)
    desc = "; ".join(f"[{f['track']}] fixed-eta running-average slope {fmt(f['exponent'], '.2f')} "
                     f"{fmt_ci(f['ci'], '.2f')} (a description, not the rate test)" for f in res["description_fits"])
    btxt = (f"C1 held at {fixed['n_points'] - fixed['n_violations']}/{fixed['n_points']} SGD points at fixed eta"
            if fixed else "no fixed-step SGD trajectory with measured beta, sigma2, delta, lr")
    if verdicts:
        overall, why = combine_tracks(verdicts)
        reasons = " ".join(f"[{t}] {v['reason']}" for t, v in res["by_track"].items())
        if fixed and fixed["held_all"] is False:
            overall, why = CONTRADICTED, why + "; C1 violated on fixed-eta SGD points"
        res.update(verdict=overall, reason=f"{reasons} {btxt}. Overall: {why}.")
    elif fixed is None:
        res.update(verdict=INCONCLUSIVE, reason=f"The rate was not tested in its setting (no horizon experiment) and {btxt}.")
    elif fixed["held_all"]:
        res.update(verdict=ASSUMED, reason=f"{btxt}. The O(1/sqrt(T)) rate was not tested in its setting (one SGD run "
                   "per horizon T at eta*(T)): it follows from C1 with eta tuned to T, an assumption here. " + desc)
    else:
        res.update(verdict=CONTRADICTED, reason=f"{btxt}: measured > C1 where its assumptions hold. " + desc)
    return res
