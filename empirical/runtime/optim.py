"""The AdamW every training loop builds: the fused kernel wherever torch has it. Imports torch only."""
from __future__ import annotations

import torch


def make_adamw(params, **kwargs):
    """``torch.optim.AdamW`` with the fused kernel when torch supports it for these tensors (CPU since torch
    2.4, CUDA): one kernel instead of a dozen per parameter, which dominates tiny models' steps. Falls back
    to the default implementation otherwise."""
    params = list(params)
    try:
        return torch.optim.AdamW(params, fused=True, **kwargs)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(params, **kwargs)
