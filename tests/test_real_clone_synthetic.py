"""clone_run on synthetic activations (no model needed): the ERM matches an independent reduced-rank
regression (sklearn-free: OLS by lstsq, then SVD of the fitted values), and the recorded local Lipschitz
constant equals the largest per-token gradient norm computed by torch autograd."""
from __future__ import annotations

import numpy as np
import torch

from empirical.real.activations import Activations
from empirical.real.clone import CloneConfig, clone_run, fit_free


def _acts(n=600, nt=300, d=20, m=12, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((m, d)) * np.geomspace(1, 0.01, d)
    b = rng.standard_normal(m)
    x, xt = rng.standard_normal((n, d)), rng.standard_normal((nt, d))
    return Activations("t", x, x @ W.T + b, xt, xt @ W.T + b, np.arange(n) // 10, np.arange(nt) // 10), W, b


def test_fit_free_equals_lstsq_then_svd():
    acts, W, b = _acts()
    x, y = acts.x_train, acts.y_train
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
    idx = np.random.default_rng(cfg.seed).choice(acts.x_train.shape[0], size=cfg.n_train, replace=False)
    x, y = acts.x_train[idx], acts.y_train[idx]
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
