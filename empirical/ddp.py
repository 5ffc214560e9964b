r"""Data-parallel training of ONE run (teacher or LRC distillation) with ``torch.distributed`` DDP.

Launch with torchrun (``P`` processes; gloo on CPU, NCCL on CUDA)::

    torchrun --nproc-per-node 2 -m empirical.ddp teacher --steps 600 --batch-size 32 --out teacher.json
    torchrun --nproc-per-node 2 -m empirical.ddp distill --rank 16 --samples 512 --out run.json
    python -m empirical.ddp teacher ...          # without torchrun: one process, the reference run

The batch size is GLOBAL. Every process draws the same global minibatch indices from the same generator as
the single-process run (empirical.train / empirical.distill); process ``k`` of ``P`` takes rows
``[k B/P, (k+1) B/P)``. With equal shard sizes the loss is a mean of per-shard means, so DDP's gradient
average is the full-batch gradient:

.. math:: \nabla \frac{1}{B}\sum_{i=1}^{B}\ell_i = \frac{1}{P}\sum_{k=1}^{P}\nabla\frac{P}{B}\sum_{i\in S_k}\ell_i

(CE and clone-MSE are per-element means; LRC's ``batchmean`` KL is a per-sequence sum divided by the batch,
also a mean over sequences). Gradient clipping, AdamW and the schedule then act on identical gradients in
every process, so the run equals the single-process run up to floating-point summation order. ``B``
must be divisible by ``P`` (a one-line error otherwise). The logged loss is the all-reduced mean.

The model, loss, data, schedule and (for distillation) the objective and teacher-target cache are B's
(empirical.teacher / losses / data / train / distill); only the loop is written here, because
empirical.train and empirical.distill keep their step inline (see the final report: a public
``teacher_step`` / ``distill.objective`` would remove the duplicate loop).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

ENV_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")


# ------------------------------------------------------------------------------------------- process group

def world() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) outside torchrun."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def is_distributed() -> bool:
    """True when launched by torchrun with more than one process (``WORLD_SIZE`` > 1)."""
    return world()[1] > 1


def shard_bounds(global_batch: int, world_size: int, rank: int) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of the global batch that process ``rank`` trains on; raises ValueError unless
    ``global_batch`` is divisible by ``world_size``."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"bad rank {rank} for world size {world_size}")
    if global_batch % world_size:
        raise ValueError(f"global batch size {global_batch} is not divisible by the number of processes "
                         f"{world_size}; choose --batch-size a multiple of {world_size}")
    b = global_batch // world_size
    return rank * b, (rank + 1) * b


def setup(device: str = "auto"):
    """Initialise the process group when running under torchrun (gloo on CPU, NCCL on CUDA) and return
    ``(torch.device, rank, world_size)``. On CUDA each process uses ``cuda:LOCAL_RANK``. On CPU each process
    gets ``cpu_count // LOCAL_WORLD_SIZE`` torch threads."""
    import torch
    import torch.distributed as dist

    from .device import resolve_device

    rank, ws, local = world()
    dev = resolve_device(device)
    if dev.type == "cuda":
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", ws))))
    if ws > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return dev, rank, ws


def teardown() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def _mean_over_ranks(x):
    """All-reduced mean of a detached tensor (identity in one process)."""
    import torch.distributed as dist

    if dist.is_initialized():
        x = x.clone()
        dist.all_reduce(x)
        x /= dist.get_world_size()
    return x


def _wrap(module, dev):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    if not dist.is_initialized():
        return module
    return DDP(module, device_ids=[dev.index] if dev.type == "cuda" else None)


# ------------------------------------------------------------------------------------------- teacher

