r"""Shared vocabulary of the judge: verdicts, coverage with a tolerance, candidate laws, combining tracks,
fits on seed-mean cells with a cluster bootstrap over datasets, and small table helpers.

Rules (the project's inference rules, ``INFERENCE.md``):

- *Coverage with a tolerance.* A CI :math:`[l, h]` covers a value :math:`x` when
  :math:`l - \epsilon \le x \le h + \epsilon` with :math:`\epsilon = 10^{-6}\max(1, |x|)`: a zero-width CI
  at the truth (noise-free data) covers it, floating-point rounding of the fit does not decide a verdict.
- *Candidate laws decide.* A CI consistent with several candidate laws whose readings of the claim differ
  gives "inconclusive", whatever its width.
- *Every track judged.* One verdict per track; the claim's verdict combines them by :data:`COMBINE_RULE`.
- *Replicate datasets.* Every CI is a percentile interval of a cluster bootstrap (:mod:`bounds.resample`)
  that draws whole datasets (track, seed, N), never rows.

Imports numpy and pandas only, never torch.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

VERDICTS = ("holds", "holds only under a stated assumption", "contradicted", "inconclusive")
HOLDS, ASSUMED, CONTRADICTED, INCONCLUSIVE = VERDICTS

#: a CI wider than this (in exponent units) is too wide to contradict anything: the verdict is inconclusive
MAX_CI_WIDTH = 1.0
#: relative tolerance of CI coverage (see the module docstring)
COVER_RTOL = 1e-6
#: confidence parameter delta of the high-probability bounds G2, G3
BOUND_DELTA = 0.05
#: bits per parameter of the fixed-length float32 code used for G3 when a run gives no ``code_bits``
FLOAT32_BITS = 32
#: bootstrap resamples of every CI in the report
N_BOOT = 1000
#: the smallest number of fitted cells of a log-log fit with two exponents
MIN_CELLS = 4

#: how the claim's verdict is combined from its per-track verdicts (printed in the report)
COMBINE_RULE = ("A claim's overall verdict combines its per-track verdicts: 'contradicted' if any track "
                "contradicts it; otherwise, among the tracks that are not inconclusive, the weakest verdict "
                "('holds only under a stated assumption' is weaker than 'holds'); 'inconclusive' when every "
                "track is. So 'holds' needs at least one track that holds and none that contradicts or holds "
                "only under an assumption. Claim I's two readings (across ranks, along training) are combined the same way.")


#: practical-equivalence margin of an exponent (a rate's power): the claims are rates up to constants and
#: logarithms, measured on a finite span, where a log factor alone bends a local slope by ~1/log(T) (0.1 at
#: T = 1e4) and a pre-asymptotic term by a few hundredths; a CI within this margin of a candidate exponent is
#: consistent with it (measured: claim C's horizon slope -0.492 [-0.495, -0.490] against -1/2 while the explicit
#: C1 bound held at every horizon). Stated in every report.
EXPONENT_MARGIN = 0.05
MARGIN_RULE = (f"An exponent's CI is consistent with a candidate exponent when it lies within {EXPONENT_MARGIN} of it "
               "(the claims are rates up to constants and logarithms, measured on finite spans).")


def covers(ci, value: float, rtol: float = COVER_RTOL, margin: float = 0.0) -> bool | None:
    r""":math:`l - \epsilon \le x \le h + \epsilon`, :math:`\epsilon = \mathrm{margin} + \mathrm{rtol}\max(1, |x|)`;
    None for a non-finite CI. ``margin``: :data:`EXPONENT_MARGIN` for exponents (rates), 0 for other numbers."""
    lo, hi = (float(v) for v in ci)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return None
    eps = margin + rtol * max(1.0, abs(float(value)))
    return bool(lo - eps <= value <= hi + eps)


def covers_exponent(ci, value: float) -> bool | None:
    """:func:`covers` with the practical-equivalence margin of exponents (:data:`EXPONENT_MARGIN`)."""
    return covers(ci, value, margin=EXPONENT_MARGIN)


def ci_width(ci) -> float:
    """Width of a CI; inf for a non-finite one."""
    lo, hi = (float(v) for v in ci)
    return hi - lo if np.isfinite(lo) and np.isfinite(hi) else float("inf")


def consistent_laws(cis: dict, candidates: dict) -> list[str]:
    """The candidate laws ``{label: {variable: exponent}}`` whose every exponent lies in ``cis[variable]``
    (coverage with the exponent margin, :func:`covers_exponent`)."""
    return [name for name, exps in candidates.items()
            if all(covers_exponent(cis[v], x) for v, x in exps.items())]


def combine_tracks(by_track: dict, noun: str = "track") -> tuple[str, str]:
    """The claim's verdict from ``{track: verdict}`` by :data:`COMBINE_RULE`, with a sentence naming the tracks
    (``noun``: what the keys are, e.g. "reading")."""
    if not by_track:
        return INCONCLUSIVE, f"no {noun} could be judged"
    names = lambda v: ", ".join(t for t, x in by_track.items() if x == v)  # noqa: E731
    listing = "; ".join(f"{t}: {v}" for t, v in by_track.items())
    if any(v == CONTRADICTED for v in by_track.values()):
        return CONTRADICTED, f"contradicted on {names(CONTRADICTED)} ({listing})"
    decided = [v for v in by_track.values() if v != INCONCLUSIVE]
    if not decided:
        return INCONCLUSIVE, f"inconclusive on every {noun} ({listing})"
    if ASSUMED in decided:
        return ASSUMED, f"weakest decided verdict ({listing})"
    return HOLDS, f"holds on {names(HOLDS)}, contradicted nowhere ({listing})"


def fmt(x, spec=".3g") -> str:
    """A number for the report; '-' for None or a non-finite float."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return format(x, spec)


