"""``lrkd distill`` / ``lrkd teacher`` launched data-parallel: ``torchrun --no-python --nproc-per-node 2 lrkd ...``
(2 CPU processes, gloo) against the same command in one process.

Reference: the single-process CLI with the same GLOBAL ``--batch-size``. Tolerance: F's (tests/test_ddp.py),
rtol 1e-5 — the two runs differ only in summation order (two half-batch gradient means averaged by DDP vs one
full-batch mean); measured ~2e-7 on the per-step objective. Control: the single-process run with HALF the
batch (what each process sees) differs by far more than the tolerance, so agreement is not an accident of it.
Only process 0 prints: stdout must be exactly one JSON document.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import run_lrkd

RTOL = 1e-5
TINY = ["--context", "16", "--d-model", "16", "--heads", "2", "--d-ff", "32", "--teacher-steps", "20",
        "--threads", "1"]
DISTILL = ["distill", "--rank", "4", "--samples", "32", "--steps", "10", *TINY]


def _lrkd_exe() -> str:
    exe = shutil.which("lrkd") or str(Path(sys.executable).parent / "lrkd")
    assert Path(exe).exists(), "the lrkd console script is not installed (pip install -e .)"
    return exe


def _torchrun(*args: str, nproc: int = 2) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
           "--no-python", _lrkd_exe(), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ))


def _json(proc) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)  # fails if a second process printed too


def test_torchrun_lrkd_distill_matches_single_process(tmp_path):
    cache = ["--cache", str(tmp_path / "cache")]
    ref = _json(run_lrkd(*DISTILL, "--batch-size", "8", *cache, "--json"))  # also trains + caches the teacher
    got = _json(_torchrun(*DISTILL, "--batch-size", "8", *cache, "--json"))
    half = _json(run_lrkd(*DISTILL, "--batch-size", "4", *cache, "--json"))

    assert got["world_size"] == 2 and "world_size" not in ref
    assert set(got) - {"world_size"} == set(ref)  # the same record
    r, g = (np.array(x["trajectory"]["minibatch_objective"]) for x in (ref, got))
    assert r.shape == g.shape == (10,)
    np.testing.assert_allclose(g, r, rtol=RTOL)
    for key in ("train_loss", "test_loss", "train_loss_smoothed", "test_loss_smoothed", "loss_init", "loss_best",
                "clone_mse_total"):
        assert got[key] == pytest.approx(ref[key], rel=RTOL), key
    np.testing.assert_allclose(got["trajectory"]["objective"], ref["trajectory"]["objective"], rtol=RTOL)
    h = np.array(half["trajectory"]["minibatch_objective"])
    assert np.max(np.abs(h - r) / np.abs(r)) > 100 * RTOL  # control: the per-process batch is another run


@pytest.mark.slow  # ~25 s on 2 loaded cores; the DDP teacher loop itself is in test_ddp's default run
def test_torchrun_lrkd_teacher_matches_single_process(tmp_path):
    args = ["teacher", *TINY, "--json"]  # the default teacher batch (32) is global
    ref = _json(run_lrkd(*args, "--cache", str(tmp_path / "a")))
    got = _json(_torchrun(*args, "--cache", str(tmp_path / "b")))
    assert got["world_size"] == 2 and got["from_cache"] is False and ref["config_hash"] == got["config_hash"]
    np.testing.assert_allclose(got["trajectory"]["train_loss"], ref["trajectory"]["train_loss"], rtol=RTOL)
    assert got["test_loss"] == pytest.approx(ref["test_loss"], rel=RTOL)
    # stored where get_teacher looks: a single-process run on that cache loads it instead of training
    again = _json(run_lrkd(*args, "--cache", str(tmp_path / "b")))
    assert again["from_cache"] is True and again["test_loss"] == got["test_loss"]


def test_indivisible_global_batch_is_a_one_line_error(tmp_path):
    env = dict(os.environ, WORLD_SIZE="2", RANK="0", LOCAL_RANK="0")  # as torchrun sets it; no group needed
    cmd = [_lrkd_exe(), *DISTILL, "--batch-size", "7", "--cache", str(tmp_path / "c")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "not divisible" in lines[0] and "Traceback" not in proc.stderr
