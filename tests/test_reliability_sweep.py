"""Faults injected into sweeps: SIGKILL of a whole process group, partial/corrupt store files, diverging runs,
concurrent sweeps on one results folder; and determinism across the in-process, process-pool and
submitit-local paths.

What test_sweep.py (helper E) already covers is not repeated: a SIGKILLed one-process sweep resumes without
recomputing finished runs. Added here: the kill hits the parent *and* its pool workers (``killpg``), the
resumed outputs equal an uninterrupted run's, and files a crash can leave behind (a temporary file, a
truncated record, a record with a bad checksum) are never read as finished runs.
"""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from empirical import sweep

from empirical.sweep import runners as sweep_runners
from empirical.cache.store import ResultStore

ROOT = Path(__file__).resolve().parents[1]
VOLATILE = ("tokens_per_s", "from_cache", "traceback")


def volatile(key: str) -> bool:
    """Timings (``*_s``, ``timing*``) and provenance flags that legitimately differ between equal runs."""
    return key in VOLATILE or key.endswith("_s") or key.startswith("timing")


def canon(rec) -> str:
    """Canonical JSON of a record without timings (at any depth): equal strings = bitwise-equal floats."""
    def strip(x):
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if not volatile(k)}
        if isinstance(x, list):
            return [strip(v) for v in x]
        return x
    return json.dumps(strip(rec), sort_keys=True)


def gen_configs(n: int):
    return [c for c in sweep.plan("smoke") if sweep_runners.short_name(c).startswith("synthetic/gen")][:n]


def conv_configs(n: int, steps: int = 60):
    cs = [c for c in sweep.plan("smoke") if sweep_runners.short_name(c).startswith("synthetic/conv")][:n]
    return [dataclasses.replace(c, steps=steps) for c in cs]


def quiet(_msg):
    pass


def reference_records(cfgs, folder) -> list[str]:
    recs, stats = sweep.run_sweep(cfgs, sweep_runners.Store(folder), workers=1, log=quiet)
    assert stats.computed == len(cfgs)
    return [canon(r) for r in recs]


SCRIPT = """
import json, sys
from empirical import sweep
from empirical.sweep import runners as sweep_runners
n, folder, workers, out = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
if len(sys.argv) > 5:  # count the runs this process really trains (in-process workers only)
    run_many = sweep_runners.run_many
    counter = sys.argv[5]
    def counted(cfgs, *args, **kwargs):
        with open(counter, "a") as fh:
            fh.write("".join(sweep_runners.key(c) + "\\n" for c in cfgs))
        return run_many(cfgs, *args, **kwargs)
    sweep_runners.run_many = counted
cfgs = [c for c in sweep.plan('smoke') if sweep_runners.short_name(c).startswith('synthetic/gen')][:n]
recs, stats = sweep.run_sweep(cfgs, sweep_runners.Store(folder), workers=workers, log=lambda m: None)
json.dump({"records": recs, "computed": stats.computed, "cached": stats.cached}, open(out, "w"))
"""


def start_sweep(n, folder, workers, out, delay="0.5", new_session=False, counter=None):
    """A sweep of the first ``n`` synthetic configs in a real subprocess; its stderr goes to ``out``.err; with
    ``counter`` (in-process only) it appends the key of every run it trains to that file."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), **{sweep.SLOW_ENV: delay})
    extra = [str(counter)] if counter else []
    with open(f"{out}.err", "w") as err:
        return subprocess.Popen([sys.executable, "-c", SCRIPT, str(n), str(folder), str(workers), str(out), *extra],
                                env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=new_session)


def err_text(out) -> str:
    return Path(f"{out}.err").read_text()


def record_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.json") if not p.name.startswith(".")]


# ------------------------------------------------------------------------------------------- kill

def test_sigkill_of_a_process_pool_sweep_then_resume_equals_an_uninterrupted_run(tmp_path):
    """A 2-worker sweep in its own process group is SIGKILLed (parent and workers at once) after some runs are
    stored; the restarted sweep serves exactly the stored ones, computes the rest, and its records equal an
    uninterrupted run's, bit for bit."""
    n = 24  # 3 tasks of SYNTHETIC_CHUNK=8 runs; the worker sleeps 1.5 s after each task
    store_dir = tmp_path / "store"
    proc = start_sweep(n, store_dir, 2, tmp_path / "killed.json", delay="1.5", new_session=True)
    deadline = time.time() + 120
    while not record_files(store_dir) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = len(record_files(store_dir))
    assert 0 < finished < n, (finished, err_text(tmp_path / "killed.json"))
    assert not (tmp_path / "killed.json").exists()
    cfgs = gen_configs(n)
    resumed, stats = sweep.run_sweep(cfgs, sweep_runners.Store(store_dir), workers=1, log=quiet)
    assert (stats.cached, stats.computed) == (finished, n - finished)
    assert [canon(r) for r in resumed] == reference_records(cfgs, tmp_path / "reference")


