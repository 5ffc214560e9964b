"""Cluster (dataset-level) bootstrap resampling: the one resampling helper of every CI in lrkd.

INFERENCE rule 1: the unit of replication is an independently drawn dataset, so a bootstrap draws whole
clusters (e.g. every run of one (track, seed, N) dataset) with replacement, never single rows of a cluster.
With ``groups=None`` every row is its own cluster (the ordinary row bootstrap).

A resample is returned as row multiplicities: ``counts[b, i]`` is how often row ``i`` enters replicate ``b``
(the number of times its cluster was drawn). Weighted fits take these counts directly.

Public API::

    cluster_labels(groups, n) -> (inverse (n,), n_clusters)
    cluster_counts(inverse, n_clusters, b, rng) -> counts (b, n)
    bootstrap_counts(groups, n, n_boot, seed=0, chunk=None) -> iterator of counts blocks
    dataset_groups(df, cols=("track", "seed", "samples")) -> labels (n,)
    percentile_interval(values, level=0.95, min_valid=10) -> (lo, hi)
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

#: the columns that name one independently drawn dataset in a runs table (INFERENCE rule 1)
DATASET_COLUMNS = ("track", "seed", "samples")


def cluster_labels(groups, n: int) -> tuple[np.ndarray, int]:
    """Map row labels to cluster indices: ``(inverse, n_clusters)``; ``groups=None`` makes every row a cluster.

    Raises ``ValueError`` when the labels do not match ``n`` rows or there are fewer than two clusters.
    """
    if groups is None:
        return np.arange(n), n
    g = np.asarray(groups).ravel()
    if g.size != n:
        raise ValueError(f"groups has {g.size} labels, the data has {n} rows")
    labels, inverse = np.unique(g, return_inverse=True)
    if labels.size < 2:
        raise ValueError("the cluster bootstrap needs at least two clusters")
    return inverse.ravel(), int(labels.size)


def cluster_counts(inverse: np.ndarray, n_clusters: int, b: int, rng: np.random.Generator) -> np.ndarray:
    """Row multiplicities ``(b, n)`` of ``b`` resamples that draw ``n_clusters`` clusters with replacement.

    .. math:: c_{bi} = \\#\\{j : J_{bj} = g(i)\\},\\quad J_{bj} \\sim \\mathrm{Uniform}\\{1..K\\}
    """
    draws = rng.integers(0, n_clusters, size=(b, n_clusters))
    ucounts = np.zeros((b, n_clusters))
    np.add.at(ucounts, (np.repeat(np.arange(b), n_clusters), draws.ravel()), 1.0)
    return ucounts[:, inverse]


def bootstrap_counts(groups, n: int, n_boot: int, seed: int = 0, chunk: int | None = None) -> Iterator[np.ndarray]:
    """Yield the ``n_boot`` seeded cluster-bootstrap resamples as blocks of row multiplicities.

    ``chunk`` bounds the (replicates x rows) block size (default: about 2e6 cells). The same ``seed`` gives
    the same resamples.
    """
    inverse, k = cluster_labels(groups, n)
    rng = np.random.default_rng(seed)
    chunk = chunk or max(1, 2_000_000 // max(n, 1))
    for first in range(0, n_boot, chunk):
        yield cluster_counts(inverse, k, min(chunk, n_boot - first), rng)


def dataset_groups(df, cols=DATASET_COLUMNS) -> np.ndarray:
    """One label per row naming its dataset: the values of ``cols`` present in ``df`` joined by ``|``."""
    present = [c for c in cols if c in df.columns]
    if not present:
        return np.arange(len(df)).astype(str)
    return df[present].astype(str).agg("|".join, axis=1).to_numpy()


def percentile_interval(values, level: float = 0.95, min_valid: int = 10) -> tuple[float, float]:
    """Two-sided percentile interval of the finite ``values``; (nan, nan) when fewer than ``min_valid`` are."""
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if v.size < min_valid:
        return (float("nan"), float("nan"))
    lo, hi = np.quantile(v, [(1 - level) / 2, 1 - (1 - level) / 2])
    return (float(lo), float(hi))
