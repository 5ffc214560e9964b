"""`lrkd rank --calibrate RUNS`: the recommended rank from pilot runs, through the one surface fit.

Pilot runs (a ``lrkd repro`` results folder or a CSV in the ``lrkd tightness`` format, read by
:func:`bounds.tightness.load_path`) are fitted by :func:`bounds.surface.fit_surface`,

.. math:: L(r, N) = E + A\\,\\mathrm{tail}(r) + C\\,p(r)^a N^{-b},

(Huber on log-loss, multi-start L-BFGS-B, cluster bootstrap over (track, seed, samples) datasets; INFERENCE.md
§6). The answer is the discrete :math:`r^*(N) = \\arg\\min_r L(r, N)` over the integer ranks 1..r_max with its
bootstrap interval, the curve :math:`r^*(N)` over N, and the validated extrapolation of
:func:`bounds.surface.extrapolate` (fit on all but the largest pilot N, predicted vs measured loss and r* there;
INFERENCE §4). A pilot that cannot identify the constants (:func:`bounds.surface.identifiability`: fewer than 3
sample sizes or 4 ranks, no interior optimum) is refused with the reason and the runs to add.

With a measured tail (a spectrum's :math:`\\sum_{k>r}\\sigma_k^2`) the constant A absorbs the spectrum's scale,
so multiplying the spectrum by any factor leaves r* unchanged. N is in the unit of the runs' ``samples``
column (sequences for ``lrkd repro``'s synthetic and transformer tracks); ``lrkd rank --calibrate`` passes
``--samples`` as given, so the pilot CSV must count in the same ``--unit``.

Rows used: ``status == "ok"`` with finite losses, one track (``--track`` when the runs hold several), and
runs of one kind only (``experiment == "gen"`` when the column exists; INFERENCE §2: never pooled).
"""
from __future__ import annotations

import math

from bounds.cliutil import UsageError


def load_runs(path, track: str | None = None):
    """The pilot runs of one track of a results folder or CSV (:func:`select_runs` of
    :func:`bounds.tightness.load_path`)."""
    from bounds.tightness import load_path

    return select_runs(load_path(path).runs, track, f"--calibrate {path}")


def select_runs(runs, track: str | None = None, label: str = "runs"):
    """One track's finished runs of one kind (a DataFrame); :class:`UsageError` on empty, negative or non-finite
    input, or on several tracks without ``track``."""
    import numpy as np

    if runs.empty:
        raise UsageError(f"{label}: no runs")
    for col in ("rank", "samples"):
        vals = runs[col].to_numpy(float)
        good = np.isfinite(vals) & (vals >= 1) & (vals == np.round(vals))
        if not good.all():
            raise UsageError(f"{label}: column {col!r} must hold positive integers, got {vals[~good][0]:g}")
    if "experiment" in runs.columns and (runs["experiment"] == "gen").any():
        runs = runs[runs["experiment"] == "gen"]
    status = runs["status"] if "status" in runs.columns else "ok"
    ok = runs[(status == "ok") & np.isfinite(runs["test_loss"].to_numpy(float))]
    if ok.empty:
        raise UsageError(f"{label}: no finished run with a finite test_loss")
    if (ok["test_loss"] <= 0).any():
        raise UsageError(f"{label}: test_loss must be positive (the fit is on log-loss)")
    tracks = sorted(ok["track"].astype(str).unique()) if "track" in ok.columns else ["user"]
    if "track" not in ok.columns:
        ok = ok.assign(track="user")
    if track is None:
        if len(tracks) > 1:
            raise UsageError(f"{label}: the runs hold tracks {', '.join(tracks)}; choose one with --track")
        track = tracks[0]
    if track not in tracks:
        raise UsageError(f"--track {track}: not in the runs (tracks: {', '.join(tracks)})")
    return ok[ok["track"].astype(str) == track].reset_index(drop=True)


def rank_grid(r_max: int, dense_to: int = 4096, points: int = 2000):
    """Integer ranks for the argmin: every rank up to ``dense_to``, log-spaced beyond (up to r_max)."""
    import numpy as np

    dense = np.arange(1, min(r_max, dense_to) + 1)
    if r_max <= dense_to:
        return dense
    sparse = np.unique(np.round(np.geomspace(dense_to, r_max, points)).astype(int))
    return np.union1d(dense, sparse)