def fmt_ci(ci, spec=".3g") -> str:
    return f"[{fmt(ci[0], spec)}, {fmt(ci[1], spec)}]"


def catalog(bound_id: str):
    """The compiled evaluator of a catalog bound (``bounds.catalog``)."""
    from bounds import catalog as cat
    return cat.get(bound_id)


def ok(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs whose status is ok."""
    return runs[runs["status"] == "ok"]


def has(df: pd.DataFrame, *cols) -> bool:
    """Every column is present with at least one value."""
    return all(c in df.columns and df[c].notna().any() for c in cols)


def track_order(runs: pd.DataFrame) -> list[str]:
    """The tracks of ``runs`` in alphabetical order (no track is preferred over another)."""
    return sorted(str(t) for t in runs["track"].dropna().unique())


def ratios(bound, measured) -> dict:
    """Bound/measured summary: points, violations (measured > bound), held at every point, ratio min/median/max."""
    bound, measured = np.asarray(bound, float), np.asarray(measured, float)
    fin = np.isfinite(bound) & np.isfinite(measured)
    pos = fin & (measured > 0)
    r = bound[pos] / measured[pos]
    held = bound[fin] >= measured[fin]
    return {"n_points": int(fin.sum()), "n_violations": int((~held).sum()),
            "held_all": bool(held.all()) if fin.any() else None,
            "ratio_min": float(r.min()) if r.size else None, "ratio_median": float(np.median(r)) if r.size else None,
            "ratio_max": float(r.max()) if r.size else None}


def spearman(x, y) -> dict:
    """Spearman's rho with its p-value over the pairs where both are finite; NaN for fewer than 3 such pairs or
    a constant input."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.unique(x).size < 2 or np.unique(y).size < 2:
        return {"rho": float("nan"), "p_value": float("nan"), "n": int(len(x))}
    from scipy.stats import spearmanr

    rho, p = spearmanr(x, y)
    return {"rho": float(rho), "p_value": float(p), "n": int(len(x))}


def exponent_summary(name: str, value: float, ci, span, n: int, theory: float | None, **extra) -> dict:
    """One fitted exponent as the report prints it (CI, data span, cells, theory, coverage with tolerance)."""
    return {"variable": name, "exponent": float(value), "ci": [float(ci[0]), float(ci[1])], "ci_level": 0.95,
            "span": [float(span[0]), float(span[1])], "n": int(n), "theory_exponent": theory,
            "covers_theory": None if theory is None else covers_exponent(ci, theory), **extra}
