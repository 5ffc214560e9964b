"""CUDA performance settings in one place: TF32 matmuls, fused AdamW, optional ``torch.compile``.

bf16 autocast itself lives in :func:`empirical.runtime.device.autocast`. Call :func:`configure_cuda` once at the
start of a run on CUDA (a no-op returning ``{"cuda": False}`` elsewhere, so CPU runs stay fp32 and bitwise
reproducible); build optimizers with :func:`adamw` and wrap a model or step with :func:`maybe_compile`.

- TF32 (``torch.backends.cuda.matmul.allow_tf32``, cuDNN too): fp32 matmuls outside autocast (e.g. the
  optimizer-side ones, the MI estimators' torch parts) use tensor cores with a 10-bit mantissa.
- fused AdamW (``torch.optim.AdamW(fused=True)``, via :func:`empirical.runtime.optim.make_adamw`): one kernel for
  the whole update instead of a loop of elementwise kernels.
- ``torch.compile``: off by default (compilation takes tens of seconds, which a 15-minute preset of many
  small runs cannot amortise; worth it for one long run).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CudaOptions:
    """What :func:`configure_cuda` turns on (defaults: TF32 and fused AdamW on, compile off)."""

    tf32: bool = True
    fused_adamw: bool = True
    compile: bool = False
    compile_mode: str | None = None  # e.g. "max-autotune-no-cudagraphs"; None: torch's default
    cudnn_benchmark: bool = True


def configure_cuda(opts: CudaOptions | None = None) -> dict:
    """Apply ``opts`` to torch's global CUDA settings when CUDA is available; return what is in effect."""
    import torch

    opts = opts or CudaOptions()
    if not torch.cuda.is_available():
        return {"cuda": False, "tf32": False, "fused_adamw": False, "compile": False}
    torch.backends.cuda.matmul.allow_tf32 = opts.tf32
    torch.backends.cudnn.allow_tf32 = opts.tf32
    torch.backends.cudnn.benchmark = opts.cudnn_benchmark
    return {"cuda": True, "tf32": torch.backends.cuda.matmul.allow_tf32, "fused_adamw": opts.fused_adamw,
            "compile": opts.compile, "device_name": torch.cuda.get_device_name()}


def adamw(params, opts: CudaOptions | None = None, **kwargs):
    """AdamW: :func:`empirical.runtime.optim.make_adamw` (the fused kernel wherever torch has it) when
    ``opts.fused_adamw``, else plain ``torch.optim.AdamW(params, **kwargs)``."""
    import torch

    from empirical.runtime.optim import make_adamw

    opts = opts or CudaOptions()
    return make_adamw(params, **kwargs) if opts.fused_adamw else torch.optim.AdamW(list(params), **kwargs)


def maybe_compile(fn, opts: CudaOptions | None = None):
    """``torch.compile(fn)`` when ``opts.compile`` (with ``opts.compile_mode``), else ``fn`` unchanged."""
    opts = opts or CudaOptions()
    if not opts.compile:
        return fn
    import torch

    return torch.compile(fn, mode=opts.compile_mode)