def spectrum_tail(singular_values):
    """:math:`r\\mapsto\\sum_{k>r}\\sigma_k^2` (0 beyond the spectrum) as a callable for the surface fit."""
    import numpy as np

    from bounds.allocate import tail_energies

    tails = tail_energies(singular_values)
    return lambda r: tails[np.clip(np.asarray(r, dtype=int), 0, tails.size - 1)]


def calibrate(path, *, N: float, track: str | None = None, ranks_max: int, tail=None, params_of_rank=None,
              n_boot: int = 400, seed: int = 0, level: float = 0.95, curve_points: int = 12) -> dict:
    """Fit the surface on the pilot runs (a path, or a runs DataFrame) and answer at N (see the module
    docstring); a refusal is ``{"ok": False, "reason", "advice"}``. ``tail``: a measured tail (callable);
    ``params_of_rank``: p(r) (callable; default r)."""
    import numpy as np

    from bounds import surface

    runs = load_runs(path, track) if not hasattr(path, "columns") else select_runs(path, track)
    info = {"path": "(runs table)" if hasattr(path, "columns") else str(path),
            "track": str(runs["track"].iloc[0]), "n_runs": int(len(runs)),
            "samples_span": f"{int(runs['samples'].min())}..{int(runs['samples'].max())}",
            "pilot_samples": sorted(int(x) for x in runs["samples"].unique()),
            "pilot_ranks": sorted(int(x) for x in runs["rank"].unique()), "N": float(N)}
    try:
        ok, reason, advice = surface.identifiability(runs)
    except ValueError as exc:
        raise UsageError(f"--calibrate: {exc}") from None
    if not ok:
        return {**info, "ok": False, "reason": reason, "advice": advice}
    kw = {"n_boot": n_boot, "seed": seed}  # p(r) = k r only rescales C: the default p(r) = r gives the same r*
    if tail is not None:
        kw["tail"] = tail
    if params_of_rank is not None:  # C in parameter units (the allocation's variance term needs them)
        kw["params_of_rank"] = params_of_rank
    try:
        fit = surface.fit_surface(runs, level=level, **kw)
    except ValueError as exc:
        return {**info, "ok": False, "reason": str(exc), "advice": "add runs (see --plan-pilot)"}
    if not fit.identifiable:
        return {**info, "ok": False, "reason": fit.reason, "advice": advice}
    ranks = rank_grid(int(min(ranks_max, 10**7)))
    rstar = int(fit.rstar(N, ranks))
    lo, hi = fit.rstar_interval(N, ranks, level)
    n_lo = min(info["pilot_samples"])
    grid_n = np.unique(np.geomspace(n_lo, max(N, max(info["pilot_samples"])), curve_points))
    curve = []
    for n in grid_n:
        c_lo, c_hi = fit.rstar_interval(float(n), ranks, level)
        curve.append({"samples": float(n), "rstar": int(fit.rstar(float(n), ranks)), "lo": c_lo, "hi": c_hi})
    try:
        extra = surface.extrapolate(runs, level=level, **kw)
    except ValueError as exc:
        extra = {"ok": False, "reason": str(exc)}
    gamma_ci = tuple(float(g) for g in fit.gamma_ci) if fit.gamma_ci is not None else None
    return {**info, "ok": True, "params": {k: float(v) for k, v in fit.params.items()},
            "ci": {k: [float(x) for x in v] for k, v in fit.ci.items()}, "tail": "measured" if tail else "power law",
            "gamma": float(fit.gamma) if fit.gamma is not None and math.isfinite(fit.gamma) else None,
            "gamma_ci": gamma_ci, "level": level,
            "headline": {"rank": rstar, "interval": [_int(lo), _int(hi)] if _finite(lo, hi) else None,
                         "level": level, "capped": bool(rstar >= ranks[-1]),
                         "beyond_pilot_ranks": bool(rstar > max(info["pilot_ranks"])),
                         "validated": _validation_text(extra)}, "max_rank": int(ranks[-1]),
            "curve": curve, "extrapolation": extra, "fit": fit.to_dict()}


