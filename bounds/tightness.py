"""The tightness report: claim by claim (C, G, R, I of THEORY.md), is the theory right and how tight is it.

Input is a *table of measurements*, never a model: ``runs`` (one row per run: rank, samples, seed,
train_loss, test_loss, and optionally params, m, d, the smoothed losses, the loss range B, the measured
optimisation constants beta, sigma2, delta, lr, ...), ``traj`` (long format: one row per logged step of a
run, with grad_norm_sq and/or grad_norm_sq_running_avg) and ``mi`` (MI estimates vs rank / step). The same
report is produced from a results folder (``runs.csv``, ``trajectories.csv``, ``mi.csv``) or from one user
CSV (see :func:`load_path`).

For each claim the report gives the measured quantity, fitted exponents with 95 % bootstrap CIs and the
data span they were fitted on (:mod:`bounds.fit`: Huber loss in log space, seeded bootstrap), the theory's
exponent, the explicit bounds (from :mod:`bounds.catalog`, never re-typed here) evaluated on measured
constants with bound/measured ratios (min, median, max), whether each held at every point and whether it
is vacuous, and a verdict in :data:`VERDICTS`.

Explicit bounds evaluated (THEORY.md):

- C1: :math:`\\frac1T\\sum_{t<T}\\|\\nabla L(\\theta_t)\\|^2 \\le \\frac{2\\Delta}{\\eta T} + \\beta\\eta\\sigma^2`
  (Ghadimi & Lan 2013), on measured :math:`\\beta, \\sigma^2, \\Delta` and the run's step size;
- G2: covering-number bound on the gap of the smoothed loss, on measured :math:`B, \\rho, R, p`;
- G3: Occam bound :math:`R(h) \\le \\hat R(h) + B\\sqrt{(C(h)\\ln 2 + \\ln(1/\\delta))/(2N)}` (Lotfi et al. 2023).

This module imports numpy and pandas only (and :mod:`bounds`), never torch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bounds.cliutil import UsageError

VERDICTS = ("holds", "holds only under a stated assumption", "contradicted", "inconclusive")

#: required columns of a user CSV, and the optional ones the report uses when present
REQUIRED_COLUMNS = ("rank", "samples", "seed", "train_loss", "test_loss")
OPTIONAL_COLUMNS = ("track", "params", "m", "d", "step", "grad_norm_sq", "grad_norm_sq_running_avg",
                    "beta", "sigma2", "delta", "lr", "optimizer", "train_loss_smoothed", "test_loss_smoothed",
                    "loss_range_B", "code_bits", "param_norm", "lipschitz", "spectrum_alpha", "status",
                    "mi", "estimator", "clone_mse", "i1_bound", "i2_cap", "i3_bound")
#: a CI wider than this (in exponent units) is too wide to contradict anything: the verdict is inconclusive
MAX_CI_WIDTH = 1.0
#: confidence parameter delta of the high-probability bounds G2, G3
BOUND_DELTA = 0.05
#: bits per parameter of the fixed-length float32 code used for G3 when a run gives no ``code_bits``
FLOAT32_BITS = 32
N_BOOT = 2000


@dataclass(frozen=True)
class Tables:
    """What the report reads: runs (one row per run), trajectories and MI estimates (long format)."""

    runs: pd.DataFrame
    traj: pd.DataFrame
    mi: pd.DataFrame


# ----------------------------------------------------------------------------------------------- input

def _numeric(df: pd.DataFrame, cols, where: str) -> pd.DataFrame:
    for c in cols:
        if c not in df.columns:
            continue
        conv = pd.to_numeric(df[c], errors="coerce")
        bad = conv.isna() & df[c].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise UsageError(f"{where}: column {c!r} has a non-numeric value {df[c].iloc[row]!r} (row {row + 2})")
        df[c] = conv
    return df


def from_user_csv(path) -> Tables:
    """Read a user CSV of measurements (columns :data:`REQUIRED_COLUMNS`, optional :data:`OPTIONAL_COLUMNS`).

    A CSV with ``step`` and ``grad_norm_sq`` columns is a trajectory: each (rank, samples, seed) is one run,
    its last step's row gives the run's losses. Raises :class:`UsageError` on a missing column or a
    non-numeric value.
    """
    path = Path(path)
    df = _read_table(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise UsageError(f"{path.name}: missing required column(s) {', '.join(missing)} "
                         f"(needs {','.join(REQUIRED_COLUMNS)})")
    if df.empty:
        raise UsageError(f"{path.name}: no rows")
    text_cols = {"track", "optimizer", "status", "estimator", "config_hash", "failure_reason", "experiment", "term"}
    df = _numeric(df, [c for c in df.columns if c not in text_cols], path.name)
    if df[list(REQUIRED_COLUMNS)].isna().any().any():
        raise UsageError(f"{path.name}: empty value in a required column")
    if "track" not in df.columns:
        df["track"] = "user"
    key = ["track", "rank", "samples", "seed"]
    df["config_hash"] = df[key].astype(str).agg("/".join, axis=1)
    traj = pd.DataFrame()
    if "step" in df.columns and ("grad_norm_sq" in df.columns or "grad_norm_sq_running_avg" in df.columns):
        traj = df.copy()
        runs = df.sort_values("step").groupby(key, as_index=False).tail(1).reset_index(drop=True)
    else:
        runs = df
    mi = pd.DataFrame()
    if "mi" in df.columns:
        mi = df[df["mi"].notna()].copy()
    return Tables(runs=_finish_runs(runs), traj=traj, mi=mi)


def from_results_dir(folder) -> Tables:
    """Read a results folder written by ``paper_repro.py`` (``runs.csv``, ``trajectories.csv``, ``mi.csv``)."""
    folder = Path(folder)
    runs_path = folder / "runs.csv"
    if not runs_path.exists():
        raise UsageError(f"{folder}: no runs.csv (is this a results folder written by `lrkd repro`?)")
    runs = _read_table(runs_path)
    missing = [c for c in ("train_loss", "test_loss") if c not in runs.columns]
    if missing:
        raise UsageError(f"{runs_path}: missing column(s) {', '.join(missing)} (not a runs.csv written by `lrkd repro`)")
    traj = _read_table(folder / "trajectories.csv") if (folder / "trajectories.csv").exists() else pd.DataFrame()
    mi = _read_table(folder / "mi.csv") if (folder / "mi.csv").exists() else pd.DataFrame()
    return Tables(runs=_finish_runs(runs), traj=traj, mi=mi)


#: files of the real-teacher stage in a results folder (``paper_repro.real_stage``)
REAL_RUNS_FILE, REAL_FITS_FILE = "real_runs.csv", "real_spectra_fits.csv"
#: every matrix of the real model (written by the real stage for presets other than smoke)
REAL_ALL_FITS_FILE, REAL_ALL_RANKS_FILE = "real_all_spectra_fits.csv", "real_all_ranks.csv"


def real_section_from_dir(folder, n_boot: int = N_BOOT, seed: int = 0) -> dict | None:
    """The report's real-model section rebuilt from a results folder's files alone (no torch, no model package):
    :func:`real_model_section` of ``real_runs.csv`` and ``real_spectra_fits.csv`` (absent: no spectrum rows),
    with the preset from ``manifest.json``. None when the folder has no real outputs, or when its manifest says
    the last ``lrkd repro`` did not run the real stage (``--real off`` or a missing extra: a ``real_runs.csv``
    left from an earlier run is stale). A stage that failed gives ``status: failed`` with the recorded error."""
    import json

    folder = Path(folder)
    info = None
    if (folder / "manifest.json").exists():
        try:
            info = json.loads((folder / "manifest.json").read_text()).get("real") or {}
        except (OSError, ValueError, AttributeError):
            info = None                            # an unreadable manifest: fall back on the files
    if info is not None and not info:
        return None
    if info and info.get("error"):
        return {"status": "failed", "error": info["error"], "preset": info.get("preset")}
    if not (folder / REAL_RUNS_FILE).exists():
        return None
    runs = _read_table(folder / REAL_RUNS_FILE)
    missing = [c for c in REAL_COLUMNS if c not in runs.columns]
    if missing:
        raise UsageError(f"{folder / REAL_RUNS_FILE}: missing column(s) {', '.join(missing)}")
    fits = _read_table(folder / REAL_FITS_FILE) if (folder / REAL_FITS_FILE).exists() else pd.DataFrame()
    sec = real_model_section(runs, fits, n_boot=n_boot, seed=seed)
    if (folder / REAL_ALL_FITS_FILE).exists():
        ranks = _read_table(folder / REAL_ALL_RANKS_FILE) if (folder / REAL_ALL_RANKS_FILE).exists() else None
        sec["all_matrices"] = real_all_matrices_summary(_read_table(folder / REAL_ALL_FITS_FILE), ranks)
    return {**sec, "preset": info["preset"]} if info and info.get("preset") else sec


def _read_table(path: Path) -> pd.DataFrame:
    """``pd.read_csv(path)``; an unreadable, empty, non-UTF-8 or malformed file is a :class:`UsageError`."""
    try:
        return pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def load_path(path) -> Tables:
    """A results folder or a CSV file; :class:`UsageError` if it is neither."""
    path = Path(path)
    if path.is_dir():
        return from_results_dir(path)
    if path.is_file():
        return from_user_csv(path)
    raise UsageError(f"no such file or folder: {path}")


def _finish_runs(runs: pd.DataFrame) -> pd.DataFrame:
    runs = runs.copy()
    runs["status"] = runs["status"].fillna("ok") if "status" in runs.columns else "ok"
    if "gap" not in runs.columns or runs["gap"].isna().all():
        runs["gap"] = runs["test_loss"] - runs["train_loss"]
    finite = np.isfinite(runs[["train_loss", "test_loss"]].to_numpy(float)).all(axis=1)
    runs.loc[~finite & (runs["status"] == "ok"), "status"] = "failed"
    if "track" not in runs.columns:
        runs["track"] = "user"
    return runs


# ----------------------------------------------------------------------------------------------- helpers

def _catalog(bound_id: str):
    from bounds import catalog
    return catalog.get(bound_id)


def _fit_summary(fit, name: str, theory: float | None) -> dict:
    lo, hi = fit.ci[name]
    return {"variable": name, "exponent": fit.exponents[name], "ci": [lo, hi], "ci_level": fit.ci_level,
            "span": list(fit.span[name]), "n": fit.n, "theory_exponent": theory,
            "covers_theory": (None if theory is None or not np.isfinite(lo) else bool(lo <= theory <= hi))}


def _ratios(bound: np.ndarray, measured: np.ndarray) -> dict:
    bound, measured = np.asarray(bound, float), np.asarray(measured, float)
    ok = np.isfinite(bound) & np.isfinite(measured)
    pos = ok & (measured > 0)
    r = bound[pos] / measured[pos]
    held = bound[ok] >= measured[ok]
    return {"n_points": int(ok.sum()), "n_violations": int((~held).sum()), "held_all": bool(held.all()) if ok.any() else None,
            "ratio_min": float(r.min()) if r.size else None, "ratio_median": float(np.median(r)) if r.size else None,
            "ratio_max": float(r.max()) if r.size else None}


def _ci_width(s: dict) -> float:
    lo, hi = s["ci"]
    return float(hi - lo) if np.isfinite(lo) and np.isfinite(hi) else float("inf")


def _ok(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[runs["status"] == "ok"]


def _has(df: pd.DataFrame, *cols) -> bool:
    return all(c in df.columns and df[c].notna().any() for c in cols)


def _track_order(runs: pd.DataFrame) -> list[str]:
    pref = {"transformer": 0, "real": 1, "user": 2, "synthetic": 3}
    return sorted(runs["track"].dropna().unique().tolist(), key=lambda t: (pref.get(t, 9), t))


# ----------------------------------------------------------------------------------------------- C

def running_average(traj_run: pd.DataFrame) -> np.ndarray:
    """The running average :math:`\\frac1T\\sum_{t<T}\\|\\nabla L_t\\|^2` at each logged step.

    Uses the run's own ``grad_norm_sq_running_avg`` when given; else :func:`bounds.running.running_average`
    of the logged ``grad_norm_sq`` (each value held until the next log: exact when every step is logged).
    """
    if "grad_norm_sq_running_avg" in traj_run and traj_run["grad_norm_sq_running_avg"].notna().all():
        return traj_run["grad_norm_sq_running_avg"].to_numpy(float)
    from bounds.running import running_average as held_average

    return np.asarray(held_average(traj_run["step"], traj_run["grad_norm_sq"]), float)


def c1_curves(runs: pd.DataFrame, traj: pd.DataFrame) -> pd.DataFrame:
    """Long frame: per run and logged step T >= 1, the measured running average and the C1 bound on the
    run's measured beta, sigma2, delta and step size lr (``bounds.catalog`` C1)."""
    cols = ["config_hash", "track", "rank", "samples", "seed", "step", "running_avg", "c1_bound",
            "eta_le_inv_beta", "optimizer"]
    if traj.empty or not _has(runs, "beta", "sigma2", "delta", "lr"):
        return pd.DataFrame(columns=cols)
    c1 = _catalog("C1")
    out = []
    consts = _ok(runs).set_index("config_hash")
    for h, tr in traj.groupby("config_hash", sort=False):
        if h not in consts.index:
            continue
        row = consts.loc[h]
        if isinstance(row, pd.DataFrame):
            row = row.iloc[0]
        if not all(np.isfinite(float(row[c])) for c in ("beta", "sigma2", "delta", "lr")):
            continue
        tr = tr.sort_values("step")
        avg = running_average(tr)
        T = tr["step"].to_numpy(float)
        keep = T >= 1
        bound = c1(beta=float(row["beta"]), sigma=math.sqrt(float(row["sigma2"])), Delta=float(row["delta"]),
                   eta=float(row["lr"]), T=T[keep])
        out.append(pd.DataFrame({
            "config_hash": h, "track": row["track"], "rank": row["rank"], "samples": row["samples"],
            "seed": row["seed"], "step": T[keep], "running_avg": avg[keep], "c1_bound": np.broadcast_to(bound, T[keep].shape),
            "eta_le_inv_beta": bool(float(row["lr"]) <= 1.0 / float(row["beta"])),
            "optimizer": row.get("optimizer", "sgd") if hasattr(row, "get") else "sgd"}))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=cols)


