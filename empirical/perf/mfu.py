r"""Model FLOP counts of the teacher and LRC training steps, and an MFU benchmark against a matmul peak
measured in the same run.

FLOP counts (matmuls only; a multiply-add is 2 FLOPs; norms, softmax, RoPE, losses are not counted, as in
PaLM's MFU, Chowdhery et al. 2022, App. B). Notation: L layers, d = d_model, H query heads, H_kv KV heads,
h head dim, f = d_ff, V vocab, T context, B batch (sequences), S stacked students, r rank.

Matmul weights of one decoder of width :math:`w` with the teacher's head layout:

.. math:: N(w) = L\,w\,(H h + 2 H_{kv} h + H h + 3 f) + V w

Teacher training step (forward + backward = 3 forward; attention scores and values over all T×T pairs,
the causal mask is not discounted):

.. math:: F_{teacher} = B T\,(6\,N(d) + 12\,L\,T\,H h)

LRC step for S students of rank r (empirical.models.lrc): the student weights :math:`W^T Z` are rebuilt every
step (forward + the gradient to Z only; the teacher is frozen), the student runs at width r with the
teacher's heads, the FFN clone target is :math:`y_T Z_{down}`, and the teacher's forward runs without
gradient unless its targets are cached:

.. math:: F_{LRC} = S\big[4\,d\,N(r) + B T\,(6 N(r) + 12 L T H h + 4 L d r) + [\text{no cache}]\,B T\,(2N(d) + 4 L T H h)\big]

(the first term is :math:`4 d\,N(r)` because each student weight :math:`(n \times r)` costs :math:`2 n d r`
forward and again backward; with untied embeddings add the LM-head projection, :math:`4 S V d r`; the
teacher runs once per stacked student because each student reads its own minibatch).

:func:`run` times both steps on ``device`` (bf16 autocast and fused AdamW on CUDA via empirical.runtime.device /
empirical.runtime.gpu; fp32 on CPU) and divides the achieved FLOP/s by the peak of a square matmul in the same dtype
measured in the same run: MFU = achieved / measured peak.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

#: sizes for the benchmark: "bench" fills a GPU, "preset" is the transformer width the presets use, "tiny" is
#: the CPU fallback / test size
SIZES = {
    "bench": dict(d_model=1024, n_layers=8, n_heads=16, d_ff=2816, context=512, batch=32, rank=256, peak_n=8192),
    "preset": dict(d_model=64, n_layers=2, n_heads=4, d_ff=172, context=64, batch=32, rank=16, peak_n=4096),
    "tiny": dict(d_model=32, n_layers=1, n_heads=2, d_ff=88, context=32, batch=8, rank=8, peak_n=256),
}


def matmul_params(cfg, width: int | None = None) -> int:
    r""":math:`N(w)`: weights that take part in matmuls per token (tied LM head counted once, as a matmul)."""
    w = cfg.d_model if width is None else width
    Hh, Hkvh = cfg.n_heads * cfg.hd, cfg.n_kv_heads * cfg.hd
    per_layer = w * (Hh + 2 * Hkvh + Hh + 3 * cfg.d_ff)
    return cfg.n_layers * per_layer + cfg.vocab * w


def attention_flops_per_token(cfg, context: int) -> int:
    r"""Forward attention FLOPs per token: :math:`4 L T H h` (scores :math:`QK^\top` and :math:`PV`)."""
    return 4 * cfg.n_layers * context * cfg.n_heads * cfg.hd


def teacher_step_flops(cfg, batch: int, context: int | None = None) -> int:
    r""":math:`F_{teacher} = BT(6N(d) + 12LTHh)` (module docstring)."""
    T = cfg.context if context is None else context
    return batch * T * (6 * matmul_params(cfg) + 3 * attention_flops_per_token(cfg, T))


def lrc_step_flops(cfg, rank: int, batch: int, n_students: int = 1, teacher_forward: bool = True,
                   ffn_clone: bool = True, context: int | None = None) -> int:
    r""":math:`F_{LRC}` (module docstring): S students of rank r, global batch B sequences each."""
    T = cfg.context if context is None else context
    d, L = cfg.d_model, cfg.n_layers
    n_r = matmul_params(cfg, rank)
    rebuild = 4 * d * n_r + (0 if cfg.tied_embeddings else 4 * cfg.vocab * d * rank)
    per_token = 6 * n_r + 3 * attention_flops_per_token(cfg, T) + (4 * L * d * rank if ffn_clone else 0)
    total = n_students * (rebuild + batch * T * per_token)
    if teacher_forward:
        total += n_students * batch * T * (2 * matmul_params(cfg) + attention_flops_per_token(cfg, T))
    return total


# ------------------------------------------------------------------------------------------- benchmark

@dataclass(frozen=True)
class BenchSize:
    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    context: int
    batch: int
    rank: int
    peak_n: int


def _sync(dev) -> None:
    import torch

    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _timed(fn, dev, warmup: int, iters: int, min_s: float = 0.0) -> float:
    """Seconds per call of ``fn`` (after ``warmup`` calls), over at least ``iters`` calls and ``min_s``."""
    for _ in range(warmup):
        fn()
    _sync(dev)
    n, t0 = 0, time.perf_counter()
    while n < iters or time.perf_counter() - t0 < min_s:
        fn()
        n += 1
    _sync(dev)
    return (time.perf_counter() - t0) / n


def matmul_peak(dev, n: int, dtype=None, iters: int = 10) -> dict:
    """Achieved FLOP/s of an n×n×n matmul (2n³ FLOPs) in ``dtype`` (bf16 on CUDA, fp32 on CPU)."""
    import torch

    dtype = dtype or (torch.bfloat16 if dev.type == "cuda" else torch.float32)
    g = torch.Generator(device=dev).manual_seed(0)
    a = torch.randn(n, n, device=dev, dtype=dtype, generator=g)
    b = torch.randn(n, n, device=dev, dtype=dtype, generator=g)
    out = torch.empty(n, n, device=dev, dtype=dtype)
    s = _timed(lambda: torch.matmul(a, b, out=out), dev, warmup=3, iters=iters)
    return {"n": n, "dtype": str(dtype).replace("torch.", ""), "s": s, "flops_per_s": 2 * n**3 / s}


def run(device: str = "cuda", size: str | None = None, steps: int = 10) -> dict:
    """Time one teacher step and one LRC step and report FLOP/s and MFU against the measured matmul peak.

    ``size``: a key of :data:`SIZES` (default ``bench`` on CUDA, ``tiny`` on CPU: the CPU fallback).
    Returns a JSON-able dict: sizes, ``peak`` (matmul), and for ``teacher`` and ``lrc``: FLOPs per step, the
    formula, seconds per step, achieved FLOP/s and ``mfu``.
    """
    import torch

    from empirical.config import CLONE_TERMS, TeacherConfig
    from empirical.runtime.device import autocast, resolve_device
    from empirical.runtime.gpu import adamw, configure_cuda
    from empirical.training.losses import cross_entropy, forward_kl
    from empirical.models.lrc import LRCStudent
    from empirical.models.teacher import Decoder

    dev = resolve_device(device)
    size = size or ("bench" if dev.type == "cuda" else "tiny")
    sz = BenchSize(**SIZES[size])
    settings = configure_cuda()
    cfg = TeacherConfig(d_model=sz.d_model, n_layers=sz.n_layers, n_heads=sz.n_heads, n_kv_heads=sz.n_heads,
                        d_ff=sz.d_ff, context=sz.context)
    peak = matmul_peak(dev, sz.peak_n)
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(cfg.vocab, (sz.batch, sz.context + 1), generator=g).to(dev)

    model = Decoder(cfg, generator=g).to(dev)
    opt = adamw(model.parameters(), lr=1e-4)

    def teacher_step():
        with autocast(dev):
            logits = model(tokens[:, :-1])
        loss = cross_entropy(logits, tokens[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    t_teacher = _timed(teacher_step, dev, warmup=2, iters=steps)
    model.eval()
    student = LRCStudent(model, sz.rank, seeds=[0]).to(dev)
    s_opt = adamw(student.trainable_parameters(), lr=1e-3)

    def lrc_step():
        with autocast(dev):
            out = student(tokens[None, :, :-1], terms=CLONE_TERMS)
        loss = (cross_entropy(out.logits[0], tokens[:, 1:]) + forward_kl(out.teacher_logits[0], out.logits[0], 8.0)
                + 0.2 * sum(out.clone.values()).sum())
        s_opt.zero_grad(set_to_none=True)
        loss.backward()
        s_opt.step()

    t_lrc = _timed(lrc_step, dev, warmup=2, iters=steps)
    f_t = teacher_step_flops(cfg, sz.batch)
    f_l = lrc_step_flops(cfg, sz.rank, sz.batch, n_students=1, teacher_forward=True)

    def part(flops, s, formula):
        return {"flops_per_step": flops, "formula": formula, "s_per_step": s, "flops_per_s": flops / s,
                "mfu": flops / s / peak["flops_per_s"]}

    return {"device": str(dev), "device_name": settings.get("device_name", "cpu"), "size": size,
            "sizes": asdict(sz), "settings": settings, "torch": torch.__version__, "peak": peak,
            "teacher": part(f_t, t_teacher, "B*T*(6*N(d) + 12*L*T*H*h)"),
            "lrc": part(f_l, t_lrc, "S*[4*d*N(r) + B*T*(6*N(r) + 12*L*T*H*h + 4*L*d*r) + B*T*(2*N(d) + 4*L*T*H*h)], S=1")}


# ------------------------------------------------------------------------------------------- preset prediction

def count_aten_ops(fn) -> int:
    """Number of aten operators ``fn()`` dispatches (a proxy for CUDA kernel launches in eager mode)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class _Count(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            _Count.n += 1
            return func(*args, **(kwargs or {}))

    with _Count():
        fn()
    return _Count.n


def predict_transformer_grid(grid, distill_defaults=None, peak_flops: float = 790e12, mfu: float = 0.4,
                             op_overhead_s: float = 10e-6, group_size: int = 16) -> dict:
    r"""Predicted GPU time of a sweep's transformer grid (``ranks, samples, seeds, steps, teacher_steps,
    d_model, n_layers`` as in empirical.sweep.TransformerGrid), two ways:

    - FLOP-bound: :math:`\sum_{runs} F_{LRC}\,(steps + e) + F_{teacher}\,steps_T` over ``mfu · peak_flops``,
      with ``e`` the measurement work in step-equivalents (probe gradient at ``n_log_points + 1`` points on
      a 2-batch probe, ``beta_iters`` Hessian-vector products ≈ 2 gradients each on the probe,
      ``sigma2_batches`` gradients, the final evaluation of 1024 sequences ≈ 1024/(3B) steps); teacher
      targets counted only when they do not fit the cache, as empirical.training.distill decides;
    - launch-bound: eager-mode operator count of one step (counted on CPU with :func:`count_aten_ops`) ×
      ``op_overhead_s`` per operator × steps, for runs stacked ``group_size`` at a time (distill_many) and for
      runs one at a time.
    At the preset's sizes (width 64) the second is the realistic one: each matmul is far too small to fill
    the GPU.
    """
    import dataclasses

    import torch

    from empirical.config import CLONE_TERMS, DistillConfig, TeacherConfig, swiglu_d_ff
    from empirical.training.distill import group_key
    from empirical.training.objective import TeacherTargets
    from empirical.training.losses import cross_entropy, forward_kl
    from empirical.models.lrc import LRCStudent
    from empirical.models.teacher import Decoder

    dc = distill_defaults or DistillConfig()
    d_ff = swiglu_d_ff(grid.d_model)
    cfg = TeacherConfig(d_model=grid.d_model, n_layers=grid.n_layers, d_ff=d_ff)
    B = dc.batch_size
    beta_iters = getattr(grid, "beta_iters", dc.beta_iters)
    sigma2 = getattr(grid, "sigma2_batches", dc.sigma2_batches)
    extra = (dc.n_log_points + 1) * 2 + beta_iters * 2 * 2 + sigma2 + 1024 / (3 * B)
    per_seq_bytes = TeacherTargets.bytes_per_sequence(cfg, CLONE_TERMS)
    runs = len(grid.ranks) * len(grid.samples) * len(grid.seeds)
    flops = grid.teacher_steps * teacher_step_flops(cfg, 32)
    for r in grid.ranks:
        for n in grid.samples:
            cached = n * per_seq_bytes <= dc.teacher_cache_max_mb * 2**20
            flops += len(grid.seeds) * (grid.steps + extra) * lrc_step_flops(cfg, r, B, teacher_forward=not cached)
    # operator counts of one training step, counted on CPU at the grid's size
    g = torch.Generator().manual_seed(0)
    tok = torch.randint(cfg.vocab, (1, B, cfg.context + 1), generator=g)
    teacher = Decoder(cfg, generator=g)
    t_opt = torch.optim.AdamW(teacher.parameters(), lr=1e-3)

    def t_step():
        loss = cross_entropy(teacher(tok[0, :, :-1]), tok[0, :, 1:])
        t_opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(teacher.parameters(), 1.0)
        t_opt.step()

    t_step()  # lazy optimizer state first
    t_ops = count_aten_ops(t_step)
    student = LRCStudent(teacher, max(grid.ranks), seeds=[0])  # freezes the teacher
    s_opt = torch.optim.AdamW(student.trainable_parameters(), lr=1e-3)

    def s_step():
        out = student(tok[..., :-1], terms=CLONE_TERMS)
        loss = (cross_entropy(out.logits[0], tok[0, :, 1:]) + forward_kl(out.teacher_logits[0], out.logits[0], dc.tau)
                + dc.alpha * sum(out.clone.values()).sum())
        s_opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.trainable_parameters(), 1.0)
        s_opt.step()

    s_step()
    s_ops = count_aten_ops(s_step)
    # empirical.training.distill.group_key: same rank, and same min(N, probe_size) and min(N, eval_sequences)
    keys: dict = {}
    for n in grid.samples:
        k = group_key(dataclasses.replace(dc, samples=n))
        keys[k] = keys.get(k, 0) + len(grid.seeds)
    groups = len(grid.ranks) * sum(-(-c // group_size) for c in keys.values())
    steps_eq = grid.steps + extra
    launch_t = grid.teacher_steps * t_ops * op_overhead_s
    return {"runs": runs, "teacher_config": {"d_model": cfg.d_model, "n_layers": cfg.n_layers, "d_ff": d_ff,
                                             "context": cfg.context, "vocab": cfg.vocab},
            "flops_total": flops, "flop_bound_s": flops / (mfu * peak_flops), "mfu_assumed": mfu,
            "peak_flops": peak_flops, "measure_step_equivalents": extra,
            "ops_per_teacher_step": t_ops, "ops_per_lrc_step": s_ops, "op_overhead_s": op_overhead_s,
            "launch_bound_stacked_s": launch_t + groups * steps_eq * s_ops * op_overhead_s,
            "launch_bound_one_by_one_s": launch_t + runs * steps_eq * s_ops * op_overhead_s,
            "stacked_groups": groups}
