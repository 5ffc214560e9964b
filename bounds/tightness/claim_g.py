r"""Claim G, the paper's generalization rate :math:`\mathrm{gap} = O(r(m+d)/\sqrt N)`, judged per track.

The measured quantity is the generalization gap (test − train loss) of one kind of run per track (the ``gen``
experiment: exact reduced-rank ERM on the synthetic track, AdamW students on the transformer track; other kinds
are left out and counted, :func:`bounds.tightness.tables.gen_rows`). The law

.. math:: \overline{\mathrm{gap}}(r, N) = C\, r^{a} N^{-b}

is fitted on seed-mean gaps per (r, N) (:mod:`.cellfit`: no run is dropped for a non-positive gap; the counts
are reported) with cluster-bootstrap CIs over datasets (track, seed, N), on the whole span and on the lower
and upper half of each variable's span. The rate verdict rests on the fit over the upper half of N (a rate is a
large-N statement), and a drift between halves is reported. Candidate laws (:data:`G_CANDIDATES`, from
:data:`bounds.rates.RATE_FORMS`): the paper's r/√N, the covering rate √(r/N) (G2), the fast rate r/N. The
explicit bounds G2 (covering number) and G3 (Occam, Lotfi et al. 2023) are evaluated on measured constants.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .cellfit import cell_mean_fit, halves
from .common import (ASSUMED, BOUND_DELTA, CONTRADICTED, FLOAT32_BITS, HOLDS, INCONCLUSIVE, MAX_CI_WIDTH, N_BOOT,
                     catalog, ci_width, combine_tracks, consistent_laws, exponent_summary, fmt, fmt_ci, has, ok,
                     ratios, track_order)
from .tables import gen_rows

PAPER_LAW = "paper: r/sqrt(N)"


def _g_candidates() -> dict:
    """``{label: {"rank": a, "samples": -b}}`` from :data:`bounds.rates.RATE_FORMS` (V = c r^a N^-b)."""
    from bounds.rates import RATE_FORMS

    labels = {"paper": PAPER_LAW, "covering": "covering (G2): sqrt(r/N)", "fast": "fast: r/N"}
    return {labels[form]: {"rank": a, "samples": -b} for form, (a, b) in RATE_FORMS.items()}


G_CANDIDATES = _g_candidates()


def law_fits(rows: pd.DataFrame, x: dict, n_boot: int = N_BOOT, seed: int = 0, datasets=("track", "seed", "samples")) -> dict:
    """Seed-mean fits of ``gap`` on ``x`` = {"rank": column, "samples": column}: ``global``, and per variable its
    ``<var> lower half`` / ``<var> upper half`` (all variables fitted on the rows of that half). Each entry is
    ``{"rank": summary, "samples": summary, "counts": ...}``."""
    parts = {"global": rows}
    for var, col in x.items():
        hv = halves(rows[col])
        if hv:
            parts[f"{var} lower half"] = rows[rows[col].isin(hv[0])]
            parts[f"{var} upper half"] = rows[rows[col].isin(hv[1])]
    theory = {"rank": 1.0, "samples": -0.5}
    out = {}
    for name, part in parts.items():
        f = cell_mean_fit(part, x, "gap", dataset_cols=datasets, n_boot=n_boot, seed=seed)
        if f is None:
            continue
        out[name] = {v: exponent_summary(v, f.exponents[v], f.ci[v], f.span[v], f.n_cells, theory[v], range=name,
                                         **f.counts()) for v in x}
        out[name]["counts"] = f.counts()
        out[name]["log_prefactor"] = f.log_prefactor
    return out


def drift(fits: dict, var: str) -> str | None:
    """A sentence when the exponent of ``var`` on its lower and upper half have disjoint CIs."""
    lo, up = fits.get(f"{var} lower half"), fits.get(f"{var} upper half")
    if not (lo and up):
        return None
    a, b = lo[var], up[var]
    if a["ci"][1] < b["ci"][0] or b["ci"][1] < a["ci"][0]:
        return (f"the {var} exponent drifts: {fmt(a['exponent'], '.2f')} {fmt_ci(a['ci'], '.2f')} on "
                f"[{fmt(a['span'][0])}, {fmt(a['span'][1])}] vs {fmt(b['exponent'], '.2f')} {fmt_ci(b['ci'], '.2f')} on "
                f"[{fmt(b['span'][0])}, {fmt(b['span'][1])}]")
    return None


def deciding_fit(fits: dict) -> dict | None:
    """The fit a rate verdict rests on: the upper half of N's span when it was fitted, else the global fit."""
    return fits.get("samples upper half") or fits.get("global")