def claim_C(runs: pd.DataFrame, traj: pd.DataFrame, seed: int = 0) -> dict:
    """C: measured running average of the squared gradient norm vs T against C1 (explicit) and the T^-1/2 rate."""
    res = {"claim": "C", "seed_claim": "convergence O(1/sqrt(T))",
           "measured_quantity": "running average of the full-probe-batch squared gradient norm (1/T) sum_t ||grad L||^2",
           "assumptions": ["beta-smooth loss, unbiased gradients with variance <= sigma2, constant step eta <= 1/beta (SGD)",
                           "L* estimated by the best loss seen (Delta = loss_init - loss_best)"],
           "fits": [], "bounds": []}
    curves = c1_curves(runs, traj)
    if curves.empty:
        res.update(verdict="inconclusive", reason="no trajectories with measured beta, sigma2, delta and lr")
        if not traj.empty and "grad_norm_sq" in traj.columns:
            res["fits"] = _slope_fit(traj, seed, runs)
        return res
    res["fits"] = _slope_fit(traj, seed, runs)
    assumed = curves["eta_le_inv_beta"].astype(bool) & curves["optimizer"].fillna("sgd").astype(str).str.lower().eq("sgd")
    b_all = _ratios(curves["c1_bound"], curves["running_avg"])
    b_ok = _ratios(curves.loc[assumed, "c1_bound"], curves.loc[assumed, "running_avg"])
    first = curves.groupby("config_hash")["running_avg"].transform("first")  # curves are step-sorted per run
    vac = curves["c1_bound"] >= first
    bound = {"id": "C1", "explicit": True, "evaluated": True, **b_all,
             "held_all_where_assumptions_hold": b_ok["held_all"], "n_points_assumptions_hold": b_ok["n_points"],
             "vacuous": bool(vac.all()), "vacuous_fraction": float(vac.mean()),
             "vacuity_rule": "bound >= the running average at the first logged step (says nothing beyond 'does not grow')"}
    res["bounds"].append(bound)
    slope_txt = "; ".join(
        f"[{f['track']}] log-log slope of the running average {f['exponent']:.2f} [{f['ci'][0]:.2f}, {f['ci'][1]:.2f}] "
        f"over T in [{f['span'][0]:g}, {f['span'][1]:g}]" for f in res["fits"])
    if slope_txt:
        slope_txt += (" (C1's rate with eta tuned to T is -1/2, an upper rate; with a fixed eta the bound flattens to "
                      "beta*eta*sigma2)")
    if b_ok["n_points"] == 0:
        res.update(verdict="inconclusive", reason="no run meets C1's assumptions (SGD with eta <= 1/beta). " + slope_txt)
    elif b_ok["held_all"] and b_all["held_all"]:
        res.update(verdict="holds", reason=f"measured <= C1 at all {b_all['n_points']} points" +
                   (" (but C1 is vacuous there)" if bound["vacuous"] else "") + ". " + slope_txt)
    elif b_ok["held_all"]:
        res.update(verdict="holds only under a stated assumption",
                   reason=f"C1 held on every point where eta <= 1/beta and SGD ({b_ok['n_points']} points); violated "
                          f"{b_all['n_violations']} times elsewhere. " + slope_txt)
    else:
        res.update(verdict="contradicted", reason=f"measured > C1 at {b_ok['n_violations']} of {b_ok['n_points']} points "
                   "where its assumptions hold. " + slope_txt)
    return res


