"""Regenerate every figure and the tightness report of the paper (arXiv 2603.22355) in one command, and host `lrkd`.

``python paper_repro.py [--preset smoke|quick|full] [--device auto|cpu|cuda] [--out DIR] [--force]
[--real auto|on|off]`` is the same as ``lrkd repro``. :func:`cli` is the ``lrkd`` console script: a thin
dispatcher that imports only the module of the subcommand it runs, so ``lrkd rank`` never pays for torch,
pandas or matplotlib.
"""
from __future__ import annotations

import importlib
import sys

from bounds.cliutil import OneLineParser, UsageError, positive_int

#: subcommand -> (module exposing configure(parser) and run(args), one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "repro": ("paper_repro_cli", "regenerate every figure, table and the tightness report"),
    "rank": ("empirical.commands.rank", "recommended student rank for a sample size, under each reading of docs/theory.md R"),
    "bounds": ("empirical.commands.bounds", "the derived bounds: statements, assumptions, formulas; --eval one"),
    "tightness": ("empirical.commands.tightness", "tightness report for a results folder or a CSV of measurements"),
    "mi": ("empirical.commands.mi", "mutual information (nats) between two sample matrices; --validate"),
    "teacher": ("empirical.commands.teacher", "train (or load from cache) one LLaMA-style teacher"),
    "distill": ("empirical.commands.distill", "one Low-Rank Clone distillation run, printing its metrics"),
    "bench": ("empirical.commands.bench", "performance benchmarks, each a ratio against an in-run baseline"),
}


def _load(name: str):
    module_name = COMMANDS[name][0]
    if module_name == "paper_repro_cli":
        return sys.modules[__name__]
    return importlib.import_module(module_name)


#: exit status of a command whose reader closed the pipe (128 + SIGPIPE, what a shell reports for `yes | head`)
EXIT_CLOSED_PIPE = 141


def cli(argv: list[str] | None = None) -> int:
    """Entry point of the ``lrkd`` console script. Returns the exit status (2 on bad input, 141 when the reader
    of stdout went away, as in ``lrkd bounds | head -5``: quietly, no traceback)."""
    try:
        try:
            status = _dispatch(argv)
        except SystemExit:  # argparse's --help / usage exit: its output may still sit in the buffer
            sys.stdout.flush()
            raise
        sys.stdout.flush()  # a closed pipe shows here for output still in the buffer
        return status
    except BrokenPipeError:
        # stdout's reader is gone: send what is left (and the interpreter's final flush) to devnull
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_CLOSED_PIPE


