"""Sweeps: presets (in ONE place), plan(preset) -> frozen run configs, and running them with caching/resume.

A preset lists every size of every experiment of ``paper_repro.py``; :func:`describe` prints it at start.
:func:`plan` turns a preset into a list of frozen run configs (the synthetic linear track's and the
transformer track's, from :mod:`empirical.config` / :mod:`empirical.synthetic_fallback`). :func:`run_sweep` serves
each config from the content-hashed :class:`empirical.store.ResultStore` when it is there (unless
``force``), and otherwise runs it through a ``concurrent.futures.Executor``: a local process pool with one
torch thread per worker when ``workers > 1``, in-process when ``workers == 1``. Every finished run is written
to the store the moment it finishes, so a killed sweep resumes where it stopped. A run that fails (an
exception, a NaN loss) is recorded with ``status="failed"`` and its reason; the report excludes it from fits.

Progress: a tqdm bar over the sweep on a terminal, one plain line per run otherwise.
"""
from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import json
import math
import os
import sys
import time
import traceback
from dataclasses import dataclass, field

#: environment variable a test sets to make a worker sleep after each run (to kill a sweep part-way)
SLOW_ENV = "LRKD_SWEEP_TEST_DELAY_S"


# ------------------------------------------------------------------------------------------- presets

@dataclass(frozen=True)
class SyntheticGrid:
    """Synthetic linear track: teacher W (m x d) with spectrum sigma_k = s k^-alpha, noise tau."""

    ranks: tuple[int, ...]
    samples: tuple[int, ...]
    seeds: tuple[int, ...]
    m: int = 24
    d: int = 24
    alpha: float = 1.0
    noise: float = 0.5
    conv_ranks: tuple[int, ...] = ()   # SGD runs with a long trajectory for the convergence figure
    conv_samples: int = 512
    conv_steps: int = 2000


@dataclass(frozen=True)
class TransformerGrid:
    """Transformer (LRC) track on the embedded corpus."""

    ranks: tuple[int, ...]
    samples: tuple[int, ...]
    seeds: tuple[int, ...]
    steps: int = 200
    teacher_steps: int = 600
    d_model: int = 64
    n_layers: int = 2
    beta_iters: int = 20        # Hessian power iterations (beta)
    sigma2_batches: int = 16    # minibatch gradients for sigma^2
    eval_sequences: int = 512   # sequences for the final train / held-out losses
    n_log_points: int = 16      # log-spaced trajectory points (each measures grad norm, beta, sigma^2: the
                                # dominant cost of short runs: ~1 s per point and student on 2 CPU cores)
    batch_size: int = 32
    corpus: str | None = None   # UTF-8 text file; None: the embedded pydoc_data corpus


@dataclass(frozen=True)
class MIGrid:
    """Activation-cloning MI experiment (empirical.mi.cloning) on the transformer track's teacher."""

    ranks: tuple[int, ...]
    steps: int = 200
    samples: int = 512
    heldout_sequences: int = 128
    estimators: tuple[str, ...] = ("gaussian", "ksg")
    infonce_steps: int = 300
    n_checkpoints: int = 6      # training steps at which the largest-rank student is measured
    seeds: tuple[int, ...] = (0,)


@dataclass(frozen=True)
class Preset:
    """Every size of every experiment, in one place."""

    name: str
    synthetic: SyntheticGrid
    transformer: TransformerGrid | None
    mi: MIGrid | None
    workers: int = 2
    budget: str = ""


PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        name="smoke", budget="<= 60 s on 2 CPU cores (tests)",
        synthetic=SyntheticGrid(ranks=(1, 2, 4, 8), samples=(32, 64, 128), seeds=(0, 1), m=12, d=12, noise=0.3,
                                conv_ranks=(2, 8), conv_samples=128, conv_steps=300),
        transformer=TransformerGrid(ranks=(4, 8), samples=(64, 128), seeds=(0,), steps=20, teacher_steps=60,
                                    d_model=32, n_layers=1, beta_iters=4, sigma2_batches=4, eval_sequences=64,
                                    n_log_points=8),
        mi=MIGrid(ranks=(2, 8), steps=20, samples=128, heldout_sequences=16, n_checkpoints=3),
        workers=2),
    "quick": Preset(
        name="quick", budget="<= 10 min on 2 CPU cores (default of python paper_repro.py)",
        synthetic=SyntheticGrid(ranks=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64),
                                samples=(64, 128, 256, 512, 1024, 2048, 4096, 8192), seeds=(0, 1, 2, 3, 4), m=64,
                                d=64, noise=0.5, conv_ranks=(2, 8, 32), conv_samples=512, conv_steps=2000),
        # sized from measured costs (2 CPU cores, 1 thread per worker): a student step ~0.08 s at batch 32, a
        # trajectory point ~1 s; fewer (r, N) points with more steps rather than many undertrained students
        transformer=TransformerGrid(ranks=(4, 8, 16), samples=(32, 128, 512), seeds=(0, 1, 2), steps=240,
                                    teacher_steps=400, beta_iters=6, sigma2_batches=4, eval_sequences=128,
                                    n_log_points=8),
        mi=MIGrid(ranks=(2, 8, 32), steps=80, samples=512, heldout_sequences=32, n_checkpoints=3, seeds=(0, 1, 2)),
        workers=2),
    "full": Preset(
        name="full", budget="<= 15 min on one H200-class GPU",
        synthetic=SyntheticGrid(ranks=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128),
                                samples=(64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384), seeds=tuple(range(8)),
                                m=128, d=128, noise=0.5, conv_ranks=(4, 16, 64), conv_samples=2048,
                                conv_steps=20000),
        transformer=TransformerGrid(ranks=(4, 8, 16, 32, 64), samples=(32, 128, 512, 2048), seeds=(0, 1, 2, 3, 4),
                                    steps=400, teacher_steps=600),
        mi=MIGrid(ranks=(2, 4, 8, 16, 32, 64), steps=400, samples=2048, heldout_sequences=256,
                  estimators=("gaussian", "ksg", "infonce"), seeds=(0, 1, 2, 3, 4)),
        workers=4),
}


