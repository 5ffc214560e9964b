"""A closed pipe (`lrkd bounds | head -1`) ends the command quietly: exit 141, no BrokenPipeError traceback."""
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

import paper_repro


def _run_into_closed_pipe(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    """Run ``lrkd ARGS`` with stdout a pipe whose read end is closed before the command starts, so that its
    first write fails (deterministically, unlike a reader that stops after one line)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    code = "import sys, paper_repro; sys.exit(paper_repro.cli(sys.argv[1:]))"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        return subprocess.run([sys.executable, "-c", code, *args], stdout=write_end, stderr=subprocess.PIPE,
                              text=True, timeout=300, cwd=cwd, env=env)
    finally:
        os.close(write_end)


def test_help_into_closed_pipe_is_quiet():
    """argparse itself ignores a failed write of --help (exit 0); nothing may reach stderr either way."""
    proc = _run_into_closed_pipe("--help")
    assert proc.stderr == ""
    assert proc.returncode in (0, paper_repro.EXIT_CLOSED_PIPE)


@pytest.mark.parametrize("args", [("bounds",), ("bounds", "--json"),
                                  ("rank", "--samples", "1000", "--shape", "64", "64", "--alpha", "1.0")])
def test_closed_pipe_exits_quietly(args):
    proc = _run_into_closed_pipe(*args)
    assert proc.stderr == ""
    assert proc.returncode == paper_repro.EXIT_CLOSED_PIPE


def test_mi_json_into_closed_pipe(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 2))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", x + rng.standard_normal((200, 2)))
    proc = _run_into_closed_pipe("mi", "--x", str(tmp_path / "x.npy"), "--y", str(tmp_path / "y.npy"),
                                 "--estimator", "gaussian", "--json")
    assert proc.stderr == ""
    assert proc.returncode == paper_repro.EXIT_CLOSED_PIPE


def test_open_pipe_still_exits_0():
    """The control: the same command with a reader exits 0 and prints (the handler only acts on a closed pipe)."""
    from conftest import run_lrkd

    proc = run_lrkd("bounds")
    assert proc.returncode == 0 and "[G2]" in proc.stdout
