"""KSG speed and correctness benchmark (for ``lrkd bench``): each number is a ratio against a baseline
measured in the same run.

- ``ksg_32x32``: KSG (k=3) on n = 10^4 samples of 32+32 dimensions (a Gaussian pair with 4 nats): median
  wall time over ``repeats`` runs of the blocked brute-force path that ``method="auto"`` picks there,
  against one run of the KD-tree path (the textbook implementation, which degrades in high dimension).
- ``sklearn_1d``: scikit-learn's ``mutual_info_regression`` (KSG per feature) on 1-D Gaussian pairs with
  n = 10^4: our estimate must agree within the estimator's own noise (the seed-to-seed standard deviation
  of our estimate on fresh samples), and the time ratio sklearn / ours is reported.
"""
from __future__ import annotations

import statistics
import time

import numpy as np

from .ksg import ksg_mi
from .samples import gaussian_pair


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def bench_ksg_high_dim(n: int = 10_000, d: int = 32, mi: float = 4.0, repeats: int = 3,
                       baseline: bool = True) -> dict:
    """Median time of KSG on n samples of d+d dims, and the KD-tree path's time as the baseline."""
    x, y, _ = gaussian_pair(n, d, d, mi, 0)
    times, est = [], None
    for _ in range(repeats):
        est, t = _timed(lambda: ksg_mi(x, y, method="auto"))
        times.append(t)
    out = {"n": n, "dims": f"{d}+{d}", "true_mi": mi, "mi_estimate": est.mi, "method": est.method,
           "seconds_median": statistics.median(times), "seconds_all": times}
    if baseline:
        base, tb = _timed(lambda: ksg_mi(x, y, method="kdtree"))
        out.update(kdtree_seconds=tb, speedup_vs_kdtree=tb / statistics.median(times),
                   kdtree_same_estimate=bool(base.mi == est.mi))
    return out


def bench_sklearn_1d(n: int = 10_000, mis=(0.1, 0.5, 1.0, 2.0), noise_seeds: int = 5) -> dict:
    """Our KSG vs ``sklearn.feature_selection.mutual_info_regression`` on 1-D pairs (k = 3)."""
    from sklearn.feature_selection import mutual_info_regression

    rows, t_ours, t_sk, noise = [], 0.0, 0.0, []
    for i, mi in enumerate(mis):
        x, y, _ = gaussian_pair(n, 1, 1, mi, 100 + i)
        ours, t1 = _timed(lambda: ksg_mi(x, y, k=3).mi)
        theirs, t2 = _timed(lambda: float(mutual_info_regression(x, y[:, 0], n_neighbors=3, random_state=0)[0]))
        t_ours += t1
        t_sk += t2
        spread = float(np.std([ksg_mi(*gaussian_pair(n, 1, 1, mi, 1000 + s)[:2]).mi for s in range(noise_seeds)],
                              ddof=1))
        noise.append(spread)
        rows.append({"true_mi": mi, "ours": ours, "sklearn": theirs, "diff": ours - theirs, "noise_std": spread})
    max_diff = max(abs(r["diff"]) for r in rows)
    return {"n": n, "pairs": rows, "max_abs_diff": max_diff, "max_noise_std": max(noise),
            "within_noise": bool(all(abs(r["diff"]) <= r["noise_std"] for r in rows)),
            "seconds_ours": t_ours, "seconds_sklearn": t_sk, "time_ratio_sklearn_over_ours": t_sk / t_ours}


def run(n: int = 10_000, repeats: int = 3, baseline: bool = True) -> dict:
    """The MI benchmarks as one dict: ``{"ksg_32x32": {...}, "sklearn_1d": {...}}`` (seconds, nats)."""
    return {"ksg_32x32": bench_ksg_high_dim(n=n, repeats=repeats, baseline=baseline),
            "sklearn_1d": bench_sklearn_1d(n=n)}
