"""CPU-side checks of the GPU path: FLOP formulas (empirical.perf.mfu) against torch's own FlopCounterMode on
tiny models, the MFU benchmark's CPU fallback, empirical.runtime.gpu's CPU behaviour, and benchmarks/gpu_check.sh
(syntax, no-CUDA exit, the commands it runs)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from empirical.runtime import gpu

from empirical.perf import mfu
from empirical.config import CLONE_TERMS, TeacherConfig
from empirical.training.losses import cross_entropy
from empirical.models.lrc import LRCStudent
from empirical.models.teacher import Decoder

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"

CASES = [  # (heads, kv heads, tied) : plain MHA with tied head, and GQA with an untied head
    (2, 2, True),
    (4, 2, False),
]


def _cfg(H, Hk, tied):
    return TeacherConfig(d_model=16, n_layers=2, n_heads=H, n_kv_heads=Hk, d_ff=40, context=12, tied_embeddings=tied)


@pytest.mark.parametrize("H,Hk,tied", CASES)
def test_teacher_step_flops_match_flop_counter(H, Hk, tied):
    cfg, B = _cfg(H, Hk, tied), 3
    model = Decoder(cfg, generator=torch.Generator().manual_seed(0))
    tok = torch.randint(cfg.vocab, (B, cfg.context + 1), generator=torch.Generator().manual_seed(1))
    # the math SDPA backend is made of matmuls the counter sees (the fused CPU kernel is not counted)
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as fc:
        cross_entropy(model(tok[:, :-1]), tok[:, 1:]).backward()
    assert mfu.teacher_step_flops(cfg, B) == fc.get_total_flops()


@pytest.mark.parametrize("H,Hk,tied", CASES)
@pytest.mark.parametrize("S", [1, 2])
def test_lrc_step_flops_match_flop_counter(H, Hk, tied, S):
    cfg, B, r = _cfg(H, Hk, tied), 3, 5
    teacher = Decoder(cfg, generator=torch.Generator().manual_seed(0)).eval()
    student = LRCStudent(teacher, r, seeds=list(range(S)))
    tok = torch.randint(cfg.vocab, (B, cfg.context + 1), generator=torch.Generator().manual_seed(1))
    tok = tok[None].expand(S, *tok.shape)
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as fc:
        out = student(tok[..., :-1], terms=CLONE_TERMS)
        (cross_entropy(out.logits, tok[..., 1:]) + sum(out.clone.values()).sum()).backward()
    assert mfu.lrc_step_flops(cfg, r, B, n_students=S) == fc.get_total_flops()
    # and with cached teacher targets the teacher's forward is not counted
    targets = student.teacher_targets(tok[..., :-1])
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as fc2:
        out = student(tok[..., :-1], terms=CLONE_TERMS, targets=targets)
        (cross_entropy(out.logits, tok[..., 1:]) + sum(out.clone.values()).sum()).backward()
    assert mfu.lrc_step_flops(cfg, r, B, n_students=S, teacher_forward=False) == fc2.get_total_flops()


def test_mfu_cpu_fallback_runs_and_is_a_fraction():
    res = mfu.run(device="cpu", size="tiny", steps=1)
    json.dumps(res, allow_nan=False)
    assert res["device"] == "cpu" and res["peak"]["dtype"] == "float32"
    for part in ("teacher", "lrc"):
        p = res[part]
        assert p["flops_per_s"] == pytest.approx(p["flops_per_step"] / p["s_per_step"])
        assert p["mfu"] == pytest.approx(p["flops_per_s"] / res["peak"]["flops_per_s"])
        assert 0 < p["mfu"] < 1.5  # tiny, overhead-bound steps stay far below a 256^3 matmul's rate


def test_cuda_settings_are_inert_on_cpu():
    assert gpu.configure_cuda() == {"cuda": False, "tf32": False, "fused_adamw": False, "compile": False}
    p = torch.nn.Parameter(torch.ones(3))
    plain = gpu.adamw([p], gpu.CudaOptions(fused_adamw=False), lr=0.1)
    assert plain.defaults.get("fused") in (None, False)
    assert isinstance(gpu.adamw([p], lr=0.1), torch.optim.AdamW)
    f = lambda x: x + 1  # noqa: E731
    assert gpu.maybe_compile(f) is f


def test_gpu_check_script_syntax_and_no_cuda_exit(tmp_path):
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True).returncode == 0
    usage = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True)
    assert usage.returncode == 2 and "usage" in usage.stderr
    if torch.cuda.is_available():
        pytest.skip("CUDA present: the no-CUDA path cannot be exercised here")
    proc = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3
    assert proc.stderr.strip().count("\n") == 0 and "no CUDA" in proc.stderr
    assert json.loads((tmp_path / "out" / "summary.json").read_text()) == {"cuda": False}


def test_gpu_check_commands_are_valid_here(tmp_path):
    """The commands the script runs exist: the mfu entry point (run from another folder), the pieces of the
    command lines, and the gpu marker selects tests/test_gpu.py."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "mfu.py"), "--help"], capture_output=True,
                         text=True, timeout=120, cwd=tmp_path, env=env)
    assert res.returncode == 0 and "--device" in res.stdout and "--size" in res.stdout, res.stderr[-2000:]
    text = SCRIPT.read_text()
    assert "pip" not in text.replace("pipeline", "")  # installs nothing
    for piece in ("-m pytest -m gpu", "benchmarks/mfu.py --device cuda", "lrkd bench --device cuda --json",
                  "paper_repro.py --preset full --device cuda --out"):
        assert piece in text, piece
    col = subprocess.run([sys.executable, "-m", "pytest", "-m", "gpu", "--collect-only", "-q", "-p", "no:cacheprovider",
                          str(ROOT / "tests" / "test_gpu.py")], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert col.returncode == 0, col.stdout[-2000:]
    assert "test_gpu.py::" in col.stdout


def test_preset_prediction_is_consistent_on_a_tiny_grid():
    from types import SimpleNamespace

    grid = SimpleNamespace(ranks=(2, 4), samples=(16, 600), seeds=(0, 1), steps=10, teacher_steps=5, d_model=16,
                           n_layers=1)
    res = mfu.predict_transformer_grid(grid)
    assert res["runs"] == 8
    assert res["flop_bound_s"] == pytest.approx(res["flops_total"] / (0.4 * 790e12))
    # the total is at least the plain training steps of every run (no measurement, cached targets)
    cfg = TeacherConfig(d_model=16, n_layers=1, d_ff=44)
    floor = 5 * mfu.teacher_step_flops(cfg, 32) + sum(2 * 2 * 10 * mfu.lrc_step_flops(cfg, r, 32, teacher_forward=False)
                                                      for r in (2, 4) for _ in (16, 600)) / 2
    assert res["flops_total"] > floor
    assert 0 < res["ops_per_teacher_step"] < res["ops_per_lrc_step"]
    assert res["launch_bound_stacked_s"] < res["launch_bound_one_by_one_s"]
