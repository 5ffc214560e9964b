"""Planted-truth tests of bounds.optimum (measured r* with censoring) and bounds.surface (the L(r, N) fit).

Data are generated from a known surface L = E + A r^(1-2 alpha) + C r^a N^-b with dataset-level noise (one
offset per (seed, N), shared by all ranks of that dataset) plus run noise; the fit must recover the constants
within its CIs, the discrete r* at a held-out N must fall in the predicted interval, and unusable pilots must
be refused with a reason.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bounds.optimum import classify_curve, measured_optima
from bounds.surface import extrapolate, fit_surface, identifiability

TRUTH = {"E": 1.0, "A": 2.0, "alpha": 1.0, "C": 0.05, "a": 1.0, "b": 0.5}
RANKS = (1, 2, 4, 8, 16, 32, 64)


def surface(r, n, E=1.0, A=2.0, alpha=1.0, C=0.05, a=1.0, b=0.5):
    r = np.asarray(r, dtype=float)
    return E + A * r ** (1 - 2 * alpha) + C * r ** a * np.asarray(n, dtype=float) ** (-b)


def planted(samples=(32, 64, 128, 256, 512), seeds=4, ranks=RANKS, offset=0.01, noise=0.005, seed=1, **law):
    rng = np.random.default_rng(seed)
    rows = []
    for n in samples:
        for s in range(seeds):
            off = rng.normal(0, offset)          # one draw of data: shifts every rank of this dataset
            for r in ranks:
                loss = surface(r, n, **law) * np.exp(off + rng.normal(0, noise))
                rows.append({"track": "planted", "rank": r, "samples": n, "seed": s, "test_loss": loss})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------- optimum

@pytest.mark.parametrize("mean, expected", [
    ([3.0, 2.0, 1.0, 2.0, 3.0], "interior"),
    ([3.0, 2.0, 1.5, 1.2, 1.0], "upper edge"),
    ([1.0, 2.0, 3.0, 4.0, 5.0], "lower edge"),
    ([3.0, 1.02, 1.0, 1.01, 3.0], "flat"),      # the minimum is inside the neighbours' seed band
])
def test_classify_curve_planted_shapes(mean, expected):
    assert classify_curve([1, 2, 4, 8, 16], mean, [0.05] * 5) == expected


def test_flat_becomes_interior_when_bands_shrink():
    assert classify_curve([1, 2, 4, 8, 16], [3.0, 1.02, 1.0, 1.01, 3.0], [1e-4] * 5) == "interior"


def test_measured_optima_names_censored_and_keeps_every_n():
    df = planted(samples=(32, 512), ranks=(1, 2, 4))        # r* at N = 512 lies above rank 4
    opt = measured_optima(df, n_boot=200)
    assert list(opt["samples"]) == [32, 512]               # nothing dropped
    top = opt[opt["samples"] == 512].iloc[0]
    assert top["status"] == "upper edge" and top["censored"] == "upper" and top["rstar"] == 4
    assert not top["interior"]


def test_measured_optima_interval_contains_true_discrete_argmin():
    df = planted(samples=(64, 256), seeds=6)
    opt = measured_optima(df, n_boot=500)
    for _, row in opt.iterrows():
        true = RANKS[int(np.argmin(surface(RANKS, row["samples"])))]
        assert row["rstar_lo"] <= true <= row["rstar_hi"]
        assert row["status"] == "interior"


# ----------------------------------------------------------------------------------------------- surface

def test_fit_recovers_planted_constants_within_cis():
    fit = fit_surface(planted(), n_boot=150)
    assert fit.identifiable
    for name, value in TRUTH.items():
        lo, hi = fit.ci[name]
        assert lo <= value <= hi, (name, value, fit.ci[name])
    gamma = TRUTH["b"] / (2 * TRUTH["alpha"] - 1 + TRUTH["a"])
    assert fit.gamma_ci[0] <= gamma <= fit.gamma_ci[1]


def test_rstar_at_unseen_n_inside_interval():
    fit = fit_surface(planted(), n_boot=150)
    grid = np.arange(1, 129)
    for n in (2048, 8192):
        true = int(grid[np.argmin(surface(grid, n))])
        lo, hi = fit.rstar_interval(n, grid)
        assert lo <= true <= hi, (n, true, lo, hi)


def test_fit_is_not_fooled_by_a_different_law():
    """Data with b = 1 (fast rate) must not give a CI that covers the paper's b = 1/2."""
    fit = fit_surface(planted(b=1.0, C=0.5), n_boot=150)
    lo, hi = fit.ci["b"]
    assert lo <= 1.0 <= hi and not lo <= 0.5 <= hi


