"""Executors (empirical.sweep.executors) and per-key locks (empirical.cache.locking), tested with real processes.

- submitit's local cluster runs real subprocess jobs of tiny LRC distillations; their records equal the
  in-process records bitwise (CPU, one torch thread on both sides).
- Several processes racing for one key compute it exactly once under :func:`run_once`; the same race with
  locks switched off computes it several times (the control that shows the test can fail).
- The SLURM option mapping is checked against the sbatch file submitit itself writes (fake ``srun``).
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing as mp
import os
import stat
import time

import pytest

submitit = pytest.importorskip("submitit")

from bounds.cliutil import UsageError  # noqa: E402
from empirical.sweep import executors
from empirical.cache import locking  # noqa: E402
from empirical.cache.store import ResultStore  # noqa: E402

_VOLATILE = ("wall_s", "train_s", "tokens_per_s", "from_cache")


def _tiny_configs():
    from empirical.config import DataConfig, DistillConfig, TeacherConfig, TeacherTrainConfig

    t = TeacherTrainConfig(model=TeacherConfig(d_model=16, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=44, context=16),
                           data=DataConfig(context=16, heldout_sequences=64), steps=20, batch_size=8)
    base = dict(teacher=t, samples=32, steps=10, batch_size=8, probe_size=16, n_log_points=4, beta_iters=0,
                sigma2_batches=3, eval_sequences=32)
    return [DistillConfig(rank=r, seed=s, **base) for r, s in ((4, 0), (8, 1))]


def _timing_key(k) -> bool:
    k = str(k)
    return k in _VOLATILE or k == "seconds" or k.startswith("timing") or k.endswith("_s")


def _drop_timings(x):
    if isinstance(x, dict):
        return {k: _drop_timings(v) for k, v in x.items() if not _timing_key(k)}
    if isinstance(x, list):
        return [_drop_timings(v) for v in x]
    return x


def _strip(rec: dict) -> str:
    """Canonical JSON without timings (at any depth): equal strings mean bitwise-equal floats (repr
    round-trips; NaN == NaN)."""
    return json.dumps(_drop_timings(rec), sort_keys=True)


def test_factory_rejects_unknown_kind_and_option():
    with pytest.raises(ValueError, match="unknown executor"):
        executors.make_executor("mpi")
    with pytest.raises(ValueError, match="partition"):
        executors.make_executor("process", partition="gpu")


def test_inline_executor_delivers_results_and_exceptions():
    ex = executors.make_executor("local")
    assert ex.submit(divmod, 17, 5).result() == (3, 2)
    with pytest.raises(ZeroDivisionError):
        ex.submit(divmod, 1, 0).result()


def test_submitit_local_jobs_equal_in_process_runs(tmp_path, monkeypatch):
    """Real subprocess jobs (submitit local cluster) give the same records as the in-process path."""
    import torch

    from empirical.training.distill import distill

    monkeypatch.setenv("LRKD_CACHE", str(tmp_path / "cache"))  # jobs inherit it: same teacher cache
    cfgs = _tiny_configs()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        local = [distill(c) for c in cfgs]  # trains and stores the teacher once
    finally:
        torch.set_num_threads(threads)
    ex = executors.make_executor("submitit-local", folder=str(tmp_path / "jobs"), max_workers=len(cfgs) + 1)
    try:
        futs = {ex.submit(distill, c): i for i, c in enumerate(cfgs)}
        bad = ex.submit(int, "not a number")  # a job that raises: its exception reaches the future
        assert all(isinstance(f, cf.Future) for f in [*futs, bad])
        remote = [None] * len(cfgs)
        for f in cf.as_completed(futs, timeout=300):
            remote[futs[f]] = f.result()
        with pytest.raises(Exception, match="invalid literal"):
            bad.result(timeout=120)
    finally:
        ex.shutdown(wait=True)
    for a, b in zip(local, remote):
        assert b["status"] == "ok"
        assert _strip(a) == _strip(b)  # bitwise: floats compared with ==
    pids = {f.job.job_id for f in futs}
    assert len(pids) == len(cfgs) and str(os.getpid()) not in pids  # separate processes, not this one
    assert (tmp_path / "jobs").is_dir() and any((tmp_path / "jobs").iterdir())


# ------------------------------------------------------------------------------------------- locking

def _count_and_record(counter: str, value: int) -> dict:
    with open(counter, "a") as fh:
        fh.write(f"{os.getpid()}\n")
    time.sleep(1.0)  # long enough that every racer reaches the store check while the first computes
    return {"value": value, "pid": os.getpid()}


def _racer(root: str, key: str, counter: str, barrier, queue) -> None:
    barrier.wait()
    rec, computed = locking.run_once_at(root, key, _count_and_record, counter, 7)
    queue.put((rec, computed))


def _run_racers(target, arg_lists) -> list:
    """Start one spawned process per argument tuple, released together by a barrier; return what each put on
    the queue (each target is called as ``target(*args, barrier, queue)``) and check they all exited cleanly."""
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(len(arg_lists)), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, barrier, queue)) for args in arg_lists]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    return results


def _race(tmp_path, n: int, locks: str):
    os.environ["LRKD_LOCKS"] = locks  # spawn children inherit the environment
    try:
        root, key, counter = str(tmp_path / "store"), "ab" * 32, str(tmp_path / f"count-{locks}")
        results = _run_racers(_racer, [(root, key, counter)] * n)
    finally:
        os.environ.pop("LRKD_LOCKS", None)
    with open(counter) as fh:
        computes = len(fh.read().split())
    return results, computes, ResultStore(root).get(key)


def test_racing_processes_compute_a_key_once(tmp_path):
    results, computes, stored = _race(tmp_path, 4, "on")
    assert computes == 1
    assert sum(c for _, c in results) == 1
    assert all(rec == stored for rec, _ in results)  # everyone got the one stored record
    assert stored["value"] == 7


def test_without_locks_the_race_duplicates_work(tmp_path):
    """Control: the same race with locks off computes more than once (so the test above can fail)."""
    _, computes, stored = _race(tmp_path, 4, "off")
    assert computes > 1
    assert stored["value"] == 7  # still never corrupt: atomic replace


def _batch_racer(root: str, keys: list, counter: str, barrier, queue) -> None:
    from empirical.cache.store import ResultStore

    def compute(missing):
        with open(counter, "a") as fh:
            fh.write("".join(f"{keys[i]}\n" for i in missing))
        time.sleep(1.0)
        return [{"key": keys[i]} for i in missing]

    barrier.wait()
    recs, flags = locking.run_many_once(ResultStore(root), keys, compute)
    queue.put((keys, recs, flags))


def test_overlapping_batches_compute_each_key_once(tmp_path):
    """Three processes with overlapping key batches ({a,b}, {b,c}, {c,a}): each key is computed once, no
    deadlock (sorted lock order), every process gets every record of its batch."""
    a, b, c = "a1" * 32, "b2" * 32, "c3" * 32
    batches = [[a, b], [c, b], [a, c]]
    root, counter = str(tmp_path / "store"), str(tmp_path / "count")
    results = _run_racers(_batch_racer, [(root, keys, counter) for keys in batches])
    with open(counter) as fh:
        computed = fh.read().split()
    assert sorted(computed) == sorted([a, b, c])
    assert sum(sum(f) for _, _, f in results) == 3
    assert sorted(map(tuple, (k for k, _, _ in results))) == sorted(map(tuple, batches))
    for keys, recs, _ in results:
        assert recs == [{"key": k} for k in keys]


def _sweep_racer(root: str, n: int, barrier, queue) -> None:
    from empirical import sweep

    cfgs = sweep.plan("smoke")[:n]
    barrier.wait()
    queue.put(sweep.stored_batch(sweep.execute_batch, cfgs, root))


def test_two_sweeps_share_the_store_through_stored_batch(tmp_path, monkeypatch):
    """Two processes run the same smoke-preset batch (helper E's execute_batch) at once through
    stored_batch: both get identical records, timings included, so only one computed them (two computations
    would measure different wall times); the records equal the plain in-process path's."""
    from empirical import sweep
    from empirical.sweep import runners

    monkeypatch.setenv(sweep.SLOW_ENV, "1.0")  # hold the first batch long enough for the race
    n = 4
    root = str(tmp_path / "store")
    first, second = _run_racers(_sweep_racer, [(root, n)] * 2)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    monkeypatch.delenv(sweep.SLOW_ENV)
    cfgs = sweep.plan("smoke")[:n]
    plain = [runners.complete_record(c, r) for c, r in zip(cfgs, sweep.execute_batch(cfgs, None))]
    assert [_strip(r) for r in first] == [_strip(r) for r in plain]
    stored = ResultStore(root)
    assert [stored.get(runners.key(c)) for c in cfgs] == first


def test_nonblocking_lock_reports_busy(tmp_path):
    with locking.key_lock(tmp_path, "cd" * 32) as held:
        assert held
        ctx = mp.get_context("spawn")
        with ctx.Pool(1) as pool:
            assert pool.apply(_try_lock, (str(tmp_path), "cd" * 32)) is False
    with locking.key_lock(tmp_path, "cd" * 32, blocking=False) as held:
        assert held


def _try_lock(root, key):
    with locking.key_lock(root, key, blocking=False) as held:
        return held


# ------------------------------------------------------------------------------------------- CLI + slurm

def _parse(*argv):
    p = argparse.ArgumentParser()
    executors.add_executor_arguments(p)
    return p.parse_args(list(argv))


def test_cli_default_is_none_and_bad_combinations_are_usage_errors():
    assert executors.executor_from_args(_parse()) is None
    with pytest.raises(UsageError, match="--partition"):
        executors.executor_from_args(_parse("--partition", "gpu"))
    with pytest.raises(UsageError, match="--partition"):
        executors.executor_from_args(_parse("--executor", "submitit-local", "--partition", "gpu"))


def test_cli_slurm_without_cluster_is_one_line_usage_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no srun anywhere
    with pytest.raises(UsageError, match="SLURM"):
        executors.executor_from_args(_parse("--executor", "slurm", "--partition", "gpu"))


def test_slurm_options_reach_the_sbatch_file(monkeypatch, tmp_path):
    """With a stub ``srun`` on PATH, submitit builds the executor; its sbatch text carries our options."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("srun", "sbatch"):
        f = bin_dir / tool
        f.write_text("#!/bin/sh\nexit 0\n")
        f.chmod(f.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    args = _parse("--executor", "slurm", "--partition", "h100", "--time-min", "30", "--gpus", "1", "--cpus", "8",
                  "--mem-gb", "64", "--account", "proj", "--executor-folder", str(tmp_path / "sub"))
    ex = executors.executor_from_args(args)
    try:
        text = ex.inner._executor._make_submission_file_text("python -c pass", "uid")
    finally:
        ex.shutdown(wait=True)
    for line in ("#SBATCH --partition=h100", "#SBATCH --time=30", "#SBATCH --gpus-per-node=1",
                 "#SBATCH --cpus-per-task=8", "#SBATCH --mem=64GB", "#SBATCH --account=proj"):
        assert line in text, line
    assert ex.threads == 8


@pytest.mark.slow
def test_ray_tasks_equal_in_process_runs(tmp_path, monkeypatch):
    """Ray (optional; ``pip install ray``): local Ray tasks give the same records as the in-process path."""
    ray = pytest.importorskip("ray")
    import torch

    from empirical.training.distill import distill

    monkeypatch.setenv("LRKD_CACHE", str(tmp_path / "cache"))  # Ray workers started after this inherit it
    cfgs = _tiny_configs()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        local = [distill(c) for c in cfgs]
    finally:
        torch.set_num_threads(threads)
    ex = executors.make_executor("ray", cpus=1)
    try:
        remote = [f.result(timeout=300) for f in [ex.submit(distill, c) for c in cfgs]]
        with pytest.raises(Exception, match="invalid literal"):
            ex.submit(int, "not a number").result(timeout=120)
    finally:
        ex.shutdown(wait=True)
        ray.shutdown()
    assert [_strip(a) for a in local] == [_strip(b) for b in remote]


@pytest.mark.slow
def test_smoke_preset_sweep_through_submitit_local_equals_in_process(tmp_path, monkeypatch):
    """Helper E's run_sweep on the whole smoke plan: submitit-local subprocess jobs vs in-process."""
    from empirical import sweep
    from empirical.sweep import runners

    monkeypatch.setenv("LRKD_CACHE", str(tmp_path / "cache"))
    cfgs = sweep.plan("smoke", "cpu")
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        plain, _ = sweep.run_sweep(cfgs, runners.Store(tmp_path / "a"), workers=1, log=lambda m: None)
    finally:
        torch.set_num_threads(threads)
    ex = executors.make_executor("submitit-local", folder=str(tmp_path / "jobs"), max_workers=2)
    try:
        jobs, stats = sweep.run_sweep(cfgs, runners.Store(tmp_path / "b"), executor=ex, log=lambda m: None)
    finally:
        ex.shutdown(wait=True)
    assert stats.computed == len(cfgs) and stats.failed == sum(r.get("status") != "ok" for r in plain)
    by_hash = {r["config_hash"]: _strip(r) for r in plain}
    assert {r["config_hash"]: _strip(r) for r in jobs} == by_hash
