"""Data-parallel training (empirical.training.ddp) under a real ``torchrun`` with 2 CPU processes (gloo).

The reference is B's single-process code (empirical.training.teacher_training.train_teacher, empirical.training.distill.distill) with the
same config and the same GLOBAL batch. Stated tolerance: the per-step loss trajectories agree to rtol 1e-5
(the only difference is summation order: two half-batch means averaged vs one full-batch mean; measured
~1e-7). Control: the single-process run with HALF the batch (what each process sees) differs by far more,
so agreement is not an accident of the tolerance.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from empirical.training import ddp

RTOL = 1e-5


def _configs():
    from empirical.config import DataConfig, DistillConfig, TeacherConfig, TeacherTrainConfig

    t = TeacherTrainConfig(model=TeacherConfig(d_model=16, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=44, context=16),
                           data=DataConfig(context=16, heldout_sequences=64), steps=20, batch_size=8)
    c = DistillConfig(teacher=t, rank=4, samples=32, steps=20, batch_size=8, probe_size=16, n_log_points=4,
                      beta_iters=0, sigma2_batches=0, eval_sequences=32)
    return t, c


def _torchrun(tmp_path, what: str, cfg, nproc: int = 2) -> dict:
    from empirical.config import to_dict

    cfg_path, out = tmp_path / f"{what}.json", tmp_path / f"{what}-out.json"
    cfg_path.write_text(json.dumps(to_dict(cfg)))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
           "-m", "empirical.training.ddp", what, "--config", str(cfg_path), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_shard_bounds_partition_the_global_batch():
    rows = [ddp.shard_bounds(12, 3, r) for r in range(3)]
    assert rows == [(0, 4), (4, 8), (8, 12)]
    with pytest.raises(ValueError, match="not divisible"):
        ddp.shard_bounds(7, 2, 0)


def test_indivisible_batch_is_a_one_line_error():
    env = dict(os.environ, WORLD_SIZE="2", RANK="0", LOCAL_RANK="0")  # as torchrun would set, no group needed
    proc = subprocess.run([sys.executable, "-m", "empirical.training.ddp", "teacher", "--batch-size", "7", "--steps", "1"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "not divisible" in lines[0] and "Traceback" not in proc.stderr


def test_two_process_teacher_and_distill_match_single_process(tmp_path, monkeypatch):
    import dataclasses

    import torch

    from empirical.training.distill import distill
    from empirical.training.teacher_training import train_teacher

    monkeypatch.setenv("LRKD_CACHE", str(tmp_path / "cache"))  # torchrun children share the teacher cache
    t_cfg, c_cfg = _configs()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _, t_ref = train_teacher(t_cfg)
        c_ref = distill(c_cfg)  # trains + stores the teacher the DDP distill then loads
        _, t_half = train_teacher(dataclasses.replace(t_cfg, batch_size=t_cfg.batch_size // 2))
    finally:
        torch.set_num_threads(threads)

    t_ddp = _torchrun(tmp_path, "teacher", t_cfg)
    assert t_ddp["world_size"] == 2
    ref, got = np.array(t_ref["trajectory"]["train_loss"]), np.array(t_ddp["trajectory"]["train_loss"])
    assert ref.shape == got.shape == (t_cfg.steps,)
    np.testing.assert_allclose(got, ref, rtol=RTOL)
    half = np.array(t_half["trajectory"]["train_loss"])
    assert np.max(np.abs(half - ref) / ref) > 100 * RTOL  # control: half batch is a different run
    assert t_ddp["test_loss"] == pytest.approx(t_ref["test_loss"], rel=RTOL)

    c_ddp = _torchrun(tmp_path, "distill", c_cfg)
    ref = np.array(c_ref["trajectory"]["minibatch_objective"])
    got = np.array(c_ddp["trajectory"]["minibatch_objective"])
    assert ref.shape == got.shape == (c_cfg.steps,)
    np.testing.assert_allclose(got, ref, rtol=RTOL)
    assert c_ddp["test_loss"] == pytest.approx(c_ref["test_loss"], rel=RTOL)
    assert c_ddp["train_loss"] == pytest.approx(c_ref["train_loss"], rel=RTOL)