def _slope_fit(traj: pd.DataFrame, seed: int, runs: pd.DataFrame | None = None) -> list[dict]:
    """Per track: Huber log-log slope of the running average vs T over T >= 10, bootstrap over runs.
    Runs tagged ``experiment == "conv"`` are used for a track when it has any (they are the long ones)."""
    from bounds.fit import fit_power_law

    info = None
    if runs is not None and "config_hash" in runs:
        info = runs.drop_duplicates("config_hash").set_index("config_hash")
    pts = []
    for h, tr in traj.groupby("config_hash", sort=False):
        tr = tr.sort_values("step")
        if tr["step"].max() < 10:
            continue
        avg = running_average(tr)
        keep = (tr["step"].to_numpy(float) >= 10) & (avg > 0) & np.isfinite(avg)
        track = info.loc[h, "track"] if info is not None and h in info.index else tr.get("track", pd.Series(["user"])).iloc[0]
        exp = info.loc[h, "experiment"] if info is not None and h in info.index and "experiment" in info else "gen"
        pts.append(pd.DataFrame({"T": tr["step"].to_numpy(float)[keep], "y": avg[keep], "g": h, "track": track,
                                 "experiment": exp}))
    if not pts:
        return []
    df = pd.concat(pts)
    fits = []
    for track, d in df.groupby("track", sort=False):
        if (d["experiment"] == "conv").any():
            d = d[d["experiment"] == "conv"]
        if d["g"].nunique() < 2 or len(d) < 4:
            continue
        fit = fit_power_law(d["T"], d["y"], groups=d["g"], name="T", n_boot=N_BOOT, seed=seed)
        fits.append(dict(_fit_summary(fit, "T", -0.5), track=str(track)))
    return fits


# ----------------------------------------------------------------------------------------------- G

def _g_candidates() -> dict:
    """Candidate gap laws ``{label: (exponent of r, exponent of N)}``: the rate forms of
    :data:`bounds.rates.RATE_FORMS` (V = c r^a N^-b) under the names the report uses."""
    from bounds.rates import RATE_FORMS

    labels = {"paper": "G1 (seed): r/sqrt(N)", "covering": "G2: sqrt(r/N)", "fast": "fast: r/N"}
    return {labels[form]: (a, -b) for form, (a, b) in RATE_FORMS.items()}


G_CANDIDATES = _g_candidates()


def _consistent_with(fit, rank_var: str, n_var: str) -> list[str]:
    """The candidate laws (:data:`G_CANDIDATES`) whose two exponents both lie in the fit's CIs."""
    return [name for name, (a, b) in G_CANDIDATES.items() if fit.covers(rank_var, a) and fit.covers(n_var, b)]


def g_fit(runs: pd.DataFrame, seed: int = 0):
    """Huber log-log fit of gap = C * rank^a * samples^b over positive gaps (one row per run: bootstrap
    over runs). Returns (fit or None, number of runs used, number dropped for a non-positive gap)."""
    return positive_gap_fit(_ok(runs), {"rank": "rank", "samples": "samples"}, n_boot=N_BOOT, seed=seed)


def positive_gap_fit(rows: pd.DataFrame, x: dict, n_boot: int = N_BOOT, seed: int = 0):
    """Huber log-log fit (:func:`bounds.fit.fit_loglinear`) of the finite, positive ``gap`` of ``rows`` on the
    columns ``x`` (fit variable name -> column). Returns ``(fit or None, rows used, rows dropped)``; None with
    fewer than 6 positive gaps or fewer than 2 distinct values of a variable."""
    from bounds.fit import fit_loglinear

    fin = rows[np.isfinite(rows["gap"].to_numpy(float))]
    pos = fin[fin["gap"] > 0]
    dropped = len(rows) - len(pos)
    if len(pos) < 6 or any(pos[c].nunique() < 2 for c in x.values()):
        return None, len(pos), dropped
    fit = fit_loglinear({k: pos[c].to_numpy(float) for k, c in x.items()}, pos["gap"].to_numpy(float),
                        n_boot=n_boot, seed=seed)
    return fit, len(pos), dropped


def g2_bound(rows: pd.DataFrame) -> np.ndarray | None:
    """G2 (bounds.catalog) on each run's measured B, rho (Lipschitz), R (parameter norm), p and N."""
    if not _has(rows, "loss_range_B", "lipschitz", "param_norm", "params"):
        return None
    g2 = _catalog("G2")
    return np.asarray(g2(B=rows["loss_range_B"].to_numpy(float), rho=rows["lipschitz"].to_numpy(float),
                                R=rows["param_norm"].to_numpy(float), p=rows["params"].to_numpy(float),
                                N=rows["samples"].to_numpy(float), delta=BOUND_DELTA), float)


def g3_bound(rows: pd.DataFrame) -> tuple[np.ndarray | None, str]:
    """G3 (bounds.catalog): bound on the smoothed test loss from the smoothed train loss and a code length
    C(h) in bits (``code_bits``, else a fixed-length float32 code of the trainable parameters: 32 p bits)."""
    if not _has(rows, "loss_range_B", "train_loss_smoothed"):
        return None, "needs loss_range_B and train_loss_smoothed"
    if _has(rows, "code_bits"):
        bits, how = rows["code_bits"].to_numpy(float), "code_bits as measured (quantized + entropy-coded)"
    elif _has(rows, "params"):
        bits, how = FLOAT32_BITS * rows["params"].to_numpy(float), "C(h) = 32 p bits (fixed-length float32 code)"
    else:
        return None, "needs code_bits or params"
    g3 = _catalog("G3")
    val = g3(emp_risk=rows["train_loss_smoothed"].to_numpy(float), B=rows["loss_range_B"].to_numpy(float),
              C_bits=bits, N=rows["samples"].to_numpy(float), delta=BOUND_DELTA)
    return np.asarray(val, float), how


def g_bound_points(runs: pd.DataFrame) -> pd.DataFrame:
    """Per run: measured smoothed gap / test loss and the G2 / G3 bounds (NaN where not evaluable)."""
    ok = _ok(runs).copy()
    if ok.empty:
        return ok
    sm = _has(ok, "train_loss_smoothed", "test_loss_smoothed")
    ok["gap_smoothed"] = (ok["test_loss_smoothed"] - ok["train_loss_smoothed"]) if sm else np.nan
    g2 = g2_bound(ok) if sm else None
    ok["g2_bound"] = g2 if g2 is not None else np.nan
    g3, _ = g3_bound(ok)
    ok["g3_bound"] = g3 if g3 is not None else np.nan
    return ok