def test_measured_tail_scale_cannot_change_the_answer():
    df = planted()
    tail = {r: float(r) ** -1.0 for r in RANKS}           # = r^(1-2 alpha) at alpha = 1
    f1 = fit_surface(df, tail=tail, n_boot=0)
    f2 = fit_surface(df, tail={r: 1000.0 * v for r, v in tail.items()}, n_boot=0)
    for n in (256, 4096):
        assert f1.rstar(n, RANKS) == f2.rstar(n, RANKS)
        np.testing.assert_allclose(f1.predict(RANKS, n), f2.predict(RANKS, n), rtol=1e-6)
    assert f2.params["A"] == pytest.approx(f1.params["A"] / 1000.0, rel=1e-4)


def test_two_sample_sizes_are_refused_with_advice():
    ok, reason, advice = identifiability(planted(samples=(64, 256)))
    assert not ok and "2 sample size" in reason and "add runs" in advice


def test_censored_pilot_is_refused():
    ok, reason, advice = identifiability(planted(ranks=(1, 2, 3, 4), samples=(512, 1024, 2048)))
    assert not ok and "censored" in reason and "above" in advice


def test_extrapolation_predicts_the_held_out_n():
    out = extrapolate(planted(), n_boot=150)
    assert out["ok"] and out["target_samples"] == 512
    true = RANKS[int(np.argmin(surface(RANKS, 512)))]
    lo, hi = out["rstar_interval"]
    assert lo <= true <= hi and out["covered"]
    for p in out["predicted"]:                           # the planted mean inside each interval; the measured
        assert p["lo"] <= surface(p["rank"], 512) <= p["hi"]   # seed mean (4 noisy datasets) within 2 %
        assert abs(p["measured"] / p["loss"] - 1) < 0.02


def test_extrapolation_detects_a_surface_that_does_not_extrapolate():
    """The largest N follows another law (b drops to 0.1 there): the prediction must miss the measurement."""
    df = planted()
    big = planted(samples=(4096,), b=0.1, seed=3)
    out = extrapolate(pd.concat([df, big]), n_boot=150)
    assert out["ok"] and not out["covered"]


def test_extrapolation_needs_four_sample_sizes():
    out = extrapolate(planted(samples=(64, 128, 256)), n_boot=0)
    assert not out["ok"] and "4 in all" in out["reason"]


def test_several_tracks_refused():
    df = pd.concat([planted(), planted().assign(track="other")])
    with pytest.raises(ValueError, match="one track"):
        fit_surface(df, n_boot=0)


def test_identical_fits_are_made_once_and_changed_data_refit():
    """The report's claim R and its rank advice fit the same runs: the second call must be the first fit, and any
    change of the data (or of a setting) must give a fresh one."""
    df = planted(samples=(32, 64, 128, 256), seeds=2, seed=7)
    first = fit_surface(df, n_boot=20)
    assert fit_surface(df.copy(), n_boot=20) is first
    assert fit_surface(df, n_boot=21) is not first
    moved = df.assign(test_loss=df["test_loss"] * 1.01)
    assert fit_surface(moved, n_boot=20).params["E"] != first.params["E"]
