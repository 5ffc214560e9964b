"""Figure — the real pretrained teacher (all-MiniLM-L6-v2): spectra, cloning gap vs r and N, MI vs r.

Panels (long frame in :mod:`figures.style`'s grammar):

- ``spectra``: singular values :math:`\\sigma_k` of the swept matrices (log-log), each with its fitted power
  law :math:`\\sigma_k^2 = s k^{-2\\alpha}` over the fitted span (labelled "fitted", alpha with its CI), and the
  recommended ranks of R3 (fast rate, C = 1, at the largest swept N) and Gavish-Donoho marked (dashed and
  dotted, in the matrix's colour); the overshoot of the fit at the first k is quoted in the title (the spectra are
  not power laws);
- ``gap_N`` / ``gap_r``: generalization gap (held-out minus train clone MSE) of the free rank-r ERM student
  vs N and vs r (seed mean, band = min..max over seeds; each seed has its own train/held-out split of the
  text, so the band includes the split's offset, and a band whose minimum is <= 0 runs off the log axis), with
  G1's rate :math:`C_G\\,p(r)/\\sqrt N` whose constant is *fitted* (labelled) and G2's covering bound with
  explicit constants evaluated on the measured loss range, parameter norm and local Lipschitz constant (not
  certified constants: see :mod:`empirical.real.clone`); the fitted exponents of gap ∝ p^a N^-b with CIs are in the panel title;
- ``mse``: held-out clone MSE vs r at the largest N for the free and LRC students, with the PCA floor
  (Eckart-Young on the held-out outputs, explicit);
- ``mi``: Gaussian MI estimate between noisy teacher output and student activation vs r, with I1 (lower
  bound, KL entropy), I3 (PCA, Gaussian entropy) and the I2 cap, all from ``bounds.catalog``;
- ``about``: a text cell saying which matrix each panel shows and how to read fits, bands and legends.

The gap, MSE and MI panels name their matrix in their titles.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from bounds.tightness import short_matrix_name
from figures import style

PANELS = {
    "spectra": dict(xlabel="index k", ylabel="singular value σ_k", logx=True, logy=True,
                    title="MiniLM weight spectra"),
    "gap_N": dict(xlabel="training tokens N", ylabel="gen. gap (clone MSE, held-out − train)", logx=True, logy=True,
                  title="gap vs N (free rank-r ERM)"),
    "gap_r": dict(xlabel="rank r", ylabel="gen. gap (clone MSE, held-out − train)", logx=True, logy=True,
                  title="gap vs r (free rank-r ERM)"),
    "mse": dict(xlabel="rank r", ylabel="held-out clone MSE (per token vector)", logx=True, logy=True,
                title="clone MSE vs r at the largest N"),
    "mi": dict(xlabel="rank r", ylabel="MI (nats)", logx=True, title="teacher–student MI vs r"),
    "about": dict(xlabel="", ylabel="", title="how to read this figure", text=True),
}


def compute(sweep: pd.DataFrame | None = None, spectra: pd.DataFrame | None = None, fits: pd.DataFrame | None = None,
            ranks: pd.DataFrame | None = None, preset: str = "smoke", store=None, n_boot: int = 500,
            section: dict | None = None) -> pd.DataFrame:
    """Long frame of everything drawn. Missing inputs are computed: the sweep from ``preset`` (through
    ``store``), spectra/fits/ranks of the swept matrices (fit over every singular value, as ``lrkd rank``).
    ``section``: the report's :func:`bounds.tightness.real_model_section` of the same sweep and fits, whose
    gap exponents the ``gap_N`` panel quotes (computed here, with ``n_boot``, when not given)."""
    from bounds import catalog, tightness
    from empirical.real import experiment, spectra as spec_mod
    from empirical.real.minilm import matrix_names

    if sweep is None:
        sweep = experiment.run_sweep(preset, store=store)
    names = list(dict.fromkeys(sweep["matrix"]))
    n_max = int(sweep["n_train"].max())
    if spectra is None:
        spectra = spec_mod.model_spectra([m for m in matrix_names() if m.name in names])
    spectra = spectra[spectra["name"].isin(names)]
    fit_cfg = spec_mod.FitConfig(k_hi=None, n_boot=n_boot)
    if fits is None:
        fits = spec_mod.spectral_fits(spectra, fit_cfg)
    if ranks is None:
        ranks = spec_mod.rank_table(spectra, sample_sizes=(n_max,), config=fit_cfg)
    out, overshoot = [], []
    for i, name in enumerate(names):
        s = spectra[spectra["name"] == name].sort_values("k")
        out.append(style.rows("spectra", f"{short_matrix_name(name)} σ_k", "measured", s["k"], s["sigma"], color_=i))
        f = fits[fits["name"] == name].iloc[0]
        k = np.arange(int(f["k_lo"]), int(f["k_hi"]) + 1)
        short = short_matrix_name(name)
        label = (f"{short} power law over k = {k[0]}..{k[-1]}, α={f['alpha']:.2f} [{f['alpha_lo']:.2f}, "
                 f"{f['alpha_hi']:.2f}] (fitted)")
        law = np.exp(0.5 * f["log_s"]) * k ** (-f["alpha"])
        out.append(style.rows("spectra", label, "fitted", k, law, color_=i))
        first = s[s["k"] == k[0]]["sigma"]
        if len(first) and first.iloc[0] > 0 and not 1 / 1.5 < law[0] / first.iloc[0] < 1.5:
            overshoot.append(f"×{law[0] / first.iloc[0]:.3g} ({short})")
        if i == 0:
            rk = ranks[(ranks["name"] == name) & (ranks["N"] == ranks["N"].max())].set_index("method")["rank"]
            for method, what in (("R3/fast", "R3 rank (fast rate, C = 1)"),
                                 ("gavish-donoho/unknown-sigma", "Gavish–Donoho rank (σ unknown)")):
                if method in rk.index and rk[method] > 0:
                    r = int(rk[method])
                    y = float(s["sigma"].iloc[r - 1])
                    out.append(style.rows("spectra", f"{short} {what}: r={r} (N={ranks['N'].max()})", "ceiling",
                                          [r, r], [y, y], color_=i))
    if overshoot:
        out.append(style.rows("spectra", "fits over all k overshoot σ at the first k " + ", ".join(overshoot),
                              "note", [np.nan], [np.nan]))

    free = sweep[(sweep["student"] == "free") & (sweep["matrix"] == names[0])]
    G1 = catalog.get("G1")
    pos = free[free["gap"] > 0]
    c_g = float(np.exp(np.mean(np.log(pos["gap"] * np.sqrt(pos["n_train"]) / pos["params"])))) if len(pos) else np.nan
    if section is None:
        section = tightness.real_model_section(sweep[sweep["matrix"] == names[0]], fits, n_boot=n_boot)
    gap_fit = next((m["gap"] for m in section["matrices"] if m["matrix"] == names[0]), {})
    note = ""
    if "a" in gap_fit:
        note = (f"fit gap ∝ p^a N^-b: a={style.fmt_ci(gap_fit['a'], *gap_fit['a_ci'])}, "
                f"b={style.fmt_ci(gap_fit['b'], *gap_fit['b_ci'])} (G1: a=1, b=0.5)")
    agg = free.groupby(["rank", "n_train"]).agg(
        gap=("gap", "mean"), lo=("gap", "min"), hi=("gap", "max"), params=("params", "first"),
        loss_max=("loss_max", "mean"), param_norm=("param_norm", "mean"),
        lipschitz_local=("lipschitz_local", "mean")).reset_index()
    for j, (r, g) in enumerate(agg.groupby("rank")):
        out.append(style.rows("gap_N", f"measured r={r}", "measured", g["n_train"], g["gap"], g["lo"], g["hi"], j))
        out.append(style.rows("gap_N", f"G1 C_G p/√N, C_G={c_g:.3g} (fitted)|r={r}", "fitted", g["n_train"],
                              G1(C_G=c_g, p=g["params"].to_numpy(float), N=g["n_train"].to_numpy(float)), color_=j))
        out.append(style.rows("gap_N", f"G2 explicit (measured B, R, ρ; δ={tightness.BOUND_DELTA:g})|r={r}", "theory",
                              g["n_train"], tightness.real_g2_bound(g), color_=j))
    for j, (n, g) in enumerate(agg.groupby("n_train")):
        out.append(style.rows("gap_r", f"measured N={n}", "measured", g["rank"], g["gap"], g["lo"], g["hi"], j))
        out.append(style.rows("gap_r", f"G1 C_G p/√N (fitted)|N={n}", "fitted", g["rank"],
                              G1(C_G=c_g, p=g["params"].to_numpy(float), N=float(n)), color_=j))
    if note:
        out.append(style.rows("gap_N", note, "note", [np.nan], [np.nan]))
    first = short_matrix_name(names[0])
    for panel in ("gap_N", "gap_r", "mse", "mi"):
        out.append(style.rows(panel, f"matrix {first}", "note", [np.nan], [np.nan]))
    about = [
        f"Teacher matrices: {', '.join(short_matrix_name(n) for n in names)} (L = layer) of all-MiniLM-L6-v2; "
        f"the gap, clone-MSE and MI panels use {first}. N counts training tokens.",
        "Spectra: the power laws are fitted over every singular value, as R1 and `lrkd rank` use them. Where a "
        "spectrum is not a power law (MiniLM's local slopes steepen along k) the fitted line misses the largest "
        "singular values (the title quotes by how much) and the fitted alpha depends on the range.",
        "Bands span the seeds (each seed its own train/held-out split of the text). On a log axis a band (or a "
        "seed mean) at or below 0 is cut at the bottom and marked by a triangle.",
        "Families of curves (G1, G2 per r or per N) share one grey legend entry and take their series' colour.",
    ]
    for text in about:
        out.append(style.rows("about", text, "note", [np.nan], [np.nan]))

    top = sweep[(sweep["matrix"] == names[0])]
    for j, student in enumerate(("free", "lrc")):
        g = top[(top["student"] == student)]
        if g.empty:
            continue
        g = g[g["n_train"] == g["n_train"].max()]
        a = g.groupby("rank").agg(y=("test_mse", "mean"), lo=("test_mse", "min"), hi=("test_mse", "max"),
                                  floor=("pca_floor", "mean")).reset_index()
        out.append(style.rows("mse", f"{student} student (N={int(g['n_train'].max())})", "measured", a["rank"], a["y"],
                              a["lo"], a["hi"], j))
        if student == "free":
            out.append(style.rows("mse", "PCA floor Σ_{k>r} λ_k (held-out, explicit)", "theory", a["rank"], a["floor"]))
        m = g[g["mi"].astype(bool)].groupby("rank").mean(numeric_only=True).reset_index()
        if m.empty or "mi_est_gaussian" not in m:
            continue
        out.append(style.rows("mi", f"Gaussian MI estimate, {student}", "measured", m["rank"], m["mi_est_gaussian"],
                              color_=j))
        if student == "free":
            out.append(style.rows("mi", "I1 lower bound (KL entropy)", "theory", m["rank"], m["mi_i1_bound"]))
            out.append(style.rows("mi", "I3 (PCA, Gaussian entropy)", "theory", m["rank"], m["mi_i3_bound_gaussian"],
                                  color_=4))
            out.append(style.rows("mi", "I2 cap", "ceiling", m["rank"], m["mi_i2_cap"]))
    df = pd.concat(out, ignore_index=True)
    keep = (df["kind"] == "note") | np.isfinite(df[["x", "y", "lo", "hi"]].to_numpy(float)).all(axis=1)
    return df[keep].reset_index(drop=True)


def plot(df: pd.DataFrame):
    """The figure from :func:`compute`'s frame."""
    return style.draw_long(df, PANELS, ncols=3, suptitle="Real teacher: all-MiniLM-L6-v2 (embedded corpus)")