def get_preset(name: str) -> Preset:
    """The preset called ``name`` (KeyError lists the known ones)."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[name]


def describe(preset: Preset) -> str:
    """Multi-line text listing every size of ``preset`` (printed at start by paper_repro.py)."""
    lines = [f"preset {preset.name!r} ({preset.budget}); workers={preset.workers}"]
    for part in ("synthetic", "transformer", "mi"):
        grid = getattr(preset, part)
        if grid is None:
            lines.append(f"  {part}: off")
            continue
        fields = ", ".join(f"{f.name}={getattr(grid, f.name)}" for f in dataclasses.fields(grid))
        lines.append(f"  {part}: {fields}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- plan

def plan(preset: Preset | str, device: str = "cpu") -> list:
    """Every run config of ``preset`` (frozen dataclasses), in a deterministic order: synthetic
    generalization grid, synthetic convergence runs, the transformer grid, then the cloning MI experiment
    (one config per seed, on the transformer track's teacher)."""
    from empirical import sweep_runners as runners

    if isinstance(preset, str):
        preset = get_preset(preset)
    cfgs = list(runners.synthetic_configs(preset.synthetic, device))
    if preset.transformer is not None:
        cfgs += list(runners.transformer_configs(preset.transformer, device))
        if preset.mi is not None:
            cfgs += list(runners.cloning_configs(preset.mi, preset.transformer, device))
    return cfgs


# ------------------------------------------------------------------------------------------- run

@dataclass
class SweepStats:
    """What happened in one :func:`run_sweep`: how many runs were served from the store, computed, failed."""

    total: int = 0
    cached: int = 0
    computed: int = 0
    failed: int = 0
    corrupt: int = 0          # stored files that failed validation (schema, key, checksum) and were recomputed
    wall_s: float = 0.0
    computed_hashes: list = field(default_factory=list)


def _exit_with_parent(parent: int) -> None:
    """Worker-side watchdog: leave as soon as the sweep process is gone (e.g. SIGKILLed), instead of
    finishing a now useless run as an orphan."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def _init_worker(parent: int | None = None) -> None:
    if parent is not None:
        import threading
        threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"
    try:
        import torch
        torch.set_num_threads(1)
        torch.set_num_interop_threads(1)
    except (ImportError, RuntimeError):
        pass


def execute_batch(cfgs: list, store_root=None) -> list[dict]:
    """Run configs that train together (one stacked model for transformer runs; see
    :func:`empirical.sweep_runners.batches`); each exception or non-finite loss becomes a failed record."""
    from empirical import sweep_runners as runners

    t0 = time.perf_counter()
    try:
        recs = runners.run_many(cfgs, store_root)
    except Exception as exc:  # a failed run is data, not a crash of the sweep
        if len(cfgs) > 1:  # retry one by one so that one bad config does not fail its batch-mates
            return [r for c in cfgs for r in execute_batch([c], store_root)]
        recs = [runners.failed_record(cfgs[0], f"{type(exc).__name__}: {exc}", traceback.format_exc(limit=3))]
    share = (time.perf_counter() - t0) / max(1, len(cfgs))
    for rec in recs:
        rec.setdefault("wall_s", share)
        if rec.get("status", "ok") == "ok":
            for key in ("train_loss", "test_loss"):
                v = rec.get(key)
                if v is None or not math.isfinite(float(v)):
                    rec["status"], rec["failure_reason"] = "failed", f"non-finite {key}: {v}"
    delay = float(os.environ.get(SLOW_ENV, "0") or 0)
    if delay:
        time.sleep(delay)
    return recs


def _progress(total: int):
    if sys.stderr.isatty():
        from tqdm import tqdm
        return tqdm(total=total, desc="runs", unit="run", file=sys.stderr)
    return None


def _line(i: int, total: int, cfg, rec: dict, how: str) -> str:
    from empirical import sweep_runners as runners

    loss = rec.get("test_loss")
    loss_txt = f"test {loss:.4f}" if isinstance(loss, (int, float)) and math.isfinite(loss) else rec.get("failure_reason", "")
    return f"[{i}/{total}] {runners.short_name(cfg)}: {rec.get('status', 'ok')} {loss_txt} ({how})"


def run_sweep(configs: list, store, *, workers: int = 1, force: bool = False, executor: cf.Executor | None = None,
              log=print) -> tuple[list[dict], SweepStats]:
    """Every config's record, in the order of ``configs``; missing ones are computed and stored.

    ``store`` is an :class:`empirical.store.ResultStore`. ``executor`` overrides the default
    (``ProcessPoolExecutor(workers)`` with one torch thread per worker when ``workers > 1``; in-process when 1),
    e.g. one of :func:`empirical.executors.make_executor`; it is not shut down here. Every task goes through
    :func:`empirical.locking.stored_batch`, so the worker stores each record under its key's lock and several
    sweeps sharing a store compute each run once.
    """
    from empirical import locking
    from empirical import sweep_runners as runners

    t0 = time.perf_counter()
    stats = SweepStats(total=len(configs))
    records: list[dict | None] = [None] * len(configs)
    todo = []
    for i, cfg in enumerate(configs):
        rec = None if force else store.get(cfg)
        if rec is not None:
            records[i] = rec
            stats.cached += 1
        else:
            todo.append(i)
            if not force and getattr(store, "has_file", lambda c: False)(cfg):
                stats.corrupt += 1
                log(f"stored result {runners.key(cfg)[:12]} ({runners.short_name(cfg)}) is corrupt or incomplete: "
                    "recomputing it")
    store_root = getattr(getattr(store, "inner", None), "root", None)
    bar = _progress(len(configs))
    if bar is not None:
        bar.update(stats.cached)
    elif stats.cached:
        log(f"{stats.cached}/{len(configs)} runs served from the store")
    done = stats.cached

    def finish(i: int, rec: dict) -> None:
        nonlocal done
        # the record as the store will give it back (canonical JSON: sorted keys), so that a fresh run and a
        # cached one are indistinguishable downstream
        rec = json.loads(json.dumps(runners.complete_record(configs[i], rec), sort_keys=True))
        if store_root is None:  # otherwise locking.stored_batch already stored it, under its key's lock
            store.put(configs[i], rec)
        records[i] = rec
        done += 1
        stats.computed += 1
        stats.computed_hashes.append(rec.get("config_hash"))
        if rec.get("status") != "ok":
            stats.failed += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(runners.short_name(configs[i]))
        else:
            log(_line(done, len(configs), configs[i], rec, f"{rec.get('wall_s', 0):.1f}s"))

    in_process = executor is None and workers <= 1
    # in-process there is no round trip to amortize: one synthetic run per task, stored as soon as it ends
    tasks = runners.batches([configs[i] for i in todo], todo, chunk=1 if in_process else runners.SYNTHETIC_CHUNK)
    # tasks that need a teacher wait until it is trained, once, in this process (never twice in parallel)
    needs = [bool(runners.teachers([configs[i] for i in idxs])) for idxs in tasks]
    free = [t for t, n in zip(tasks, needs) if not n]
    tasks = free + [t for t, n in zip(tasks, needs) if n]

    def teachers_ready():
        runners.prepare_teachers([configs[i] for i in todo], store_root, log)

    try:
        if tasks and in_process:
            teachers_ready()
            for idxs in tasks:
                for i, rec in zip(idxs, locking.stored_batch(execute_batch, [configs[i] for i in idxs], store_root,
                                                             force)):
                    finish(i, rec)
        elif tasks:
            own = executor is None
            if own:
                import multiprocessing as mp
                executor = cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                                  initializer=_init_worker, initargs=(os.getpid(),))
            try:
                # teacher-free tasks start at once; the teachers train here meanwhile; then the rest is submitted
                futures = {executor.submit(locking.stored_batch, execute_batch, [configs[i] for i in idxs],
                                           store_root, force): idxs
                           for idxs in free}
                teachers_ready()
                futures.update({executor.submit(locking.stored_batch, execute_batch, [configs[i] for i in idxs],
                                                store_root, force): idxs
                                for idxs in tasks[len(free):]})
                for fut in cf.as_completed(futures):
                    idxs = futures[fut]
                    try:
                        recs = fut.result()
                    except cf.process.BrokenProcessPool as exc:
                        recs = [runners.failed_record(configs[i], f"worker process died: {exc}") for i in idxs]
                    for i, rec in zip(idxs, recs):
                        finish(i, rec)
            finally:
                if own:
                    executor.shutdown(wait=True, cancel_futures=True)
    finally:
        if bar is not None:
            bar.close()
    stats.wall_s = time.perf_counter() - t0
    return [r for r in records if r is not None], stats
