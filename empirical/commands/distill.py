"""``lrkd distill``: one Low-Rank Clone distillation run (the teacher comes from the cache, trained if
missing); prints its metrics, or with ``--json`` the full result record (notes/RECORD.md).

Data-parallel under torchrun (``torchrun --no-python --nproc-per-node 2 lrkd distill ...``): the run is
empirical.training.ddp.distill_ddp with the same GLOBAL ``--batch-size`` (divisible by the number of processes), the
same record (plus ``world_size``), printed by process 0 only."""
from __future__ import annotations

from bounds.cliutil import finite_float, nonnegative_int, positive_float, positive_int

from empirical.commands.common import add_teacher_arguments, summary_lines


def configure(parser) -> None:
    """Arguments of ``lrkd distill``."""
    g = parser.add_argument_group("student")
    g.add_argument("--rank", type=positive_int, required=True, help="student width r")
    g.add_argument("--samples", type=positive_int, required=True, help="N student training sequences")
    g.add_argument("--steps", type=nonnegative_int, default=400)
    g.add_argument("--batch-size", type=positive_int, default=32)
    g.add_argument("--optimizer", choices=["adamw", "sgd"], default="adamw")
    g.add_argument("--lr", type=positive_float, default=1e-2, help="default 1e-2")
    g.add_argument("--momentum", type=finite_float, default=0.0, help="SGD momentum")
    g.add_argument("--schedule", choices=["linear", "constant"], default="linear")
    g.add_argument("--tau", type=positive_float, default=8.0, help="KL temperature (default 8)")
    g.add_argument("--alpha", type=finite_float, default=0.2, help="clone-loss weight (default 0.2)")
    g.add_argument("--kl-weight", type=finite_float, default=1.0)
    g.add_argument("--ce-weight", type=finite_float, default=1.0)
    g.add_argument("--terms", default="q,k,v,attn,gate,up,ffn",
                   help="comma-separated clone terms, or 'none' (default: all seven)")
    g.add_argument("--init", choices=["normal", "svd"], default="normal")
    g.add_argument("--seed", type=nonnegative_int, default=0)
    add_teacher_arguments(parser)


def run(args) -> int:
    """Run one distillation and print its record."""
    from bounds.cliutil import UsageError, emit_json

    from empirical.training import ddp
    from empirical.commands.common import check_memory, teacher_config
    from empirical.config import CLONE_TERMS, DistillConfig
    from empirical.runtime.device import configure_cpu_threads, resolve_device
    from empirical.cache.store import ResultStore
    from empirical.training.distill import distill

    terms = () if args.terms.strip() == "none" else tuple(t.strip() for t in args.terms.split(",") if t.strip())
    bad = [t for t in terms if t not in CLONE_TERMS]
    if bad:
        raise UsageError(f"unknown clone term(s) {','.join(bad)}; choose from {','.join(CLONE_TERMS)} or none")
    cfg = DistillConfig(teacher=teacher_config(args), rank=args.rank, samples=args.samples, steps=args.steps,
                        batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr, momentum=args.momentum,
                        schedule=args.schedule, tau=args.tau, alpha=args.alpha if terms else 0.0,
                        kl_weight=args.kl_weight, ce_weight=args.ce_weight, clone_terms=terms or CLONE_TERMS,
                        init=args.init, seed=args.seed, device=args.device)
    check_memory(cfg.teacher, batch=cfg.batch_size)
    resolve_device(cfg.device)
    if ddp.is_distributed():
        ddp.check_batch(cfg.batch_size)
        try:
            record = ddp.distill_ddp(cfg, store=ResultStore(args.cache), verbose=not args.json, threads=args.threads)
        finally:
            ddp.teardown()
        if ddp.world()[0] != 0:
            return 0
    else:
        configure_cpu_threads(args.threads)
        record = distill(cfg, store=ResultStore(args.cache), verbose=not args.json)
    if args.json:
        emit_json(record)
        return 0
    print("\n".join(summary_lines(record, [
        "status", "device", "rank", "samples", "tokens", "params", "train_loss", "test_loss", "gap",
        "train_loss_smoothed", "test_loss_smoothed", "loss_range_B", "test_kl", "clone_mse_total",
        "beta", "sigma2", "delta", "loss_init", "loss_best", "wall_s"])))
    print("clone_mse              " + "  ".join(f"{k}={v:.4g}" for k, v in record["clone_mse"].items()))
    print(f"(teacher held-out CE {record['teacher']['test_loss']:.4f}; delta uses the best loss seen as an "
          "estimate of L*)")
    return 0
