"""Sweeps (empirical.sweep): presets in one place, plan() is deterministic, runs are cached by content hash,
--force recomputes, failed runs are recorded with a reason, and a sweep killed with SIGKILL part-way resumes
without recomputing the runs that had finished."""
from __future__ import annotations

import dataclasses
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

ROOT = Path(__file__).resolve().parents[1]


def _tiny_configs(n=4):
    """The first few synthetic configs of the smoke preset (cheap, real training runs)."""
    return [c for c in sweep.plan("smoke") if sweep_runners.short_name(c).startswith("synthetic/gen")][:n]


def test_presets_are_listed_and_printed():
    for name in ("smoke", "quick", "full"):
        p = sweep.get_preset(name)
        text = sweep.describe(p)
        assert name in text and "synthetic" in text and "transformer" in text
        if name != "smoke":
            assert len(p.synthetic.seeds) >= 3 and len(p.transformer.seeds) >= 3
    with pytest.raises(KeyError):
        sweep.get_preset("nope")


def test_plan_is_deterministic_and_hashes_are_unique():
    a, b = sweep.plan("smoke"), sweep.plan("smoke")
    assert a == b
    hashes = [sweep_runners.key(c) for c in a]
    assert len(set(hashes)) == len(hashes)
    # every config is frozen
    with pytest.raises(dataclasses.FrozenInstanceError):
        a[0].seed = 99


def test_cache_then_force(tmp_path):
    cfgs = _tiny_configs(3)
    store = sweep_runners.Store(tmp_path)
    recs1, s1 = sweep.run_sweep(cfgs, store, workers=1, log=lambda m: None)
    assert (s1.computed, s1.cached) == (3, 0)
    recs2, s2 = sweep.run_sweep(cfgs, store, workers=1, log=lambda m: None)
    assert (s2.computed, s2.cached) == (0, 3)
    assert recs1 == recs2
    recs3, s3 = sweep.run_sweep(cfgs, store, workers=1, force=True, log=lambda m: None)
    assert s3.computed == 3
    # CPU runs are bitwise reproducible for a fixed seed: recomputed numbers equal the cached ones
    assert [r["test_loss"] for r in recs3] == [r["test_loss"] for r in recs1]


def test_process_pool_gives_the_same_records_as_in_process(tmp_path):
    cfgs = _tiny_configs(2)
    a, _ = sweep.run_sweep(cfgs, sweep_runners.Store(tmp_path / "a"), workers=1, log=lambda m: None)
    b, _ = sweep.run_sweep(cfgs, sweep_runners.Store(tmp_path / "b"), workers=2, log=lambda m: None)
    strip = lambda r: {k: v for k, v in r.items() if k not in ("wall_s",)}  # noqa: E731
    assert [strip(r) for r in a] == [strip(r) for r in b]


def test_failed_run_is_recorded_with_reason(tmp_path):
    """SGD from an absurd initialisation overflows: the run is stored as failed, with its reason, and the
    good run next to it is unaffected."""
    good = _tiny_configs(1)[0]
    bad = dataclasses.replace(good, optimizer="sgd", init_std=1e200, steps=5, experiment="conv")
    with np.errstate(all="ignore"):
        recs, stats = sweep.run_sweep([good, bad], sweep_runners.Store(tmp_path), workers=1, log=lambda m: None)
    assert stats.failed == 1 and recs[0]["status"] == "ok" and recs[1]["status"] == "failed"
    assert "non-finite" in recs[1]["failure_reason"]
    table = sweep_runners.runs_table(recs)
    assert list(table["status"]) == ["ok", "failed"]


def test_killed_sweep_resumes_without_recomputing(tmp_path):
    """A real subprocess runs a sweep (one run at a time, slowed down), is SIGKILLed after some runs are stored;
    a second sweep computes only the rest."""
    n = 6
    script = (
        "import sys; from empirical import sweep; from empirical.sweep import runners as sweep_runners;"
        f"cfgs=[c for c in sweep.plan('smoke') if sweep_runners.short_name(c).startswith('synthetic/gen')][:{n}];"
        f"sweep.run_sweep(cfgs, sweep_runners.Store(sys.argv[1]), workers=1)"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), **{sweep.SLOW_ENV: "1.0"})
    logf = tmp_path / "sweep.log"
    with open(logf, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "store")], env=env, cwd=ROOT,
                                stdout=fh, stderr=subprocess.STDOUT)
    store_files = lambda: list((tmp_path / "store").rglob("*.json"))  # noqa: E731
    deadline = time.time() + 120
    while len(store_files()) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = len(store_files())
    assert 2 <= finished < n, (finished, logf.read_text())
    cfgs = _tiny_configs(n)
    store = sweep_runners.Store(tmp_path / "store")
    stored = {sweep_runners.key(c): store.get(c) for c in cfgs}
    _, stats = sweep.run_sweep(cfgs, store, workers=1, log=lambda m: None)
    assert stats.cached == finished and stats.computed == n - finished
    # the runs that had finished were served as they were stored
    for c in cfgs:
        if stored[sweep_runners.key(c)] is not None:
            assert store.get(c) == stored[sweep_runners.key(c)]


def test_synthetic_records_carry_param_norm():
    """rrr: the balanced factorization's norm, the smallest over factorizations P Q = W (checked against random
    re-factorizations P G, G^-1 Q built here); sgd: sqrt(|P|^2 + |Q|^2) of the trained factors, finite."""
    from empirical import synthetic as sf

    rng = np.random.default_rng(0)
    W = rng.standard_normal((7, 3)) @ rng.standard_normal((3, 5))
    pn = sf.param_norm(W, 3)
    U, s, Vt = np.linalg.svd(W)
    P, Q = U[:, :3] * np.sqrt(s[:3]), np.sqrt(s[:3])[:, None] * Vt[:3]
    assert np.allclose(P @ Q, W)
    assert pn == pytest.approx(np.sqrt(np.sum(P**2) + np.sum(Q**2)), rel=1e-12)
    for _ in range(50):
        G = rng.standard_normal((3, 3))
        assert np.sqrt(np.sum((P @ G) ** 2) + np.sum((np.linalg.inv(G) @ Q) ** 2)) >= pn * (1 - 1e-12)
    cfg = _tiny_configs(1)[0]
    assert sf.run(cfg)["param_norm"] > 0
    conv = dataclasses.replace(cfg, optimizer="sgd", steps=5, experiment="conv")
    assert np.isfinite(sf.run(conv)["param_norm"])


def test_corrupt_stored_result_is_reported_counted_and_recomputed(tmp_path):
    cfgs = _tiny_configs(2)
    store = sweep_runners.Store(tmp_path)
    first, _ = sweep.run_sweep(cfgs, store, workers=1, log=lambda m: None)
    path = store.inner.path_for(sweep_runners.key(cfgs[1]))
    path.write_bytes(path.read_bytes()[:40])  # truncated
    lines = []
    again, stats = sweep.run_sweep(cfgs, store, workers=1, log=lines.append)
    assert (stats.cached, stats.computed, stats.corrupt) == (1, 1, 1)
    assert any("corrupt" in ln and sweep_runners.key(cfgs[1])[:12] in ln for ln in lines), lines
    assert again[1]["test_loss"] == first[1]["test_loss"] and store.get(cfgs[1]) is not None
