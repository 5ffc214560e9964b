r"""The report's section on a real pretrained teacher (all-MiniLM-L6-v2): per swept weight matrix, its spectrum
and R1's exponent, the free rank-r student's generalization gap against the paper's rate, G2 on measured
constants and MI against its bounds; and the summary over every weight matrix. Rebuilt from a results folder's
files alone (no torch, no model package).

The gap law :math:`\overline{\mathrm{gap}} = C\,p^{a}N^{-b}` is fitted on seed-mean cells per (p, N) with a
cluster bootstrap over datasets (one dataset = one (seed, N) split of the text), as claim G
(:func:`bounds.tightness.claim_g.law_fits`), and judged by claim G's rule (:func:`bounds.tightness.claim_g.g_verdict`)
on the upper half of N's span.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from bounds.cliutil import UsageError

from .claim_g import deciding_fit, drift, g_verdict, law_fits
from .common import BOUND_DELTA, INCONCLUSIVE, N_BOOT, VERDICTS, catalog, has, ratios, spearman
from .tables import read_table

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
    runs = read_table(folder / REAL_RUNS_FILE)
    missing = [c for c in REAL_COLUMNS if c not in runs.columns]
    if missing:
        raise UsageError(f"{folder / REAL_RUNS_FILE}: missing column(s) {', '.join(missing)}")
    fits = read_table(folder / REAL_FITS_FILE) if (folder / REAL_FITS_FILE).exists() else pd.DataFrame()
    sec = real_model_section(runs, fits, n_boot=n_boot, seed=seed)
    if (folder / REAL_ALL_FITS_FILE).exists():
        ranks = read_table(folder / REAL_ALL_RANKS_FILE) if (folder / REAL_ALL_RANKS_FILE).exists() else None
        sec["all_matrices"] = real_all_matrices_summary(read_table(folder / REAL_ALL_FITS_FILE), ranks)
    return {**sec, "preset": info["preset"]} if info and info.get("preset") else sec


# ----------------------------------------------------------------------------------------------- real model

#: the paper's exponent of r* in N (THEORY R: r* = O(sqrt(N)))
SEED_GAMMA = 0.5
#: the columns of a real-teacher sweep (empirical.real.experiment.run_sweep) the section reads
REAL_COLUMNS = ("matrix", "student", "rank", "n_train", "seed", "params", "gap")


def r1_gammas_by_form(alpha: float) -> dict:
    """R1's exponent :math:`\\gamma = b/(2\\alpha - 1 + a)` (catalog ``R1.gamma``) per rate form (a, b) of
    :data:`bounds.rates.RATE_FORMS`, as ``gamma_<form>`` (NaN where R1 does not apply, :math:`\\alpha \\le 1/2`),
    and the :math:`\\alpha` each form needs for the paper's :math:`\\gamma = 1/2` (catalog ``R1.alpha_half.<form>``)
    as ``alpha_half_<form>``."""
    from bounds._fast import alpha_half, r1_gamma  # generated from the catalog (tests/test_bounds_fastpath.py)
    from bounds.rates import RATE_FORMS

    out = {}
    for form, (a, b) in RATE_FORMS.items():
        out[f"gamma_{form}"] = float(r1_gamma(alpha=alpha, a=a, b=b)) if np.isfinite(alpha) and alpha > 0.5 else float("nan")
        out[f"alpha_half_{form}"] = float(alpha_half(a=a, b=b))
    return out


def real_gap_fit(free: pd.DataFrame, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """Seed-mean fits of the free student's gap :math:`= C\\,p^{a} N^{-b}` (columns ``params``, ``n_train``,
    ``gap``) on the whole span and the halves of each variable (:func:`bounds.tightness.claim_g.law_fits`; keys
    ``rank`` for the exponent of p, ``samples`` for that of N); a dataset is one (seed, n_train) split."""
    return law_fits(free, {"rank": "params", "samples": "n_train"}, n_boot=n_boot, seed=seed,
                    datasets=("seed", "n_train"))


def real_g2_bound(rows: pd.DataFrame) -> np.ndarray:
    """G2 (``bounds.catalog``) per row of a real-teacher sweep, on the run's measured constants: B =
    ``loss_max`` (largest per-token clone loss seen), :math:`\\rho` = ``lipschitz_local`` (largest per-token
    gradient norm at the fitted student), R = ``param_norm``, p = ``params``, N = ``n_train``;
    :math:`\\delta` = :data:`BOUND_DELTA`. Measured, not certified, constants. NaN outside G2's domain."""
    g2 = catalog("G2")
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
        text = (f"the paper's gamma = 1/2 follows from R1 under the {', '.join(follows)} rate form(s) (alpha's CI "
                "covers the alpha that form needs)")
    else:
        needs = ", ".join(f"{f} needs alpha = {g['alpha_for_gamma_half']:.3g}" for f, g in gam.items())
        text = f"the paper's gamma = 1/2 does not follow under any rate form ({needs}; alpha's CI excludes each)"
    return {"alpha": alpha, "alpha_ci": [lo, hi], "k_span": [int(fit_row["k_lo"]), int(fit_row["k_hi"])],
            "gamma": gam, "seed_gamma": SEED_GAMMA, "seed_gamma_follows_under": follows, "text": text}


