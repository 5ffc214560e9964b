"""`lrkd teacher`: trains then loads from the cache; bad corpora and shapes are one line, exit 2."""
import json

import pytest
from conftest import run_lrkd

TINY = ["--context", "16", "--d-model", "16", "--heads", "2", "--d-ff", "32", "--teacher-steps", "20",
        "--threads", "1"]


def test_teacher_trains_then_is_cached(tmp_path):
    p1 = run_lrkd("teacher", *TINY, "--cache", str(tmp_path), "--json")
    assert p1.returncode == 0, p1.stderr
    r1 = json.loads(p1.stdout)
    assert r1["from_cache"] is False and r1["track"] == "teacher" and r1["sequences"]["student_pool"] > 1000
    p2 = run_lrkd("teacher", *TINY, "--cache", str(tmp_path))
    assert p2.returncode == 0 and "from_cache             True" in p2.stdout
    assert f"{r1['test_loss']:.6g}" in p2.stdout


@pytest.mark.parametrize("content, extra, match", ids=["empty", "not-utf8", "short", "shape"], argvalues=[
    (b"", [], "is empty"),
    (b"\xff\xfe" * 100, [], "not UTF-8"),
    (b"short text", [], "too short"),
    (None, ["--d-model", "15"], "divisible"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, content, extra, match):
    args = list(TINY)
    if content is not None:
        f = tmp_path / "c.txt"
        f.write_bytes(content)
        args += ["--corpus", str(f)]
    proc = run_lrkd("teacher", *args, *extra, "--cache", str(tmp_path / "cache"))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and match in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "cache").exists()  # nothing written
