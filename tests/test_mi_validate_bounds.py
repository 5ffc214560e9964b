"""I1/I2/I3 and the estimators on planted jointly Gaussian teacher/student activations at the quick preset's
sizes (d = 64, n = 1792, ranks 2, 8, 32): a bound must be a bound where the truth is known."""
from __future__ import annotations

import numpy as np
import pytest

from empirical.mi import cloning
from empirical.mi.validate_bounds import BoundCheckSizes, gaussian_bound_check, planted_pair, run


@pytest.fixture(scope="module")
def frame():
    return run(BoundCheckSizes())


def test_planted_truth_is_the_mi_of_the_noise_read_pair():
    # independent of the module's truth: Monte Carlo sample covariance of a large draw, then the log-det formula
    rng = np.random.default_rng(0)
    h_t, h_s, cov = planted_pair(8, 3, 200_000, "random", 0.3, rng)
    c = np.cov(np.hstack([h_t, h_s]), rowvar=False)
    np.testing.assert_allclose(c, cov, atol=0.01)


def test_true_entropy_i1_never_above_the_true_mi_and_i2_never_below(frame):
    for q, ok in (("i1_true_entropy", frame["value"] <= frame["true_mi"]),
                  ("i2_cap", frame["value"] >= frame["true_mi"])):
        rows = frame["quantity"] == q
        assert rows.sum() == 6 and ok[rows].all(), frame[rows]
        assert (frame.loc[rows, "kind"] == "bound").all()


def test_kl_entropy_i1_is_labelled_an_estimate_and_is_not_a_bound_here(frame):
    kl = frame[frame["quantity"] == "i1_kl_entropy"]
    assert (kl["kind"] == "estimate").all() and kl["right_side"].isna().all()
    assert (kl["value"] > kl["true_mi"]).any()  # the finding: 5 of 6 above the truth


def test_gaussian_estimator_recovers_the_planted_truth(frame):
    g = frame[frame["quantity"] == "mi_gaussian"]
    assert (g["error"].abs() < 0.5).all() and g["true_mi"].between(1.0, 40.0).all()


def test_cloning_rows_say_i1_is_an_estimate():
    rng = np.random.default_rng(1)
    h_t, h_s, _ = planted_pair(6, 2, 600, "pca", 0.3, rng)
    shared, per_est = cloning.measure_pair(h_t, h_s, np.arange(600) // 10,
                                           cloning.CloningConfig(estimators=("gaussian", "ksg")), seed=0)
    assert shared["i1_kind"] == "estimate" and shared["i1_entropy"] == "kozachenko-leonenko"
    assert {"i1_kind", "i1_entropy", "mi_warning"} <= set(cloning.COLUMNS)
    warn = {e["estimator"]: e["mi_warning"] for e in per_est}
    assert warn["gaussian"] == "" and "6+2 dims with N = 600" in warn["ksg"]  # (3/600)^(1/8) = 0.52 > 0.4


def test_summary_counts():
    s = gaussian_bound_check(BoundCheckSizes(ranks=(2, 8), students=("pca",), d=16, n=600, positions=10))
    q = s["quantities"]
    assert s["cases"] == 2 and q["i1_true_entropy"]["of"] == 2
    assert q["i1_true_entropy"]["right_side"] == 2 and q["i1_true_entropy"]["text"].endswith("in 2 of 2 cases")
    assert "right_side" not in q["i1_kl_entropy"] and q["i1_kl_entropy"]["kind"] == "estimate"
    assert s["seconds"] > 0