def train_teacher_ddp(cfg, store=None) -> dict:
    """Train the teacher of ``cfg`` (a :class:`empirical.config.TeacherTrainConfig`) data-parallel; returns
    ``{"record": ..., "state": state_dict}`` on every process (the same on all of them). With ``store`` (an
    :class:`empirical.store.ResultStore`) process 0 stores it under the config's key, exactly where
    :func:`empirical.train.get_teacher` looks, unless a teacher is already stored there.

    Same initialisation, batch stream, AdamW groups, schedule and clipping as
    :func:`empirical.train.train_teacher`; the loss trajectory is the all-reduced global-batch loss.
    """
    import torch

    from .config import config_hash, to_dict
    from .data import make_splits
    from .device import autocast, make_adamw
    from .losses import cross_entropy
    from .teacher import Decoder
    from .train import _check_teacher_cfg, eval_ce, lr_factor, versions

    _check_teacher_cfg(cfg)
    t0 = time.perf_counter()
    dev, rank, ws = setup(cfg.device)
    lo, hi = shard_bounds(cfg.batch_size, ws, rank)
    splits = make_splits(cfg.data)
    g = torch.Generator().manual_seed(cfg.seed)
    model = Decoder(cfg.model, generator=g).to(dev)
    decay = [p for _, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for _, p in model.named_parameters() if p.dim() < 2]
    opt = make_adamw([{"params": decay, "weight_decay": cfg.weight_decay},
                      {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.95))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg.steps, cfg.warmup_frac))
    ddp = _wrap(model, dev)
    data = splits.teacher
    gb = torch.Generator().manual_seed(cfg.seed + 1_000_003)
    losses = []
    model.train()
    for _ in range(cfg.steps):
        idx = torch.randint(data.shape[0], (cfg.batch_size,), generator=gb)  # the global batch, every rank
        batch = data[idx[lo:hi]].to(dev)
        with autocast(dev):
            logits = ddp(batch[:, :-1])
        loss = cross_entropy(logits, batch[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()  # DDP: gradients averaged over ranks
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        losses.append(_mean_over_ranks(loss.detach()).item())
    model.eval()
    train_s = time.perf_counter() - t0
    held = eval_ce(model, splits.heldout, dev)
    record = {"track": "teacher", "config": to_dict(cfg), "config_hash": config_hash(cfg), "seed": cfg.seed,
              "versions": versions(), "device": str(dev), "status": "ok", "failure_reason": None,
              "world_size": ws, "wall_s": time.perf_counter() - t0, "train_s": train_s,
              "tokens_per_s": cfg.steps * cfg.batch_size * cfg.model.context / train_s,
              "params": model.num_params(), "teacher_sequences": int(data.shape[0]), "test_loss": held,
              "train_loss_last": sum(losses[-20:]) / max(1, len(losses[-20:])),
              "trajectory": {"step": list(range(cfg.steps)), "train_loss": losses}}
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    if store is not None and rank == 0:
        from .locking import run_once

        record = run_once(store, record["config_hash"], lambda: (record, state))[0]
    return {"record": record, "state": state}


# ------------------------------------------------------------------------------------------- distillation

def distill_ddp(cfg, store=None) -> dict:
    """One LRC distillation (a :class:`empirical.config.DistillConfig`) data-parallel; returns a record with
    the per-step all-reduced minibatch objective (``trajectory.minibatch_objective``, comparable with
    :func:`empirical.distill.distill`'s), and held-out/train CE measured at the end.

    The teacher comes from the store (trained by process 0 if missing, the others wait at a barrier).
    """
    import torch
    import torch.distributed as dist
    from torch import nn

    from .config import CLONE_TERMS, config_hash, to_dict
    from .data import make_splits
    from .device import make_adamw
    from .distill import _evaluate, _objective, _per_student_clip, _Targets, validate
    from .lrc import LRCStudent
    from .train import get_teacher, lr_factor, versions

    validate(cfg)
    t0 = time.perf_counter()
    dev, rank, ws = setup(cfg.device)
    lo, hi = shard_bounds(cfg.batch_size, ws, rank)
    if rank == 0:
        teacher, _ = get_teacher(cfg.teacher, store=store)
    if dist.is_initialized():
        dist.barrier()
    if rank != 0:
        teacher, _ = get_teacher(cfg.teacher, store=store)
    splits = make_splits(cfg.teacher.data)
    terms = tuple(cfg.clone_terms) if cfg.alpha else ()
    student = LRCStudent(teacher, cfg.rank, seeds=[cfg.seed], init=cfg.init, init_std=cfg.init_std).to(dev)
    params = student.trainable_parameters()
    pool = splits.student_pool[:cfg.samples]
    targets = _Targets(student, pool, terms, cfg.tau, budget_mb=cfg.teacher_cache_max_mb, dev=dev)
    pool_dev = pool.to(dev)

    class _Objective(nn.Module):  # DDP needs a module whose forward returns the loss
        def __init__(self):
            super().__init__()
            self.student = student

        def forward(self, tok, idx):
            return _objective(self.student, tok, idx, targets, cfg, terms)[0]

    ddp = _wrap(_Objective(), dev)
    if cfg.optimizer == "adamw":
        opt = make_adamw(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg.steps, cfg.warmup_frac, cfg.schedule))
    gen = torch.Generator().manual_seed(cfg.seed + 1_000_003)
    objs = []
    for _ in range(cfg.steps):
        idx = torch.randint(cfg.samples, (cfg.batch_size,), generator=gen)[None]  # (1, B) global batch
        local = idx[:, lo:hi]
        obj = ddp(pool_dev[local.to(dev)], local)
        opt.zero_grad(set_to_none=True)
        obj.sum().backward()
        if cfg.grad_clip:
            _per_student_clip(params, cfg.grad_clip)
        opt.step()
        sched.step()
        objs.append(_mean_over_ranks(obj.detach().double()).item())
    train_s = time.perf_counter() - t0
    E = min(cfg.samples, cfg.eval_sequences)
    ev_train = _evaluate(student, pool[:E], cfg, dev, terms=())
    ev_test = _evaluate(student, splits.heldout[:cfg.eval_sequences], cfg, dev, terms=CLONE_TERMS)
    train, test = float(ev_train["ce"][0]), float(ev_test["ce"][0])
    return {"track": "transformer", "config": to_dict(cfg), "config_hash": config_hash(cfg), "seed": cfg.seed,
            "versions": versions(), "device": str(dev), "status": "ok", "failure_reason": None,
            "world_size": ws, "wall_s": time.perf_counter() - t0, "train_s": train_s,
            "rank": cfg.rank, "samples": cfg.samples, "params": student.num_trainable_per_student(),
            "train_loss": train, "test_loss": test, "gap": test - train,
            "trajectory": {"step": list(range(cfg.steps)), "minibatch_objective": objs}}


# ------------------------------------------------------------------------------------------- CLI

def _parser() -> argparse.ArgumentParser:
    from bounds.cliutil import OneLineParser, positive_float, positive_int

    p = OneLineParser(prog="python -m empirical.ddp",
                      description="data-parallel teacher training / LRC distillation (launch with torchrun)")
    sub = p.add_subparsers(dest="what", required=True, parser_class=OneLineParser)
    for name in ("teacher", "distill"):
        s = sub.add_parser(name)
        s.add_argument("--config", default=None, metavar="JSON",
                       help="a config as written by empirical.config.to_dict (flags below then ignored)")
        s.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
        s.add_argument("--d-model", type=positive_int, default=64)
        s.add_argument("--n-layers", type=positive_int, default=2)
        s.add_argument("--n-heads", type=positive_int, default=4)
        s.add_argument("--context", type=positive_int, default=64)
        s.add_argument("--steps", type=positive_int, default=None)
        s.add_argument("--batch-size", type=positive_int, default=32, help="GLOBAL batch (divisible by processes)")
        s.add_argument("--lr", type=positive_float, default=None)
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--out", default=None, help="write the record as JSON here (process 0)")
        s.add_argument("--cache", default=None, help="result store (default $LRKD_CACHE or ~/.cache/lrkd): the "
                       "teacher is read from it (distill) and, with --store, written to it (teacher)")
        s.add_argument("--store", action="store_true", help="teacher: store the trained teacher in --cache")
        if name == "distill":
            s.add_argument("--rank", type=positive_int, default=16)
            s.add_argument("--samples", type=positive_int, default=512)
            s.add_argument("--teacher-steps", type=positive_int, default=600)
    return p


def config_from_args(args):
    """The run config named by ``--config`` or built from the flags."""
    from .config import DataConfig, DistillConfig, TeacherConfig, TeacherTrainConfig, from_dict

    cls = TeacherTrainConfig if args.what == "teacher" else DistillConfig
    if args.config:
        with open(args.config) as fh:
            return from_dict(cls, json.load(fh))
    d_ff = int(round(args.d_model * 8 / 3 / 4)) * 4
    model = TeacherConfig(d_model=args.d_model, n_layers=args.n_layers, n_heads=args.n_heads,
                          n_kv_heads=args.n_heads, d_ff=d_ff, context=args.context)
    extra = {"lr": args.lr} if args.lr is not None else {}
    if args.what == "teacher":
        return TeacherTrainConfig(model=model, data=DataConfig(context=args.context), steps=args.steps or 600,
                                  batch_size=args.batch_size, seed=args.seed, device=args.device, **extra)
    teacher = TeacherTrainConfig(model=model, data=DataConfig(context=args.context), steps=args.teacher_steps,
                                 device=args.device)
    return DistillConfig(teacher=teacher, rank=args.rank, samples=args.samples, steps=args.steps or 400,
                         batch_size=args.batch_size, seed=args.seed, device=args.device, **extra)


def main(argv=None) -> int:
    from bounds.cliutil import UsageError, _jsonable

    args = _parser().parse_args(argv)
    try:
        cfg = config_from_args(args)
        _, ws, _ = world()
        shard_bounds(cfg.batch_size, ws, 0)  # fail fast, before the process group, with one line
        from .store import ResultStore

        store = ResultStore(args.cache)
        if args.what == "teacher":
            rec = train_teacher_ddp(cfg, store=store if args.store else None)["record"]
        else:
            rec = distill_ddp(cfg, store=store)
    except (UsageError, ValueError) as exc:
        print(f"empirical.ddp {args.what}: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    finally:
        teardown()
    if world()[0] == 0:
        text = json.dumps(_jsonable(rec), allow_nan=False)
        if args.out:
            with open(args.out, "w") as fh:
                fh.write(text)
        summary = {k: rec.get(k) for k in ("track", "world_size", "test_loss", "train_s")}
        print(json.dumps(_jsonable(summary)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
