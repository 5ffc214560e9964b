"""Arguments shared by ``lrkd teacher`` and ``lrkd distill`` (teacher architecture, data, device, cache),
and their translation into config dataclasses. Import-light: no torch at module level."""
from __future__ import annotations

from bounds.cliutil import positive_float, positive_int, nonnegative_int


def add_teacher_arguments(p) -> None:
    """Teacher/data/device flags (defaults = DESIGN's 2-layer, width-64 byte-level teacher)."""
    g = p.add_argument_group("teacher and data")
    g.add_argument("--corpus", default=None, help="UTF-8 text file (default: the embedded pydoc_data.topics text)")
    g.add_argument("--context", type=positive_int, default=64, help="sequence length in bytes (default 64)")
    g.add_argument("--d-model", type=positive_int, default=64, help="teacher width d_T (default 64)")
    g.add_argument("--layers", type=positive_int, default=2, help="teacher depth (default 2)")
    g.add_argument("--heads", type=positive_int, default=4, help="attention heads (default 4)")
    g.add_argument("--kv-heads", type=positive_int, default=None, help="KV heads (default: = heads)")
    g.add_argument("--d-ff", type=positive_int, default=172, help="SwiGLU hidden width (default 172)")
    g.add_argument("--untied", action="store_true", help="untied input/output embeddings")
    g.add_argument("--teacher-steps", type=nonnegative_int, default=600, help="teacher AdamW steps (default 600)")
    g.add_argument("--teacher-lr", type=positive_float, default=3e-3)
    g.add_argument("--teacher-seed", type=nonnegative_int, default=0)
    g.add_argument("--data-seed", type=nonnegative_int, default=0, help="seed of the corpus split")
    g.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    g.add_argument("--threads", type=positive_int, default=None,
                   help="CPU threads (default: torch's, or 1 when the machine is oversubscribed)")
    g.add_argument("--cache", default=None, help="result/teacher cache folder (default $LRKD_CACHE or ~/.cache/lrkd)")
    g.add_argument("--force", action="store_true", help="retrain the teacher even if cached")
    g.add_argument("--json", action="store_true", help="print the full record as JSON")


def teacher_config(args):
    """TeacherTrainConfig from parsed arguments; UsageError for inconsistent shapes."""
    from bounds.errors import UsageError

    from empirical.config import DataConfig, TeacherConfig, TeacherTrainConfig
    kv = args.kv_heads or args.heads
    if args.d_model % args.heads:
        raise UsageError(f"--d-model {args.d_model} must be divisible by --heads {args.heads}")
    if args.heads % kv:
        raise UsageError(f"--heads {args.heads} must be a multiple of --kv-heads {kv}")
    if (args.d_model // args.heads) % 2:
        raise UsageError(f"head dim d_model/heads = {args.d_model // args.heads} must be even (RoPE)")
    model = TeacherConfig(d_model=args.d_model, n_layers=args.layers, n_heads=args.heads, n_kv_heads=kv,
                          d_ff=args.d_ff, context=args.context, tied_embeddings=not args.untied)
    data = DataConfig(corpus=args.corpus, context=args.context, seed=args.data_seed)
    cfg = TeacherTrainConfig(model=model, data=data, steps=args.teacher_steps, lr=args.teacher_lr,
                             seed=args.teacher_seed, device=args.device)
    check_cache(args.cache)
    check_memory(cfg)
    return cfg


def check_cache(cache) -> None:
    """UsageError unless ``--cache`` is absent, or an existing folder (BUGS.md B13)."""
    from pathlib import Path

    from bounds.errors import UsageError
    if cache and Path(cache).exists() and not Path(cache).is_dir():
        raise UsageError(f"--cache {cache}: exists and is not a folder")


def memory_limit_bytes() -> float:
    """What this process may allocate: physical memory, or the address-space limit when lower."""
    import os
    import resource
    limit = float("inf")
    try:
        limit = float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - platform without sysconf
        pass
    soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    if soft != resource.RLIM_INFINITY:
        limit = min(limit, float(soft))
    return limit


def teacher_param_count(m) -> int:
    """Parameters of the teacher :class:`empirical.config.TeacherConfig` ``m`` (attention, SwiGLU, norms,
    embedding(s))."""
    hd = m.hd
    attn = m.d_model * (m.n_heads + 2 * m.n_kv_heads) * hd + m.n_heads * hd * m.d_model
    layer = attn + 3 * m.d_model * m.d_ff + 2 * m.d_model
    return m.n_layers * layer + m.vocab * m.d_model * (1 if m.tied_embeddings else 2) + m.d_model


def activation_bytes(m, batch: int) -> float:
    """A LOWER estimate of one training step's stored float32 activations for ``batch`` sequences: logits
    and their gradient, and per layer the residual, q/k/v/attention outputs and the three SwiGLU widths."""
    return 4.0 * batch * m.context * (2 * m.vocab + m.n_layers * (6 * m.d_model + 3 * m.d_ff))


def check_memory(tcfg, batch: int | None = None) -> None:
    """UsageError, before anything is allocated or trained, when a clear lower estimate of the memory the
    teacher's training (AdamW: weights, gradients, two moments) or, with ``batch``, an LRC step (teacher and
    student streams) needs exceeds :func:`memory_limit_bytes` (BUGS.md B14)."""
    from bounds.errors import UsageError
    limit = memory_limit_bytes()
    gib = lambda b: f"{b / 2**30:.3g} GiB"  # noqa: E731
    m = tcfg.model
    params = teacher_param_count(m)
    if 16.0 * params > limit:
        raise UsageError(f"--d-model {m.d_model} (with --layers {m.n_layers}, --d-ff {m.d_ff}): the teacher has "
                         f"{params:.3g} parameters, training needs at least {gib(16.0 * params)}, more than the "
                         f"{gib(limit)} this process may use")
    if activation_bytes(m, tcfg.batch_size) > limit:
        raise UsageError(f"--context {m.context} / --d-model {m.d_model}: a teacher step needs at least "
                         f"{gib(activation_bytes(m, tcfg.batch_size))}, more than the {gib(limit)} available")
    if batch is not None and 2 * activation_bytes(m, batch) > limit:
        raise UsageError(f"--batch-size {batch}: an LRC step needs at least {gib(2 * activation_bytes(m, batch))}, "
                         f"more than the {gib(limit)} this process may use")


def summary_lines(record: dict, keys) -> list[str]:
    """``key  value`` lines for the scalar fields of a record that are present."""
    out = []
    for k in keys:
        v = record.get(k)
        if isinstance(v, float):
            out.append(f"{k:<22} {v:.6g}")
        elif v is not None:
            out.append(f"{k:<22} {v}")
    return out
