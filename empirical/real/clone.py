"""Rank-r students that clone one real teacher matrix's output from N real input activations.

Teacher: one linear module of the real model, :math:`y = W x + b`, :math:`W \\in \\mathbb{R}^{m \\times d}`,
with its real inputs x (captured by :mod:`empirical.real.activations`). Two students of rank r:

- ``free``: :math:`\\hat y = (x - \\bar x) A V^\\top + \\bar y`, a free rank-r factorization
  (:math:`A \\in \\mathbb{R}^{d\\times r}, V \\in \\mathbb{R}^{m \\times r}`; p(r) = r(m+d) as in THEORY G1),
  fitted as the *empirical risk minimizer*: reduced-rank least squares (Izenman 1975) — ordinary least
  squares (minimum-norm when N <= d) followed by projection on the top-r principal directions of the fitted
  values. Exact, deterministic given the sample.
- ``lrc``: Low-Rank Clone's parametrization (Hao et al. 2025; LRC.md) for one matrix: the student stream is
  :math:`h_S = P x \\in \\mathbb{R}^r` and the student's weight is the teacher's times a projection,
  :math:`\\hat y = W Z h_S + b` (:math:`Z \\in \\mathbb{R}^{d\\times r}`, teacher bias kept), Z and P trainable
  (p(r) = 2rd), init :math:`\\mathcal N(0, 0.02^2)`, full-batch Adam on the clone MSE.

Measured per (matrix, r, N, seed): clone MSE :math:`\\varepsilon^2 = \\mathbb E\\lVert y-\\hat y\\rVert^2`
(per token vector, summed over the m outputs) on the N training tokens and on held-out sequences, the
generalization gap (held-out minus train; the train/held-out split of the captured sequences is drawn from the
run's seed, see :mod:`empirical.real.activations` for why a split shared by all runs biased the gap), and the
information quantities of THEORY I on held-out tokens
by helper C's :func:`empirical.mi.cloning.measure_pair` (columns ``mi_*``): teacher output y and the student
activation :math:`h_S \\in \\mathbb{R}^r` (coordinates of the student output in an orthonormal basis of its
r-dimensional range, so its scale is the output's) both read through Gaussian noise at ``noise_rel`` times
their RMS (a resolution: without it the MI of deterministic maps is infinite); the MI estimates
(``mi_est_<estimator>``), the I1 bound (Kozachenko-Leonenko entropy; affine read-out clone MSE), the I3 (PCA)
bound and the I2 cap, all evaluated through ``bounds.catalog``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

STUDENTS = ("free", "lrc")


@dataclass(frozen=True)
class CloneConfig:
    """One cloning run: student kind, rank r, N training tokens, seed (the train/held-out split of the pool's
    sequences, which N tokens, LRC init), Adam settings
    for ``lrc``, MI noise resolution (relative), and the number of held-out tokens used (0: all)."""

    rank: int
    n_train: int
    student: str = "free"
    seed: int = 0
    steps: int = 300
    lr: float = 1e-2
    init_std: float = 0.02
    noise_rel: float = 0.2
    n_test: int = 4096
    mi: bool = True
    estimators: tuple[str, ...] = ("gaussian",)

    def __post_init__(self):
        if self.student not in STUDENTS:
            raise ValueError(f"student must be one of {STUDENTS}, got {self.student!r}")
        if self.rank < 1 or self.n_train < 2:
            raise ValueError("rank must be >= 1 and n_train >= 2")


def fit_free(x: np.ndarray, y: np.ndarray, rank: int, rcond: float = 1e-12):
    """Reduced-rank least squares, the ERM of rank-r affine maps:
    :math:`\\min_{\\operatorname{rank}B\\le r}\\lVert Y_c - X_c B\\rVert_F^2` with
    :math:`B = B_{\\mathrm{OLS}} V_r V_r^\\top`, :math:`V_r` the top-r eigenvectors of the fitted values' scatter
    :math:`B_{\\mathrm{OLS}}^\\top S_{xx} B_{\\mathrm{OLS}}` (Izenman 1975). :math:`B_{\\mathrm{OLS}} = S_{xx}^{+}S_{xy}`
    (pseudo-inverse by eigendecomposition, eigenvalues below ``rcond`` times the largest dropped: the
    minimum-norm solution when N <= d). Returns ``(A, V, x_mean, y_mean)`` with A = B_OLS V_r."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    xm, ym = x.mean(0), y.mean(0)
    xc, yc = x - xm, y - ym
    sxx, sxy = xc.T @ xc, xc.T @ yc
    lam, U = np.linalg.eigh(sxx)
    keep = lam > rcond * lam.max()
    Uk, lk = U[:, keep], lam[keep]
    B = (Uk / lk) @ (Uk.T @ sxy)
    # B^T S_xx B = C^T C with C = diag(sqrt(lk)) Uk^T B (k x m, k <= d): its right singular vectors are the
    # eigenvectors wanted, at O(d^2 m) instead of O(m^3)
    _, _, vt = np.linalg.svd(np.sqrt(lk)[:, None] * (Uk.T @ B), full_matrices=False)
    V = vt[:rank].T
    if V.shape[1] < rank:                          # rank above rank(X_c): pad with any orthonormal directions
        Q, _ = np.linalg.qr(np.concatenate([V, np.eye(V.shape[0])[:, :rank]], axis=1))
        V = Q[:, :rank]
    return B @ V, V, xm, ym


