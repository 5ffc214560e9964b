"""Synthetic track: one dataset per (seed, N), one planted teacher per track (INFERENCE.md rule 1).

Planted facts checked on the drawn data: a run's X and noise come from its (seed, N) only, so two seeds draw
different data, two N at one seed are independent draws (not the first rows of one pool), every rank / optimizer /
horizon at one (seed, N) trains on the same sample, and the teacher W is the same for every run of a track.
"""
import numpy as np
import pytest

from empirical.sweep import presets, runners
from empirical.synthetic import SyntheticConfig, dataset, solve


def _cfg(**kw):
    return SyntheticConfig(**{"m": 10, "d": 8, "noise": 0.5, **kw})


def test_two_seeds_at_one_n_draw_different_data_under_one_teacher():
    W0, _, X0, Y0 = dataset(_cfg(seed=0, samples=64))
    W1, _, X1, Y1 = dataset(_cfg(seed=1, samples=64))
    np.testing.assert_array_equal(W0, W1)
    assert not np.allclose(X0, X1)
    # the noise differs too (not only the inputs)
    assert not np.allclose(Y0 - X0 @ W0.T, Y1 - X1 @ W1.T)


def test_two_n_at_one_seed_are_not_nested():
    _, _, Xs, Ys = dataset(_cfg(seed=3, samples=32))
    W, _, Xl, Yl = dataset(_cfg(seed=3, samples=64))
    assert not np.allclose(Xs, Xl[:32])
    # no row of the small sample appears anywhere in the large one (independent draws, not a sub-pool)
    dist = np.min(np.linalg.norm(Xs[:, None, :] - Xl[None, :, :], axis=2), axis=1)
    assert dist.min() > 1e-6
    assert not np.allclose(Ys - Xs @ W.T, (Yl - Xl @ W.T)[:32])


def test_every_rank_optimizer_and_horizon_at_one_seed_and_n_shares_the_dataset():
    base = dict(seed=2, samples=48)
    runs = [_cfg(rank=1, **base), _cfg(rank=4, **base),
            _cfg(rank=2, optimizer="sgd", steps=5, experiment="conv", **base),
            _cfg(rank=2, optimizer="sgd", steps=7, experiment="horizon", lr_rule="c1_horizon", n_log_points=0, **base)]
    drawn = [solve(c) for c in runs]
    for _, W, _, X, Y in drawn[1:]:
        np.testing.assert_array_equal(X, drawn[0][3])
        np.testing.assert_array_equal(Y, drawn[0][4])
        np.testing.assert_array_equal(W, drawn[0][1])


def test_teacher_is_fixed_by_the_grid_teacher_seed_not_by_the_run_seed():
    grid = presets.get_preset("smoke").synthetic
    cfgs = runners.synthetic_configs(grid)
    assert {c.seed for c in cfgs} == set(grid.seeds) and len(grid.seeds) >= 2
    teachers = {c.teacher_seed for c in cfgs}
    assert teachers == {grid.teacher_seed}
    Ws = [dataset(c)[0] for c in cfgs[:: max(1, len(cfgs) // 7)]]
    for W in Ws[1:]:
        np.testing.assert_array_equal(W, Ws[0])
    # another teacher seed is another planted teacher, with the same spectrum
    W_other = dataset(cfgs[0].__class__(**{**cfgs[0].__dict__, "teacher_seed": grid.teacher_seed + 1}))[0]
    assert not np.allclose(W_other, Ws[0])
    np.testing.assert_allclose(np.linalg.svd(W_other, compute_uv=False), np.linalg.svd(Ws[0], compute_uv=False))


@pytest.mark.parametrize("field", ["rank", "optimizer", "steps"])
def test_dataset_does_not_depend_on_run_settings(field):
    value = {"rank": 5, "optimizer": "sgd", "steps": 11}[field]
    a, b = dataset(_cfg(seed=4, samples=40)), dataset(_cfg(seed=4, samples=40, **{field: value}))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
