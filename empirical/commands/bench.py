"""``lrkd bench``: performance benchmarks, each reported against a baseline measured in the same run.

This module is the command (registry, arguments, printing); the benchmarks themselves are
:mod:`empirical.perf.bench`.

A registry (:data:`BENCHMARKS`) maps a name to a function ``fn(ctx) -> dict`` or to a dotted path
``"module:function"`` imported on use (other packages add theirs this way; the function is called with the
keyword arguments it accepts among ``device`` and ``quick``). ``ctx`` carries the device, repeat count and the
results so far (``teacher`` and ``lrc`` read ``matmul``'s peak). All timings are medians over repeated steps,
interleaved with their baseline, because the machine is noisy.

- ``matmul``: fp32 peak of a large square ``torch.matmul`` (bf16 on CUDA).
- ``teacher``: training step of the default teacher (batch 32; empirical.training.teacher_training.teacher_step itself): tokens/s,
  FLOP/s (empirical.perf.mfu's count) as a fraction of the matmul peak, and ``torch.nn.TransformerEncoder``
  (pre-norm, causal, same width, depth, heads, FFN width, embedding + tied head) as the in-run baseline:
  ``speedup_vs_torch_baseline``; also the step through ``torch.compile`` (``compiled``; ``--no-compile``
  skips it), a parameter-matched baseline (GELU FFN 4d), the kernel ceiling (GEMM + attention time only) and
  a 4x wider teacher (``wide``); see :func:`bench_teacher`.
- ``lrc``: one LRC distillation step (rank 16, cached teacher targets as in a real run) per token against the
  teacher step per token: ``time_per_token_vs_teacher``; also 4 stacked students per student.
- ``memory``: peak RSS of quick-preset-sized distillation runs, each in a fresh subprocess.
- ``sweep``: ``students_per_cpu_minute`` of the quick transformer track's student recipe, before (issue 13)
  and after, per student CPU time at one torch thread (:func:`empirical.perf.bench.bench_sweep`).
- ``run`` (not in the default set): wall time of a full default distillation run, alone and 4 stacked.
- ``ksg``: the MI estimator benchmark of empirical.mi.bench.
"""
from __future__ import annotations

from bounds.cliutil import positive_int
from empirical.perf.bench import bench_lrc, bench_matmul, bench_memory, bench_run, bench_sweep, bench_teacher

DEFAULT = ("matmul", "teacher", "lrc", "memory", "sweep", "ksg")


BENCHMARKS = {
    "matmul": bench_matmul,
    "teacher": bench_teacher,
    "lrc": bench_lrc,
    "memory": bench_memory,
    "sweep": bench_sweep,
    "run": bench_run,
    "ksg": "empirical.mi.bench:run",
    "mfu": "empirical.perf.mfu:run",
}


def _resolve(entry):
    if callable(entry):
        return entry, True
    import importlib
    mod, fn = entry.split(":")
    return getattr(importlib.import_module(mod), fn), False


def configure(parser) -> None:
    """Arguments of ``lrkd bench``."""
    parser.add_argument("--json", action="store_true", help="print all results as JSON")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--only", action="append", default=None, metavar="NAME",
                        help=f"run only these benchmarks (repeatable or comma list; choices: {', '.join(BENCHMARKS)})")
    parser.add_argument("--repeats", type=positive_int, default=15, help="timed steps per measurement (median)")
    parser.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--no-compile", action="store_true",
                        help="skip the torch.compile variants of the teacher benchmark (they compile for ~40 s each)")