def _real_gap(free: pd.DataFrame, short: str, n_boot: int, seed: int) -> dict:
    """Exponents of the free student's gap in p and N with CIs, G2 on measured constants, and claim G's
    verdict (:func:`bounds.tightness.claim_g.g_verdict`, the same rule and vocabulary as the main report)."""
    fits = real_gap_fit(free, n_boot=n_boot, seed=seed)
    gaps = free["gap"].to_numpy(float)
    res = {"n_runs": int(np.isfinite(gaps).sum()), "n_nonpositive_gap": int((gaps <= 0).sum()),
           "paper_claim": "gap ~ p^1 N^-1/2 (G1)", "bounds": [], "fits": fits}
    g2 = {"id": "G2", "track": short, "explicit": True, "measured": "clone-MSE gap (held-out - train)"}
    if has(free, "loss_max", "lipschitz_local", "param_norm") and len(free):
        bound = real_g2_bound(free)
        fin = np.isfinite(bound)
        g2.update(evaluated=bool(fin.any()), **ratios(bound, gaps))
        if fin.any():
            vac = bound[fin] >= free["loss_max"].to_numpy(float)[fin]
            g2.update(vacuous=bool(vac.all()), vacuous_fraction=float(vac.mean()),
                      vacuity_rule="bound >= B (the largest per-token clone loss seen)",
                      constants="measured at the fitted student (B, rho, R), not certified")
        else:
            g2["reason"] = "outside G2's domain at every run"
    else:
        missing = [c for c in ("loss_max", "lipschitz_local", "param_norm") if not has(free, c)]
        g2.update(evaluated=False, reason=f"column(s) {', '.join(missing) or 'rows'} missing or empty")
    res["bounds"].append(g2)
    res["n_dropped_nonpositive_gap"] = fits["global"]["counts"]["n_nonpositive_cells_left_out"] if "global" in fits else 0
    decide = deciding_fit(fits)
    if decide is None:
        res.update(verdict=INCONCLUSIVE, reason="too few (p, N) cells with a positive seed-mean gap.")
        return res
    a, n_exp = decide["rank"], decide["samples"]
    res.update(rank_exponent=a, samples_exponent=n_exp, a=a["exponent"], a_ci=list(a["ci"]),
               b=-n_exp["exponent"], b_ci=[-n_exp["ci"][1], -n_exp["ci"][0]], log_prefactor=decide["log_prefactor"],
               decided_on=a["range"])
    res["verdict"], res["reason"], res["consistent_with"] = g_verdict(decide, res["bounds"], short)
    drifts = [x for x in (drift(fits, "samples"), drift(fits, "rank")) if x]
    if drifts:
        res["reason"] += " Drift: " + "; ".join(drifts) + "."
    return res


def _real_mi(rows: pd.DataFrame) -> list[dict]:
    """Per student: the runs with an MI estimate, whether every estimate is <= the I2 cap and >= the I1
    bound, and Spearman(MI, r)."""
    if not has(rows, "mi_est_gaussian"):
        return []
    out = []
    for student, g in rows.groupby("student", sort=False):
        g = g[np.isfinite(g["mi_est_gaussian"].to_numpy(float))]
        if g.empty:
            continue
        mi = g["mi_est_gaussian"].to_numpy(float)
        item = {"student": student, "n": int(len(g)), "N": sorted(int(n) for n in g["n_train"].unique()),
                "estimator": "gaussian", "spearman_mi_rank": spearman(g["rank"], mi)}
        for bid, col, upper in (("I2", "mi_i2_cap", True), ("I1", "mi_i1_bound", False)):
            if col in g and np.isfinite(g[col].to_numpy(float)).any():
                r = ratios(g[col], mi) if upper else ratios(mi, g[col])
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
    R1's :math:`\\gamma(\\alpha)` per rate form against the paper's 1/2; the free rank-r student's gap
    :math:`\\propto p^{a} N^{-b}` (exponents with bootstrap CIs, :func:`real_gap_fit`) against G1's a = 1,
    b = 1/2 with claim G's verdict rule (:func:`bounds.tightness.claim_g.g_verdict`); G2 on measured constants (bound/measured
    min / median / max, vacuous when bound >= B); MI estimates against the I2 cap and I1 bound, and
    Spearman(MI, r). Pure numpy/pandas (no torch).
    """
    missing = [c for c in REAL_COLUMNS if c not in real_df.columns]
    if missing:
        raise ValueError(f"real-model sweep lacks column(s) {', '.join(missing)}")
    fits = spectra_fits.set_index("name") if len(spectra_fits) else spectra_fits
    out = {"status": "ok", "model": "all-MiniLM-L6-v2", "n_runs": int(len(real_df)),
           "paper_claims": {"R": "r* = O(sqrt(N)), i.e. gamma = 1/2", "G": "gap = O(p(r)/sqrt(N)): a = 1, b = 1/2",
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
    how many the paper's gamma = 1/2 follows under each rate form (:func:`_real_spectrum`'s rule: the alpha the form
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


