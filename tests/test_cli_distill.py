"""`lrkd distill`: one run printed as strict JSON with the record keys; bad input one line, exit 2."""
import json

import pytest
from conftest import run_lrkd

TINY = ["--context", "16", "--d-model", "16", "--heads", "2", "--d-ff", "32", "--teacher-steps", "20",
        "--threads", "1", "--batch-size", "8"]


def test_distill_json_record(tmp_path):
    proc = run_lrkd("distill", "--rank", "4", "--samples", "16", "--steps", "5", *TINY, "--cache", str(tmp_path),
                    "--json")
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout)
    assert rec["rank"] == 4 and rec["samples"] == 16 and rec["tokens"] == 16 * 16 and rec["status"] == "ok"
    assert rec["config"]["teacher"]["model"]["d_model"] == 16 and rec["steps"] == 5
    assert rec["gap"] == pytest.approx(rec["test_loss"] - rec["train_loss"])
    assert set(rec["clone_mse"]) == {"q", "k", "v", "attn", "gate", "up", "ffn"}


@pytest.mark.parametrize("extra, match", [
    (["--rank", "4", "--samples", "10000000"], "max N ="),
    (["--rank", "4", "--samples", "8", "--terms", "q,zz"], "unknown clone term"),
    (["--rank", "0", "--samples", "8"], "positive integer"),
    (["--rank", "40", "--samples", "8", "--init", "svd"], "needs rank <="),
])
def test_bad_input_is_one_line_exit_2(tmp_path, extra, match):
    proc = run_lrkd("distill", *extra, *TINY, "--cache", str(tmp_path / "c"))
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and match in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "c").exists()