def g_verdict(fit: dict, bounds: list, label: str) -> tuple[str, str, list]:
    """Verdict of one track from its deciding fit, explicit bounds and the candidate laws; returns (verdict,
    reason, consistent candidate labels)."""
    a, b = fit["rank"], fit["samples"]
    where = "whole span" if fit["rank"]["range"] == "global" else fit["rank"]["range"]
    txt = (f"[{label}] on the {where}: gap ~ r^{fmt(a['exponent'], '.2f')} {fmt_ci(a['ci'], '.2f')} "
           f"N^{fmt(b['exponent'], '.2f')} {fmt_ci(b['ci'], '.2f')} over N in [{fmt(b['span'][0])}, {fmt(b['span'][1])}]; "
           "paper: r^1 N^-0.5. ")
    evaluated = [x for x in bounds if x.get("evaluated")]
    txt += "".join(f"{x['id']} held at {x['n_points'] - x['n_violations']}/{x['n_points']} points"
                   f"{' (vacuous)' if x.get('vacuous') else ''}. " for x in evaluated)
    laws = consistent_laws({"rank": a["ci"], "samples": b["ci"]}, G_CANDIDATES)
    if any(x.get("held_all") is False for x in evaluated):
        return CONTRADICTED, txt + "An explicit bound was violated: check its assumptions and the measured constants.", laws
    if ci_width(a["ci"]) > MAX_CI_WIDTH or ci_width(b["ci"]) > MAX_CI_WIDTH:
        return INCONCLUSIVE, txt + f"A CI is wider than {MAX_CI_WIDTH}.", laws
    if PAPER_LAW in laws and len(laws) > 1:
        return INCONCLUSIVE, txt + f"The CIs are consistent with {', '.join(laws)}: the data cannot tell them apart.", laws
    if laws == [PAPER_LAW]:
        return HOLDS, txt + "The CIs cover the paper's exponents and exclude the other candidate laws.", laws
    if laws or (a["ci"][0] <= 1.0 and b["ci"][0] <= -0.5):
        return ASSUMED, txt + ("Read as an upper rate O(r/sqrt(N)) the data are consistent with it, but the scaling is "
                               + (f"{', '.join(laws)}" if laws else "no candidate law") + ", not the paper's."), laws
    return CONTRADICTED, txt + "The gap grows faster in r or falls slower in N than O(r/sqrt(N)) allows.", laws


def g2_bound(rows: pd.DataFrame) -> np.ndarray | None:
    """G2 (bounds.catalog) on each run's measured B, rho (Lipschitz), R (parameter norm), p and N."""
    if not has(rows, "loss_range_B", "lipschitz", "param_norm", "params"):
        return None
    return np.asarray(catalog("G2")(B=rows["loss_range_B"].to_numpy(float), rho=rows["lipschitz"].to_numpy(float),
                                    R=rows["param_norm"].to_numpy(float), p=rows["params"].to_numpy(float),
                                    N=rows["samples"].to_numpy(float), delta=BOUND_DELTA), float)


def g3_bound(rows: pd.DataFrame) -> tuple[np.ndarray | None, str]:
    """G3 (bounds.catalog) on the smoothed train loss and a code length C(h) in bits (``code_bits``, else a
    fixed-length float32 code of the trainable parameters: 32 p bits)."""
    missing = [c for c in ("loss_range_B", "train_loss_smoothed") if not has(rows, c)]
    if missing:
        return None, f"column(s) {', '.join(missing)} missing or empty"
    if has(rows, "code_bits"):
        bits, how = rows["code_bits"].to_numpy(float), "code_bits as measured (quantized + entropy-coded)"
    elif has(rows, "params"):
        bits, how = FLOAT32_BITS * rows["params"].to_numpy(float), "C(h) = 32 p bits (fixed-length float32 code)"
    else:
        return None, "columns code_bits and params missing or empty"
    val = catalog("G3")(emp_risk=rows["train_loss_smoothed"].to_numpy(float), B=rows["loss_range_B"].to_numpy(float),
                        C_bits=bits, N=rows["samples"].to_numpy(float), delta=BOUND_DELTA)
    return np.asarray(val, float), how


def g_bound_points(runs: pd.DataFrame) -> pd.DataFrame:
    """Per run: measured smoothed gap / test loss and the G2 / G3 bounds (NaN where not evaluable)."""
    rows = ok(runs).copy()
    if rows.empty:
        return rows
    sm = has(rows, "train_loss_smoothed", "test_loss_smoothed")
    rows["gap_smoothed"] = (rows["test_loss_smoothed"] - rows["train_loss_smoothed"]) if sm else np.nan
    g2 = g2_bound(rows) if sm else None
    rows["g2_bound"] = g2 if g2 is not None else np.nan
    g3, _ = g3_bound(rows)
    rows["g3_bound"] = g3 if g3 is not None else np.nan
    return rows


