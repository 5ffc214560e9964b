"""Synthetic linear track: planted spectrum, closed-form risk vs fresh samples, Eckart–Young, RRR, batching.

The same properties the removed torch duplicate of this track was tested for, asserted on the kept
implementation (:mod:`empirical.synthetic`, the one the sweep runs; losses in nats per output coordinate).
"""
import math

import numpy as np
import pytest

from empirical.synthetic import SyntheticConfig, nll, planted_spectrum, rrr, run, solve, teacher


def _sq_err(W_hat, X, Y):
    return np.sum((Y - X @ W_hat.T) ** 2, axis=1)


def test_planted_spectrum():
    cfg = SyntheticConfig(m=12, d=10, scale=2.0, alpha=0.75)
    W, sv = teacher(cfg, np.random.default_rng(0))
    np.testing.assert_allclose(np.linalg.svd(W, compute_uv=False), 2.0 * np.arange(1, 11) ** -0.75, rtol=1e-10)
    np.testing.assert_allclose(sv, planted_spectrum(2.0, 0.75, 10))
    # Eckart–Young: the best rank-3 approximation leaves exactly the tail of the spectrum
    U, s, Vt = np.linalg.svd(W)
    W3 = (U[:, :3] * s[:3]) @ Vt[:3]
    assert np.sum((W - W3) ** 2) == pytest.approx(float(np.sum(sv[3:] ** 2)))


def test_closed_form_risk_matches_fresh_samples_within_sampling_error():
    cfg = SyntheticConfig(m=12, d=10, rank=3, samples=40, noise=0.7, seed=5)
    rec, W, W_hat, X, Y = solve(cfg)
    rng = np.random.default_rng(123)
    Xf = rng.standard_normal((40_000, cfg.d))
    Yf = Xf @ W.T + cfg.noise * rng.standard_normal((40_000, cfg.m))
    per = np.array([nll(e / cfg.m, cfg.noise) for e in _sq_err(W_hat, Xf, Yf)])
    mc, se = per.mean(), per.std() / np.sqrt(len(per))
    assert abs(mc - rec["test_loss"]) < 4 * se
    # the gap is large compared with that error (small N overfits), so the check is not vacuous
    assert rec["gap"] > 10 * se
    # and the training risk in the record is the empirical risk of the run's own sample
    assert rec["train_loss"] == pytest.approx(nll(_sq_err(W_hat, X, Y).mean() / cfg.m, cfg.noise), rel=1e-9)


@pytest.mark.parametrize("optimizer", ["rrr", "sgd"])
def test_trained_rank_r_error_approaches_eckart_young_tail(optimizer):
    for r in (1, 3, 6):
        cfg = SyntheticConfig(m=12, d=10, rank=r, samples=50_000 if optimizer == "rrr" else 4_000, noise=0.05,
                              optimizer=optimizer, steps=1500, batch_size=256)
        rec, W, W_hat, _, _ = solve(cfg)
        tail = float(np.sum(planted_spectrum(cfg.scale, cfg.alpha, 10)[r:] ** 2))
        approx = float(np.sum((W - W_hat) ** 2))
        assert approx >= tail * (1 - 1e-6)  # Eckart–Young is a floor
        assert approx - tail < 0.03 * tail + 1e-3, (optimizer, r, approx, tail)


def test_reduced_rank_regression_is_the_rank_r_least_squares_optimum():
    cfg = SyntheticConfig(m=12, d=10, rank=3, samples=60, noise=0.5, seed=2, optimizer="sgd", steps=1500)
    rec, W, W_sgd, X, Y = solve(cfg)
    W_rrr = rrr(X, Y, 3)
    assert np.linalg.matrix_rank(W_rrr) == 3
    best = _sq_err(W_rrr, X, Y).mean()
    # no rank-3 matrix fits the sample better: not the trained factors, not the teacher's truncation, not
    # random rank-3 perturbations of the optimum
    assert best <= _sq_err(W_sgd, X, Y).mean() * (1 + 1e-9)
    U, s, Vt = np.linalg.svd(W)
    assert best <= _sq_err((U[:, :3] * s[:3]) @ Vt[:3], X, Y).mean()
    rng = np.random.default_rng(0)
    for _ in range(20):
        P = rng.standard_normal((12, 3)) * 1e-3
        Uq, sq, Vq = np.linalg.svd(W_rrr + P @ rng.standard_normal((3, 10)) * 1e-3)
        assert best <= _sq_err((Uq[:, :3] * sq[:3]) @ Vq[:3], X, Y).mean() * (1 + 1e-12)
    # at full rank it is ordinary least squares; constant-step minibatch SGD ends near the optimum (within its noise)
    ols = np.linalg.lstsq(X, Y, rcond=None)[0].T
    np.testing.assert_allclose(rrr(X, Y, 10), ols, atol=1e-10)
    assert rec["train_loss"] == pytest.approx(nll(best / cfg.m, cfg.noise), rel=5e-2)
    assert math.isfinite(rec["delta"]) and rec["delta"] > 0


def test_batched_equals_one_by_one_and_params():
    from empirical.sweep import runners

    cfgs = [SyntheticConfig(rank=r, samples=n, seed=s, m=8, d=6) for r, n, s in [(1, 16, 0), (4, 64, 1), (2, 16, 2)]]
    many = runners.run_many(cfgs)
    for c, rec in zip(cfgs, many):
        one = run(c)
        for k in ("train_loss", "test_loss", "gap", "param_norm"):
            assert rec[k] == one[k]
    assert [r["params"] for r in many] == [1 * 14, 4 * 14, 2 * 14]
