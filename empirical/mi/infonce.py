r"""InfoNCE lower bound on mutual information with a small torch critic (van den Oord et al. 2018;
Poole et al. 2019, "On variational bounds of mutual information", eq. 12).

For a critic f and batches of B paired samples,

.. math:: I(X;Y) \ge I_{\rm NCE} = \mathbb E\Big[\frac1B\sum_{i=1}^B
          \log\frac{e^{f(x_i,y_i)}}{\frac1B\sum_{j=1}^B e^{f(x_i,y_j)}}\Big] \le \log B.

So the estimate can never exceed :math:`\log B` (the *ceiling*, reported beside it): when the true MI is
near or above log B the estimate saturates and says nothing. The critic is trained on a train split and
the bound is evaluated on the held-out split (an estimate on the training split is optimistic). Early
stopping: a fifth of the train split is kept for validation, checked every ``eval_every`` steps, and the
critic with the best validation bound is the one evaluated on the held-out split (the critic overfits fast
when samples are few relative to dimensions, and an overfit critic gives a negative held-out bound).

**When the result warns** (``InfoNCEResult.warning``, one line; :func:`infonce_warning`):

- *Ceiling.* The estimate is within :data:`SATURATION_MARGIN` = 2 nats of log B: the bound saturates below
  its ceiling (measured, 1+1 dims, N = 4000, B = 128, ceiling 4.85: truth 1, 2, 3, 4, 6 nats gives 0.94,
  1.90, 2.78, 3.35, 3.45), so beyond log B - 2 the truth may be far higher.
- *Overfitting* (dimension large for the sample size). The training-split value exceeds the held-out bound
  by more than :data:`OVERFIT_GAP` = 1 nat (measured at 2 nats of truth: 16+16 dims, N = 1000: train 4.85,
  held-out 0.51; N = 4000: 3.70 vs 1.26; 32+32, N = 1792 at 4 nats: 4.85 vs 0.60; in 1+1 the two agree to
  0.2): the held-out bound is then far below the truth.

Critics: ``"separable"`` :math:`f(x,y)=g(x)^\top h(y)` (two MLPs; all B^2 scores from one matrix product)
or ``"concat"`` :math:`f(x,y)=\mathrm{MLP}([x;y])` evaluated on all B^2 pairs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .samples import as_samples


@dataclass(frozen=True)
class InfoNCEConfig:
    """Critic and training settings of :func:`infonce_mi`."""

    critic: str = "separable"  # "separable" or "concat"
    hidden: int = 128  # MLP width
    layers: int = 2  # hidden layers per MLP
    embed: int = 32  # output width of g and h (separable critic)
    batch_size: int = 128  # B: the ceiling is log(B)
    steps: int = 400  # Adam steps on the train split
    lr: float = 2e-3
    train_fraction: float = 0.5
    eval_every: int = 25  # validation checks for early stopping
    threads: int = 1  # torch intra-op threads while training (small MLPs are fastest on one; restored after)
    seed: int = 0


@dataclass(frozen=True)
class InfoNCEResult:
    """Result of :func:`infonce_mi`: held-out estimate ``mi`` (nats), its ``ceiling`` = log(batch_size),
    the last-100-step average on the fitting split ``train_mi``, the step of the critic kept by early
    stopping ``best_step``, and the sizes used."""

    mi: float
    ceiling: float
    train_mi: float
    batch_size: int
    n_train: int
    n_test: int
    critic: str
    steps: int
    best_step: int
    warning: str = ""


#: InfoNCE warns when its estimate is within this many nats of log B (module docstring)
SATURATION_MARGIN = 2.0
#: ... or when the training-split value exceeds the held-out bound by more than this (an overfit critic)
OVERFIT_GAP = 1.0


def infonce_warning(mi: float, ceiling: float, train_mi: float) -> str:
    """One line saying why an InfoNCE estimate is known to be biased down, or ``""`` (module docstring)."""
    reasons = []
    if mi > ceiling - SATURATION_MARGIN:
        reasons.append(f"estimate {mi:.2f} within {SATURATION_MARGIN:g} nats of its ceiling log B = {ceiling:.2f} "
                       "(saturated: the truth may be far higher; raise the batch size)")
    if np.isfinite(train_mi) and train_mi - mi > OVERFIT_GAP:
        reasons.append(f"the critic overfits (training split {train_mi:.2f} vs held-out {mi:.2f}: "
                       "too few samples for the dimension)")
    return ("InfoNCE biased towards 0: " + "; ".join(reasons)) if reasons else ""


def _mlp(torch, d_in: int, d_out: int, hidden: int, layers: int):
    mods, d = [], d_in
    for _ in range(layers):
        mods += [torch.nn.Linear(d, hidden), torch.nn.ReLU()]
        d = hidden
    mods.append(torch.nn.Linear(d, d_out))
    return torch.nn.Sequential(*mods)


def _make_critic(torch, dx: int, dy: int, cfg: InfoNCEConfig):
    """Return (modules, scores) where scores(xb, yb) is the B x B matrix f(x_i, y_j)."""
    if cfg.critic == "separable":
        g = _mlp(torch, dx, cfg.embed, cfg.hidden, cfg.layers)
        h = _mlp(torch, dy, cfg.embed, cfg.hidden, cfg.layers)

        def scores(xb, yb):
            return g(xb) @ h(yb).T

        return torch.nn.ModuleList([g, h]), scores
    if cfg.critic == "concat":
        f = _mlp(torch, dx + dy, 1, cfg.hidden, cfg.layers)

        def scores(xb, yb):
            b = xb.shape[0]
            pairs = torch.cat([xb[:, None, :].expand(b, b, dx), yb[None, :, :].expand(b, b, dy)], dim=-1)
            return f(pairs).squeeze(-1)

        return torch.nn.ModuleList([f]), scores
    raise ValueError(f"critic must be 'separable' or 'concat', got {cfg.critic!r}")


def infonce_bound(torch, s):
    r"""InfoNCE value of one B x B score matrix ``s`` (torch tensor): :math:`\frac1B\sum_i [s_{ii} -
    \operatorname{logsumexp}_j s_{ij}] + \log B`."""
    b = s.shape[0]
    return (torch.diagonal(s) - torch.logsumexp(s, dim=1)).mean() + math.log(b)


def infonce_mi(x, y, config: InfoNCEConfig | None = None, **overrides) -> InfoNCEResult:
    """Train an InfoNCE critic on a train split of the paired rows of ``x``, ``y`` and return the held-out
    bound (nats) with its log(batch) ceiling. ``overrides`` replace fields of ``config``."""
    import torch

    cfg = replace(config or InfoNCEConfig(), **overrides)
    x, y = as_samples(x, y, min_samples=8)
    n = x.shape[0]
    rng = np.random.default_rng(cfg.seed)
    perm = rng.permutation(n)
    n_train = int(round(cfg.train_fraction * n))
    n_train = min(max(n_train, 6), n - 2)
    tr_all, te = perm[:n_train], perm[n_train:]
    n_val = max(2, n_train // 5)
    fit, val = tr_all[n_val:], tr_all[:n_val]
    b = int(min(cfg.batch_size, len(fit), len(te)))
    if b < 2:
        raise ValueError("InfoNCE needs a batch of at least 2 in each split")
    mx, sx = x[tr_all].mean(0), x[tr_all].std(0)
    my, sy = y[tr_all].mean(0), y[tr_all].std(0)
    sx[sx == 0] = 1.0
    sy[sy == 0] = 1.0
    xt = torch.from_numpy(((x - mx) / sx).astype(np.float32))
    yt = torch.from_numpy(((y - my) / sy).astype(np.float32))

    old_threads = torch.get_num_threads()
    torch.set_num_threads(max(1, int(cfg.threads)))
    try:
        return _train_and_evaluate(torch, cfg, x, y, xt, yt, fit, val, te, tr_all, b, rng)
    finally:
        torch.set_num_threads(old_threads)


def _train_and_evaluate(torch, cfg, x, y, xt, yt, fit, val, te, tr_all, b, rng) -> InfoNCEResult:
    scores = None

    def evaluate(rows) -> float:
        bb = min(b, len(rows))
        order = rng.permutation(rows)
        with torch.no_grad():
            vals = [float(infonce_bound(torch, scores(xt[i], yt[i])))
                    for i in (torch.from_numpy(order[j * bb:(j + 1) * bb]) for j in range(len(order) // bb))]
        return float(np.mean(vals))

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        modules, scores = _make_critic(torch, x.shape[1], y.shape[1], cfg)
        opt = torch.optim.Adam(modules.parameters(), lr=cfg.lr)
        history = []
        best_val, best_step = evaluate(val), 0
        best_state = {k: v.clone() for k, v in modules.state_dict().items()}
        for step in range(1, cfg.steps + 1):
            idx = torch.from_numpy(rng.choice(fit, size=b, replace=False))
            value = infonce_bound(torch, scores(xt[idx], yt[idx]))
            opt.zero_grad(set_to_none=True)
            (-value).backward()
            opt.step()
            history.append(float(value.detach()))
            if step % cfg.eval_every == 0 or step == cfg.steps:
                v = evaluate(val)
                if v > best_val:
                    best_val, best_step = v, step
                    best_state = {k: t.clone() for k, t in modules.state_dict().items()}
        modules.load_state_dict(best_state)
        mi = evaluate(te)
    train_mi = float(np.mean(history[-100:])) if history else float("nan")
    return InfoNCEResult(mi=mi, ceiling=math.log(b), train_mi=train_mi, batch_size=b, n_train=len(tr_all),
                         n_test=len(te), critic=cfg.critic, steps=cfg.steps, best_step=best_step,
                         warning=infonce_warning(mi, math.log(b), train_mi))