def run(args) -> int:
    """Run the chosen benchmarks and print their headline ratios (or everything as JSON)."""
    import inspect

    from bounds.cliutil import UsageError, emit_json
    names = list(DEFAULT) if not args.only else [n.strip() for o in args.only for n in o.split(",") if n.strip()]
    bad = [n for n in names if n not in BENCHMARKS]
    if bad:
        raise UsageError(f"unknown benchmark(s) {', '.join(bad)}; choose from {', '.join(BENCHMARKS)}")
    import torch

    from empirical.runtime.device import resolve_device
    dev = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    ctx = {"dev": dev, "device": dev.type, "repeats": args.repeats, "results": {}, "compile": not args.no_compile}
    if ("teacher" in names or "lrc" in names) and "matmul" not in names:
        names.insert(0, "matmul")
    results = ctx["results"]
    results["_meta"] = {"device": str(dev), "threads": torch.get_num_threads(), "torch": torch.__version__,
                        "repeats": args.repeats}
    for name in names:
        fn, native = _resolve(BENCHMARKS[name])
        try:
            if native:
                results[name] = fn(ctx)
            else:
                params = inspect.signature(fn).parameters
                kw = {k: v for k, v in (("device", ctx["device"]),) if k in params}
                results[name] = fn(**kw)
        except ImportError as exc:
            results[name] = {"skipped": f"not available: {exc}"}
        if not args.json:
            print(f"[{name}] " + _headline(name, results[name]), flush=True)
    if args.json:
        emit_json(results)
    return 0


def _headline(name: str, r: dict) -> str:
    def f(x, spec=".3g"):
        return "n/a" if x is None else format(x, spec)
    if "skipped" in r or "error" in r:
        return str(r)
    if name == "matmul":
        return f"peak {f(r['flops_per_s'] / 1e9)} GFLOP/s ({r['dtype']}, n={r['n']})"
    if name == "teacher":
        line = (f"eager {f(r['tokens_per_s'], '.0f')} tokens/s, {f(r['flops_per_s'] / 1e9)} GFLOP/s = "
                f"{f(r['fraction_of_peak'], '.1%')} of peak (kernel ceiling {f(r['kernel_ceiling_fraction'], '.1%')}); "
                f"torch TransformerEncoder {f(r['torch_baseline_tokens_per_s'], '.0f')} tokens/s -> speedup "
                f"{f(r['speedup_vs_torch_baseline'])}x (param-matched 4d baseline: "
                f"{f(r['param_matched_baseline']['speedup_vs_it'])}x)")
        c = r.get("compiled")
        if c and "skipped" not in c:
            line += (f"; compiled {f(c['tokens_per_s'], '.0f')} tokens/s = {f(c['fraction_of_peak'], '.1%')} of peak, "
                     f"speedup {f(c['speedup_vs_torch_baseline'])}x (vs compiled baseline "
                     f"{f(c['speedup_vs_compiled_baseline'])}x)")
        elif c:
            line += f"; compiled: {c['skipped']}"
        w = r["wide"]
        return line + (f"; wide d={w['config']['d_model']}: {f(w['fraction_of_peak'], '.1%')} of peak, speedup "
                       f"{f(w['speedup_vs_torch_baseline'])}x")
    if name == "lrc":
        return (f"LRC step / teacher step per token = {f(r['time_per_token_vs_teacher'])} "
                f"(4 stacked: {f(r['stacked4_time_per_token_per_student_vs_teacher'])} per student)")
    if name == "memory":
        return f"peak RSS {f(r.get('max_peak_rss_mib'), '.0f')} MiB (under 2 GiB: {r.get('under_2GiB')})"
    if name == "ksg":
        k, sk = r.get("ksg_32x32", {}), r.get("sklearn_1d", {})
        return (f"KSG {k.get('dims')} n={k.get('n')}: {f(k.get('seconds_median'))} s "
                f"({f(k.get('speedup_vs_kdtree'))}x the KD-tree path); vs sklearn 1-D: max |diff| "
                f"{f(sk.get('max_abs_diff'))} nats, sklearn time / ours {f(sk.get('time_ratio_sklearn_over_ours'))}")
    if name == "sweep":
        spm = r["students_per_cpu_minute"]
        return (f"quick transformer students per CPU-minute: before {f(spm['before'])}, after {f(spm['after'])} "
                f"({f(r['speedup'])}x; {f(r['before']['cpu_s_per_student'])} -> "
                f"{f(r['after']['cpu_s_per_student'])} CPU s per student)")
    if name == "run":
        return f"full run {f(r['one_run_s'])} s alone, {f(r['per_run_stacked_s'])} s per run when 4 are stacked"
    return ", ".join(f"{k}={v}" for k, v in list(r.items())[:6] if not isinstance(v, (dict, list)))