def claim_G(runs: pd.DataFrame, seed: int = 0) -> dict:
    """G: generalization gap vs rank and N. Exponents (a in rank, b in N) with CIs per track; G2, G3 held?"""
    res = {"claim": "G", "seed_claim": "generalization error O(r(m+d)/sqrt(N))",
           "measured_quantity": "generalization gap = test loss - train loss (nats), one point per run",
           "assumptions": ["G1: no constant given (shape only)",
                           "G2/G3: loss bounded in [0, B] (prediction-smoothed CE), i.i.d. samples; G3 also needs a "
                           "teacher trained on data disjoint from the N samples"],
           "fits": [], "bounds": [], "by_track": {}}
    tracks = _track_order(_ok(runs))
    for track in tracks:
        rows = runs[runs["track"] == track]
        fit, used, dropped = g_fit(rows, seed)
        tr = {"n_runs": used, "n_dropped_nonpositive_gap": dropped}
        if fit is not None:
            tr["rank_exponent"] = _fit_summary(fit, "rank", 1.0)
            tr["samples_exponent"] = _fit_summary(fit, "samples", -0.5)
            tr["log_prefactor"] = fit.log_prefactor
            tr["consistent_with"] = _consistent_with(fit, "rank", "samples")
        pts = g_bound_points(rows)
        for bid, col, meas, what in (("G2", "g2_bound", "gap_smoothed", "smoothed gap"),
                                     ("G3", "g3_bound", "test_loss_smoothed", "smoothed test loss")):
            b = {"id": bid, "track": track, "explicit": True, "measured": what}
            if pts.empty or col not in pts or pts[col].isna().all():
                need = ("loss_range_B, lipschitz, param_norm, params and smoothed losses" if bid == "G2"
                        else g3_bound(_ok(rows))[1] if not _ok(rows).empty else "runs")
                b.update(evaluated=False, reason=f"not evaluable on this track: {need}")
            else:
                sel = pts[pts[col].notna()]
                b.update(evaluated=True, **_ratios(sel[col], sel[meas]))
                vac = sel[col] >= sel["loss_range_B"]
                b.update(vacuous=bool(vac.all()), vacuous_fraction=float(vac.mean()),
                         vacuity_rule="bound >= B (the loss range: any predictor satisfies it)")
                if bid == "G3":
                    b["code"] = g3_bound(sel)[1]
            res["bounds"].append(b)
        res["by_track"][track] = tr
    main = next((t for t in tracks if "rank_exponent" in res["by_track"][t]), None)
    if main is None:
        res.update(verdict="inconclusive", reason="too few runs with a positive gap and >= 2 ranks and sample sizes")
        return res
    m = res["by_track"][main]
    res["primary_track"] = main
    res["rank_exponent"], res["samples_exponent"] = m["rank_exponent"], m["samples_exponent"]
    res["fits"] = [dict(s, track=t) for t, v in res["by_track"].items()
                   for s in (v.get("rank_exponent"), v.get("samples_exponent")) if s]
    res["verdict"], res["reason"] = _g_verdict(res, main, m.get("consistent_with", []))
    return res


def _g_verdict(res: dict, main: str, consistent_with: list[str]) -> tuple[str, str]:
    a, b = res["rank_exponent"], res["samples_exponent"]
    txt = (f"[{main}] gap ~ r^{a['exponent']:.2f} [{a['ci'][0]:.2f}, {a['ci'][1]:.2f}] "
           f"N^{b['exponent']:.2f} [{b['ci'][0]:.2f}, {b['ci'][1]:.2f}]; seed: r^1 N^-0.5. ")
    evaluated = [x for x in res["bounds"] if x.get("evaluated")]
    broken = [x for x in evaluated if x.get("held_all") is False]
    btxt = "; ".join(f"{x['id']}[{x['track']}] held at {x['n_points'] - x['n_violations']}/{x['n_points']} points"
                     f"{' (vacuous)' if x.get('vacuous') else ''}" for x in evaluated)
    if btxt:
        txt += btxt + ". "
    if broken:
        return "contradicted", txt + "An explicit bound was violated: check its assumptions and the measured constants."
    if _ci_width(a) > MAX_CI_WIDTH or _ci_width(b) > MAX_CI_WIDTH:
        return "inconclusive", txt + f"A CI is wider than {MAX_CI_WIDTH}."
    # as a big-O upper rate, r^1 N^-1/2 is consistent when the measured gap grows no faster in r and falls no
    # slower in N; as a scaling law it must match.
    upper_ok = a["ci"][0] <= 1.0 and b["ci"][0] <= -0.5
    exact = a["covers_theory"] and b["covers_theory"]
    if exact:
        return "holds", txt + "Both exponents' CIs cover the seed's."
    if upper_ok:
        return ("holds only under a stated assumption", txt + "Read as an upper rate O(r/sqrt(N)) the data are "
                "consistent with it, but the exponents differ from the seed's (not tight): "
                + (f"consistent with {', '.join(consistent_with)}." if consistent_with
                   else "no candidate law's exponents fit."))
    return "contradicted", txt + "The gap grows faster in r or falls slower in N than O(r/sqrt(N)) allows."


# ----------------------------------------------------------------------------------------------- R

