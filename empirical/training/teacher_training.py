r"""Training loops: the teacher (:func:`train_teacher`, cached by :func:`get_teacher`) and LRC distillation
(:func:`distill` for one run, :func:`distill_many` for many in stacked batches), each returning one result
record (notes/RECORD.md).

Distillation objective per student (empirical.training.losses; LRC, shared/LRC.md):

.. math:: \mathcal L = w_{ce}\,\mathrm{CE} + w_{kl}\,\mathrm{KL}_\tau(p_T\|p_S) + \alpha\sum_{l}\sum_{t}\mathrm{MSE}_{l,t}

with KL in LRC's ``batchmean`` reduction (sum over tokens / sequences, no τ²). Minibatches are drawn
uniformly with replacement from the N training sequences (unbiased stochastic gradients, as C1 assumes).
AdamW or SGD(+momentum); linear schedule (warmup then linear decay to 0) or constant; per-student grad
clipping.

:func:`distill_many` groups configs that differ only in ``seed`` and ``samples`` (students with N below the
probe/eval sizes are grouped by exact N) and trains each group as one stacked model (empirical.models.lrc): the
students share the batched matmuls but nothing else — each has its own initialisation, minibatch stream,
gradient clipping and optimizer state — so its record equals the one-by-one run's up to float rounding.
"""
from __future__ import annotations

import math
import platform
import sys
import time

import numpy as np
import torch

from bounds.errors import UsageError

from empirical.config import TeacherTrainConfig, config_hash, package_version, to_dict
from empirical.data.corpus import make_splits
from empirical.runtime.clock import fmt_duration
from empirical.runtime.device import autocast, resolve_device
from empirical.runtime.optim import make_adamw
from empirical.cache.locking import run_once
from empirical.training.losses import cross_entropy
from empirical.cache.store import ResultStore
from empirical.models.teacher import Decoder

_EVAL_CHUNK = 64


def versions() -> dict:
    """Versions recorded in every result."""
    return {"lrkd": package_version(), "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def lr_factor(step: int, steps: int, warmup_frac: float, schedule: str = "linear") -> float:
    """Multiplier of the base learning rate at ``step``: linear warmup over ceil(warmup_frac·steps) steps,
    then linear decay to 0 at ``steps`` (LRC's schedule), or 1 throughout for ``constant``."""
    if schedule == "constant":
        return 1.0
    warm = max(1, math.ceil(warmup_frac * steps)) if warmup_frac > 0 else 0
    if step < warm:
        return (step + 1) / warm
    return max(0.0, (steps - step) / max(1, steps - warm))


# ====================================================================== teacher

def _check_teacher_cfg(cfg: TeacherTrainConfig) -> None:
    m = cfg.model
    if m.context != cfg.data.context:
        raise UsageError(f"teacher context {m.context} differs from the data context {cfg.data.context}")
    if m.n_heads % m.n_kv_heads:
        raise UsageError(f"n_heads={m.n_heads} must be a multiple of n_kv_heads={m.n_kv_heads}")
    if m.hd % 2:
        raise UsageError(f"head_dim must be even for RoPE, got {m.hd}")


@torch.no_grad()
def eval_ce(model: Decoder, tokens: torch.Tensor, device, chunk: int = _EVAL_CHUNK) -> float:
    """Mean next-token CE (nats/token) of ``model`` on sequences (n, context+1)."""
    tot, n = 0.0, 0
    for i in range(0, tokens.shape[0], chunk):
        b = tokens[i:i + chunk].to(device)
        with autocast(device):
            logits = model(b[:, :-1])
        tot += cross_entropy(logits, b[:, 1:], reduction="sum").item()
        n += b[:, 1:].numel()
    return tot / n


def make_teacher_optimizer(model: Decoder, cfg: TeacherTrainConfig):
    """``(optimizer, scheduler)`` of the teacher recipe: fused AdamW (betas 0.9, 0.95; weight decay on
    matrices only), warmup + linear decay (:func:`lr_factor`) stepped once per step."""
    decay = [p for _, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for _, p in model.named_parameters() if p.dim() < 2]
    opt = make_adamw([{"params": decay, "weight_decay": cfg.weight_decay},
                      {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.95))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg.steps, cfg.warmup_frac))
    return opt, sched


def teacher_step(forward, model: Decoder, batch: torch.Tensor, opt, sched, grad_clip: float) -> torch.Tensor:
    """One teacher update on ``batch`` (b, context+1): next-token CE of ``forward`` (the model, or a wrapper
    such as DDP), backward, clip ``model``'s gradient norm, optimizer and scheduler step. Returns the
    detached loss."""
    dev = batch.device
    with autocast(dev):
        logits = forward(batch[:, :-1])
    loss = cross_entropy(logits, batch[:, 1:])
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    opt.step()
    sched.step()
    return loss.detach()


