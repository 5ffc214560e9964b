"""Singular spectra of the real teacher's weight matrices, their power-law decay, R1's gamma and R3's ranks.

For each weight matrix :math:`W \\in \\mathbb{R}^{m \\times d}` (q, k, v, attention output, FFN up/down per
layer, and the word embedding) the singular values :math:`\\sigma_1 \\ge \\dots \\ge \\sigma_{\\min(m,d)}`
are computed in float64 (``numpy.linalg.svd``). THEORY R models the decay as a power law

.. math:: \\sigma_k^2 = s\\,k^{-2\\alpha} \\quad\\Longleftrightarrow\\quad \\log\\sigma_k = \\tfrac12\\log s - \\alpha\\log k,

fitted by :func:`bounds.recommend.fit_spectrum` (Huber in log space, bootstrap CI) on an explicit index
range ``1..k_hi`` that is reported with the fit: an exponent means nothing outside its span. Local
slopes on disjoint ranges are reported too, because real spectra are *not* straight lines in log-log
(the decay steepens with k).

R1's exponent :math:`\\gamma(\\alpha)` and R3's recommended ranks come from :mod:`bounds` (never retyped here).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: disjoint ranges (as fractions of min(m, d), first index 1) on which local slopes are reported
LOCAL_RANGES = ((0.0, 1 / 24), (1 / 24, 1 / 6), (1 / 6, 1 / 2), (1 / 2, 5 / 6))


def singular_values(W) -> np.ndarray:
    """Singular values of a 2-D array in float64, descending (``numpy.linalg.svd(..., compute_uv=False)``)."""
    A = np.asarray(W, dtype=np.float64)
    if A.ndim != 2:
        raise ValueError(f"expected a 2-D matrix, got shape {A.shape}")
    return np.linalg.svd(A, compute_uv=False)


@dataclass(frozen=True)
class FitConfig:
    """How the spectral power law is fitted: indices ``1..k_hi`` (k_hi an int, a fraction of min(m, d), or
    None for every non-negligible singular value as ``lrkd rank`` does), bootstrap resamples and seed."""

    k_hi: float | None = 0.5
    n_boot: int = 500
    seed: int = 0

    def k_max(self, n: int) -> int | None:
        """The last fitted index for a spectrum of length ``n`` (None: :func:`bounds.recommend.fit_spectrum`'s default)."""
        if self.k_hi is None:
            return None
        hi = int(self.k_hi) if self.k_hi >= 1 else int(np.floor(self.k_hi * n))
        return min(max(hi, 3), n)


def fit_alpha(sigma, config: FitConfig = FitConfig()) -> dict:
    """Power-law decay exponent :math:`\\alpha` of ``sigma`` by :func:`bounds.recommend.fit_spectrum`
    (Huber fit of :math:`\\log\\sigma_k^2 = \\log s - 2\\alpha\\log k` over :math:`k = 1..k_{hi}`, bootstrap CI).

    Returns ``alpha``, ``alpha_lo``, ``alpha_hi`` (95% CI), ``k_lo`` (= 1), ``k_hi``, ``log_s`` and the local
    slopes ``alpha_local_<lo>_<hi>`` of :math:`-\\log\\sigma_k` on :math:`\\log k` over :data:`LOCAL_RANGES`
    (least squares by :func:`bounds.fit.fit_power_law`, no CI: a diagnostic of curvature).
    """
    from bounds.fit import fit_power_law
    from bounds.recommend import fit_spectrum

    sigma = np.asarray(sigma, dtype=np.float64)
    n = sigma.size
    fit = fit_spectrum(sigma, k_max=config.k_max(n), n_boot=config.n_boot, seed=config.seed)
    out = {"alpha": fit.alpha, "alpha_lo": fit.alpha_ci[0], "alpha_hi": fit.alpha_ci[1],
           "k_lo": fit.k_span[0], "k_hi": fit.k_span[1],
           "log_s": float(fit.log_s), "fit_scale": fit.fit.scale}
    for a, b in LOCAL_RANGES:
        ka, kb = max(1, int(round(a * n)) + (1 if a > 0 else 0)), int(round(b * n))
        if kb - ka >= 2:
            kk = np.arange(ka, kb + 1)
            local = fit_power_law(kk, sigma[ka - 1:kb], name="k", loss="linear", n_boot=0)
            out[f"alpha_local_{ka}_{kb}"] = -local.exponent
    return out


def r1_gammas(alpha: float) -> dict:
    """R1's exponent :math:`\\gamma = b/(2\\alpha - 1 + a)` (catalog ``R1.gamma``) per rate form, and the
    :math:`\\alpha` each form needs for the seed's :math:`\\gamma = 1/2` (catalog ``R1.alpha_half.<form>``).
    :math:`\\gamma` is NaN where R1 does not apply (:math:`\\alpha \\le 1/2`). One implementation:
    :func:`bounds.tightness.r1_gammas_by_form`."""
    from bounds.tightness import r1_gammas_by_form

    return r1_gammas_by_form(alpha)


def recommended_ranks(sigma, shape: tuple[int, int], N: int, fit_config: FitConfig = FitConfig(),
                      C: float = 1.0, fit=None) -> dict:
    """R3 (per rate form, V = C p(r)^a N^{-b}, p(r) = r(m+d)), R1 where alpha > 1/2, Gavish-Donoho (unknown
    noise), effective rank and energy ranks, by :func:`bounds.recommend.recommend`: ``{method: rank}``.

    The R3 objective adds W's own Eckart-Young tail :math:`\\sum_{k>r}\\sigma_k^2` to the variance term, so its
    ranks depend on the unknown constant C (default 1, as ``lrkd rank``): they are a reading, not a measurement.
    """
    from bounds import recommend as rec

    sigma = np.asarray(sigma, dtype=np.float64)
    m, d = shape
    if fit is None:  # the power-law fit does not depend on N: callers looping over N pass it in
        fit = rec.fit_spectrum(sigma, k_max=fit_config.k_max(sigma.size), n_boot=fit_config.n_boot,
                               seed=fit_config.seed)
    recs = rec.recommend(int(N), per_rank=m + d, r_max=min(m, d), C=C, singular_values=sigma, shape=(m, d),
                         spectrum_fit=fit if fit.alpha > 0.5 else None)
    return {r.method: r.rank for r in recs if not r.method.startswith("R2/")}


def model_spectra(matrices=None, weights: dict | None = None) -> "pandas.DataFrame":  # noqa: F821
    """Long table of singular values: one row per (matrix, k) with columns
    ``name, kind, layer, m, d, k, sigma`` (k is 1-based). ``weights`` maps tensor names to arrays (default:
    read from the installed model)."""
    import pandas as pd

    from empirical.real import minilm

    matrices = minilm.matrix_names() if matrices is None else matrices
    weights = minilm.load_weights([m.tensor for m in matrices]) if weights is None else weights
    frames = []
    for mat in matrices:
        W = weights[mat.tensor]
        s = singular_values(W)
        frames.append(pd.DataFrame({"name": mat.name, "kind": mat.kind, "layer": mat.layer, "m": W.shape[0],
                                    "d": W.shape[1], "k": np.arange(1, s.size + 1), "sigma": s}))
    return pd.concat(frames, ignore_index=True)


def spectral_fits(spectra, config: FitConfig = FitConfig()) -> "pandas.DataFrame":  # noqa: F821
    """One row per matrix: shape and :func:`fit_alpha`'s columns."""
    import pandas as pd

    rows = []
    for (name, kind, layer, m, d), g in spectra.groupby(["name", "kind", "layer", "m", "d"], sort=False):
        fit = fit_alpha(g.sort_values("k")["sigma"].to_numpy(), config)
        rows.append({"name": name, "kind": kind, "layer": layer, "m": m, "d": d, **fit, **r1_gammas(fit["alpha"])})
    return pd.DataFrame(rows)


def rank_table(spectra, sample_sizes=(1_000, 10_000, 100_000), config: FitConfig = FitConfig(),
               C: float = 1.0) -> "pandas.DataFrame":  # noqa: F821
    """Long table ``name, kind, layer, N, method, rank`` of :func:`recommended_ranks` for every matrix and N."""
    import pandas as pd

    from bounds import recommend as rec

    rows = []
    for (name, kind, layer, m, d), g in spectra.groupby(["name", "kind", "layer", "m", "d"], sort=False):
        sigma = g.sort_values("k")["sigma"].to_numpy()
        fit = rec.fit_spectrum(sigma, k_max=config.k_max(sigma.size), n_boot=config.n_boot, seed=config.seed)
        for N in sample_sizes:
            for method, rank in recommended_ranks(sigma, (m, d), N, config, C, fit=fit).items():
                rows.append({"name": name, "kind": kind, "layer": layer, "N": N, "method": method, "rank": rank})
    return pd.DataFrame(rows)
