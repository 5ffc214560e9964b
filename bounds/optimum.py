"""Measured optimal ranks on a finite grid: r*(N) with censoring, seed intervals and the interior-optimum detector.

INFERENCE rule 4: a measured r* is an integer argmin over the rank grid of the seed-mean held-out loss. At an
edge of the grid it is *censored* (r* >= r_max, or r* <= r_min): it is kept as an interval and named, never
dropped. A minimum counts as *interior* only when it is below both neighbours by more than their seed band:

.. math::

    \\bar L(r_{i\\pm1}) - \\bar L(r_i) > z\\,\\sqrt{\\mathrm{se}_i^2 + \\mathrm{se}_{i\\pm1}^2},
    \\qquad \\mathrm{se}_j = s_j/\\sqrt{n_j}

with :math:`s_j` the sample standard deviation over seeds (independent datasets) and ``z = 1`` by default.

The interval of r* comes from a cluster bootstrap over seeds (each seed is one independently drawn dataset
at that N): resample seeds with replacement, recompute the argmin of the seed mean, take percentiles of the
resulting grid ranks.

Public API::

    classify_curve(ranks, mean, se, z=1.0) -> "interior" | "flat" | "upper edge" | "lower edge"
    measured_optima(runs, n_boot=1000, seed=0, level=0.95, loss="test_loss") -> DataFrame
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .resample import percentile_interval

STATUSES = ("interior", "flat", "upper edge", "lower edge")


def classify_curve(ranks, mean, se, z: float = 1.0) -> str:
    """Classify the argmin of a loss curve over an increasing rank grid.

    ``"upper edge"`` / ``"lower edge"``: the minimum sits at the largest / smallest rank (censored);
    ``"interior"``: strictly inside and below both neighbours by more than ``z`` combined standard errors;
    ``"flat"``: inside, but within the seed band of a neighbour (the curve does not resolve where it turns).
    """
    m = np.asarray(mean, dtype=float)
    s = np.nan_to_num(np.asarray(se, dtype=float), nan=0.0)
    if m.size != len(ranks) or m.size == 0 or not np.any(np.isfinite(m)):
        raise ValueError("classify_curve needs one finite mean per rank")
    i = int(np.nanargmin(m))
    if i == m.size - 1:
        return "upper edge"
    if i == 0:
        return "lower edge"
    sep = all(m[j] - m[i] > z * np.hypot(s[i], s[j]) for j in (i - 1, i + 1))
    return "interior" if sep else "flat"


def _one_curve(table: pd.DataFrame, n_boot: int, rng: np.random.Generator, level: float) -> dict:
    """``table``: seeds x ranks matrix of losses (NaN where a run is missing)."""
    ranks = np.asarray(table.columns, dtype=float)
    vals = table.to_numpy(dtype=float)
    n = np.sum(np.isfinite(vals), axis=0)
    mean = np.nanmean(vals, axis=0)
    sd = np.nanstd(vals, axis=0, ddof=1) if vals.shape[0] > 1 else np.full(ranks.size, np.nan)
    se = sd / np.sqrt(np.maximum(n, 1))
    i = int(np.nanargmin(mean))
    status = classify_curve(ranks, mean, se)
    k = vals.shape[0]
    if k >= 2 and n_boot > 0:
        draws = rng.integers(0, k, size=(n_boot, k))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a resample may miss every seed of one rank
            bmean = np.nanmean(vals[draws], axis=1)            # (n_boot, n_ranks)
        bmean = np.where(np.isfinite(bmean), bmean, np.inf)
        bstar = ranks[np.argmin(bmean, axis=1)]
        lo, hi = percentile_interval(bstar, level, min_valid=1)
        # percentiles of grid values may fall between grid points: snap outward to the grid
        lo = float(ranks[ranks <= lo + 1e-9].max(initial=ranks.min()))
        hi = float(ranks[ranks >= hi - 1e-9].min(initial=ranks.max()))
    else:
        lo = hi = float(ranks[i])
    censored = "upper" if status == "upper edge" else ("lower" if status == "lower edge" and ranks[0] > 1 else "")
    return {"rstar": float(ranks[i]), "rstar_lo": lo, "rstar_hi": hi, "status": status, "censored": censored,
            "interior": status == "interior", "n_seeds": int(k), "r_min": float(ranks[0]),
            "r_max": float(ranks[-1]), "loss_at_rstar": float(mean[i]), "se_at_rstar": float(se[i])}


def measured_optima(runs: pd.DataFrame, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                    loss: str = "test_loss") -> pd.DataFrame:
    """One row per (track, samples): the measured r* of the seed-mean ``loss`` over the rank grid.

    Columns: track, samples, rstar, rstar_lo, rstar_hi (bootstrap-over-seeds interval in grid ranks; for a
    censored r* read it as r* >= r_max or r* <= r_min), status (:data:`STATUSES`), censored ("", "upper",
    "lower"), interior, n_seeds, r_min, r_max, loss_at_rstar, se_at_rstar. Needs columns rank, samples, seed
    and ``loss``; a missing ``track`` column means one track named "all". Rows with a non-finite loss are
    ignored; a sample size with fewer than two ranks gives no row.
    """
    need = {"rank", "samples", "seed", loss}
    if not need <= set(runs.columns):
        raise ValueError(f"measured_optima needs columns {sorted(need)}")
    df = runs[np.isfinite(runs[loss].to_numpy(dtype=float))].copy()
    if "track" not in df.columns:
        df["track"] = "all"
    rng = np.random.default_rng(seed)
    rows = []
    for (track, n), g in df.groupby(["track", "samples"], sort=True):
        table = g.pivot_table(index="seed", columns="rank", values=loss, aggfunc="mean").sort_index(axis=1)
        if table.shape[1] < 2:
            continue
        rows.append({"track": track, "samples": n, **_one_curve(table, n_boot, rng, level)})
    cols = ["track", "samples", "rstar", "rstar_lo", "rstar_hi", "status", "censored", "interior", "n_seeds",
            "r_min", "r_max", "loss_at_rstar", "se_at_rstar"]
    return pd.DataFrame(rows, columns=cols)
