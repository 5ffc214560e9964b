"""Running a planned sweep with caching and resume: plan's configs -> runner -> training -> store.

:func:`run_sweep` serves each config from the content-hashed :class:`empirical.cache.store.ResultStore` when it
is there (unless ``force``), and otherwise runs it through a ``concurrent.futures.Executor``: a local process pool
with one torch thread per worker when ``workers > 1``, in-process when ``workers == 1``. Every task is
:func:`stored_batch`: the worker runs the configs nobody has stored yet (:func:`execute_batch`, through
:mod:`empirical.sweep.runners`) and stores each record under its key's lock (:mod:`empirical.cache.locking`), so
a killed sweep resumes where it stopped and several sweeps sharing a store compute each run once. A run that fails
(an exception, a NaN loss) is recorded with ``status="failed"`` and its reason; the report excludes it from fits.

Progress: a tqdm bar over the sweep on a terminal, one plain line per run otherwise; both show the elapsed time
and an ETA weighted by each remaining run's expected cost (:mod:`empirical.sweep.progress`).

May import: the standard library, :mod:`empirical.sweep.runners` and :mod:`empirical.cache`.
"""
from __future__ import annotations

import concurrent.futures as cf
import json
import math
import os
import sys
import time
import traceback
from dataclasses import dataclass, field

from empirical.cache.locking import run_many_once
from empirical.cache.store import ResultStore
from empirical.sweep import progress, runners

#: environment variable a test sets to make a worker sleep after each run (to kill a sweep part-way)
SLOW_ENV = "LRKD_SWEEP_TEST_DELAY_S"


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
    :func:`empirical.sweep.runners.batches`); each exception or non-finite loss becomes a failed record."""
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


def stored_batch(execute_batch: Callable, cfgs: list, store_root, force: bool = False) -> list[dict]:
    """Worker-side wrapper for the sweep: ``execute_batch(missing_cfgs, store_root) -> records`` runs only for
    the configs of ``cfgs`` that no one has stored yet, under their keys' locks; every record is completed
    (:func:`empirical.sweep.runners.complete_record`) and stored here, and the records of all ``cfgs`` are
    returned in order. Module level, so ``executor.submit(stored_batch, execute_batch, cfgs, root)`` pickles.
    With ``store_root`` None it is ``execute_batch(cfgs, None)``.
    """
    if store_root is None:
        return execute_batch(cfgs, store_root)

    def compute(missing):
        sub = [cfgs[i] for i in missing]
        return [runners.complete_record(c, r) for c, r in zip(sub, execute_batch(sub, store_root), strict=True)]

    recs, _ = run_many_once(ResultStore(store_root), [runners.key(c) for c in cfgs], compute, force=force)
    return recs


def _progress(total: int):
    if sys.stderr.isatty():
        from tqdm import tqdm
        return tqdm(total=total, desc="runs", unit="run", file=sys.stderr)
    return None


def _line(i: int, total: int, cfg, rec: dict, how: str, eta: str = "") -> str:
    loss = rec.get("test_loss")
    loss_txt = f"test {loss:.4f}" if isinstance(loss, (int, float)) and math.isfinite(loss) else rec.get("failure_reason", "")
    return f"[{i}/{total}] {runners.short_name(cfg)}: {rec.get('status', 'ok')} {loss_txt} ({how}){' ' + eta if eta else ''}"


def run_sweep(configs: list, store, *, workers: int = 1, force: bool = False, executor: cf.Executor | None = None,
              log=print) -> tuple[list[dict], SweepStats]:
    """Every config's record, in the order of ``configs``; missing ones are computed and stored.

    ``store`` is an :class:`empirical.cache.store.ResultStore`. ``executor`` overrides the default
    (``ProcessPoolExecutor(workers)`` with one torch thread per worker when ``workers > 1``; in-process when 1),
    e.g. one of :func:`empirical.sweep.executors.make_executor`; it is not shut down here. Every task goes through
    :func:`empirical.cache.stored_batch`, so the worker stores each record under its key's lock and several
    sweeps sharing a store compute each run once.
    """
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
    eta = progress.ETA([configs[i] for i in todo])

    def finish(i: int, rec: dict) -> None:
        nonlocal done
        # the record as the store will give it back (canonical JSON: sorted keys), so that a fresh run and a
        # cached one are indistinguishable downstream
        rec = json.loads(json.dumps(runners.complete_record(configs[i], rec), sort_keys=True))
        if store_root is None:  # otherwise stored_batch already stored it, under its key's lock
            store.put(configs[i], rec)
        records[i] = rec
        done += 1
        stats.computed += 1
        stats.computed_hashes.append(rec.get("config_hash"))
        if rec.get("status") != "ok":
            stats.failed += 1
        eta.finished(configs[i], rec.get("wall_s"))
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"{runners.short_name(configs[i])} {eta.text()}")
        else:
            log(_line(done, len(configs), configs[i], rec, f"{rec.get('wall_s') or 0:.1f}s", eta.text()))

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
                for i, rec in zip(idxs, stored_batch(execute_batch, [configs[i] for i in idxs], store_root,
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
                futures = {executor.submit(stored_batch, execute_batch, [configs[i] for i in idxs],
                                           store_root, force): idxs
                           for idxs in free}
                teachers_ready()
                futures.update({executor.submit(stored_batch, execute_batch, [configs[i] for i in idxs],
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