def optimal_ranks(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (track, samples): r* = argmin over ranks of the seed-mean test loss, and per seed; flags r* at the
    edge of the rank grid (censored)."""
    ok = _ok(runs)
    rows = []
    for (track, n), g in ok.groupby(["track", "samples"]):
        mean = g.groupby("rank")["test_loss"].mean()
        if len(mean) < 3:
            continue
        r_star = float(mean.idxmin())
        per_seed = g.loc[g.groupby("seed")["test_loss"].idxmin(), ["seed", "rank"]]
        rows.append({"track": track, "samples": n, "r_star": r_star,
                     "censored": bool(r_star in (mean.index.min(), mean.index.max())),
                     "r_star_seeds": per_seed["rank"].tolist(), "seeds": per_seed["seed"].tolist(),
                     "rank_min": float(mean.index.min()), "rank_max": float(mean.index.max())})
    return pd.DataFrame(rows)


def claim_R(runs: pd.DataFrame, g: dict | None = None, seed: int = 0) -> dict:
    """R: slope of log r* vs log N with a bootstrap CI, vs 1/2 and vs R1's gamma from the measured alpha."""
    from bounds.fit import fit_power_law

    res = {"claim": "R", "seed_claim": "optimal rank r* = O(sqrt(N))",
           "measured_quantity": "r* = argmin over the rank grid of the seed-mean held-out loss, per N",
           "assumptions": ["R1: power-law spectrum sigma_k^2 ~ k^(-2 alpha), variance term c r^a N^-b (gamma = b/(2alpha-1+a))",
                           "R2 (budget reading): holds trivially under G1"],
           "fits": [], "bounds": [], "by_track": {}}
    table = optimal_ranks(runs)
    for track in _track_order(_ok(runs)):
        t = table[table["track"] == track] if not table.empty else table
        info = {"r_star": t[["samples", "r_star", "censored"]].to_dict("records") if not t.empty else []}
        unc = t[~t["censored"]] if not t.empty else t
        pts = [(row["samples"], r) for _, row in unc.iterrows() for r in row["r_star_seeds"]] if not unc.empty else []
        if len(unc) >= 3 and len({p[0] for p in pts}) >= 3:
            x, y = np.array(pts, float).T
            fit = fit_power_law(x, y, name="samples", n_boot=N_BOOT, seed=seed)
            info["fit"] = _fit_summary(fit, "samples", 0.5)
            res["fits"].append(dict(info["fit"], track=track))
        gamma = _r1_gamma(runs[runs["track"] == track], (g or {}).get("by_track", {}).get(track, {}))
        if gamma:
            info["r1"] = gamma
        res["by_track"][track] = info
    fitted = [(t, v) for t, v in res["by_track"].items() if "fit" in v]
    if not fitted:
        res.update(verdict="inconclusive", reason="fewer than 3 sample sizes with an interior (uncensored) optimal rank")
        return res
    track, v = fitted[0]
    f = v["fit"]
    txt = (f"[{track}] r* ~ N^{f['exponent']:.2f} [{f['ci'][0]:.2f}, {f['ci'][1]:.2f}] over N in "
           f"[{f['span'][0]:g}, {f['span'][1]:g}]; seed: 1/2")
    if "r1" in v:
        txt += "; R1 with measured alpha: " + ", ".join(f"{k} {val:.2f}" for k, val in v["r1"]["gamma"].items())
    txt += ". "
    if _ci_width(f) > MAX_CI_WIDTH:
        res.update(verdict="inconclusive", reason=txt + f"CI wider than {MAX_CI_WIDTH}.")
    elif f["covers_theory"]:
        res.update(verdict="holds only under a stated assumption",
                   reason=txt + "The CI covers 1/2; THEORY R1 derives 1/2 only for particular (alpha, a, b).")
    else:
        r1_cov = [k for k, val in v.get("r1", {}).get("gamma", {}).items() if f["ci"][0] <= val <= f["ci"][1]]
        res.update(verdict="contradicted", reason=txt + "The CI excludes 1/2" +
                   (f"; it covers R1's gamma under {', '.join(r1_cov)}." if r1_cov else "."))
    res["r_star_table"] = table.drop(columns=["r_star_seeds", "seeds"]).to_dict("records") if not table.empty else []
    return res


def _r1_gamma(rows: pd.DataFrame, g_track: dict) -> dict | None:
    """R1's exponent gamma of r* in N (bounds.catalog R1) from the measured spectrum exponent alpha and the
    variance law (a, b): the fitted one from claim G, and the fast rate (1, 1)."""
    if not _has(rows, "spectrum_alpha"):
        return None
    alpha = float(rows["spectrum_alpha"].dropna().median())
    if not alpha > 0.5:  # R1 needs a summable tail (alpha > 1/2): no gamma to compare with
        return {"alpha": alpha, "gamma": {}}
    laws = {"fast rate (a,b)=(1,1)": (1.0, 1.0), "G1 (1,1/2)": (1.0, 0.5)}
    if "rank_exponent" in g_track:
        laws["fitted (a,b) from G"] = (g_track["rank_exponent"]["exponent"], -g_track["samples_exponent"]["exponent"])
    from bounds._fast import r1_gamma  # generated from catalog "R1.gamma" (tests/test_bounds_fastpath.py)

    gam = {}
    for name, (a, b) in laws.items():
        try:
            gam[name] = float(r1_gamma(alpha=alpha, a=a, b=b))
        except (ValueError, ZeroDivisionError, FloatingPointError):
            continue
    return {"alpha": alpha, "gamma": gam}


# ----------------------------------------------------------------------------------------------- I

def mi_trajectories(mi: pd.DataFrame) -> list[dict]:
    r"""Claim I along training: one entry per trajectory (estimator, rank, and layer/term when present) with at
    least two distinct steps. Seed means of the MI estimate at the first and the final step and its maximum
    over steps; the spread ``tol`` = twice the largest standard deviation over seeds at those steps (0 with one
    seed); ``maximized``: the final MI is within ``tol`` of the maximum, i.e. training ends where MI is highest;
    and Spearman(MI, −clone MSE) over the trajectory's rows (does MI move with the clone error at fixed rank?)."""
    if mi is None or mi.empty or not _has(mi, "mi", "step", "rank"):
        return []
    d = mi[np.isfinite(mi["mi"])]
    keys = [c for c in ("estimator", "rank", "layer", "term") if c in d.columns]
    out = []
    for key, g in d.groupby(keys, sort=True):
        steps = np.sort(g["step"].unique())
        if len(steps) < 2:
            continue
        by = g.groupby("step")["mi"]
        mean, sd = by.mean(), by.std(ddof=1).fillna(0.0)
        final, first = float(mean[steps[-1]]), float(mean[steps[0]])
        s_max = float(mean.idxmax())
        tol = float(2 * sd.max()) if g.groupby("step").size().min() > 1 else 0.0
        entry = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        entry = {k: (v.item() if hasattr(v, "item") else v) for k, v in entry.items()}
        entry.update(steps=[int(x) for x in steps], mi_first=first, mi_final=final, mi_max=float(mean.max()),
                     step_of_max=int(s_max), tol=tol, maximized=bool(final >= float(mean.max()) - tol),
                     rose=bool(final > first + tol))
        if "clone_mse" in g.columns:
            sp = _spearman(g["mi"], -g["clone_mse"])
            if np.isfinite(sp["rho"]):
                entry["spearman_mi_vs_neg_clone_mse"] = sp
        out.append(entry)
    return out


def claim_I(mi: pd.DataFrame) -> dict:
    """I: MI estimates vs clone MSE (rank correlation), against the I1 lower bound and the I2 cap, and along
    training at fixed rank (:func:`mi_trajectories`): "cloning maximizes MI" read literally needs training to
    end where MI is highest, not only more MI at higher rank."""
    res = {"claim": "I", "seed_claim": "activation cloning maximizes I(h_T; h_S)",
           "measured_quantity": "MI estimates (nats) of teacher/student activations vs rank and training step",
           "assumptions": ["I1 needs h(h_T) estimated (Gaussian plug-in overstates it for non-Gaussian activations)",
                           "I2 needs the student activation read through noise N(0, sigma_n^2 I)"],
           "fits": [], "bounds": []}
    if mi is None or mi.empty or not _has(mi, "mi", "clone_mse"):
        res.update(verdict="inconclusive", reason="no MI estimates with clone MSE")
        return res
    d = mi[np.isfinite(mi["mi"]) & np.isfinite(mi["clone_mse"])]
    res["spearman_mi_vs_neg_clone_mse"] = sp = _spearman(d["mi"], -d["clone_mse"])
    rho, p = sp["rho"], sp["p_value"]
    for bid, col, direction in (("I1", "i1_bound", "lower"), ("I2", "i2_cap", "upper")):
        if not _has(d, col):
            res["bounds"].append({"id": bid, "explicit": True, "evaluated": False, "reason": f"no {col} column"})
            continue
        sel = d[d[col].notna()]
        r = _ratios(sel["mi"], sel[col]) if direction == "lower" else _ratios(sel[col], sel["mi"])
        res["bounds"].append({"id": bid, "explicit": True, "evaluated": True, "direction": direction, **r,
                              "vacuous": bool((sel[col] <= 0).all()) if direction == "lower" else None})
    traj = mi_trajectories(d)
    res["along_training"] = traj
    held = [b for b in res["bounds"] if b.get("evaluated")]
    txt = f"Spearman(MI, -clone MSE) = {rho:.2f} (p = {p:.2g}, n = {len(d)}). "
    txt += "; ".join(f"{b['id']}: {b['n_points'] - b['n_violations']}/{b['n_points']} points on the right side"
                     for b in held) + ("." if held else "")
    not_max = [t for t in traj if not t["maximized"]]
    if traj:
        txt += " Along training: " + "; ".join(
            f"{t.get('estimator', 'MI')} r={t['rank']}: {_fmt(t['mi_first'])} at step {t['steps'][0]} -> "
            f"{_fmt(t['mi_final'])} at step {t['steps'][-1]} (max {_fmt(t['mi_max'])} at step {t['step_of_max']})"
            for t in traj) + "."
    if not np.isfinite(rho):
        res.update(verdict="inconclusive", reason=txt)
    elif rho > 0 and p < 0.05 and not_max:
        res.update(verdict="holds only under a stated assumption", reason=txt + " MI is higher where the clone error "
                   "is lower (across ranks), but training does not end at the highest MI in "
                   f"{len(not_max)} of {len(traj)} trajectories: 'maximizes' holds across ranks, not along training.")
    elif rho > 0 and p < 0.05 and all(b["held_all"] for b in held):
        res.update(verdict="holds", reason=txt)
    elif rho > 0 and p < 0.05:
        res.update(verdict="holds only under a stated assumption", reason=txt + " MI rises as clone MSE falls, but an "
                   "estimate crossed a bound: the bound's assumption (entropy estimate / noise resolution) matters.")
    elif rho < 0 and p < 0.05:
        res.update(verdict="contradicted", reason=txt + " MI falls as the clone MSE falls.")
    else:
        res.update(verdict="inconclusive", reason=txt + " No significant rank correlation.")
    return res


# ----------------------------------------------------------------------------------------------- real model

#: the seed's exponent of r* in N (THEORY R: r* = O(sqrt(N)))
SEED_GAMMA = 0.5
#: the columns of a real-teacher sweep (empirical.real.experiment.run_sweep) the section reads
REAL_COLUMNS = ("matrix", "student", "rank", "n_train", "seed", "params", "gap")


def r1_gammas_by_form(alpha: float) -> dict:
    """R1's exponent :math:`\\gamma = b/(2\\alpha - 1 + a)` (catalog ``R1.gamma``) per rate form (a, b) of
    :data:`bounds.rates.RATE_FORMS`, as ``gamma_<form>`` (NaN where R1 does not apply, :math:`\\alpha \\le 1/2`),
    and the :math:`\\alpha` each form needs for the seed's :math:`\\gamma = 1/2` (catalog ``R1.alpha_half.<form>``)
    as ``alpha_half_<form>``."""
    from bounds._fast import alpha_half, r1_gamma  # generated from the catalog (tests/test_bounds_fastpath.py)
    from bounds.rates import RATE_FORMS

    out = {}
    for form, (a, b) in RATE_FORMS.items():
        out[f"gamma_{form}"] = float(r1_gamma(alpha=alpha, a=a, b=b)) if np.isfinite(alpha) and alpha > 0.5 else float("nan")
        out[f"alpha_half_{form}"] = float(alpha_half(a=a, b=b))
    return out


def real_gap_fit(free: pd.DataFrame, n_boot: int = N_BOOT, seed: int = 0):
    """Huber log-log fit of the free student's gap :math:`= C\\,p^{a} N^{-b}` (:func:`bounds.fit.fit_loglinear`
    on columns ``params``, ``n_train``, ``gap``; positive gaps only; bootstrap over runs: each seed has its own
    train/held-out split of the text (:mod:`empirical.real.activations`), so the split's offset varies across
    runs and widens the CI; runs of one seed share it, which this bootstrap ignores: resampling 3 seeds as
    groups gave degenerate intervals on planted data). Variables are named
    ``p`` and ``N`` (the fitted exponent of N is :math:`-b`). Returns ``(fit or None, runs used, runs dropped
    for a non-positive gap)``; None when fewer than 6 positive runs or fewer than 2 values of p or N."""
    return positive_gap_fit(free, {"p": "params", "N": "n_train"}, n_boot=n_boot, seed=seed)


def real_g2_bound(rows: pd.DataFrame) -> np.ndarray:
    """G2 (``bounds.catalog``) per row of a real-teacher sweep, on the run's measured constants: B =
    ``loss_max`` (largest per-token clone loss seen), :math:`\\rho` = ``lipschitz_local`` (largest per-token
    gradient norm at the fitted student), R = ``param_norm``, p = ``params``, N = ``n_train``;
    :math:`\\delta` = :data:`BOUND_DELTA`. Measured, not certified, constants. NaN outside G2's domain."""
    g2 = _catalog("G2")
    return np.asarray(g2(B=rows["loss_max"].to_numpy(float), rho=rows["lipschitz_local"].to_numpy(float),
                         R=rows["param_norm"].to_numpy(float), p=rows["params"].to_numpy(float),
                         N=rows["n_train"].to_numpy(float), delta=BOUND_DELTA), float).reshape(len(rows))


def short_matrix_name(name: str) -> str:
    """``encoder.layer.3.attention.self.query`` -> ``L3.query``; ``...intermediate.dense`` -> ``L3.intermediate``."""
    parts = str(name).split(".")
    if name.startswith("encoder") and len(parts) > 3:
        return f"L{parts[2]}.{parts[-1] if parts[-1] != 'dense' else parts[-2]}"
    return str(name)


def _real_spectrum(fit_row) -> dict:
    """alpha with CI and fit range, R1's gamma per rate form at alpha and at the CI's ends, and whether the
    seed's gamma = 1/2 would follow (the alpha that form needs lies inside alpha's CI)."""
    from bounds.rates import RATE_FORMS

    alpha, lo, hi = (float(fit_row[c]) for c in ("alpha", "alpha_lo", "alpha_hi"))
    at, at_lo, at_hi = r1_gammas_by_form(alpha), r1_gammas_by_form(lo), r1_gammas_by_form(hi)
    gam, follows = {}, []
    for form, (a, b) in RATE_FORMS.items():
        need = at[f"alpha_half_{form}"]
        ok = bool(lo <= need <= hi)
        # gamma decreases in alpha (a, b > 0): the CI of gamma is [gamma(alpha_hi), gamma(alpha_lo)]
        gam[form] = {"a": a, "b": b, "gamma": at[f"gamma_{form}"],
                     "gamma_ci": [at_hi[f"gamma_{form}"], at_lo[f"gamma_{form}"]],
                     "alpha_for_gamma_half": need, "seed_gamma_follows": ok}
        if ok:
            follows.append(form)
    if alpha <= 0.5:
        text = f"alpha = {alpha:.3g} <= 1/2: R1 does not apply (the tail does not converge), no gamma"
    elif follows:
        text = (f"the seed's gamma = 1/2 follows from R1 under the {', '.join(follows)} rate form(s) (alpha's CI "
                "covers the alpha that form needs)")
    else:
        needs = ", ".join(f"{f} needs alpha = {g['alpha_for_gamma_half']:.3g}" for f, g in gam.items())
        text = f"the seed's gamma = 1/2 does not follow under any rate form ({needs}; alpha's CI excludes each)"
    return {"alpha": alpha, "alpha_ci": [lo, hi], "k_span": [int(fit_row["k_lo"]), int(fit_row["k_hi"])],
            "gamma": gam, "seed_gamma": SEED_GAMMA, "seed_gamma_follows_under": follows, "text": text}


def _real_gap(free: pd.DataFrame, short: str, n_boot: int, seed: int) -> dict:
    """Exponents of the free student's gap in p and N with CIs, G2 on measured constants, and claim G's
    verdict (:func:`_g_verdict`, the same rule and vocabulary as the main report)."""
    fit, used, dropped = real_gap_fit(free, n_boot=n_boot, seed=seed)
    res = {"n_runs": used, "n_dropped_nonpositive_gap": dropped, "seed_claim": "gap ~ p^1 N^-1/2 (G1)",
           "bounds": []}
    g2 = {"id": "G2", "track": short, "explicit": True, "measured": "clone-MSE gap (held-out - train)"}
    if _has(free, "loss_max", "lipschitz_local", "param_norm") and len(free):
        bound = real_g2_bound(free)
        fin = np.isfinite(bound)
        g2.update(evaluated=bool(fin.any()), **_ratios(bound, free["gap"].to_numpy(float)))
        if fin.any():
            vac = bound[fin] >= free["loss_max"].to_numpy(float)[fin]
            g2.update(vacuous=bool(vac.all()), vacuous_fraction=float(vac.mean()),
                      vacuity_rule="bound >= B (the largest per-token clone loss seen)",
                      constants="measured at the fitted student (B, rho, R), not certified")
        else:
            g2["reason"] = "outside G2's domain at every run"
    else:
        g2.update(evaluated=False, reason="needs loss_max, lipschitz_local and param_norm")
    res["bounds"].append(g2)
    if fit is None:
        res.update(verdict="inconclusive", reason="too few runs with a positive gap and >= 2 ranks and sample sizes.")
        return res
    a, n_exp = _fit_summary(fit, "p", 1.0), _fit_summary(fit, "N", -0.5)
    res.update(rank_exponent=a, samples_exponent=n_exp, a=a["exponent"], a_ci=list(a["ci"]),
               b=-n_exp["exponent"], b_ci=[-n_exp["ci"][1], -n_exp["ci"][0]], log_prefactor=fit.log_prefactor)
    res["consistent_with"] = _consistent_with(fit, "p", "N")
    res["verdict"], res["reason"] = _g_verdict(res, short, res["consistent_with"])
    return res


def _spearman(x, y) -> dict:
    """Spearman's rho with its p-value over the pairs where both are finite; NaN for fewer than 3 such pairs or
    a constant input (no warning)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.unique(x).size < 2 or np.unique(y).size < 2:
        return {"rho": float("nan"), "p_value": float("nan"), "n": int(len(x))}
    from scipy.stats import spearmanr

    rho, p = spearmanr(x, y)
    return {"rho": float(rho), "p_value": float(p), "n": int(len(x))}


def _real_mi(rows: pd.DataFrame) -> list[dict]:
    """Per student: the runs with an MI estimate, whether every estimate is <= the I2 cap and >= the I1
    bound, and Spearman(MI, r)."""
    if not _has(rows, "mi_est_gaussian"):
        return []
    out = []
    for student, g in rows.groupby("student", sort=False):
        g = g[np.isfinite(g["mi_est_gaussian"].to_numpy(float))]
        if g.empty:
            continue
        mi = g["mi_est_gaussian"].to_numpy(float)
        item = {"student": student, "n": int(len(g)), "N": sorted(int(n) for n in g["n_train"].unique()),
                "estimator": "gaussian", "spearman_mi_rank": _spearman(g["rank"], mi)}
        for bid, col, upper in (("I2", "mi_i2_cap", True), ("I1", "mi_i1_bound", False)):
            if col in g and np.isfinite(g[col].to_numpy(float)).any():
                r = _ratios(g[col], mi) if upper else _ratios(mi, g[col])
                item[bid] = {"direction": "cap (MI <= I2)" if upper else "lower bound (MI >= I1)", **r}
        out.append(item)
    return out


def real_model_section(real_df: pd.DataFrame, spectra_fits: pd.DataFrame, n_boot: int = N_BOOT,
                       seed: int = 0) -> dict:
    """The tightness report's section on the real pretrained teacher (all-MiniLM-L6-v2), per swept matrix.

    ``real_df``: one row per cloning run (:func:`empirical.real.experiment.run_sweep`: columns
    :data:`REAL_COLUMNS`, and ``loss_max, lipschitz_local, param_norm`` for G2, ``mi, mi_est_gaussian,
    mi_i2_cap, mi_i1_bound`` for THEORY I). ``spectra_fits``: one row per matrix with ``name, m, d, alpha,
    alpha_lo, alpha_hi, k_lo, k_hi`` (:func:`empirical.real.spectra.spectral_fits`).

    Per matrix: the spectral power law :math:`\\sigma_k^2 = s k^{-2\\alpha}` (alpha, CI, fitted k range) and
    R1's :math:`\\gamma(\\alpha)` per rate form against the seed's 1/2; the free rank-r student's gap
    :math:`\\propto p^{a} N^{-b}` (exponents with bootstrap CIs, :func:`real_gap_fit`) against G1's a = 1,
    b = 1/2 with claim G's verdict rule (:func:`_g_verdict`); G2 on measured constants (bound/measured
    min / median / max, vacuous when bound >= B); MI estimates against the I2 cap and I1 bound, and
    Spearman(MI, r). Pure numpy/pandas (no torch).
    """
    missing = [c for c in REAL_COLUMNS if c not in real_df.columns]
    if missing:
        raise ValueError(f"real-model sweep lacks column(s) {', '.join(missing)}")
    fits = spectra_fits.set_index("name") if len(spectra_fits) else spectra_fits
    out = {"status": "ok", "model": "all-MiniLM-L6-v2", "n_runs": int(len(real_df)),
           "seed_claims": {"R": "r* = O(sqrt(N)), i.e. gamma = 1/2", "G": "gap = O(p(r)/sqrt(N)): a = 1, b = 1/2",
                           "I": "cloning maximizes I(h_T; h_S), bounded by I2"},
           "matrices": []}
    for name in dict.fromkeys(real_df["matrix"]):
        rows = real_df[real_df["matrix"] == name]
        short = short_matrix_name(name)
        item = {"matrix": name, "short": short}
        if len(fits) and name in fits.index:
            f = fits.loc[name]
            f = f.iloc[0] if isinstance(f, pd.DataFrame) else f
            item.update(m=int(f["m"]), d=int(f["d"]), spectrum=_real_spectrum(f))
        item["gap"] = _real_gap(rows[rows["student"] == "free"], short, n_boot, seed)
        item["mi"] = _real_mi(rows[rows["mi"].astype(bool)] if "mi" in rows else rows.iloc[:0])
        assert item["gap"]["verdict"] in VERDICTS, item["gap"]["verdict"]
        out["matrices"].append(item)
    return out


#: the recommended-rank methods summarised per matrix kind in :func:`real_all_matrices_summary`
ALL_MATRICES_METHODS = ("R3/fast", "R3/covering", "R3/paper", "gavish-donoho/unknown-sigma", "effective-rank",
                        "energy-90")


def real_all_matrices_summary(fits: pd.DataFrame, ranks: pd.DataFrame | None = None) -> dict:
    """Every weight matrix of the real model, summarised per kind (q, k, v, o, up, down, emb): how many matrices,
    alpha (median, min, max of the all-k power-law fits), how many have alpha's CI above 1/2 (R1 applies), for
    how many the seed's gamma = 1/2 follows under each rate form (:func:`_real_spectrum`'s rule: the alpha the form
    needs lies in alpha's CI), and the median recommended rank of each method in :data:`ALL_MATRICES_METHODS` at
    each N of ``ranks`` (``name, kind, N, method, rank``; :func:`empirical.real.spectra.rank_table`). R3's ranks
    depend on the unknown variance constant (C = 1 there): a reading, not a measurement."""
    from bounds.rates import RATE_FORMS

    per_kind, follows_total = [], {f: 0 for f in RATE_FORMS}
    for kind, g in fits.groupby("kind", sort=False):
        specs = [_real_spectrum(row) for _, row in g.iterrows()]
        follows = {f: sum(f in sp["seed_gamma_follows_under"] for sp in specs) for f in RATE_FORMS}
        for f in RATE_FORMS:
            follows_total[f] += follows[f]
        item = {"kind": kind, "n": int(len(g)), "alpha_median": float(g["alpha"].median()),
                "alpha_min": float(g["alpha"].min()), "alpha_max": float(g["alpha"].max()),
                "n_alpha_ci_above_half": int((g["alpha_lo"] > 0.5).sum()), "n_seed_gamma_half_follows": follows}
        if ranks is not None and len(ranks):
            rk = ranks[(ranks["kind"] == kind) & ranks["method"].isin(ALL_MATRICES_METHODS)]
            item["median_rank"] = {f"{meth} @ N={int(n)}": float(v) for (n, meth), v in
                                   rk.groupby(["N", "method"])["rank"].median().items()}
        per_kind.append(item)
    return {"n_matrices": int(len(fits)), "kinds": per_kind, "n_seed_gamma_half_follows": follows_total,
            "sample_sizes": sorted(int(n) for n in ranks["N"].unique()) if ranks is not None and len(ranks) else []}


def _all_matrices_markdown(summ: dict) -> list[str]:
    """report.md lines of :func:`real_all_matrices_summary`."""
    from bounds.rates import RATE_FORMS

    forms = list(RATE_FORMS)
    n_big = max(summ["sample_sizes"]) if summ["sample_sizes"] else None
    lines = ["", f"### All {summ['n_matrices']} weight matrices (spectra fitted over every singular value)", "",
             "| kind | n | alpha median [min, max] | alpha's CI > 1/2 | seed's gamma = 1/2 follows (" + " / ".join(forms)
             + ")" + (f" | median rank at N = {n_big}: " + " / ".join(ALL_MATRICES_METHODS) if n_big else "") + " |",
             "|---|---|---|---|---|" + ("---|" if n_big else "")]
    for k in summ["kinds"]:
        ranks = ""
        if n_big and "median_rank" in k:
            ranks = " | " + " / ".join(_fmt(k["median_rank"].get(f"{m} @ N={n_big}"), ".0f") for m in ALL_MATRICES_METHODS)
        lines.append(f"| {k['kind']} | {k['n']} | {_fmt(k['alpha_median'])} [{_fmt(k['alpha_min'])}, "
                     f"{_fmt(k['alpha_max'])}] | {k['n_alpha_ci_above_half']}/{k['n']} | "
                     + " / ".join(str(k["n_seed_gamma_half_follows"][f]) for f in forms) + ranks + " |")
    tot, need = summ["n_seed_gamma_half_follows"], r1_gammas_by_form(1.0)
    lines += ["", "The seed's gamma = 1/2 follows from R1 for " + ", ".join(
        f"{tot[f]}/{summ['n_matrices']} matrices under the {f} rate form (needs alpha = {_fmt(need[f'alpha_half_{f}'])})"
        for f in forms) + "; alpha = 1/2 is the boundary R1 excludes (the tail sum diverges), so a count there is a "
        "limit statement. R3's ranks use the variance constant C = 1 (unknown in practice); the CSV real_all_ranks.csv has every "
        "matrix, method and N."]
    return lines


def _real_markdown(sec: dict) -> list[str]:
    """report.md lines of :func:`real_model_section` (or of a skipped / failed section)."""
    lines = ["", "## Real model (all-MiniLM-L6-v2)", ""]
    status = sec.get("status")
    if status == "skipped":
        return lines + [f"skipped: {sec.get('reason', '')}"]
    if status == "failed":
        return lines + [f"failed: {sec.get('error', '')} (the rest of this report is unaffected)"]
    where = f" (real preset '{sec['preset']}')" if sec.get("preset") else ""
    n_mat = len(sec["matrices"])
    lines += [f"{sec['n_runs']} cloning runs on {n_mat} weight matri{'x' if n_mat == 1 else 'ces'} of the pretrained "
              f"sentence-transformers model{where}: rank-r students trained on N real input activations "
              "(embedded corpus) to clone the matrix's output; gap = held-out minus train clone MSE.", ""]
    lines += ["### Spectra and R1's exponent of r* in N", "",
              "| matrix | m x d | alpha [95% CI] | fitted k | gamma (paper a=1, b=1/2) | gamma (covering 1/2, 1/2) | "
              "gamma (fast 1, 1) | seed's gamma = 1/2 follows? |", "|---|---|---|---|---|---|---|---|"]
    for it in sec["matrices"]:
        sp = it.get("spectrum")
        if sp is None:
            lines.append(f"| {it['short']} | - | no spectrum fit | - | - | - | - | - |")
            continue
        g = sp["gamma"]
        cell = lambda f: (f"{_fmt(g[f]['gamma'])} [{_fmt(g[f]['gamma_ci'][0])}, {_fmt(g[f]['gamma_ci'][1])}]"  # noqa: E731
                          if f in g else "-")
        follows = ", ".join(sp["seed_gamma_follows_under"]) or "no"
        lines.append(f"| {it['short']} | {it.get('m', '-')} x {it.get('d', '-')} | {_fmt(sp['alpha'])} "
                     f"[{_fmt(sp['alpha_ci'][0])}, {_fmt(sp['alpha_ci'][1])}] | {sp['k_span'][0]}..{sp['k_span'][1]} | "
                     f"{cell('paper')} | {cell('covering')} | {cell('fast')} | {follows} |")
    lines += ["", "### Generalization gap of the free rank-r student: gap ~ p^a N^-b (G1: a = 1, b = 1/2)", "",
              "| matrix | runs (dropped gap <= 0) | a [95% CI] | b [95% CI] | verdict | G2 bound/measured min / median | "
              "G2 held | G2 vacuous |", "|---|---|---|---|---|---|---|---|"]
    for it in sec["matrices"]:
        g = it["gap"]
        ab = (f"{_fmt(g['a'])} [{_fmt(g['a_ci'][0])}, {_fmt(g['a_ci'][1])}] | "
              f"{_fmt(g['b'])} [{_fmt(g['b_ci'][0])}, {_fmt(g['b_ci'][1])}]") if "a" in g else "- | -"
        b2 = next((b for b in g["bounds"] if b["id"] == "G2"), {})
        g2 = (f"{_fmt(b2['ratio_min'])} / {_fmt(b2['ratio_median'])} | {b2['held_all']} ({b2['n_violations']} "
              f"violations) | {b2.get('vacuous')}") if b2.get("evaluated") else f"not evaluated: {b2.get('reason', '')} | - | -"
        lines.append(f"| {it['short']} | {g['n_runs']} ({g['n_dropped_nonpositive_gap']}) | {ab} | **{g['verdict']}** | {g2} |")
    lines += [""] + [f"- {it['short']}: {it['gap']['reason'].replace('|', '/')} Spectrum: {it['spectrum']['text']}."
                     if "spectrum" in it else f"- {it['short']}: {it['gap']['reason']}" for it in sec["matrices"]]
    lines += ["", "p = r(m + d) for the free student, so the exponent in p is the exponent in r. G2's constants "
              "are measured at the fitted student, not certified.", "",
              "### MI between teacher output and student activation (Gaussian estimate, nats)", "",
              "| matrix | student | N | runs | MI <= I2 cap | MI >= I1 | Spearman(MI, r) |", "|---|---|---|---|---|---|---|"]
    for it in sec["matrices"]:
        for m in it["mi"]:
            cap, i1 = m.get("I2"), m.get("I1")
            sp = m["spearman_mi_rank"]
            lines.append(f"| {it['short']} | {m['student']} | {', '.join(str(n) for n in m['N'])} | {m['n']} | "
                         + (f"{cap['held_all']} ({cap['n_points'] - cap['n_violations']}/{cap['n_points']})" if cap else "-")
                         + " | " + (f"{i1['held_all']} ({i1['n_points'] - i1['n_violations']}/{i1['n_points']})" if i1 else "-")
                         + f" | {_fmt(sp['rho'], '.2f')} (n = {sp['n']}"
                         + (f", p = {_fmt(sp['p_value'], '.2g')})" if sp["n"] >= 5 else ", too few for a p-value)") + " |")
    if sec.get("all_matrices"):
        lines += _all_matrices_markdown(sec["all_matrices"])
    return lines


# ----------------------------------------------------------------------------------------------- report

def judge(tables: Tables, seed: int = 0) -> dict:
    """The whole report (a JSON-able dict): every claim's fits, bounds and verdict."""
    runs = tables.runs
    g = claim_G(runs, seed)
    report = {
        "n_runs": int(len(runs)), "n_ok": int((runs["status"] == "ok").sum()),
        "n_failed": int((runs["status"] != "ok").sum()),
        "failed": runs.loc[runs["status"] != "ok", [c for c in ("config_hash", "track", "rank", "samples", "seed",
                                                                 "failure_reason") if c in runs]].to_dict("records"),
        "claims": {"C": claim_C(runs, tables.traj, seed), "G": g, "R": claim_R(runs, g, seed),
                   "I": claim_I(tables.mi)},
    }
    for c in report["claims"].values():
        assert c["verdict"] in VERDICTS, c["verdict"]
    return report


