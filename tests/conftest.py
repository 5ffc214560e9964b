"""Shared pytest set-up: a hypothesis profile without per-example deadlines, Agg plotting, CPU-only torch
threads kept small, and a helper to run the `lrkd` command line in a real subprocess."""
from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("MPLBACKEND", "Agg")
# Tests never read or write the user's result cache (~/.cache/lrkd): one fresh cache per test session,
# inherited by every subprocess, so a test run on a used machine costs what it costs on a fresh one.
os.environ["LRKD_CACHE"] = tempfile.mkdtemp(prefix="lrkd-test-cache-")
atexit.register(shutil.rmtree, os.environ["LRKD_CACHE"], ignore_errors=True)

settings.register_profile("lrkd", deadline=None, max_examples=50,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "lrkd"))

ROOT = Path(__file__).resolve().parents[1]


def run_lrkd(*args: str, timeout: float = 600, cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m paper_repro``'s ``lrkd`` dispatcher in a subprocess and capture its output."""
    code = "import sys, paper_repro; sys.exit(paper_repro.cli(sys.argv[1:]))"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd or ROOT, env=env)


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op torch thread for a module: tiny tensors gain nothing from threads, runs stay reproducible,
    and the 2-core machine is shared. Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def lrkd():
    """Fixture form of :func:`run_lrkd`."""
    return run_lrkd
