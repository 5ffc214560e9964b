"""Read a spectrum for `lrkd rank`: singular values, or a weight matrix whose singular values are taken.

Accepted inputs (no torch unless the file is a ``.pt``):

- ``.npy`` / ``.txt`` / ``.csv``: a 1-D array = singular values (any order); a 2-D array = a matrix;
- ``.safetensors``: the tensor ``tensor`` (``safetensors.numpy``; bf16 is decoded from the raw bytes),
  optional when the file holds one tensor;
- a HuggingFace-style model folder: ``module`` (e.g. ``encoder.layer.0.attention.self.query``) selects
  ``<module>.weight`` in ``model.safetensors`` or in the shard ``model.safetensors.index.json`` names;
- ``.pt`` / ``.pth``: through :mod:`empirical.runtime.weights_io` (``torch.load(weights_only=True)``).

Every failure (missing, unreadable, empty, non-finite, negative singular values, unknown tensor) raises
:class:`bounds.cliutil.UsageError` with a one-line message.
"""
from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass

import numpy as np

from bounds.cliutil import UsageError


@dataclass(frozen=True, eq=False)
class Spectrum:
    """Singular values in decreasing order, with the matrix shape when a matrix was read."""

    singular_values: np.ndarray
    shape: tuple[int, int] | None
    source: str


def _to_spectrum(arr: np.ndarray, source: str) -> Spectrum:
    arr = np.asarray(arr)
    if arr.dtype.kind not in "fiub":
        raise UsageError(f"{source}: expected numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.size == 0:
        raise UsageError(f"{source}: empty")
    if not np.all(np.isfinite(arr)):
        raise UsageError(f"{source}: contains NaN or infinite values")
    if arr.ndim == 2 and 1 in arr.shape:  # a single row or column is a list of singular values
        arr = arr.ravel()
    if arr.ndim == 1:
        if np.any(arr < 0):
            raise UsageError(f"{source}: singular values must be non-negative")
        sv, shape = np.sort(arr)[::-1], None
    elif arr.ndim == 2:
        sv, shape = np.linalg.svd(arr, compute_uv=False), (int(arr.shape[0]), int(arr.shape[1]))
    else:
        raise UsageError(f"{source}: expected singular values (1-D) or a matrix (2-D), got {arr.ndim}-D")
    if not np.any(sv > 0):
        raise UsageError(f"{source}: all singular values are zero")
    return Spectrum(singular_values=sv, shape=shape, source=source)


def _read_text(path: str) -> np.ndarray:
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    delimiter = "," if "," in text else None
    rows = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not rows:
        raise UsageError(f"{path}: empty")
    try:
        values = [[float(tok) for tok in (row.split(delimiter) if delimiter else row.split()) if tok.strip()]
                  for row in rows]
    except ValueError:
        raise UsageError(f"{path}: not a table of numbers") from None
    if len({len(v) for v in values}) != 1:
        raise UsageError(f"{path}: rows have different lengths")
    arr = np.array(values, dtype=float)
    return arr.ravel() if arr.shape[1] == 1 else (arr[0] if arr.shape[0] == 1 else arr)


_RAW_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
               "I16": np.int16, "I8": np.int8, "U8": np.uint8}


def _safetensors_header(path: str) -> tuple[dict, int]:
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) != 8:
            raise UsageError(f"{path}: not a safetensors file")
        (size,) = struct.unpack("<Q", head)
        if size > 100_000_000:
            raise UsageError(f"{path}: not a safetensors file")
        try:
            header = json.loads(fh.read(size))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise UsageError(f"{path}: not a safetensors file") from None
    header.pop("__metadata__", None)
    return header, 8 + size


def safetensors_header(path: str) -> dict:
    """The tensor table of a ``.safetensors`` file: name -> {dtype, shape, data_offsets} (no data read)."""
    return _safetensors_header(path)[0]


