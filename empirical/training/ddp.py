r"""Data-parallel training of ONE run (teacher or LRC distillation) with ``torch.distributed`` DDP.

Launch with torchrun (``P`` processes; gloo on CPU, NCCL on CUDA)::

    torchrun --nproc-per-node 2 -m empirical.training.ddp teacher --steps 600 --batch-size 32 --out teacher.json
    torchrun --nproc-per-node 2 -m empirical.training.ddp distill --rank 16 --samples 512 --out run.json
    python -m empirical.training.ddp teacher ...          # without torchrun: one process, the reference run
    torchrun --no-python --nproc-per-node 2 lrkd distill --rank 16 --samples 512 --json   # the CLI, same

The batch size is GLOBAL. Every process draws the same global minibatch indices from the same generator as
the single-process run (empirical.training.teacher_training / empirical.training.distill); process ``k`` of ``P`` takes rows
``[k B/P, (k+1) B/P)``. With equal shard sizes the loss is a mean of per-shard means, so DDP's gradient
average is the full-batch gradient:

.. math:: \nabla \frac{1}{B}\sum_{i=1}^{B}\ell_i = \frac{1}{P}\sum_{k=1}^{P}\nabla\frac{P}{B}\sum_{i\in S_k}\ell_i

(CE and clone-MSE are per-element means; LRC's ``batchmean`` KL is a per-sequence sum divided by the batch,
also a mean over sequences). Gradient clipping, AdamW and the schedule then act on identical gradients in
every process, so the run equals the single-process run up to floating-point summation order. ``B``
must be divisible by ``P`` (a one-line error otherwise). The logged loss is the all-reduced mean.

No training loop is written here: the teacher and distillation loops are empirical.training.teacher_training.train_teacher and
empirical.training.distill.train_students, called with this module's hooks (``batch_slicer`` takes the process's
rows of the global batch, ``wrap`` puts the model / objective in DistributedDataParallel, ``reduce``
all-reduces the logged loss).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

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


def check_batch(global_batch: int) -> None:
    """Raise :class:`bounds.cliutil.UsageError` (one line, before any process group) unless the global batch
    divides evenly over this launch's processes."""
    from bounds.errors import UsageError

    try:
        shard_bounds(global_batch, world()[1], 0)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def setup(device: str = "auto", threads: int | None = None):
    """Initialise the process group when running under torchrun (gloo on CPU, NCCL on CUDA) and return
    ``(torch.device, rank, world_size)``. On CUDA each process uses ``cuda:LOCAL_RANK``. On CPU each process
    gets ``threads`` torch threads (default ``cpu_count // LOCAL_WORLD_SIZE``)."""
    import torch
    import torch.distributed as dist

    from empirical.runtime.device import resolve_device

    rank, ws, local = world()
    dev = resolve_device(device)
    if dev.type == "cuda":
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        torch.set_num_threads(threads or max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", ws))))
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

def _hooks(global_batch: int, dev, ws: int, rank: int) -> dict:
    """The data-parallel hooks of the shared training loops (empirical.training.teacher_training.train_teacher,
    empirical.training.distill.train_students): this process's shard of the global batch (last axis), the DDP
    wrapper, and the all-reduced mean of the logged loss."""
    lo, hi = shard_bounds(global_batch, ws, rank)
    return {"batch_slicer": lambda idx: idx[..., lo:hi], "wrap": lambda m: _wrap(m, dev), "reduce": _mean_over_ranks}


def train_teacher_ddp(cfg, store=None, *, force: bool = False, threads: int | None = None) -> dict:
    """Train the teacher of ``cfg`` (a :class:`empirical.config.TeacherTrainConfig`) data-parallel; returns
    ``{"record": ..., "state": state_dict}`` on every process (the same on all of them). With ``store`` (an
    :class:`empirical.cache.store.ResultStore`) process 0 stores it under the config's key, exactly where
    :func:`empirical.training.teacher_training.get_teacher` looks, unless a teacher is already stored there (``force``:
    overwrite it). ``threads``: CPU threads per process (default: the cores shared evenly).

    The loop is :func:`empirical.training.teacher_training.train_teacher` itself (same initialisation, batch stream, optimizer,
    schedule and clipping) with this process's shard and DDP; the loss trajectory is the all-reduced
    global-batch loss.
    """
    from empirical.training.teacher_training import _check_teacher_cfg, train_teacher

    _check_teacher_cfg(cfg)
    dev, rank, ws = setup(cfg.device, threads)
    model, record = train_teacher(cfg, device=dev, **_hooks(cfg.batch_size, dev, ws, rank))
    record = dict(record, world_size=ws)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    if store is not None and rank == 0:
        from empirical.cache.locking import run_once

        record = run_once(store, record["config_hash"], lambda: (record, state), force=force)[0]
    return {"record": record, "state": state}


# ------------------------------------------------------------------------------------------- distillation

def distill_ddp(cfg, store=None, verbose: bool = False, *, threads: int | None = None) -> dict:
    """One LRC distillation (a :class:`empirical.config.DistillConfig`) data-parallel; returns the same
    record as :func:`empirical.training.distill.distill` (plus ``world_size``) on every process: the loop is
    :func:`empirical.training.distill.train_students` with this process's shard and DDP, so
    ``trajectory.minibatch_objective`` is the all-reduced global-batch objective; the end-of-run
    measurements (:func:`empirical.training.distill.make_records`) are computed identically in every process.

    The teacher comes from the store (trained by process 0 if missing, the others wait at a barrier).
    ``verbose``: progress on stderr from process 0; ``threads``: CPU threads per process.
    """
    import torch.distributed as dist

    from empirical.training.distill import make_records, train_students, validate
    from empirical.training.teacher_training import get_teacher

    validate(cfg)
    dev, rank, ws = setup(cfg.device, threads)
    if rank == 0:
        teacher = get_teacher(cfg.teacher, store=store, verbose=verbose)
    if dist.is_initialized():
        dist.barrier()
    if rank != 0:
        teacher = get_teacher(cfg.teacher, store=store)
    tr = train_students(cfg, teacher=teacher, device=dev, verbose=verbose and rank == 0,
                        **_hooks(cfg.batch_size, dev, ws, rank))
    return dict(make_records(tr)[0], world_size=ws)


# ------------------------------------------------------------------------------------------- CLI

def _parser() -> argparse.ArgumentParser:
    from bounds.cliutil import OneLineParser, positive_float, positive_int

    p = OneLineParser(prog="python -m empirical.training.ddp",
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
    from empirical.config import DataConfig, DistillConfig, TeacherConfig, TeacherTrainConfig, from_dict, swiglu_d_ff

    cls = TeacherTrainConfig if args.what == "teacher" else DistillConfig
    if args.config:
        with open(args.config) as fh:
            return from_dict(cls, json.load(fh))
    d_ff = swiglu_d_ff(args.d_model)
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
    from bounds.errors import UsageError
    from bounds.jsonable import jsonable as _jsonable

    args = _parser().parse_args(argv)
    try:
        cfg = config_from_args(args)
        _, ws, _ = world()
        shard_bounds(cfg.batch_size, ws, 0)  # fail fast, before the process group, with one line
        from empirical.cache.store import ResultStore

        store = ResultStore(args.cache)
        if args.what == "teacher":
            rec = train_teacher_ddp(cfg, store=store if args.store else None)["record"]
        else:
            rec = distill_ddp(cfg, store=store)
    except (UsageError, ValueError) as exc:
        print(f"empirical.training.ddp {args.what}: error: {str(exc).splitlines()[0]}", file=sys.stderr)
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
