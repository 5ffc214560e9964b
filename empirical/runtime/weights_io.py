"""The one place that loads PyTorch ``.pt``/``.pth`` weight files, always with ``torch.load(weights_only=True)``.

``bounds/`` imports this module lazily, and only when a user passes a ``.pt`` file, so ``import bounds`` and
``lrkd rank`` on .npy/.safetensors inputs never import torch. ``weights_only=True`` refuses to unpickle
arbitrary objects: a checkpoint can hold tensors and plain containers, not code.

Every failure of ``torch.load`` (a file that is empty, truncated, not a checkpoint, or refused because it holds
objects other than tensors) is raised as :class:`WeightsFileError` (a ``ValueError``) naming the file, so that
a ``KeyError`` from :func:`load_tensor` only ever means an unknown or ambiguous tensor name.
"""
from __future__ import annotations

import numpy as np


class WeightsFileError(ValueError):
    """A ``.pt`` file that cannot be read as PyTorch weights; the message names the file and the reason."""


def _load(path):
    """``torch.load(path, weights_only=True)`` on CPU, its failures turned into :class:`WeightsFileError`.

    ``OSError`` (missing or unreadable file) passes through unchanged. torch and pickle raise many unrelated
    types on a corrupt file (``KeyError(101)`` for text, ``EOFError`` when empty, ``RuntimeError`` from the zip
    reader), hence the broad ``except``.
    """
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower():
            raise WeightsFileError(f"{path}: refused by torch.load(weights_only=True): it holds objects other "
                                   "than tensors and plain containers (a pickle that could run code)") from None
        raise WeightsFileError(f"{path}: not a PyTorch weights file (unpickling failed)") from None
    except Exception as exc:  # noqa: BLE001 - see docstring
        detail = str(exc).splitlines()[0].split(". ")[0][:100] if str(exc) and not isinstance(exc, KeyError) else ""
        raise WeightsFileError(f"{path}: not a PyTorch weights file (torch.load: {exc.__class__.__name__}"
                               f"{': ' + detail if detail else ''}); empty, truncated or another format?") from None


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
    return {name: tuple(t.shape) for name, t in _tensors(_load(path)).items()}


def load_tensor(path, name: str | None = None) -> np.ndarray:
    """One tensor of a ``.pt`` file as a float64 numpy array.

    ``name`` is its dotted key (``"layers.0.attn.q.weight"``); it may be omitted when the file holds exactly
    one tensor. A name that matches no key exactly but is a unique suffix of one is accepted, as is
    ``module`` for ``module.weight``. Raises ``KeyError`` (unknown or ambiguous name only) or
    :class:`WeightsFileError` (the file cannot be read as weights, or holds no tensors).
    """
    import torch

    tensors = _tensors(_load(path))
    if not tensors:
        raise WeightsFileError(f"{path}: holds no tensors")
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
