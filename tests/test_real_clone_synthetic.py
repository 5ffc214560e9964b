"""clone_run on synthetic activations (no model needed): the ERM matches an independent reduced-rank
regression (sklearn-free: OLS by lstsq, then SVD of the fitted values), and the recorded local Lipschitz
constant equals the largest per-token gradient norm computed by torch autograd."""
from __future__ import annotations

import numpy as np
import torch

from empirical.real.activations import SPLIT_STREAM, Activations
from empirical.real.clone import CloneConfig, clone_run, fit_free


def _acts(n=900, d=20, m=12, seed=0):
    """A pool of n rows in sequences of 10; each run trains on 60 of the 90 sequences."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((m, d)) * np.geomspace(1, 0.01, d)
    b = rng.standard_normal(m)
    x = rng.standard_normal((n, d))
    return Activations("t", x, x @ W.T + b, np.arange(n) // 10, n_train_seqs=60), W, b


def test_fit_free_equals_lstsq_then_svd():
    acts, W, b = _acts()
    x, y = acts.x[:600], acts.y[:600]
    for r in (1, 3, 8):
        A, V, xm, ym = fit_free(x, y, r)
        xc, yc = x - x.mean(0), y - y.mean(0)
        B = np.linalg.lstsq(xc, yc, rcond=None)[0]
        _, _, vt = np.linalg.svd(xc @ B, full_matrices=False)
        ref = B @ vt[:r].T @ vt[:r]
        np.testing.assert_allclose(A @ V.T, ref, atol=1e-9)


def test_lipschitz_local_is_max_autograd_gradient_norm():
    acts, W, b = _acts()
    cfg = CloneConfig(rank=4, n_train=200, mi=False, n_test=0, seed=1)
    rec = clone_run(acts, W, b, cfg)
    # independent re-derivation of the run's rows: its seed's split (60 of the 90 sequences), then N of their rows
    perm = np.random.default_rng([cfg.seed, SPLIT_STREAM]).permutation(90)
    train_rows = np.flatnonzero(np.isin(np.arange(900) // 10, perm[:60]))
    idx = train_rows[np.random.default_rng(cfg.seed).choice(train_rows.size, size=cfg.n_train, replace=False)]
    x, y = acts.x[idx], acts.y[idx]
    A0, V0, xm, ym = fit_free(x, y, 4)
    norms = []
    for i in range(x.shape[0]):
        A = torch.tensor(A0, requires_grad=True)
        V = torch.tensor(V0, requires_grad=True)
        pred = torch.tensor(x[i] - xm) @ A @ V.T + torch.tensor(ym)
        loss = ((torch.tensor(y[i]) - pred) ** 2).sum()
        gA, gV = torch.autograd.grad(loss, [A, V])
        norms.append(float(torch.sqrt((gA ** 2).sum() + (gV ** 2).sum())))
    assert rec["lipschitz_local"] == np.float64(max(norms)) or abs(rec["lipschitz_local"] - max(norms)) < 1e-8 * max(norms)
    assert rec["param_norm"] == np.sqrt((A0 ** 2).sum() + (V0 ** 2).sum())
    errs = ((y - ((x - xm) @ A0 @ V0.T + ym)) ** 2).sum(1)
    assert rec["train_mse"] == np.mean(errs) or abs(rec["train_mse"] - np.mean(errs)) < 1e-10 * np.mean(errs)