def _pick_name(names, tensor: str | None, path: str) -> str:
    names = list(names)
    if tensor is None:
        if len(names) != 1:
            raise UsageError(f"{path} holds {len(names)} tensors; choose one with --tensor NAME")
        return names[0]
    for cand in (tensor, f"{tensor}.weight"):
        if cand in names:
            return cand
    suffix = [n for n in names if n.endswith("." + tensor) or n.endswith("." + tensor + ".weight")]
    if len(suffix) == 1:
        return suffix[0]
    shown = suffix if suffix else [n for n in names if n.endswith(".weight")] or names
    listing = ", ".join(shown[:8]) + (f", ... ({len(shown)} in all)" if len(shown) > 8 else "")
    what = "is ambiguous: it matches" if suffix else "not found; the file holds"
    raise UsageError(f"tensor {tensor!r} in {path} {what} {listing}")


def _read_safetensors(path: str, tensor: str | None) -> tuple[np.ndarray, str]:
    header, offset = _safetensors_header(path)
    name = _pick_name(header, tensor, path)
    info = header[name]
    dtype, shape, (start, end) = info["dtype"], info["shape"], info["data_offsets"]
    if dtype in _RAW_DTYPES:
        from safetensors import safe_open

        with safe_open(path, framework="np") as fh:
            return np.asarray(fh.get_tensor(name)), name
    if dtype != "BF16":
        raise UsageError(f"{path}: tensor {name!r} has unsupported dtype {dtype}")
    with open(path, "rb") as fh:  # bfloat16 is the top half of a float32
        fh.seek(offset + start)
        raw = np.frombuffer(fh.read(end - start), dtype="<u2")
    return (raw.astype(np.uint32) << 16).view(np.float32).reshape(shape), name


def _read_model_folder(folder: str, module: str | None) -> tuple[np.ndarray, str]:
    index = os.path.join(folder, "model.safetensors.index.json")
    single = os.path.join(folder, "model.safetensors")
    if not (os.path.exists(single) or os.path.exists(index)):
        raise UsageError(f"{folder} is a folder without model.safetensors or model.safetensors.index.json; give a "
                         "spectrum file (.npy/.txt/.csv/.safetensors/.pt) or a model folder")
    if module is None:
        raise UsageError(f"{folder} is a model folder: choose a weight with --module NAME")
    if os.path.exists(single):
        return _read_safetensors(single, module)
    if os.path.exists(index):
        with open(index, encoding="utf-8") as fh:
            weight_map = json.load(fh).get("weight_map", {})
        name = _pick_name(weight_map, module, index)
        return _read_safetensors(os.path.join(folder, weight_map[name]), name)


def read_spectrum(path, tensor: str | None = None, module: str | None = None) -> Spectrum:
    """Read singular values (or a matrix, then its singular values) from ``path``; see the module docstring."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise UsageError(f"spectrum file not found: {path}")
    ext = os.path.splitext(path)[1].lower()
    try:
        if os.path.isdir(path):
            arr, name = _read_model_folder(path, module or tensor)
            return _to_spectrum(arr, f"{path}:{name}")
        if ext == ".npy":
            arr = np.load(path, allow_pickle=False)
        elif ext in (".txt", ".csv", ".tsv", ".dat"):
            arr = _read_text(path)
        elif ext == ".safetensors":
            arr, name = _read_safetensors(path, tensor or module)
            return _to_spectrum(arr, f"{path}:{name}")
        elif ext in (".pt", ".pth", ".bin"):
            from empirical.runtime.weights_io import WeightsFileError, load_tensor

            try:
                arr = load_tensor(path, tensor or module)
            except KeyError as exc:  # only an unknown or ambiguous tensor name (weights_io's contract)
                raise UsageError(str(exc).strip("'\"")) from None
            except WeightsFileError as exc:  # its message names the file and the reason
                raise UsageError(str(exc)) from None
        else:
            raise UsageError(f"{path}: unknown spectrum format {ext or '(no extension)'}; "
                             "use .npy, .txt, .csv, .safetensors, .pt or a model folder")
    except UsageError:
        raise
    except (OSError, ValueError, EOFError, struct.error, UnicodeDecodeError, KeyError) as exc:
        raise UsageError(f"cannot read spectrum {path}: {exc.__class__.__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")) from None
    except Exception as exc:  # noqa: BLE001 - torch/safetensors raise their own types on corrupt files
        raise UsageError(f"cannot read spectrum {path}: {exc.__class__.__name__}") from None
    return _to_spectrum(arr, path)
