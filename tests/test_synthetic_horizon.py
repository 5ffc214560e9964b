r"""Claim C in its own setting on the synthetic track: one SGD run per horizon T at
:math:`\eta^*(T) = \min(1/\beta, \sqrt{2\Delta/(\beta\sigma^2 T)})` (docs/theory.md C1), judged by
:mod:`bounds.tightness.claim_c` from the records the sweep writes.

What is asserted, on a planted linear problem (m = d = 12, rank 2, three datasets):

- *stochastic regime* (batch 8, so :math:`T_c = 2\Delta\beta/\sigma^2 \ll 50`: every step is on the
  :math:`\sqrt{\cdot}` branch): the slope of the final average squared gradient norm vs T on the upper half of
  T in [50, 6400] lies within 0.1 of −1/2 and its CI excludes −1, and C1 holds at every T. It fails if the step is
  not tuned to T (a fixed step gives ≈ −1 and then a floor, slope → 0), if the average were taken over minibatch
  gradients (it flattens at σ²), or if β, σ², Δ were measured wrongly (C1 violated or η*(T) off its branch);
- *deterministic regime* (batch 2048: σ² tiny, :math:`\eta^* = 1/\beta` for T ≤ 160 < T_c/4): the slope is
  steeper than −0.75 (the bound's 2βΔ/T term, slope −1). The same code in the other regime gives the other slope,
  so the first assertion is not a property of the fit.
"""
import numpy as np
import pandas as pd
import pytest

from bounds.tightness.claim_c import claim_C
from empirical.sweep import runners
from empirical.synthetic import SyntheticConfig, run


def _horizon_runs(horizons, batch, seeds=(0, 1, 2)):
    cfgs = [SyntheticConfig(m=12, d=12, noise=0.5, rank=2, samples=128, steps=t, seed=s, optimizer="sgd",
                            experiment="horizon", lr_rule="c1_horizon", batch_size=batch, n_log_points=0)
            for s in seeds for t in horizons]
    return runners.runs_table([runners.complete_record(c, run(c)) for c in cfgs])


def _judge(runs):
    return claim_C(runs, pd.DataFrame(), n_boot=400)["by_track"]["synthetic"]


def test_records_carry_the_judges_columns_and_the_tuned_step():
    runs = _horizon_runs((30, 60), batch=8, seeds=(0,))
    assert (runs["experiment"] == "horizon").all() and (runs["optimizer"] == "sgd").all()
    np.testing.assert_array_equal(runs["horizon"], [30, 60])
    for _, r in runs.iterrows():
        # C1's tuned step, written out here (not the code's evaluator)
        want = min(1 / r["beta"], np.sqrt(2 * r["delta"] / (r["beta"] * r["sigma2"] * r["horizon"])))
        assert r["lr"] == pytest.approx(want, rel=1e-12)
        assert 0 < r["lr"] <= 1 / r["beta"] and r["grad_norm_sq_running_avg"] > 0
    # one dataset and one init per (seed, rank): the constants eta is tuned with do not depend on T
    assert runs["beta"].nunique() == 1 and runs["delta"].nunique() == 1 and runs["sigma2"].nunique() == 1


def test_stochastic_regime_slope_is_minus_half_and_c1_holds_at_every_horizon():
    runs = _horizon_runs(tuple(50 * 2**k for k in range(8)), batch=8)
    t_c = 2 * runs["delta"] * runs["beta"] / runs["sigma2"]
    assert (t_c < 50).all()  # the planted setting is the stochastic regime at every T
    res = _judge(runs)
    up = res["fits"]["upper half"]
    assert abs(up["exponent"] + 0.5) < 0.1, up
    assert up["ci"][0] > -1.0
    assert res["c1"]["evaluated"] and res["c1"]["held_all"] and res["c1"]["n_points"] == len(runs)


def test_deterministic_regime_slope_is_steeper():
    runs = _horizon_runs((20, 40, 80, 160), batch=2048)
    assert (runs["lr"] * runs["beta"] == 1.0).all()  # eta* = 1/beta: the capped branch
    assert (2 * runs["delta"] * runs["beta"] / runs["sigma2"] > 4 * 160).all()
    g = _judge(runs)["fits"]["global"]
    assert -1.1 < g["exponent"] < -0.75, g


def test_full_batch_gradient_from_moments_is_the_gradient_of_the_sample_loss():
    """The exact running average uses the full-batch gradient computed from (X^T X, Y^T X, ||Y||^2): checked
    against the NLL typed here on the sample itself, by central differences in every coordinate."""
    from empirical.synthetic import _full_loss_grad, moments

    rng = np.random.default_rng(7)
    n, m, d, r, tau = 50, 5, 4, 2, 0.7
    X, Y = rng.standard_normal((n, d)), rng.standard_normal((n, m))
    P, Q = rng.standard_normal((m, r)), rng.standard_normal((r, d))

    def nll(P, Q):  # mean over the sample of 1/2 log(2 pi tau^2) + ||y - PQx||^2 / (2 tau^2 m)
        return np.mean(0.5 * np.log(2 * np.pi * tau**2) + np.sum((Y - X @ (P @ Q).T) ** 2, axis=1) / (2 * tau**2 * m))

    loss, gP, gQ = _full_loss_grad(P, Q, moments(X, Y), tau)
    assert loss == pytest.approx(nll(P, Q), rel=1e-12)
    h = 1e-6
    for A, G, which in ((P, gP, 0), (Q, gQ, 1)):
        num = np.zeros_like(A)
        for idx in np.ndindex(A.shape):
            E = np.zeros_like(A)
            E[idx] = h
            args_p = (P + E, Q) if which == 0 else (P, Q + E)
            args_m = (P - E, Q) if which == 0 else (P, Q - E)
            num[idx] = (nll(*args_p) - nll(*args_m)) / (2 * h)
        np.testing.assert_allclose(G, num, rtol=1e-6, atol=1e-9)
