r"""Power-law fits on seed-mean cells with a cluster bootstrap over datasets, and the halves of a span.

The model (Huber loss in log space, :func:`bounds.fit.fit_loglinear`) is fitted on the *mean over seeds* of
each cell (one cell = one combination of the fit's variables, e.g. (r, N) within a track):

.. math:: \log \bar y_c = \log C + \sum_j a_j \log x_{cj} + e_c, \qquad
          \bar y_c = \frac{1}{|c|}\sum_{i \in c} y_i

Averaging before the log keeps the runs whose own value is non-positive (a noisy gap below 0): dropping them
biases exponents toward 0 (INFERENCE rule 2). A cell whose *mean* is still non-positive is left out and counted.
CIs: each bootstrap replicate draws whole datasets (:func:`bounds.resample.bootstrap_counts` over
:func:`bounds.resample.dataset_groups`; a dataset is one (track, seed, N)), recomputes the cell means with the
drawn multiplicities and refits; percentile intervals (:func:`bounds.resample.percentile_interval`) of the
replicates rescaled about the point estimate by :math:`\sqrt{k/(k-1)}`, k the number of datasets behind one cell
(seeds): the bootstrap variance of a mean of k independent units is :math:`(k-1)/k` times its unbiased estimate
(Davison & Hinkley 1997, §3.2.1; Rao & Wu 1988), a third too small with 3 seeds.

:func:`halves` splits a variable's distinct values into a lower and an upper half (sharing the middle value
when their number is odd), for exponents on sub-ranges beside the global one.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bounds.resample import DATASET_COLUMNS, bootstrap_counts, dataset_groups, percentile_interval

from .common import MIN_CELLS, N_BOOT


@dataclass(frozen=True)
class CellFit:
    """A seed-mean power-law fit: exponents with cluster-bootstrap CIs, the fitted span and the counts."""

    exponents: dict
    ci: dict
    span: dict
    log_prefactor: float
    n_cells: int
    n_points: int
    n_nonpositive_points: int
    n_nonpositive_cells: int
    n_datasets: int
    n_boot_valid: int

    def counts(self) -> dict:
        """The counts the report prints beside the exponents."""
        return {"n_points": self.n_points, "n_cells": self.n_cells, "n_nonpositive_points": self.n_nonpositive_points,
                "n_nonpositive_cells_left_out": self.n_nonpositive_cells, "n_datasets": self.n_datasets}


def _fit_cells(xcells: np.ndarray, means: np.ndarray, names) -> np.ndarray | None:
    """(log C, exponents...) of the Huber log-log fit on the positive cells; None when it is not identifiable."""
    from bounds.fit import fit_loglinear

    keep = np.isfinite(means) & (means > 0)
    if keep.sum() < max(MIN_CELLS, len(names) + 2):
        return None
    xs = xcells[keep]
    if any(np.unique(xs[:, j]).size < 2 for j in range(xs.shape[1])):
        return None
    try:
        f = fit_loglinear({n: xs[:, j] for j, n in enumerate(names)}, means[keep], n_boot=0)
    except ValueError:
        return None
    return np.array([f.log_prefactor, *(f.exponents[n] for n in names)])


def _refit(xcells: np.ndarray, M: np.ndarray, yv: np.ndarray, counts: np.ndarray, point: np.ndarray) -> np.ndarray:
    """(log C, exponents) of each replicate: cell means under the drawn multiplicities ``counts`` (B, n), then the
    batched Huber IRLS of :mod:`bounds.fit` (one response per replicate; cells with a non-positive or no mean get
    weight 0); NaN rows for replicates whose positive cells do not identify the fit."""
    from bounds.fit import _irls

    S, C = counts @ (M * yv[:, None]), counts @ M
    with np.errstate(invalid="ignore", divide="ignore"):
        means = S / C
    use = (C > 0) & np.isfinite(means) & (means > 0)
    z = np.where(use, np.log(np.where(use, means, 1.0)), 0.0)
    logx = np.log(xcells)
    center = logx.mean(axis=0)
    A = np.column_stack([np.ones(len(xcells)), logx - center])
    init = np.array([point[0] + point[1:] @ center, *point[1:]])
    coef, _, valid = _irls(A, z, use.astype(float), "huber", 1.345, tol=1e-6, init=init)
    enough = use.sum(axis=1) >= max(MIN_CELLS, len(point) + 1)
    for j in range(logx.shape[1]):
        vals = np.where(use, logx[:, j][None, :], np.nan)
        enough &= (np.nanmax(vals, axis=1) > np.nanmin(vals, axis=1))
    out = np.column_stack([coef[:, 0] - coef[:, 1:] @ center, coef[:, 1:]])
    out[~(valid & enough)] = np.nan
    return out


def cell_mean_fit(rows: pd.DataFrame, x: dict, y: str, dataset_cols=DATASET_COLUMNS, n_boot: int = N_BOOT,
                  seed: int = 0, level: float = 0.95) -> CellFit | None:
    """Fit ``y`` (column) :math:`= C \\prod_j x_j^{a_j}` on the seed-mean cells of ``rows`` (``x``: fit variable
    name -> column). None when fewer than :data:`MIN_CELLS` cells have a positive mean or a variable takes one
    value. CIs are NaN with fewer than two datasets."""
    names = tuple(x)
    d = rows[np.isfinite(rows[y].to_numpy(float))]
    if d.empty:
        return None
    cols = [x[n] for n in names]
    cell_id, cell_keys = pd.factorize(pd.MultiIndex.from_frame(d[cols].astype(float)))
    xcells = np.array([list(k) for k in cell_keys], float).reshape(len(cell_keys), len(names))
    yv = d[y].to_numpy(float)
    M = np.zeros((len(d), len(cell_keys)))
    M[np.arange(len(d)), cell_id] = 1.0
    means = (M.T @ yv) / M.sum(axis=0)
    point = _fit_cells(xcells, means, names)
    if point is None:
        return None
    groups = dataset_groups(d, dataset_cols)
    n_data = int(np.unique(groups).size)
    boot = np.full((0, len(names) + 1), np.nan)
    if n_data >= 2 and n_boot > 0:
        boot = np.concatenate([_refit(xcells, M, yv, counts, point)
                               for counts in bootstrap_counts(groups, len(d), n_boot, seed=seed)])
    k = int(pd.Series(groups).groupby(cell_id).nunique().min())
    scale = np.sqrt(k / (k - 1)) if k > 1 else 1.0
    ci = {n: percentile_interval(point[j + 1] + scale * (boot[:, j + 1] - point[j + 1]), level)
          for j, n in enumerate(names)}
    return CellFit(exponents={n: float(point[j + 1]) for j, n in enumerate(names)}, ci=ci,
                   span={n: (float(xcells[:, j].min()), float(xcells[:, j].max())) for j, n in enumerate(names)},
                   log_prefactor=float(point[0]), n_cells=int(len(cell_keys)), n_points=int(len(d)),
                   n_nonpositive_points=int((yv <= 0).sum()), n_nonpositive_cells=int((means <= 0).sum()),
                   n_datasets=n_data, n_boot_valid=int(np.isfinite(boot).all(axis=1).sum()))


#: distinct values a half of a span needs (a slope through two values has no residual to check it by)
MIN_HALF = 3


def halves(values) -> tuple[list, list] | None:
    """Lower and upper half of the distinct ``values`` (the middle one in both when their number is odd);
    None when a half would have fewer than :data:`MIN_HALF` values (fewer than 5 distinct values)."""
    u = sorted(set(float(v) for v in values))
    if (len(u) + 1) // 2 < MIN_HALF:
        return None
    k = len(u)
    return u[: (k + 1) // 2], u[k // 2:]