def _fmt(x, spec=".3g"):
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def to_markdown(report: dict) -> str:
    """report.md: the verdict table, then per claim its fits and bounds."""
    lines = ["# Tightness report", "",
             f"{report['n_ok']} runs used, {report['n_failed']} failed (excluded from fits).", "",
             "| claim | seed statement | verdict | why |", "|---|---|---|---|"]
    for cid, c in report["claims"].items():
        lines.append(f"| {cid} | {c['seed_claim']} | **{c['verdict']}** | {c.get('reason', '').replace('|', '/')} |")
    for cid, c in report["claims"].items():
        lines += ["", f"## {cid}: {c['seed_claim']}", "", f"Measured: {c['measured_quantity']}.", "",
                  "Assumptions: " + "; ".join(c["assumptions"]) + "."]
        if c["fits"]:
            lines += ["", "| fit | track | exponent | 95% CI | data span | theory |", "|---|---|---|---|---|---|"]
            for f in c["fits"]:
                lines.append(f"| {f['variable']} | {f.get('track', '-')} | {_fmt(f['exponent'])} | "
                             f"[{_fmt(f['ci'][0])}, {_fmt(f['ci'][1])}] | [{_fmt(f['span'][0])}, {_fmt(f['span'][1])}] | "
                             f"{_fmt(f['theory_exponent'])} |")
        if c["bounds"]:
            lines += ["", "| bound | track | evaluated | held at every point | bound/measured min / median / max | vacuous |",
                      "|---|---|---|---|---|---|"]
            for b in c["bounds"]:
                if not b.get("evaluated"):
                    lines.append(f"| {b['id']} | {b.get('track', '-')} | no: {b.get('reason', '')} | - | - | - |")
                    continue
                lines.append(f"| {b['id']} | {b.get('track', '-')} | yes ({b['n_points']} points) | "
                             f"{b['held_all']} ({b['n_violations']} violations) | {_fmt(b['ratio_min'])} / "
                             f"{_fmt(b['ratio_median'])} / {_fmt(b['ratio_max'])} | "
                             f"{b.get('vacuous')} ({_fmt(b.get('vacuous_fraction'), '.0%') if b.get('vacuous_fraction') is not None else '-'}) |")
    if report.get("real_model") is not None:
        lines += _real_markdown(report["real_model"])
    if report["failed"]:
        lines += ["", "## Failed runs", ""] + [f"- {f}" for f in report["failed"]]
    return "\n".join(lines) + "\n"


def write_report(report: dict, folder) -> tuple[Path, Path]:
    """Write report.md and report.json (strict JSON) into ``folder``; returns both paths."""
    import io

    from bounds.cliutil import emit_json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    md, js = folder / "report.md", folder / "report.json"
    md.write_text(to_markdown(report))
    buf = io.StringIO()
    emit_json(report, buf)
    js.write_text(buf.getvalue())
    return md, js
