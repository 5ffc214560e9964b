"""Synthetic linear track: planted spectrum, closed-form risk vs fresh samples, Eckart–Young, RRR, batching."""
import numpy as np
import pytest
import torch

from empirical.synthetic import (SyntheticConfig, eckart_young_tail, planted_teacher, population_risk,
                                 reduced_rank_regression, sample, spectrum, train, train_many)


pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = dict(m=12, d=10, steps=1500, lr=0.03)


def test_planted_spectrum():
    cfg = SyntheticConfig(m=12, d=10, s=2.0, alpha=0.75)
    sv = torch.linalg.svdvals(planted_teacher(cfg)).numpy()
    np.testing.assert_allclose(sv, 2.0 * np.arange(1, 11) ** -0.75, rtol=1e-10)
    assert eckart_young_tail(spectrum(cfg), 3) == pytest.approx(float(np.sum(sv[3:] ** 2)))


def test_closed_form_risk_matches_fresh_samples_within_sampling_error():
    cfg = SyntheticConfig(rank=3, samples=40, noise=0.7, seed=5, **SMALL)
    (rec,), (W_hat,) = train_many([cfg], return_weights=True)
    W = planted_teacher(cfg)
    X, Y = sample(cfg, 40_000, W, generator=torch.Generator().manual_seed(123))
    per = ((Y - X @ W_hat.T) ** 2).sum(1)
    mc, se = per.mean().item(), per.std().item() / np.sqrt(len(per))
    assert abs(mc - rec["test_loss"]) < 4 * se
    # the gap is large compared with that error (small N overfits), so the check is not vacuous
    assert rec["gap"] > 10 * se
    # and the training risk in the record is the empirical risk of the run's own sample
    Xtr, Ytr = sample(cfg, cfg.samples, W)
    assert rec["train_loss"] == pytest.approx(((Ytr - Xtr @ W_hat.T) ** 2).sum(1).mean().item(), rel=1e-9)


@pytest.mark.parametrize("student", ["free", "lrc"])
def test_trained_rank_r_error_approaches_eckart_young_tail(student):
    cfgs = [SyntheticConfig(rank=r, samples=50_000, noise=0.05, student=student, **SMALL) for r in (1, 3, 6)]
    recs = train_many(cfgs)
    for rec in recs:
        tail = rec["eckart_young_tail"]
        assert rec["approx_error"] >= tail * (1 - 1e-6)  # Eckart–Young is a floor
        assert rec["approx_error"] - tail < 0.03 * tail + 1e-3, rec


def test_training_reaches_reduced_rank_regression_optimum():
    cfg = SyntheticConfig(rank=3, samples=60, noise=0.5, seed=2, **SMALL)
    rec = train(cfg)
    X, Y = sample(cfg, cfg.samples, planted_teacher(cfg))
    W_rrr = reduced_rank_regression(X, Y, 3)
    best = ((Y - X @ W_rrr.T) ** 2).sum(1).mean().item()
    assert rec["train_loss"] == pytest.approx(best, rel=2e-3)
    assert population_risk(planted_teacher(cfg), W_rrr, 0.5).item() == pytest.approx(rec["test_loss"], rel=2e-2)


def test_batched_equals_one_by_one_and_params():
    cfgs = [SyntheticConfig(rank=r, samples=n, seed=s, steps=200, m=8, d=6) for r, n, s in
            [(1, 16, 0), (4, 64, 1), (2, 16, 2)]]
    many = train_many(cfgs)
    for c, rec in zip(cfgs, many):
        one = train(c)
        for k in ("train_loss", "test_loss", "approx_error"):
            assert rec[k] == one[k]
    assert [r["params"] for r in many] == [1 * 14, 4 * 14, 2 * 14]
    assert train(SyntheticConfig(rank=2, m=8, d=6, steps=5, student="lrc"))["params"] == 2 * 6 * 2
