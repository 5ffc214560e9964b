"""Device selection: ``auto|cpu|cuda``; bf16 autocast on CUDA; deterministic CPU settings."""
from __future__ import annotations

import contextlib

import torch

from bounds.errors import UsageError


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU. ``cuda`` without a GPU is a :class:`UsageError`. A CUDA
    device gets :func:`empirical.runtime.gpu.configure_cuda`'s settings (TF32 matmuls, cuDNN autotuning) here, so
    every run on a GPU uses them."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda requested but no CUDA device is available")
    if name not in ("cpu", "cuda"):
        raise UsageError(f"unknown device {name!r} (expected auto, cpu or cuda)")
    if name == "cuda":
        from empirical.runtime.gpu import configure_cuda
        configure_cuda()
    return torch.device(name)


def autocast(device: torch.device):
    """bf16 autocast on CUDA; a no-op context on CPU (CPU runs stay fp32 and bitwise reproducible)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def configure_cpu_threads(threads: int | None = None) -> int:
    """Set torch's intra-op CPU threads: ``threads`` if given, else 1 when the machine is oversubscribed
    (1-minute load average above the core count: spinning threads then cost several-fold), else torch's
    default. Returns the thread count in use. Results are bitwise reproducible for a fixed thread count."""
    import os
    if threads:
        torch.set_num_threads(int(threads))
    else:
        try:
            if os.getloadavg()[0] > (os.cpu_count() or 1):
                torch.set_num_threads(1)
        except OSError:  # pragma: no cover - no load average on this platform
            pass
    return torch.get_num_threads()