def test_files_a_crash_leaves_behind_are_never_read_as_finished(tmp_path):
    """A temporary file holding a complete record, a truncated record, a record whose checksum does not match
    and an empty record: none is served; each run is recomputed and equals the uninterrupted run."""
    cfgs = gen_configs(4)
    ref = reference_records(cfgs, tmp_path / "reference")
    good = ResultStore(tmp_path / "reference")
    store = ResultStore(tmp_path / "store")
    keys = [sweep_runners.key(c) for c in cfgs]
    paths = [store.path_for(k) for k in keys]
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
    full = [good.path_for(k).read_bytes() for k in keys]
    # 0: killed between writing the temporary file and os.replace: only the temporary file exists
    (paths[0].parent / f".{paths[0].name}.abc123.tmp").write_bytes(full[0])
    # 1: a truncated record (a writer without atomic replace killed half-way)
    paths[1].write_bytes(full[1][: len(full[1]) // 2])
    # 2: complete JSON, one number changed after the checksum was taken
    w = json.loads(full[2])
    w["record"]["test_loss"] = w["record"]["test_loss"] + 1.0
    paths[2].write_text(json.dumps(w))
    # 3: an empty file
    paths[3].write_bytes(b"")
    for c in cfgs:
        assert sweep_runners.Store(tmp_path / "store").get(c) is None
    recs, stats = sweep.run_sweep(cfgs, sweep_runners.Store(tmp_path / "store"), workers=1, log=quiet)
    assert (stats.cached, stats.computed) == (0, 4)
    assert [canon(r) for r in recs] == ref


# ------------------------------------------------------------------------------------------- corrupt cache

CORRUPTIONS = {
    "truncated": lambda b: b[: len(b) * 2 // 3],
    "bit flip": lambda b: b[:40] + bytes([b[40] ^ 0x04]) + b[41:],
    "non-UTF-8 garbage": lambda b: b"\xff\xfe\xfd" * 50,
    "valid JSON, wrong schema": lambda b: b'{"schema": "something-else/9", "record": {}}',
    "valid JSON, a list": lambda b: b"[1, 2, 3]",
}


@pytest.mark.parametrize("how", list(CORRUPTIONS))
def test_corrupt_cache_file_is_detected_reported_and_recomputed(how, tmp_path):
    cfgs = gen_configs(3)
    ref = reference_records(cfgs, tmp_path / "store")
    target = ResultStore(tmp_path / "store").path_for(sweep_runners.key(cfgs[1]))
    target.write_bytes(CORRUPTIONS[how](target.read_bytes()))
    log: list[str] = []
    recs, stats = sweep.run_sweep(cfgs, sweep_runners.Store(tmp_path / "store"), workers=1, log=log.append)
    assert (stats.cached, stats.computed) == (2, 1)  # detected: not served
    assert [canon(r) for r in recs] == ref  # recomputed to the same numbers
    assert ResultStore(tmp_path / "store").get(sweep_runners.key(cfgs[1])) is not None  # and rewritten
    # reported: the sweep says which stored result was corrupt (a silent recompute hides a disk problem)
    said = " ".join(log).lower()
    assert "corrupt" in said and sweep_runners.key(cfgs[1])[:12] in said, log


def test_corrupt_teacher_checkpoint_is_detected_and_retrained(tmp_path):
    """A truncated teacher weights blob in the cache: not loaded; the teacher is retrained (identical weights,
    CPU determinism) and stored again."""
    import torch

    from empirical.training import teacher_training as train
    from empirical.config import DataConfig, TeacherConfig, TeacherTrainConfig, config_hash

    cfg = TeacherTrainConfig(model=TeacherConfig(d_model=16, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=44, context=16),
                             data=DataConfig(context=16, heldout_sequences=32), steps=3, batch_size=4)
    store = ResultStore(tmp_path / "cache")
    m1, _ = train.get_teacher(cfg, store=store, force=True)
    blob = store.path_for(config_hash(cfg)).with_suffix(".safetensors")
    blob.write_bytes(blob.read_bytes()[:-100])
    train._TEACHERS.clear()
    m2, rec = train.get_teacher(cfg, store=store)
    assert rec["from_cache"] is False
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    assert store.get_arrays(config_hash(cfg)) is not None


# ------------------------------------------------------------------------------------------- divergence

def tiny_distill(**kw):
    from empirical.config import DataConfig, DistillConfig, TeacherConfig, TeacherTrainConfig

    t = TeacherTrainConfig(model=TeacherConfig(d_model=16, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=44, context=16),
                           data=DataConfig(context=16, heldout_sequences=64), steps=20, batch_size=8)
    base = dict(teacher=t, rank=4, samples=32, steps=10, batch_size=8, probe_size=16, n_log_points=4, beta_iters=0,
                sigma2_batches=3, eval_sequences=32)
    return DistillConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def teacher_cache(tmp_path_factory):
    """One teacher cache for this module's transformer runs (and for spawned workers, via the environment)."""
    path = tmp_path_factory.mktemp("teacher_cache")
    old = os.environ.get("LRKD_CACHE")
    os.environ["LRKD_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("LRKD_CACHE", None)
    else:
        os.environ["LRKD_CACHE"] = old


DIVERGE_STEPS = 30


def diverging():
    return tiny_distill(optimizer="sgd", lr=1e8, grad_clip=None, schedule="constant", steps=DIVERGE_STEPS, seed=7)


@pytest.fixture(scope="module")
def diverged_sweep(teacher_cache, tmp_path_factory):
    """One sweep holding a diverging LRC run (SGD, lr 1e8, no clipping), a synthetic SGD run that overflows
    (init 1e200) and twelve good synthetic runs. Returns (configs, records, stats, bad config hashes)."""
    bad_t = diverging()
    bad_s = dataclasses.replace(conv_configs(1)[0], init_std=1e200, steps=5)
    cfgs = [bad_t, *gen_configs(12), bad_s]
    with np.errstate(all="ignore"):
        recs, stats = sweep.run_sweep(cfgs, sweep_runners.Store(tmp_path_factory.mktemp("div") / "store"), workers=1,
                                      log=quiet)
    return cfgs, recs, stats, {sweep_runners.key(bad_t), sweep_runners.key(bad_s)}


def test_diverging_transformer_run_stops_early_and_is_recorded_as_failed(diverged_sweep):
    from empirical.config import to_dict

    cfgs, recs, _, _ = diverged_sweep
    cfg, rec = cfgs[0], recs[0]
    assert rec["status"] == "failed"
    reason = rec["failure_reason"] or ""
    assert "finite" in reason or "nan" in reason.lower() or "diverg" in reason
    assert rec["config"] == to_dict(cfg)  # with its config: enough to rerun it
    # stops early: no training step after the loss went non-finite (the objective is inf at step 1 here)
    stopped = rec.get("stopped_at_step")
    steps_logged = (rec.get("trajectory") or {}).get("step") or [0]
    assert (stopped is not None and stopped < DIVERGE_STEPS) or max(steps_logged) < DIVERGE_STEPS, \
        (stopped, steps_logged, reason)
    assert "step" in reason  # the reason says when it diverged


def test_a_diverging_run_does_not_crash_the_sweep_and_is_excluded_and_listed(diverged_sweep):
    """The sweep finishes; both bad runs are failed records with reasons and configs; the report counts them
    as failed and lists them; no figure or fit uses them."""
    from bounds import tightness
    from figures import gen_rank, gen_samples, optimal_rank
    from figures import tightness as fig_tightness

    cfgs, recs, stats, bad_hashes = diverged_sweep
    assert len(recs) == len(cfgs) and stats.failed == 2
    status = {r["config_hash"]: r["status"] for r in recs}
    assert {h for h, s in status.items() if s != "ok"} == bad_hashes
    for r in recs:
        if r["config_hash"] in bad_hashes:
            assert r["failure_reason"] and r["config"]
    runs = sweep_runners.runs_table(recs)
    tables = tightness.Tables(runs=tightness._finish_runs(runs), traj=sweep_runners.traj_table(recs), mi=None)
    report = tightness.judge(tables)
    assert report["n_failed"] == 2 and report["n_ok"] == len(cfgs) - 2
    assert {f["config_hash"] for f in report["failed"]} == bad_hashes
    md = tightness.to_markdown(report)
    assert "## Failed runs" in md and all(h in md for h in bad_hashes)
    assert all(f.get("failure_reason") for f in report["failed"])
    # excluded from fits and figures: give the failed runs a rank no good run has, and look for it
    marked = tables.runs.copy()
    marked.loc[marked["config_hash"].isin(bad_hashes), "rank"] = 9999
    marked.loc[marked["config_hash"].isin(bad_hashes), ["train_loss", "test_loss", "gap"]] = [0.1, 5.0, 4.9]
    for name, df in (("gen_rank", gen_rank.compute(marked, report)), ("gen_samples", gen_samples.compute(marked, report)),
                     ("optimal_rank", optimal_rank.compute(marked, report)), ("tightness", fig_tightness.compute(marked))):
        assert not (df.select_dtypes("number") == 9999).any().any(), name
    assert tightness.judge(tightness.Tables(runs=marked, traj=tables.traj, mi=None))["claims"]["G"] == report["claims"]["G"]


# ------------------------------------------------------------------------------------------- concurrent writers

def test_two_concurrent_sweeps_on_one_folder_do_not_corrupt_each_other(tmp_path):
    """Two real processes sweep overlapping config lists into one store at the same time. Both finish; every
    stored record is valid and equals an uninterrupted run's; each process got all of its records; each run
    was computed once (per-key locks); no temporary file is left behind."""
    n_a, n_b = 16, 24  # b extends a: 16 shared configs
    store_dir = tmp_path / "shared"
    counter = tmp_path / "trained.txt"
    pa = start_sweep(n_a, store_dir, 1, tmp_path / "a.json", delay="0.05", counter=counter)
    pb = start_sweep(n_b, store_dir, 1, tmp_path / "b.json", delay="0.05", counter=counter)
    for p, name in ((pa, "a.json"), (pb, "b.json")):
        assert p.wait(timeout=300) == 0, err_text(tmp_path / name)
    cfgs = gen_configs(n_b)
    ref = reference_records(cfgs, tmp_path / "reference")
    got_a = json.loads((tmp_path / "a.json").read_text())
    got_b = json.loads((tmp_path / "b.json").read_text())
    assert [canon(r) for r in got_a["records"]] == ref[:n_a]
    assert [canon(r) for r in got_b["records"]] == ref
    # and no run was trained twice: each shared run was trained by one sweep and served to the other
    trained = counter.read_text().split()
    assert sorted(trained) == sorted(sweep_runners.key(c) for c in cfgs), (len(trained), len(set(trained)))
    store = sweep_runners.Store(store_dir)
    assert [canon(store.get(c)) for c in cfgs] == ref
    assert len(record_files(store_dir)) == n_b
    assert [p for p in store_dir.rglob("*.tmp")] == []


# ------------------------------------------------------------------------------------------- determinism

def three_paths(cfgs, tmp_path):
    """Records of ``cfgs`` through run_sweep in-process, on a 2-process pool and as submitit-local jobs."""
    from empirical.sweep import executors

    inproc, _ = sweep.run_sweep(cfgs, sweep_runners.Store(tmp_path / "a"), workers=1, log=quiet)
    pool, _ = sweep.run_sweep(cfgs, sweep_runners.Store(tmp_path / "b"), workers=2, log=quiet)
    ex = executors.make_executor("submitit-local", folder=str(tmp_path / "jobs"), max_workers=2)
    try:
        sub, _ = sweep.run_sweep(cfgs, sweep_runners.Store(tmp_path / "c"), executor=ex, log=quiet)
    finally:
        ex.shutdown(wait=True)
    assert all(r["status"] == "ok" for r in inproc)
    return inproc, pool, sub


def rebuild(rec):
    from empirical.config import DistillConfig, from_dict
    from empirical.synthetic import SyntheticConfig

    return from_dict(DistillConfig, rec["config"]) if rec["track"] == "transformer" else SyntheticConfig(**rec["config"])


def test_same_seed_is_bitwise_identical_in_process_pool_and_submitit_local(tmp_path):
    """Synthetic SGD runs (random init, random minibatches) and an exact-ERM run through the three paths:
    records equal bit for bit (timings aside); and each record alone suffices to rerun it (its config,
    rebuilt from the record, is the config and has the record's hash)."""
    pytest.importorskip("submitit")
    cfgs = [*conv_configs(2, steps=80), gen_configs(1)[0]]
    inproc, pool, sub = three_paths(cfgs, tmp_path)
    a, b, c = ([canon(r) for r in recs] for recs in (inproc, pool, sub))
    assert a == b, "process pool differs from in-process"
    assert a == c, "submitit-local differs from in-process"
    for rec, cfg in zip(inproc, cfgs):
        assert rebuild(rec) == cfg and sweep_runners.key(rebuild(rec)) == rec["config_hash"]


@pytest.mark.slow
def test_lrc_distillation_is_bitwise_identical_in_process_pool_and_submitit_local(teacher_cache, tmp_path):
    """The same for an LRC distillation run (teacher from a shared cache; in-process uses the default torch
    thread count, workers one thread each)."""
    pytest.importorskip("submitit")
    cfgs = [tiny_distill(seed=3), tiny_distill(seed=4, rank=8)]
    inproc, pool, sub = three_paths(cfgs, tmp_path)
    a, b, c = ([canon(r) for r in recs] for recs in (inproc, pool, sub))
    assert a == b and a == c
    for rec, cfg in zip(inproc, cfgs):
        assert rebuild(rec) == cfg and sweep_runners.key(rebuild(rec)) == rec["config_hash"]