def _dispatch(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = OneLineParser(prog="lrkd", description="Theory-verification toolkit for low-rank knowledge distillation.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=OneLineParser)
    chosen = argv[0] if argv else None
    for name, (_, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            _load(name).configure(p)
    args = parser.parse_args(argv)
    try:
        return int(_load(args.command).run(args) or 0)
    except UsageError as exc:
        print(f"lrkd {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lrkd {args.command}: interrupted; finished results are kept", file=sys.stderr)
        return 130
    except (MemoryError, RuntimeError) as exc:  # safety net for sizes no pre-flight check caught
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, RuntimeError) and not any(s in text.lower() for s in _OOM_TEXTS):
            raise
        print(f"lrkd {args.command}: error: out of memory ({text}); use smaller sizes", file=sys.stderr)
        return 2


#: lower-case fragments of torch's out-of-memory RuntimeError messages (CPU and CUDA)
_OOM_TEXTS = ("can't allocate memory", "out of memory", "not enough memory")


# ---------------------------------------------------------------- repro (same as python paper_repro.py)

def configure(parser) -> None:
    """Arguments of ``lrkd repro`` / ``python paper_repro.py``."""
    parser.add_argument("--preset", choices=["smoke", "quick", "full"], default="quick",
                        help="sizes of every experiment (printed at start; default: quick)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--out", default="results", help="output folder (default: results)")
    parser.add_argument("--force", action="store_true", help="recompute runs even if cached")
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="parallel worker processes (default: the preset's; 1 runs in-process)")
    parser.add_argument("--corpus", default=None, metavar="FILE",
                        help="UTF-8 text for the transformer track (default: the embedded pydoc_data corpus)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--real", choices=list(REAL_MODES), default="auto",
                        help="the real pretrained teacher (all-MiniLM-L6-v2) stage: auto runs it when the real extra "
                             "is installed, on requires it, off skips it (default: auto)")
    from empirical.sweep.executors import add_executor_arguments
    add_executor_arguments(parser)


def run(args) -> int:
    """Run the pipeline: plan -> run -> table -> theory -> draw -> judge (see :func:`pipeline`)."""
    import os

    real = getattr(args, "real", "auto")
    check_real(real)
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out: {args.out} exists and is not a folder")
    corpus = None
    if args.corpus is not None:
        if not os.path.isfile(args.corpus):
            raise UsageError(f"--corpus: no such file: {args.corpus}")
        corpus = os.path.abspath(args.corpus)
    from empirical.sweep.executors import executor_from_args
    from empirical.sweep import get_preset

    workers = get_preset(args.preset).workers if args.workers is None else args.workers
    executor = executor_from_args(args, workers=workers)  # None: the sweep's own pool (or in-process)
    try:
        return pipeline(preset=args.preset, device=args.device, out=args.out, force=args.force,
                        workers=args.workers, as_json=args.json, corpus=corpus, executor=executor, real=real)
    finally:
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


def main(argv: list[str] | None = None) -> int:
    """``python paper_repro.py [...]``: the same as ``lrkd repro [...]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return cli(["repro", *argv])


# ---------------------------------------------------------------- the pipeline

#: figure modules drawn by the pipeline, in order (figures/<name>.py: compute(...) -> DataFrame, plot(df) -> Figure)
FIGURES = ("convergence", "gen_rank", "gen_samples", "optimal_rank", "mutual_info", "tightness")


class _Stages:
    """Wall time per stage, printed as each stage ends."""

    def __init__(self, log):
        import time
        self.time, self.wall, self.log = time, {}, log

    def __call__(self, name):
        import contextlib

        @contextlib.contextmanager
        def timed():
            t0 = self.time.perf_counter()
            yield
            self.wall[name] = round(self.time.perf_counter() - t0, 3)
            self.log(f"[{name}] {self.wall[name]:.1f} s")
        return timed()


def pipeline(preset: str = "quick", device: str = "auto", out="results", force: bool = False,
             workers: int | None = None, as_json: bool = False, corpus: str | None = None, executor=None,
             real: str = "auto") -> int:
    """plan -> run -> table -> theory -> draw -> real -> judge, writing everything under ``out``:
    ``store/`` (cached run records), ``runs.csv``, ``trajectories.csv``, ``mi.csv``, ``theory_*.csv``,
    ``figures/*.png|pdf|csv``, ``report.md``, ``report.json`` and ``manifest.json``. ``executor`` (a
    ``concurrent.futures.Executor``, e.g. from :func:`empirical.sweep.executors.make_executor`) runs the sweep's
    tasks; None: a local process pool of ``workers`` (in-process when 1). ``real`` (one of
    :data:`REAL_MODES`): the real-teacher stage (:func:`real_stage`: ``store_real/``, ``real_runs.csv``,
    ``figures/real_model.*`` and the report's ``real_model`` section)."""
    import time
    from pathlib import Path

    from bounds import tightness
    from empirical import sweep
    from empirical.sweep import runners as sweep_runners

    check_real(real)
    log = (lambda msg: print(msg, file=sys.stderr, flush=True)) if as_json else (lambda msg: print(msg, flush=True))
    t_start = time.perf_counter()
    out = Path(out)
    stage = _Stages(log)
    p = sweep.get_preset(preset)
    if corpus is not None and p.transformer is not None:
        import dataclasses
        p = dataclasses.replace(p, transformer=dataclasses.replace(p.transformer, corpus=corpus))
    dev = _resolve_device(device)
    n_workers = p.workers if workers is None else workers
    if dev == "cpu":
        # the models are tiny: one torch thread per process is several times faster than two threads
        # fighting over 2 cores (measured: 4.0 s vs 16 s for the smoke transformer group), and the workers use one
        sweep._init_worker()
    log(sweep.describe(p))
    where = type(executor).__name__ if executor is not None else f"workers {n_workers}"
    log(f"device {dev}; {where}; output {out.resolve()}")

    with stage("plan"):
        configs = sweep.plan(p, dev)
        log(f"{len(configs)} runs planned")
    with stage("run"):
        store = sweep_runners.Store(out / "store")
        records, stats = sweep.run_sweep(configs, store, workers=n_workers, force=force, executor=executor, log=log)
        log(f"runs: {stats.cached} from the store, {stats.computed} computed, {stats.failed} failed")
    with stage("table"):
        runs = sweep_runners.runs_table(records)
        traj = sweep_runners.traj_table(records)
        out.mkdir(parents=True, exist_ok=True)
        runs.to_csv(out / "runs.csv", index=False)
        traj.to_csv(out / "trajectories.csv", index=False)
        mi_df = sweep_runners.mi_table(records)
        mi_df.to_csv(out / "mi.csv", index=False)
    with stage("theory"):
        tables = tightness.Tables(runs=tightness._finish_runs(runs), traj=traj, mi=mi_df)
        tightness.c1_curves(tables.runs, traj).to_csv(out / "theory_c1.csv", index=False)
        tightness.g_bound_points(tables.runs).to_csv(out / "theory_g.csv", index=False)
        report = tightness.judge(tables)
    with stage("advice"):
        report.update(advice_sections(tables.runs, with_mi=p.mi is not None, log=log))
    with stage("draw"):
        drawn = draw_figures(tables, report, out / "figures")
        log("figures: " + ", ".join(drawn))
    with stage("real"):
        report["real_model"], real_info = real_stage(real, preset, out, force=force, log=log)
    with stage("judge"):
        md, js = tightness.write_report(report, out)
        for cid, c in report["claims"].items():
            log(f"  {cid}: {c['verdict']} -- {c.get('reason', '')}")
        for m in report["real_model"].get("matrices", []):
            log(f"  real {m['short']}: {m['gap']['verdict']} -- {m['gap'].get('reason', '')}")
    wall_total = time.perf_counter() - t_start
    write_manifest(out, preset=p, device=dev, records=records, stats=stats, stages=stage.wall, total_s=wall_total,
                   real=real_info)
    log(f"wrote {md}, {js}, {out / 'manifest.json'} in {wall_total:.1f} s")
    if as_json:
        from bounds.cliutil import emit_json
        emit_json(report)
    return 0


def advice_sections(runs, with_mi: bool = True, log=print) -> dict:
    """The report's sections beside the verdicts: ``rank_advice`` (every track calibrated through
    :func:`bounds.calibrate.report_section`: fitted L(r, N), r* at 4x the largest N, the held-out extrapolation
    check) and ``mi_gaussian_check`` (I1/I2/I3 and the MI estimators on jointly Gaussian pairs of the preset's
    cloning sizes, where the true MI is known: :func:`empirical.mi.validate_bounds.gaussian_bound_check`).
    A failure in either is recorded in its section (one line), never raised."""
    out = {}
    try:
        from bounds import calibrate
        out["rank_advice"] = calibrate.report_section(runs, n_boot=200)
    except Exception as exc:  # noqa: BLE001  (the verdicts must be written whatever happens here)
        out["rank_advice"] = {"tracks": {}, "markdown": [f"Calibration failed: {type(exc).__name__}: {exc}"]}
    if with_mi:
        try:
            from empirical.mi.validate_bounds import gaussian_bound_check
            chk = gaussian_bound_check()
            log(f"MI bounds on planted Gaussian pairs: {chk.pop('seconds'):.1f} s")  # a wall time: not in the report
            out["mi_gaussian_check"] = chk
        except Exception as exc:  # noqa: BLE001
            out["mi_gaussian_check"] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


# ---------------------------------------------------------------- the real pretrained teacher (issue 6)

#: values of ``--real``: auto (run when the real extra is installed), on (require it), off (skip)
REAL_MODES = ("auto", "on", "off")
#: main preset (empirical.sweep.PRESETS) -> real-teacher preset (empirical.real.experiment.PRESETS)
REAL_PRESETS = {"smoke": "smoke", "quick": "repro", "full": "quick"}
#: what the report says when the extra is missing
REAL_SKIP_REASON = "install the real extra: pip install -e '.[real]'"


def check_real(mode: str) -> None:
    """:class:`UsageError` (one line, exit 2, before anything is computed) for an unknown mode, or for
    ``on`` without the real extra (checked with ``importlib.util.find_spec``, nothing imported)."""
    if mode not in REAL_MODES:
        raise UsageError(f"--real must be one of {', '.join(REAL_MODES)}, got {mode!r}")
    if mode == "on":
        from empirical import real as real_pkg

        if not real_pkg.available():
            raise UsageError(f"--real on: the real extra is not installed; {REAL_SKIP_REASON}")


#: sample sizes N at which every real matrix's recommended ranks are tabulated (real_all_ranks.csv)
REAL_ALL_SAMPLE_SIZES = (1_000, 10_000, 100_000)


def real_stage(mode: str, preset: str, out, force: bool = False, log=print) -> tuple[dict, dict]:
    """The real-teacher stage: returns ``(section, info)``, the report's ``real_model`` section and what the
    manifest records (preset, store, runs cached / computed).

    Skipped (``status: skipped`` with the reason) when ``mode`` is off or the extra is missing. Otherwise it
    runs (or loads from ``out/store_real``) the real preset mapped from ``preset`` by :data:`REAL_PRESETS`,
    writes ``out/real_runs.csv``, ``out/real_spectra_fits.csv`` (the spectral fits the section uses: with
    real_runs.csv, what :func:`bounds.tightness.real_section_from_dir` rebuilds the section from) and
    ``out/figures/real_model.{png,pdf,csv}``, and for presets other than smoke every matrix of the model
    (``real_all_spectra_fits.csv``, ``real_all_ranks.csv`` at :data:`REAL_ALL_SAMPLE_SIZES`, the section's
    ``all_matrices``), and returns :func:`bounds.tightness.real_model_section`. The text is always the embedded
    corpus (``--corpus`` applies to the transformer track only). Any exception inside becomes ``status: failed`` with its
    one-line text, so the main report is always written."""
    from pathlib import Path

    from empirical import real as real_pkg

    name = REAL_PRESETS.get(preset, "smoke")
    if mode == "off":
        return {"status": "skipped", "reason": "turned off by --real off", "preset": name}, {}
    if not real_pkg.available():
        log(f"[real] skipped: {REAL_SKIP_REASON}")
        return {"status": "skipped", "reason": REAL_SKIP_REASON, "preset": name}, {}
    try:
        return _real_compute(name, Path(out), force, log)
    except Exception as exc:  # noqa: BLE001  (any failure here must not lose the main report)
        text = str(exc).splitlines()[0] if str(exc) else ""
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        log(f"[real] failed: {text}")
        return {"status": "failed", "error": text, "preset": name}, {"preset": name, "error": text}


def _real_compute(name: str, out, force: bool, log) -> tuple[dict, dict]:
    """Sweep (cached), spectra and their fits, the report section, the figure; see :func:`real_stage`."""
    from bounds import tightness
    from empirical.real import experiment, spectra
    from empirical.real.minilm import matrix_names
    from empirical.cache.store import ResultStore
    from figures import io, real_model

    log(f"real teacher all-MiniLM-L6-v2: preset {name!r}, {len(experiment.plan(experiment.PRESETS[name]))} runs")
    sweep_df = experiment.run_sweep(name, store=ResultStore(out / "store_real"), force=force)
    n_cached = int(sweep_df["cached"].sum())
    log(f"real runs: {n_cached} from the store, {len(sweep_df) - n_cached} computed")
    out.mkdir(parents=True, exist_ok=True)
    sweep_df.drop(columns=["cached"]).to_csv(out / tightness.REAL_RUNS_FILE, index=False)
    names = list(dict.fromkeys(sweep_df["matrix"]))
    fit_cfg = spectra.FitConfig(k_hi=None, n_boot=500)   # every singular value, as `lrkd rank` and the figure
    every = name != "smoke"   # every matrix of the model (~15 s) except in the seconds-scale smoke preset
    all_spec = spectra.model_spectra(None if every else [m for m in matrix_names() if m.name in names])
    all_fits = spectra.spectral_fits(all_spec, fit_cfg)
    fits = all_fits[all_fits["name"].isin(names)].reset_index(drop=True)
    spec = all_spec[all_spec["name"].isin(names)]
    # the fits the section uses, so `lrkd tightness OUT` rebuilds the section from files alone
    fits.to_csv(out / tightness.REAL_FITS_FILE, index=False)
    ranks = spectra.rank_table(spec, sample_sizes=(int(sweep_df["n_train"].max()),), config=fit_cfg)
    section = {**tightness.real_model_section(sweep_df.drop(columns=["cached"]), fits), "preset": name}
    if every:
        all_ranks = spectra.rank_table(all_spec, sample_sizes=REAL_ALL_SAMPLE_SIZES, config=fit_cfg)
        all_fits.to_csv(out / tightness.REAL_ALL_FITS_FILE, index=False)
        all_ranks.to_csv(out / tightness.REAL_ALL_RANKS_FILE, index=False)
        section["all_matrices"] = tightness.real_all_matrices_summary(all_fits, all_ranks)
    if every:   # per-matrix rank allocation vs one rank for all, at equal parameters (bounds.allocate)
        from bounds.allocate import allocation_summary
        from empirical.real.minilm import model_dir
        section["allocation"] = allocation_summary(model_dir(), 0.1)
    df = real_model.compute(sweep=sweep_df, spectra=spec, fits=fits, ranks=ranks, section=section)
    io.save(real_model.plot(df), df, out / "figures", "real_model")
    from empirical.config import config_hash

    info = {"preset": name, "teacher": experiment.TEACHER, "store": "store_real", "runs": int(len(sweep_df)),
            "cached": n_cached, "computed": int(len(sweep_df) - n_cached),
            "config_hashes": [config_hash(r) for r in experiment.plan(experiment.PRESETS[name])]}
    return section, info


def _resolve_device(device: str) -> str:
    if device == "cpu":
        return "cpu"
    from empirical.runtime.device import resolve_device
    return str(resolve_device(device).type)


def draw_figures(tables, report: dict, folder) -> list[str]:
    """Compute, plot and save every figure of :data:`FIGURES`; returns their names."""
    import importlib

    from figures import io

    inputs = {
        "convergence": lambda m: m.compute(tables.runs, tables.traj, report),
        "gen_rank": lambda m: m.compute(tables.runs, report),
        "gen_samples": lambda m: m.compute(tables.runs, report),
        "optimal_rank": lambda m: m.compute(tables.runs, report),
        "mutual_info": lambda m: m.compute(tables.mi),
        "tightness": lambda m: m.compute(tables.runs),
    }
    for name in FIGURES:
        module = importlib.import_module(f"figures.{name}")
        df = inputs[name](module)
        io.save(module.plot(df), df, folder, name)
    return list(FIGURES)


def write_manifest(out, *, preset, device, records, stats, stages, total_s, real: dict | None = None) -> None:
    """manifest.json: config hashes of every run used, package versions, git commit, device, wall times, and
    ``real`` (the real-teacher stage's preset and run counts, when it ran)."""
    import dataclasses
    import json
    import platform
    import subprocess
    from importlib import metadata
    from pathlib import Path

    def version(pkg):
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return None

    root = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10).stdout.strip() or None
        dirty = bool(subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True,
                                    timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    dev_name = platform.processor() or platform.machine()
    if device == "cuda":
        import torch
        dev_name = torch.cuda.get_device_name(0)
    manifest = {
        "preset": dataclasses.asdict(preset),
        "runs": [{"config_hash": r.get("config_hash"), "track": r.get("track"), "status": r.get("status")}
                 for r in records],
        "sweep": {"total": stats.total, "cached": stats.cached, "computed": stats.computed, "failed": stats.failed,
                  "corrupt": stats.corrupt},
        "versions": {"python": platform.python_version(),
                     **{pkg: version(pkg) for pkg in ("lrkd", "torch", "numpy", "scipy", "sympy", "pandas",
                                                      "matplotlib")}},
        "git": {"commit": commit, "dirty": dirty},
        "device": {"kind": device, "name": dev_name, "cpu_count": __import__("os").cpu_count(),
                   "platform": platform.platform()},
        "wall_s": {**stages, "total": round(total_s, 3)},
    }
    if real:
        manifest["real"] = real
    from bounds.jsonable import jsonable as _jsonable
    (Path(out) / "manifest.json").write_text(json.dumps(_jsonable(manifest), indent=2, allow_nan=False) + "\n")


if __name__ == "__main__":
    sys.exit(main())