def _bounds(rows: pd.DataFrame, track: str) -> list[dict]:
    pts = g_bound_points(rows)
    out = []
    need = {"G2": ("loss_range_B", "lipschitz", "param_norm", "params", "train_loss_smoothed", "test_loss_smoothed")}
    for bid, col, meas, what in (("G2", "g2_bound", "gap_smoothed", "smoothed gap"),
                                 ("G3", "g3_bound", "test_loss_smoothed", "smoothed test loss")):
        b = {"id": bid, "track": track, "explicit": True, "measured": what}
        if pts.empty or pts[col].isna().all():
            why = (f"column(s) {', '.join(c for c in need['G2'] if not has(rows, c))} missing or empty" if bid == "G2"
                   else g3_bound(rows)[1])
            b.update(evaluated=False, reason=f"not evaluable on this track: {why}")
        else:
            sel = pts[pts[col].notna()]
            b.update(evaluated=True, **ratios(sel[col], sel[meas]))
            vac = sel[col] >= sel["loss_range_B"]
            b.update(vacuous=bool(vac.all()), vacuous_fraction=float(vac.mean()),
                     vacuity_rule="bound >= B (the loss range: any predictor satisfies it)")
            if bid == "G3":
                b["code"] = g3_bound(sel)[1]
        out.append(b)
    return out


def claim_G(runs: pd.DataFrame, seed: int = 0, n_boot: int = N_BOOT) -> dict:
    """G: exponents (a in rank, b in N) with CIs per track and span half, G2 and G3; one verdict per track."""
    res = {"claim": "G", "paper_claim": "generalization error O(r(m+d)/sqrt(N))",
           "measured_quantity": "generalization gap = test loss - train loss (nats), mean over seeds per (track, r, N)",
           "assumptions": ["G1: no constant given (shape only)",
                           "G2/G3: loss bounded in [0, B] (prediction-smoothed CE), i.i.d. samples; G3 also needs a "
                           "teacher trained on data disjoint from the N samples"],
           "fits": [], "bounds": [], "by_track": {}}
    verdicts = {}
    for track in track_order(ok(runs)):
        rows, kind, left = gen_rows(runs, track)
        tr = {"kind": kind, "n_runs": int(len(rows)), "left_out_kinds": left}
        if rows.empty:
            continue
        fits = law_fits(rows, {"rank": "rank", "samples": "samples"}, n_boot=n_boot, seed=seed)
        bounds = _bounds(rows, track)
        res["bounds"] += bounds
        tr["fits"] = fits
        if "global" in fits:
            tr.update(fits["global"]["counts"])
            tr["rank_exponent"], tr["samples_exponent"] = fits["global"]["rank"], fits["global"]["samples"]
            tr["log_prefactor"] = fits["global"]["log_prefactor"]
        drifts = [s for s in (drift(fits, "samples"), drift(fits, "rank")) if s]
        tr["drift"] = drifts
        decide = deciding_fit(fits)
        if decide is None:
            gaps = rows["gap"].to_numpy(float)
            tr.update(verdict=INCONCLUSIVE, reason=f"[{track}] too few (r, N) cells with a positive seed-mean gap "
                      f"({int((gaps <= 0).sum())} of {len(gaps)} runs have a gap <= 0; needs 4 cells, 2 ranks, 2 N).")
        else:
            v, why, laws = g_verdict(decide, bounds, track)
            cnt = fits["global"]["counts"] if "global" in fits else decide["counts"]
            why = why.rstrip() + " " + (f"{cnt['n_nonpositive_points']} of {cnt['n_points']} runs have a gap <= 0 (kept in the seed means); "
                    f"{cnt['n_nonpositive_cells_left_out']} of {cnt['n_cells']} (r, N) cells have a mean <= 0 (left out).")
            tr.update(verdict=v, reason=why + (" Drift: " + "; ".join(drifts) + "." if drifts else ""),
                      consistent_with=laws, decided_on=decide["rank"]["range"])
        for name, f in fits.items():
            res["fits"] += [dict(f[v], track=track) for v in ("rank", "samples")]
        res["by_track"][track] = tr
        verdicts[track] = tr["verdict"]
    overall, why = combine_tracks(verdicts)
    res.update(verdict=overall, reason=" ".join(t["reason"] for t in res["by_track"].values()) + f" Overall: {why}.")
    return res
