"""``lrkd teacher``: train (or load from the cache) one LLaMA-style byte-level teacher and print its record.

Data-parallel under torchrun (``torchrun --no-python --nproc-per-node 2 lrkd teacher ...``): a teacher not
yet cached (or ``--force``) is trained by empirical.training.ddp.train_teacher_ddp with the same GLOBAL batch and
stored by process 0; process 0 alone prints."""
from __future__ import annotations

from empirical.commands.common import add_teacher_arguments, summary_lines


def configure(parser) -> None:
    """Arguments of ``lrkd teacher``."""
    add_teacher_arguments(parser)
    parser.add_argument("--compile", action="store_true",
                        help="train through torch.compile (one-off compilation, ~40 s on a 2-core CPU; faster steps "
                             "afterwards: see lrkd bench). Not part of the cache key")


def run(args) -> int:
    """Train or load the teacher; print a summary (or ``--json`` the record without its loss trace)."""
    from bounds.cliutil import emit_json

    from empirical.training import ddp
    from empirical.commands.common import teacher_config
    from empirical.config import config_hash
    from empirical.data.corpus import make_splits
    from empirical.runtime.device import configure_cpu_threads, resolve_device
    from empirical.cache.store import ResultStore
    from empirical.training.teacher_training import get_teacher

    cfg = teacher_config(args)
    resolve_device(cfg.device)
    store = ResultStore(args.cache)
    splits = make_splits(cfg.data)
    if ddp.is_distributed() and (args.force or store.get(config_hash(cfg)) is None):
        if args.compile:
            from bounds.cliutil import UsageError
            raise UsageError("--compile is not supported under torchrun (data-parallel training runs eagerly)")
        ddp.check_batch(cfg.batch_size)
        try:
            record = ddp.train_teacher_ddp(cfg, store=store, force=args.force, threads=args.threads)["record"]
        finally:
            ddp.teardown()
        if ddp.world()[0] != 0:
            return 0
        record = dict(record, from_cache=False)
    else:
        configure_cpu_threads(args.threads)
        _, record = get_teacher(cfg, store=store, force=args.force, verbose=ddp.world()[0] == 0,
                                compile=args.compile)
        if ddp.world()[0] != 0:
            return 0
    record = dict(record, sequences={"teacher": int(splits.teacher.shape[0]), "heldout": int(splits.heldout.shape[0]),
                                     "student_pool": splits.max_samples})
    if args.json:
        emit_json(record)
        return 0
    print("\n".join(summary_lines(record, ["config_hash", "from_cache", "device", "params", "teacher_sequences",
                                           "test_loss", "train_loss_last", "wall_s", "tokens_per_s"])))
    print(f"{'max_samples':<22} {splits.max_samples} (student sequences of {cfg.data.context}+1 bytes)")
    return 0