def fit_lrc(x: np.ndarray, y: np.ndarray, W: np.ndarray, b: np.ndarray, config: CloneConfig):
    """Train LRC's projections Z (d x r) and P (r x d) by full-batch Adam on
    :math:`L = \\frac1N\\sum_i\\lVert W Z P x_i + b - y_i\\rVert^2`. Returns ``(Z, P, losses)`` (float64 numpy).

    The full-batch loss is evaluated exactly through sufficient statistics, at a cost O(r d^2) per step
    independent of N: with :math:`S_{xx} = \\frac1N X^\\top X`, :math:`S_{xy} = \\frac1N X^\\top (Y - b)`,
    :math:`G = W^\\top W` and :math:`H = S_{xy} W`,

    .. math:: L = \\langle Z^\\top G Z,\\; P S_{xx} P^\\top\\rangle - 2\\operatorname{tr}(Z P H)
              + \\tfrac1N\\lVert Y - b\\rVert_F^2 .
    """
    import torch

    g = torch.Generator().manual_seed(config.seed)
    d, r = W.shape[1], config.rank
    x = np.asarray(x, np.float64)
    yb = np.asarray(y, np.float64) - b
    n = x.shape[0]
    W64 = np.asarray(W, np.float64)
    Sxx = torch.as_tensor(x.T @ x / n)
    G = torch.as_tensor(W64.T @ W64)
    H = torch.as_tensor((x.T @ yb / n) @ W64)            # (d, d)
    c = float((yb ** 2).sum() / n)
    Z = (torch.randn(d, r, generator=g, dtype=torch.float64) * config.init_std).requires_grad_()
    P = (torch.randn(r, d, generator=g, dtype=torch.float64) * config.init_std).requires_grad_()
    opt = torch.optim.Adam([Z, P], lr=config.lr)
    losses = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)            # d x d products with d = 384: one thread is fastest, and never spins
    try:
        for _ in range(config.steps):
            opt.zero_grad(set_to_none=True)
            loss = ((Z.T @ G @ Z) * (P @ Sxx @ P.T)).sum() - 2.0 * (Z.T * (P @ H)).sum() + c
            loss.backward()
            opt.step()
            losses.append(loss.item())
    finally:
        torch.set_num_threads(threads)
    return Z.detach().numpy(), P.detach().numpy(), np.asarray(losses)


def _mse(y, yhat) -> float:
    """Clone MSE per token vector: :math:`\\frac1n\\sum_i\\lVert y_i-\\hat y_i\\rVert_2^2`."""
    return float(((np.asarray(y, np.float64) - yhat) ** 2).sum(1).mean())


