"""Singular spectra of the real teacher's weight matrices, their power-law decay, R1's gamma and R3's ranks.

For each weight matrix :math:`W \\in \\mathbb{R}^{m \\times d}` (q, k, v, attention output, FFN up/down per
layer, and the word embedding) the singular values :math:`\\sigma_1 \\ge \\dots \\ge \\sigma_{\\min(m,d)}`
are computed in float64 (``numpy.linalg.svd``). THEORY R models the decay as a power law

.. math:: \\sigma_k^2 = s\\,k^{-2\\alpha} \\quad\\Longleftrightarrow\\quad \\log\\sigma_k = \\tfrac12\\log s - \\alpha\\log k,

fitted here with :func:`bounds.fit.fit_power_law` (Huber in log space, bootstrap CI) on an explicit index
range ``[k_lo, k_hi]`` that is reported with the fit: an exponent means nothing outside its span. Local
slopes on disjoint ranges are reported too, because real spectra are *not* straight lines in log-log
(the decay steepens with k).

R1's exponent :math:`\\gamma(\\alpha)` and R3's recommended ranks come from :mod:`bounds` (never retyped here).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: default fitted index range, as fractions of min(m, d): the head and middle of the spectrum
DEFAULT_FIT_RANGE = (1, 0.5)
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
    """How the spectral power law is fitted: index range ``[k_lo, k_hi]`` (k_hi as an int or a fraction of
    min(m, d)), bootstrap resamples and seed."""

    k_lo: int = 1
    k_hi: float = 0.5
    n_boot: int = 500
    seed: int = 0

    def range_for(self, n: int) -> tuple[int, int]:
        """The integer index range (1-based, inclusive) for a spectrum of length ``n``."""
        hi = int(self.k_hi) if self.k_hi >= 1 else int(np.floor(self.k_hi * n))
        hi = min(max(hi, self.k_lo + 2), n)
        return self.k_lo, hi


def fit_alpha(sigma, config: FitConfig = FitConfig()) -> dict:
    """Power-law decay exponent :math:`\\alpha` of ``sigma`` (descending) on ``config``'s index range.

    Returns ``alpha``, ``alpha_lo``, ``alpha_hi`` (bootstrap CI of :math:`-\\mathrm{slope}` of
    :math:`\\log\\sigma_k` on :math:`\\log k`), ``k_lo``, ``k_hi``, ``log_s`` (:math:`\\log s`, i.e. twice
    the log prefactor of :math:`\\sigma_k`) and the local slopes ``alpha_local_<lo>_<hi>`` on
    :data:`LOCAL_RANGES` (least squares; no CI).
    """
    from bounds.fit import fit_power_law

    sigma = np.asarray(sigma, dtype=np.float64)
    n = sigma.size
    lo, hi = config.range_for(n)
    k = np.arange(lo, hi + 1, dtype=np.float64)
    fit = fit_power_law(k, sigma[lo - 1:hi], name="k", n_boot=config.n_boot, seed=config.seed)
    ci = fit.exponent_ci
    out = {"alpha": -fit.exponent, "alpha_lo": -ci[1], "alpha_hi": -ci[0], "k_lo": lo, "k_hi": hi,
           "log_s": 2.0 * fit.log_prefactor, "fit_scale": fit.scale}
    for a, b in LOCAL_RANGES:
        ka, kb = max(1, int(round(a * n)) + (1 if a > 0 else 0)), int(round(b * n))
        if kb - ka >= 2:
            kk = np.arange(ka, kb + 1)
            out[f"alpha_local_{ka}_{kb}"] = -np.polyfit(np.log(kk), np.log(sigma[ka - 1:kb]), 1)[0]
    return out


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
        rows.append({"name": name, "kind": kind, "layer": layer, "m": m, "d": d,
                     **fit_alpha(g.sort_values("k")["sigma"].to_numpy(), config)})
    return pd.DataFrame(rows)