def train_teacher(cfg: TeacherTrainConfig, *, device=None, batch_slicer=None, wrap=None,
                  reduce=None, compile: bool = False, log=None) -> tuple[Decoder, dict]:
    """Train one teacher on the teacher part of the split (AdamW, warmup + linear decay, grad clip).

    Returns the model (eval mode, frozen, on the config's device or ``device``) and its record (track
    ``teacher``). Data parallelism (empirical.training.ddp): every process draws the same GLOBAL batch indices;
    ``batch_slicer(idx)`` keeps this process's rows, ``wrap(model)`` is the forward (e.g. DDP, which
    averages gradients in backward), ``reduce(loss)`` the logged global loss. Defaults: one process.
    ``log(line)``, when given, receives a progress line about every 10 % of the steps (:func:`progress_line`).
    """
    _check_teacher_cfg(cfg)
    t0 = time.perf_counter()
    dev = resolve_device(cfg.device) if device is None else torch.device(device)
    splits = make_splits(cfg.data)
    g = torch.Generator().manual_seed(cfg.seed)
    model = Decoder(cfg.model, generator=g).to(dev)
    opt, sched = make_teacher_optimizer(model, cfg)
    forward = wrap(model) if wrap is not None else model
    if compile:
        forward = torch.compile(forward)
    data = splits.teacher
    gb = torch.Generator().manual_seed(cfg.seed + 1_000_003)
    losses = []
    model.train()
    every = max(1, math.ceil(cfg.steps / 10))
    for step in range(cfg.steps):
        idx = torch.randint(data.shape[0], (cfg.batch_size,), generator=gb)  # the global batch
        if batch_slicer is not None:
            idx = batch_slicer(idx)
        loss = teacher_step(forward, model, data[idx].to(dev), opt, sched, cfg.grad_clip)
        losses.append((reduce(loss) if reduce is not None else loss).item())
        if log is not None and ((step + 1) % every == 0 or step + 1 == cfg.steps):
            log(progress_line(step + 1, cfg.steps, losses[-1], time.perf_counter() - t0))
    model.eval()
    train_s = time.perf_counter() - t0
    held = eval_ce(model, splits.heldout, dev)
    record = {
        "track": "teacher", "config": to_dict(cfg), "config_hash": config_hash(cfg), "seed": cfg.seed,
        "versions": versions(), "device": str(dev), "status": "ok" if math.isfinite(held) else "failed",
        "failure_reason": None if math.isfinite(held) else "non-finite held-out loss",
        "wall_s": time.perf_counter() - t0, "train_s": train_s,
        "tokens_per_s": cfg.steps * cfg.batch_size * cfg.model.context / train_s, "compiled": bool(compile),
        "params": model.num_params(), "teacher_sequences": int(data.shape[0]),
        "test_loss": held, "train_loss_last": float(np.mean(losses[-20:])) if losses else float("nan"),
        "trajectory": {"step": list(range(cfg.steps)), "train_loss": losses},
    }
    for p in model.parameters():
        p.requires_grad_(False)
    return model, record


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def progress_line(step: int, steps: int, loss: float, elapsed_s: float) -> str:
    """``teacher step 60/600 (10%): loss 3.2100, elapsed 0:12, ETA 1:48`` (ETA = elapsed x remaining / done
    steps: the steps cost the same)."""
    eta = elapsed_s * (steps - step) / max(1, step)
    return (f"teacher step {step}/{steps} ({100 * step // max(1, steps)}%): loss {loss:.4f}, "
            f"elapsed {fmt_duration(elapsed_s)}, ETA {fmt_duration(eta)}")


_TEACHERS: dict = {}


def get_teacher(cfg: TeacherTrainConfig, store: ResultStore | None = None, force: bool = False,
                verbose: bool = False, compile: bool = False) -> tuple[Decoder, dict]:
    """The teacher for ``cfg``: from this process's memo, else the store (default cache root), else trained
    (through ``torch.compile`` when ``compile``, see :func:`train_teacher`) and stored. The returned model is
    frozen and in eval mode."""
    _check_teacher_cfg(cfg)
    key = config_hash(cfg)
    dev = resolve_device(cfg.device)
    if not force and key in _TEACHERS:
        state, record = _TEACHERS[key]
    else:
        store = store if store is not None else ResultStore()
        hit = None if force else store.get_with_arrays(key)
        if hit is not None:
            record, arrays = hit
            state = {k: torch.from_numpy(v.copy()) for k, v in arrays.items()}
            record = dict(record, from_cache=True)
        else:
            trained = {}

            def compute():  # under the key's lock: two processes sharing a store train a teacher once
                if verbose:
                    print(f"training teacher {key[:12]} ({cfg.steps} steps) ...", file=sys.stderr, flush=True)
                model, rec = train_teacher(cfg, compile=compile, log=_stderr if verbose else None)
                trained["state"] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                return rec, trained["state"]

            record, computed = run_once(store, key, compute, force=force)
            if computed:
                state = trained["state"]
            else:  # another process stored it while this one waited for the lock
                record, arrays = store.get_with_arrays(key)
                state = {k: torch.from_numpy(v.copy()) for k, v in arrays.items()}
            record = dict(record, from_cache=not computed)
        _TEACHERS[key] = (state, record)
    model = Decoder(cfg.model)
    model.load_state_dict(state)
    model = model.to(dev).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, record

