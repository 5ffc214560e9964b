"""The one place that loads PyTorch ``.pt``/``.pth`` weight files, always with ``torch.load(weights_only=True)``.

``bounds/`` imports this module lazily, and only when a user passes a ``.pt`` file, so ``import bounds`` and
``lrkd rank`` on .npy/.safetensors inputs never import torch. ``weights_only=True`` refuses to unpickle
arbitrary objects: a checkpoint can hold tensors and plain containers, not code.
"""
from __future__ import annotations

import numpy as np


def _tensors(obj, prefix: str = "") -> dict:
    """Flatten nested dicts/lists of tensors into {dotted.name: tensor}."""
    import torch

    if isinstance(obj, torch.Tensor):
        return {prefix: obj}
    out = {}
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    else:
        return out
    for key, value in items:
        out.update(_tensors(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def list_tensors(path) -> dict[str, tuple[int, ...]]:
    """Names and shapes of every tensor in a ``.pt`` file (state dicts, nested dicts and lists flattened)."""
    import torch

    obj = torch.load(path, map_location="cpu", weights_only=True)
    return {name: tuple(t.shape) for name, t in _tensors(obj).items()}


def load_tensor(path, name: str | None = None) -> np.ndarray:
    """One tensor of a ``.pt`` file as a float64 numpy array.

    ``name`` is its dotted key (``"layers.0.attn.q.weight"``); it may be omitted when the file holds exactly
    one tensor. A name that matches no key exactly but is a unique suffix of one is accepted, as is
    ``module`` for ``module.weight``. Raises ``KeyError`` (unknown or ambiguous name) or ``ValueError``.
    """
    import torch

    obj = torch.load(path, map_location="cpu", weights_only=True)
    tensors = _tensors(obj)
    if not tensors:
        raise ValueError(f"{path} holds no tensors")
    if name is None:
        if len(tensors) != 1:
            raise KeyError(f"{path} holds {len(tensors)} tensors; name one")
        (tensor,) = tensors.values()
    else:
        candidates = [k for k in (name, f"{name}.weight") if k in tensors]
        if not candidates:
            candidates = [k for k in tensors if k.endswith("." + name) or k.endswith("." + name + ".weight")]
        if len(candidates) != 1:
            raise KeyError(f"tensor {name!r} {'is ambiguous' if candidates else 'not found'} in {path}")
        tensor = tensors[candidates[0]]
    return tensor.detach().to(torch.float64).cpu().numpy()