def _validation_text(ex: dict) -> str:
    """One phrase for the headline: whether the held-out extrapolation covered the measured r*."""
    if not ex.get("ok"):
        return "not validated (" + (ex.get("reason") or "no extrapolation").split(":")[0] + ")"
    return (f"held-out check at N = {ex['target_samples']:g}: predicted r* {ex['rstar_predicted']:g} "
            f"[{ex['rstar_interval'][0]:g}, {ex['rstar_interval'][1]:g}] vs measured {ex['rstar_measured']:g} "
            f"({'covered' if ex['covered'] else 'NOT covered'})")


def _finite(*xs) -> bool:
    return all(x is not None and math.isfinite(float(x)) for x in xs)


def _int(x) -> int:
    return int(round(float(x)))


def markdown_lines(cal: dict) -> list[str]:
    """A few report lines for one calibration (:func:`calibrate`'s dict): constants, r*(N), held-out check."""
    head = f"Calibration, track {cal.get('track')} ({cal.get('n_runs')} runs, N in {cal.get('samples_span')})"
    if not cal.get("ok"):
        return [f"{head}: refused — {cal.get('reason')}; {cal.get('advice')}."]
    consts = ", ".join(f"{k} = {v:.3g} [{cal['ci'][k][0]:.3g}, {cal['ci'][k][1]:.3g}]" for k, v in cal["params"].items()
                       if v == v)
    h = cal["headline"]
    iv = f" [{h['interval'][0]}, {h['interval'][1]}]" if h.get("interval") else ""
    flags = "".join(text for key, text in (("capped", " (at the max rank)"),
                                           ("beyond_pilot_ranks", " (beyond the pilot ranks)")) if h.get(key))
    lines = [f"{head}: {consts}.", f"r*(N = {cal['N']:g}) = {h['rank']}{iv}{flags}; {h['validated']}."]
    ex = cal.get("extrapolation") or {}
    if ex.get("ok"):
        covered = sum(1 for p in ex["predicted"] if p["lo"] <= p["measured"] <= p["hi"])
        lines.append(f"Held-out loss at N = {ex['target_samples']:g}: {covered} of {len(ex['predicted'])} ranks inside "
                     "the prediction interval.")
    return lines


def report_section(path_or_runs, *, n_boot: int = 400, seed: int = 0, level: float = 0.95,
                   n_factor: float = 4.0) -> dict:
    """Every track of a results folder (or runs table) calibrated for the repro report: per track the
    :func:`calibrate` dict at :math:`N = \\text{n\\_factor}\\times` the largest pilot N (its r*, the held-out
    extrapolation check) and markdown lines; a track that cannot be calibrated is listed with its reason. Ranks
    run up to min(m, d) when the runs carry the matrix shape, else 4x the largest pilot rank."""
    import numpy as np

    if hasattr(path_or_runs, "columns"):
        all_runs = path_or_runs
    else:
        from bounds.tightness import load_path

        all_runs = load_path(path_or_runs).runs
    tracks, md = {}, []
    for track in sorted(all_runs["track"].astype(str).unique()):
        try:
            runs = select_runs(all_runs, track, f"track {track}")
        except UsageError as exc:
            tracks[track] = {"ok": False, "track": track, "reason": str(exc), "advice": ""}
            md.append(f"Calibration, track {track}: not possible — {exc}.")
            continue
        n_target = float(n_factor * np.max(runs["samples"]))
        r_max = int(4 * np.max(runs["rank"]))
        if {"m", "d"} <= set(runs.columns) and np.isfinite(runs[["m", "d"]].to_numpy(float)).all():
            r_max = int(np.min(np.minimum(runs["m"], runs["d"])))   # the matrix's full rank
        try:
            cal = calibrate(runs, N=n_target, ranks_max=r_max, n_boot=n_boot, seed=seed, level=level)
        except UsageError as exc:
            cal = {"ok": False, "track": track, "reason": str(exc), "advice": ""}
        tracks[track] = cal
        md.extend(markdown_lines(cal))
    return {"tracks": tracks, "markdown": md}
