"""The measurements behind ``lrkd bench``: each benchmark ``bench_<name>(ctx) -> dict`` times one step (median over
interleaved repeats) against a baseline measured in the same run. The registry, argument parsing and printing are
:mod:`empirical.commands.bench`; this module holds what they run.

May import: torch (inside functions), :mod:`empirical.config`, :mod:`empirical.models`, :mod:`empirical.runtime`,
:mod:`empirical.training`, :mod:`empirical.perf.mfu`.
"""
from __future__ import annotations


def _median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def _sync(dev):
    import torch
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _time_interleaved(fns: dict, dev, repeats: int, warmup: int = 3) -> dict:
    """Median seconds per call of each fn, calls interleaved round-robin."""
    import time
    for f in fns.values():
        for _ in range(warmup):
            f()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            _sync(dev)
            t0 = time.perf_counter()
            f()
            _sync(dev)
            times[k].append(time.perf_counter() - t0)
    return {k: _median(v) for k, v in times.items()}


# ------------------------------------------------------------------------------------------ benchmarks

def bench_matmul(ctx) -> dict:
    """Peak matmul FLOP/s (median of several n×n products)."""
    from empirical.perf.mfu import matmul_peak
    dev = ctx["dev"]
    n = 8192 if dev.type == "cuda" else 2048
    runs = [matmul_peak(dev, n, iters=3) for _ in range(max(3, ctx["repeats"] // 4))]
    return {"n": n, "dtype": runs[0]["dtype"], "flops_per_s": _median([r["flops_per_s"] for r in runs])}


def _teacher_setup(dev, cfg, batch, compile: bool = False):
    """One training step of the teacher exactly as :func:`empirical.training.teacher_training.train_teacher` takes it (same
    optimizer groups, schedule, clipping; through ``torch.compile`` when ``compile``)."""
    import torch

    from empirical.config import TeacherTrainConfig
    from empirical.models.teacher import Decoder
    from empirical.training.teacher_training import make_teacher_optimizer, teacher_step
    model = Decoder(cfg, torch.Generator().manual_seed(0)).to(dev)
    opt, sched = make_teacher_optimizer(model, TeacherTrainConfig(model=cfg, steps=10**9))
    forward = torch.compile(model) if compile else model
    tok = torch.randint(0, cfg.vocab, (batch, cfg.context + 1), generator=torch.Generator().manual_seed(1)).to(dev)

    def step():
        teacher_step(forward, model, tok, opt, sched, 1.0)
    return step


def _baseline_setup(dev, cfg, batch, d_ff: int | None = None, compile: bool = False):
    """``torch.nn.TransformerEncoder`` (pre-norm, causal mask, GELU FFN of width ``d_ff``, default the
    teacher's), token embedding and tied head, trained with AdamW and the same clipping."""
    import torch
    from torch import nn

    from empirical.runtime.device import autocast
    d_ff = cfg.d_ff if d_ff is None else d_ff

    class Baseline(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(cfg.vocab, cfg.d_model)
            layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.n_heads, dim_feedforward=d_ff, dropout=0.0,
                                               activation="gelu", batch_first=True, norm_first=True)
            self.enc = nn.TransformerEncoder(layer, cfg.n_layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(cfg.d_model)

        def forward(self, x, mask):
            h = self.enc(self.emb(x), mask=mask, is_causal=True)
            return self.norm(h) @ self.emb.weight.T

    torch.manual_seed(0)
    model = Baseline().to(dev)
    forward = torch.compile(model) if compile else model
    from empirical.runtime.optim import make_adamw
    opt = make_adamw(model.parameters(), lr=1e-3)
    tok = torch.randint(0, cfg.vocab, (batch, cfg.context + 1), generator=torch.Generator().manual_seed(1)).to(dev)
    mask = nn.Transformer.generate_square_subsequent_mask(cfg.context, device=dev)

    def step():
        with autocast(dev):
            logits = forward(tok[:, :-1], mask)
        loss = nn.functional.cross_entropy(logits.float().reshape(-1, cfg.vocab), tok[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return step


#: op names whose time counts as "kernel" time (GEMMs and fused attention) in :func:`_kernel_seconds`
_KERNELS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::_scaled_dot_product")


def _quiet_stderr():
    """Context silencing file descriptor 2 (the profiler's C++ side prints start/stop lines there)."""
    import contextlib
    import os
    import sys

    @contextlib.contextmanager
    def quiet():
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 2)
                yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return quiet()


def _kernel_seconds(step, dev, steps: int = 5) -> float:
    """Seconds per step spent inside GEMM and fused-attention kernels (torch profiler, self time)."""
    from torch.profiler import ProfilerActivity, profile
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    step()
    with _quiet_stderr(), profile(activities=acts) as prof:
        for _ in range(steps):
            step()
        _sync(dev)
    attr = "self_device_time_total" if dev.type == "cuda" else "self_cpu_time_total"
    total = sum(getattr(e, attr) for e in prof.key_averages() if e.key.startswith(_KERNELS))
    return total / steps / 1e6


def _compiled_or_skip(make):
    """``make()`` (a compiled step), or ``None`` with the reason when torch.compile is unavailable here."""
    try:
        step = make()
        step()  # compiles
        return step, None
    except Exception as exc:  # noqa: BLE001 - inductor needs a C++ compiler; report, never crash the bench
        return None, f"torch.compile unavailable: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"


def bench_teacher(ctx) -> dict:
    r"""Teacher training throughput vs the matmul peak and vs torch.nn.TransformerEncoder.

    Reported: the eager step (the default training path; top-level keys), the same step through
    ``torch.compile`` (``compiled``, unless ``--no-compile``), two baselines (``d_ff`` equal to the teacher's,
    the literal reading; and the parameter-matched :math:`4d` GELU FFN that LLaMA's :math:`\tfrac{8}{3}d`
    SwiGLU width is derived from, ``param_matched_baseline``), the kernel ceiling (FLOP/s if all time outside
    GEMM and attention kernels were zero: an upper bound on ``fraction_of_peak`` for these shapes with
    torch's kernels), and the same numbers for a 4x wider teacher (``wide``)."""
    import time

    from empirical.config import TeacherConfig
    from empirical.perf.mfu import teacher_step_flops
    dev, B = ctx["dev"], 32
    peak = ctx["results"].get("matmul", {}).get("flops_per_s")

    def measure(cfg, with_compile):
        fns = {"teacher": _teacher_setup(dev, cfg, B), "baseline": _baseline_setup(dev, cfg, B),
               "baseline_4d": _baseline_setup(dev, cfg, B, d_ff=4 * cfg.d_model)}
        compile_note, compile_s = None, {}
        if with_compile:
            for name, make in (("compiled", lambda: _teacher_setup(dev, cfg, B, compile=True)),
                               ("baseline_compiled", lambda: _baseline_setup(dev, cfg, B, compile=True))):
                t0 = time.perf_counter()
                step, why = _compiled_or_skip(make)
                compile_s[name] = time.perf_counter() - t0
                if step is None:
                    compile_note = why
                    break
                fns[name] = step
        t = _time_interleaved(fns, dev, ctx["repeats"])
        flops, tokens = teacher_step_flops(cfg, B), B * cfg.context
        kernel_s = _kernel_seconds(fns["teacher"], dev)

        def frac(s):
            return flops / s / peak if peak else None
        out = {"config": {"d_model": cfg.d_model, "n_layers": cfg.n_layers, "n_heads": cfg.n_heads,
                          "d_ff": cfg.d_ff, "context": cfg.context, "batch": B},
               "step_s": t["teacher"], "tokens_per_s": tokens / t["teacher"], "flops_per_step": flops,
               "flops_per_s": flops / t["teacher"], "fraction_of_peak": frac(t["teacher"]),
               "torch_baseline_step_s": t["baseline"], "torch_baseline_tokens_per_s": tokens / t["baseline"],
               "speedup_vs_torch_baseline": t["baseline"] / t["teacher"],
               "time_per_token_s": t["teacher"] / tokens,
               "kernel_s": kernel_s, "kernel_share_of_step": kernel_s / t["teacher"],
               "kernel_ceiling_fraction": frac(kernel_s),
               "param_matched_baseline": {"d_ff": 4 * cfg.d_model, "step_s": t["baseline_4d"],
                                          "speedup_vs_it": t["baseline_4d"] / t["teacher"]}}
        if "compiled" in fns:
            out["compiled"] = {"step_s": t["compiled"], "tokens_per_s": tokens / t["compiled"],
                               "fraction_of_peak": frac(t["compiled"]),
                               "speedup_vs_torch_baseline": t["baseline"] / t["compiled"],
                               "speedup_vs_param_matched_baseline": t["baseline_4d"] / t["compiled"],
                               "speedup_vs_compiled_baseline": t["baseline_compiled"] / t["compiled"],
                               "compile_s": compile_s}
        elif with_compile:
            out["compiled"] = {"skipped": compile_note}
        return out

    cfg = TeacherConfig()
    res = measure(cfg, ctx.get("compile", True))
    wide = TeacherConfig(d_model=4 * cfg.d_model, d_ff=4 * cfg.d_ff)
    res["wide"] = measure(wide, False)
    return res


def _lrc_setup(dev, cfg, rank, batch, n_students, n_pool=512):
    import torch

    from empirical.config import CLONE_TERMS, DistillConfig
    from empirical.training.distill import per_student_clip
    from empirical.training.objective import TeacherTargets, objective
    from empirical.models.lrc import LRCStudent
    from empirical.models.teacher import Decoder
    teacher = Decoder(cfg, torch.Generator().manual_seed(0)).to(dev).eval()
    student = LRCStudent(teacher, rank, seeds=list(range(n_students))).to(dev)
    params = student.trainable_parameters()
    from empirical.runtime.optim import make_adamw
    opt = make_adamw(params, lr=1e-3)
    pool = torch.randint(0, cfg.vocab, (n_pool, cfg.context + 1), generator=torch.Generator().manual_seed(2))
    dc = DistillConfig(rank=rank)
    targets = TeacherTargets(student, pool, CLONE_TERMS, dc.tau, budget_mb=dc.teacher_cache_max_mb, dev=dev)
    g = torch.Generator().manual_seed(3)
    pool_dev = pool.to(dev)

    def step():
        idx = torch.randint(n_pool, (n_students, batch), generator=g)
        obj = objective(student, pool_dev[idx.to(dev)], idx, targets, dc, CLONE_TERMS)[0]
        opt.zero_grad(set_to_none=True)
        obj.sum().backward()
        per_student_clip(params, 1.0)
        opt.step()
    return step, targets.cached


def bench_lrc(ctx) -> dict:
    """LRC step time per token (rank 16, 1 and 4 stacked students) vs the teacher step per token."""
    from empirical.config import TeacherConfig
    dev, B, r = ctx["dev"], 32, 16
    cfg = TeacherConfig()
    one, cached = _lrc_setup(dev, cfg, r, B, 1)
    four, _ = _lrc_setup(dev, cfg, r, B, 4)
    t = _time_interleaved({"teacher": _teacher_setup(dev, cfg, B), "lrc": one, "lrc4": four}, dev, ctx["repeats"])
    tokens = B * cfg.context
    return {"rank": r, "batch": B, "teacher_targets_cached": cached, "teacher_step_s": t["teacher"],
            "lrc_step_s": t["lrc"], "lrc_stacked4_step_s": t["lrc4"],
            "time_per_token_vs_teacher": t["lrc"] / t["teacher"],
            "stacked4_time_per_token_per_student_vs_teacher": t["lrc4"] / 4 / t["teacher"],
            "lrc_tokens_per_s": tokens / t["lrc"]}


_MEM_SNIPPET = r"""
import json, os, resource, sys, time, dataclasses
import torch
from empirical.config import DistillConfig, TeacherTrainConfig
from empirical.cache.store import ResultStore
from empirical.training.distill import distill
tc = TeacherTrainConfig(steps=20, device=sys.argv[3])
cfg = DistillConfig(teacher=tc, rank=int(sys.argv[1]), samples=int(sys.argv[2]), steps=20, device=sys.argv[3])
t0 = time.perf_counter()
rec = distill(cfg, store=ResultStore(sys.argv[4]))
print(json.dumps({"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "wall_s": time.perf_counter() - t0, "teacher_targets_cached": rec["teacher_targets_cached"]}))
"""


def bench_memory(ctx) -> dict:
    """Peak RSS (MiB) of quick-preset-sized runs (default teacher, 20 steps), each in a fresh process."""
    import json
    import subprocess
    import sys
    import tempfile
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r, n in [(32, 512), (32, 2048)]:
            proc = subprocess.run([sys.executable, "-c", _MEM_SNIPPET, str(r), str(n), ctx["device"], tmp],
                                  capture_output=True, text=True, timeout=1800)
            if proc.returncode != 0:
                out[f"r{r}_N{n}"] = {"error": proc.stderr.strip().splitlines()[-1:]}
                continue
            out[f"r{r}_N{n}"] = json.loads(proc.stdout.strip().splitlines()[-1])
    peaks = [v["peak_rss_mib"] for v in out.values() if "peak_rss_mib" in v]
    out["max_peak_rss_mib"] = max(peaks) if peaks else None
    out["under_2GiB"] = bool(peaks) and max(peaks) < 2048
    return out


def bench_run(ctx) -> dict:
    """Wall time of a full default distillation run (r=16, N=512, 400 steps), alone and 4 stacked seeds."""
    import dataclasses
    import time

    from empirical.config import DistillConfig, TeacherTrainConfig
    from empirical.training.distill import distill_many
    from empirical.training.teacher_training import get_teacher
    tc = TeacherTrainConfig(device=ctx["device"])
    get_teacher(tc)
    base = DistillConfig(teacher=tc, device=ctx["device"])
    t0 = time.perf_counter()
    distill_many([base])
    one = time.perf_counter() - t0
    t0 = time.perf_counter()
    recs = distill_many([dataclasses.replace(base, seed=s) for s in range(4)])
    four = time.perf_counter() - t0
    return {"one_run_s": one, "four_stacked_s": four, "per_run_stacked_s": four / 4,
            "timing_one": recs[0]["timing_group"]}


#: the quick transformer track's student recipe before (issue 13) and after: (rank, N) of a typical student,
#: then the DistillConfig fields that differ (kept in sync with empirical.sweep.presets by hand: perf sits
#: below sweep in the layers)
SWEEP_RECIPES = {
    "before": dict(rank=16, samples=128, steps=240, batch_size=32, beta_iters=6, sigma2_batches=4,
                   eval_sequences=128, n_log_points=8, init="normal", alpha=0.2),
    "after": dict(rank=32, samples=32, steps=150, batch_size=16, beta_iters=0, sigma2_batches=0,
                  eval_sequences=512, n_log_points=4, init="svd", alpha=0.2),
}


def bench_sweep(ctx) -> dict:
    r"""``students_per_cpu_minute`` of the quick transformer track, before and after (issue 13), measured in
    this run on 2 stacked students per recipe with one torch thread (as a sweep worker runs), after an untimed
    warm-up of each recipe: the process CPU
    time of a whole student (training, evaluation, β, σ², trajectory points) at two short step counts
    :math:`s_1 < s_2`, extrapolated linearly to the recipe's steps,
    :math:`t(s) = t(s_1) + (s - s_1)\,\frac{t(s_2) - t(s_1)}{s_2 - s_1}`, per student; students per CPU-minute
    :math:`= 60 / t(s)`. The teacher is an untrained default-size one (the cost does not depend on its weights)."""
    import dataclasses
    import time

    import torch

    from empirical.config import DistillConfig, TeacherTrainConfig
    from empirical.models.teacher import Decoder
    from empirical.training.distill import make_records, train_students

    tc = TeacherTrainConfig(device=ctx["device"])
    dev = ctx["dev"]
    teacher = (Decoder(tc.model, torch.Generator().manual_seed(0)).to(dev).eval(),
               {"config_hash": "untrained", "test_loss": float("nan"), "params": 0})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    s1, s2, S = 10, 40, 2
    out = {"stacked_students": S, "step_counts": [s1, s2], "threads": 1}
    try:
        for kw in SWEEP_RECIPES.values():  # untimed warm-up: one-time imports and allocations of each recipe
            train_students(DistillConfig(teacher=tc, device=ctx["device"], **dict(kw, steps=2)), teacher=teacher,
                           device=dev, log=False)
        for name, kw in SWEEP_RECIPES.items():
            base = DistillConfig(teacher=tc, device=ctx["device"], **kw)
            cpu = {}
            for s in (s1, s2):
                cfgs = [dataclasses.replace(base, steps=s, seed=k) for k in range(S)]
                c0 = time.process_time()
                make_records(train_students(cfgs, teacher=teacher, device=dev))
                cpu[s] = (time.process_time() - c0) / S
            per_step = (cpu[s2] - cpu[s1]) / (s2 - s1)
            t = cpu[s1] + (base.steps - s1) * per_step
            out[name] = {"recipe": kw, "cpu_s_per_student": t, "cpu_s_per_student_step": per_step,
                         "students_per_cpu_minute": 60.0 / t}
    finally:
        torch.set_num_threads(threads)
    out["students_per_cpu_minute"] = {k: out[k]["students_per_cpu_minute"] for k in SWEEP_RECIPES}
    out["speedup"] = out["after"]["students_per_cpu_minute"] / out["before"]["students_per_cpu_minute"]
    return out
