"""Bad input for the training commands: ``lrkd teacher``, ``lrkd distill`` and ``lrkd bench``.

Same contract and harness as test_bad_input_cli.py (exit 2, one line naming the argument, no traceback,
nothing on stdout, nothing written to the working folder or the cache). Every case carries a tiny, cheap
model (``SMALL``) so that a validation that comes too late costs a second, not a teacher training, and shows
up as a written cache folder.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from test_bad_input_cli import assert_usage_error, call_cli, snapshot

SMALL = ["--context", "16", "--d-model", "16", "--layers", "1", "--heads", "2", "--d-ff", "32",
         "--teacher-steps", "2"]
T = ["teacher", *SMALL]
D = ["distill", "--rank", "4", "--samples", "16", "--steps", "2", *SMALL]


def C(cmd, kind, what, argv, needle):
    return pytest.param(argv, needle, id=f"{cmd}/{kind}/{what}")


def _with(base, flag, value):
    """``base`` with ``flag`` set to ``value`` (replacing it when present)."""
    out = list(base)
    if flag in out:
        i = out.index(flag)
        out[i + 1] = value
        return out
    return [*out, flag, value]


CASES = [
    # --------------------------------------------------------------- teacher
    C("teacher", "non-numeric", "context", _with(T, "--context", "long"), "--context"),
    C("teacher", "zero", "context", _with(T, "--context", "0"), "--context"),
    C("teacher", "huge", "context beyond the corpus", _with(T, "--context", "100000000"), "context"),
    C("teacher", "negative", "d-model", _with(T, "--d-model", "-16"), "--d-model"),
    C("teacher", "nan-or-inf", "d-model", _with(T, "--d-model", "inf"), "--d-model"),
    C("teacher", "wrong shape", "d-model not divisible by heads", _with(T, "--heads", "3"), "--heads"),
    C("teacher", "wrong shape", "heads not a multiple of kv-heads", [*T, "--kv-heads", "3", "--heads", "2"],
      "--kv-heads"),
    C("teacher", "wrong shape", "odd head dim", _with(_with(T, "--d-model", "6"), "--heads", "2"), "head dim"),
    C("teacher", "zero", "layers", _with(T, "--layers", "0"), "--layers"),
    C("teacher", "negative", "teacher-steps", _with(T, "--teacher-steps", "-1"), "--teacher-steps"),
    C("teacher", "nan-or-inf", "teacher-lr nan", [*T, "--teacher-lr", "nan"], "--teacher-lr"),
    C("teacher", "zero", "teacher-lr", [*T, "--teacher-lr", "0"], "--teacher-lr"),
    C("teacher", "non-numeric", "teacher-seed", [*T, "--teacher-seed", "x"], "--teacher-seed"),
    C("teacher", "zero", "threads", [*T, "--threads", "0"], "--threads"),
    C("teacher", "unknown name", "device", [*T, "--device", "tpu"], "--device"),
    C("teacher", "missing file", "corpus", [*T, "--corpus", "@missing"], "corpus"),
    C("teacher", "empty file", "corpus", [*T, "--corpus", "@empty.txt"], "corpus"),
    C("teacher", "non-UTF-8 file", "corpus", [*T, "--corpus", "@nonutf8.txt"], "corpus"),
    C("teacher", "wrong format", "binary corpus", [*T, "--corpus", "@binary.bin"], "corpus"),
    C("teacher", "wrong format", "corpus is a folder", [*T, "--corpus", "@folder"], "corpus"),
    C("teacher", "truncated file", "corpus too short", [*T, "--corpus", "@short.txt"], "corpus"),
    C("teacher", "wrong format", "cache is a file", [*T, "--cache", "@a_file"], "--cache"),
    # --------------------------------------------------------------- distill
    C("distill", "missing argument", "rank", [a for a in D if a not in ("--rank", "4")], "--rank"),
    C("distill", "zero", "rank", _with(D, "--rank", "0"), "--rank"),
    C("distill", "non-numeric", "rank", _with(D, "--rank", "four"), "--rank"),
    C("distill", "zero", "samples", _with(D, "--samples", "0"), "--samples"),
    C("distill", "negative", "steps", _with(D, "--steps", "-5"), "--steps"),
    C("distill", "zero", "batch-size", [*D, "--batch-size", "0"], "--batch-size"),
    C("distill", "nan-or-inf", "lr nan", [*D, "--lr", "nan"], "--lr"),
    C("distill", "nan-or-inf", "lr inf", [*D, "--lr", "inf"], "--lr"),
    C("distill", "negative", "lr", [*D, "--lr=-0.1"], "--lr"),
    C("distill", "nan-or-inf", "momentum", [*D, "--momentum", "nan"], "--momentum"),
    C("distill", "zero", "tau", [*D, "--tau", "0"], "--tau"),
    C("distill", "nan-or-inf", "alpha", [*D, "--alpha", "inf"], "--alpha"),
    C("distill", "nan-or-inf", "kl-weight", [*D, "--kl-weight", "nan"], "--kl-weight"),
    C("distill", "unknown name", "clone term", [*D, "--terms", "q,k,zz"], "zz"),
    C("distill", "unknown name", "optimizer", [*D, "--optimizer", "lbfgs"], "--optimizer"),
    C("distill", "unknown name", "schedule", [*D, "--schedule", "cosine"], "--schedule"),
    C("distill", "unknown name", "init", [*D, "--init", "pca"], "--init"),
    C("distill", "non-UTF-8 file", "corpus", [*D, "--corpus", "@nonutf8.txt"], "corpus"),
    C("distill", "missing file", "corpus", [*D, "--corpus", "@missing"], "corpus"),
    # --------------------------------------------------------------- bench
    C("bench", "zero", "repeats", ["bench", "--repeats", "0"], "--repeats"),
    C("bench", "non-numeric", "repeats", ["bench", "--repeats", "many"], "--repeats"),
    C("bench", "negative", "threads", ["bench", "--threads", "-1"], "--threads"),
    C("bench", "unknown name", "device", ["bench", "--device", "tpu"], "--device"),
    C("bench", "unknown name", "benchmark", ["bench", "--only", "no-such-benchmark"], "no-such-benchmark"),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("train_inputs")
    f = {}
    for name, data in (("empty.txt", b""), ("nonutf8.txt", b"valid start \xff\xfe\xc3\x28 then junk" * 20),
                       ("binary.bin", bytes(range(256)) * 8), ("short.txt", b"tiny corpus"),
                       ("a_file", b"not a folder\n")):
        (d / name).write_bytes(data)
        f[name] = d / name
    (d / "folder").mkdir()
    f["folder"] = d / "folder"
    return d, f


def expand(argv, paths, folder):
    return [str(folder / "missing" / "corpus.txt") if a == "@missing" else str(paths[a[1:]]) if a.startswith("@")
            else a for a in argv]


@pytest.mark.parametrize("argv,needle", CASES)
def test_training_commands_bad_input(argv, needle, files, tmp_path, monkeypatch, capsys):
    folder, paths = files
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LRKD_CACHE", str(tmp_path / "cache"))
    argv = expand(argv, paths, folder)
    before_cwd, before_in = snapshot(tmp_path), snapshot(folder)
    rc, out, err = call_cli(argv, capsys)
    assert_usage_error(rc, out, err, argv, needle)
    assert snapshot(tmp_path) == before_cwd, "written: " + ", ".join(sorted(set(snapshot(tmp_path)) - set(before_cwd)))
    assert snapshot(folder) == before_in


# Huge values that, when accepted, allocate without bound: run in a subprocess under a 4 GiB address-space
# limit and a time limit, so that a missing check fails this test instead of the whole session.
HUGE_CASES = [
    C("distill", "huge", "rank above the teacher width", _with(D, "--rank", "1000000"), "--rank"),
    C("distill", "huge", "samples beyond the corpus", _with(D, "--samples", "100000000"), "--samples"),
    C("distill", "huge", "batch size 10^9", [*D, "--batch-size", "1000000000"], "--batch-size"),
    C("teacher", "huge", "d-model 10^8", _with(_with(T, "--d-model", "100000000"), "--heads", "2"), "--d-model"),
]


def _limited():
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


@pytest.mark.parametrize("argv,needle", HUGE_CASES)
def test_huge_sizes_are_refused_before_allocating(argv, needle, files, tmp_path):
    import os
    import subprocess
    import sys

    from test_bad_input_cli import ROOT_DIR

    folder, paths = files
    argv = expand(argv, paths, folder)
    code = "import sys, paper_repro; sys.exit(paper_repro.cli(sys.argv[1:]))"
    env = dict(os.environ, PYTHONPATH=str(ROOT_DIR), LRKD_CACHE=str(tmp_path / "cache"))
    try:
        proc = subprocess.run([sys.executable, "-c", code, *argv], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=90, preexec_fn=_limited)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after 90 s: {argv}")
    assert_usage_error(proc.returncode, proc.stdout, proc.stderr, argv, needle)
    assert list(tmp_path.iterdir()) == []


def test_every_training_command_is_covered():
    assert {c.id.split("/")[0] for c in CASES} == {"teacher", "distill", "bench"}