def clone_run(acts, W: np.ndarray, b: np.ndarray, config: CloneConfig) -> dict:
    """One student trained on ``config.n_train`` tokens and measured on held-out tokens. ``acts``: an
    :class:`empirical.real.activations.Activations` pool; the run's seed chooses its split of the pool's
    sequences into training and held-out ones (:meth:`~empirical.real.activations.Activations.split`: disjoint,
    by sequence), then the N training tokens (seeded, without replacement) among the training sequences' tokens
    and ``n_test`` held-out tokens among the held-out ones. Returns one flat record (config + measurements,
    with ``n_train_seqs``/``n_heldout_seqs`` of the split)."""
    split = acts.split(config.seed)
    rng = np.random.default_rng(config.seed)
    if config.n_train > split.rows_train.size:
        raise ValueError(f"n_train={config.n_train} exceeds the {split.rows_train.size} captured training tokens")
    rows = split.rows_train[rng.choice(split.rows_train.size, size=config.n_train, replace=False)]
    x, y = acts.x[rows].astype(np.float64), acts.y[rows].astype(np.float64)
    n_test = split.rows_test.size if config.n_test in (0, None) else min(config.n_test, split.rows_test.size)
    trows = split.rows_test[np.random.default_rng(10_000 + config.seed).choice(split.rows_test.size, size=n_test,
                                                                                replace=False)]
    xt, yt = acts.x[trows].astype(np.float64), acts.y[trows].astype(np.float64)
    m, d = W.shape
    r = min(config.rank, m, d)

    if config.student == "free":
        A, V, xm, ym = fit_free(x, y, r)
        coords = lambda z: (z - xm) @ A                     # noqa: E731  student activation (isometric coords)
        basis, offset, params = V, ym, r * (m + d)
        # G2's ingredients, measured at the fitted student (not certified constants): the parameter norm R,
        # and the largest per-token gradient norm of the loss in (A, V) on the training tokens, rho:
        # l = ||y - c - x~ A V^T||^2, grad_A = -2 x~ (e V), grad_V = -2 e^T (x~ A)  (outer products)
        xt_c, e = x - xm, y - (coords(x) @ V.T + ym)
        rho = np.sqrt(4 * (xt_c ** 2).sum(1) * ((e @ V) ** 2).sum(1) + 4 * (e ** 2).sum(1) * ((xt_c @ A) ** 2).sum(1))
        extra = {"param_norm": float(np.sqrt((A ** 2).sum() + (V ** 2).sum())), "lipschitz_local": float(rho.max())}
    else:
        Z, P, losses = fit_lrc(x, y, W, b, config)
        Q, R = np.linalg.qr(W @ Z)                          # W Z = Q R, Q orthonormal (m x r)
        coords = lambda z: (z @ P.T) @ R.T                  # noqa: E731
        basis, offset, params = Q, b, 2 * r * d
        extra = {"final_train_loss_adam": float(losses[-1])}

    h_train, h_test = coords(x), coords(xt)
    train_mse = _mse(y, h_train @ basis.T + offset)
    test_mse = _mse(yt, h_test @ basis.T + offset)
    lam = np.clip(np.linalg.eigvalsh(np.cov(yt, rowvar=False))[::-1], 0.0, None)   # held-out teacher spectrum
    loss_max = max(float(((y - (h_train @ basis.T + offset)) ** 2).sum(1).max()),
                   float(((yt - (h_test @ basis.T + offset)) ** 2).sum(1).max()))
    rec = {**asdict(config), "rank": r, "m": m, "d": d, "params": params, "train_mse": train_mse, "loss_max": loss_max,
           "test_mse": test_mse, "gap": test_mse - train_mse, "teacher_var": float(lam.sum()),
           "pca_floor": float(lam[r:].sum()), "n_test_used": n_test, "n_train_seqs": int(split.seqs_train.size),
           "n_heldout_seqs": int(split.seqs_test.size), **extra}
    if config.mi:
        from empirical.mi.cloning import CloningConfig, measure_pair

        shared, per_est = measure_pair(yt, h_test, acts.seq[trows],
                                       CloningConfig(noise_rel=config.noise_rel, estimators=config.estimators),
                                       seed=config.seed)
        rec.update({f"mi_{k}": v for k, v in shared.items() if isinstance(v, (int, float))})
        for est in per_est:
            rec[f"mi_est_{est['estimator']}"] = float(est["mi"])
    return rec
