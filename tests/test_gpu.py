"""GPU tests (``python -m pytest -m gpu``): skipped without CUDA. Run by benchmarks/gpu_check.sh.

Real checks on the device: bf16 autocast forward matches fp32; TF32/fused AdamW settings take effect and
fused AdamW updates like the reference loop; one LRC distillation runs end to end on CUDA; the MFU
benchmark gives a fraction in (0, 1]; the DDP module's single-process path runs on CUDA.
"""
from __future__ import annotations

import pytest
import torch

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def _tiny():
    from empirical.config import DataConfig, DistillConfig, TeacherConfig, TeacherTrainConfig

    t = TeacherTrainConfig(model=TeacherConfig(d_model=32, n_layers=2, n_heads=4, n_kv_heads=4, d_ff=88, context=32),
                           data=DataConfig(context=32, heldout_sequences=64), steps=30, batch_size=16, device="cuda")
    c = DistillConfig(teacher=t, rank=8, samples=64, steps=20, batch_size=16, probe_size=16, n_log_points=4,
                      beta_iters=0, sigma2_batches=3, eval_sequences=64, device="cuda")
    return t, c


def test_bf16_autocast_forward_matches_fp32():
    from empirical.config import TeacherConfig
    from empirical.runtime.device import autocast
    from empirical.training.losses import cross_entropy
    from empirical.models.teacher import Decoder

    dev = torch.device("cuda")
    cfg = TeacherConfig(d_model=128, n_layers=2, n_heads=4, n_kv_heads=4, d_ff=344, context=64)
    model = Decoder(cfg, generator=torch.Generator().manual_seed(0)).to(dev).eval()
    tok = torch.randint(256, (8, 65), generator=torch.Generator().manual_seed(1)).to(dev)
    torch.backends.cuda.matmul.allow_tf32 = False
    with torch.no_grad():
        ref = model(tok[:, :-1]).float()
        with autocast(dev):
            low = model(tok[:, :-1]).float()
    rel = (low - ref).norm() / ref.norm()
    assert rel < 2e-2, rel  # bf16 has an 8-bit mantissa: ~4e-3 per op
    assert abs(cross_entropy(low, tok[:, 1:]).item() - cross_entropy(ref, tok[:, 1:]).item()) < 1e-2


def test_tf32_and_fused_adamw():
    from empirical.runtime import gpu

    got = gpu.configure_cuda()
    assert got["cuda"] and torch.backends.cuda.matmul.allow_tf32
    torch.manual_seed(0)
    p1 = torch.nn.Parameter(torch.randn(64, 64, device="cuda"))
    p2 = torch.nn.Parameter(p1.detach().clone())
    fused = gpu.adamw([p1], lr=1e-2)
    ref = torch.optim.AdamW([p2], lr=1e-2, foreach=False)
    assert fused.defaults["fused"]
    for _ in range(5):
        g = torch.randn(64, 64, device="cuda")
        p1.grad, p2.grad = g.clone(), g.clone()
        fused.step()
        ref.step()
    torch.testing.assert_close(p1, p2, rtol=1e-5, atol=1e-6)


def test_distill_runs_on_cuda(tmp_path, monkeypatch):
    monkeypatch.setenv("LRKD_CACHE", str(tmp_path))
    from empirical.training.distill import distill

    _, c = _tiny()
    rec = distill(c)
    assert rec["status"] == "ok" and rec["device"].startswith("cuda")
    assert 0 < rec["train_loss"] < 6 and 0 < rec["test_loss"] < 6


def test_mfu_on_cuda_is_a_fraction():
    from empirical.perf import mfu

    res = mfu.run(device="cuda", size="tiny", steps=3)
    assert res["peak"]["dtype"] == "bfloat16"
    for part in ("teacher", "lrc"):
        assert 0 < res[part]["mfu"] <= 1.0


def test_ddp_single_process_path_on_cuda(tmp_path, monkeypatch):
    monkeypatch.setenv("LRKD_CACHE", str(tmp_path))
    from empirical.training.ddp import train_teacher_ddp

    t, _ = _tiny()
    out = train_teacher_ddp(t)
    assert out["record"]["world_size"] == 1 and out["record"]["device"].startswith("cuda")
    assert out["record"]["trajectory"]["train_loss"][-1] < out["record"]["trajectory"]["train_loss"][0]
