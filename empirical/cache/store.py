"""Content-hashed, atomic result store (teacher cache now, sweep results later).

Layout: ``root/<key[:2]>/<key>.json`` (the record, wrapped with its schema, key and a sha256 checksum) and,
when arrays are given, ``root/<key[:2]>/<key>.safetensors`` (numpy/torch tensors; its sha256 is in the JSON).
Every file is written to a unique temporary name in the same folder and moved into place with
``os.replace`` (atomic on POSIX); the JSON goes last, so its presence means the result is complete. A load
validates schema, key and checksums and treats anything corrupt or incomplete as missing.

Keys come from :func:`empirical.config.config_hash` (sha256 of the canonical config JSON + cache version +
package version).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

SCHEMA = "lrkd-result/1"


def default_cache_root() -> Path:
    """``$LRKD_CACHE`` if set, else ``~/.cache/lrkd``."""
    env = os.environ.get("LRKD_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "lrkd"


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def atomic_write(path: Path, data) -> None:
    """Write ``data`` (bytes, or a callable ``writer(tmp_path)``) to ``path`` atomically: a unique temporary
    file in the same folder, created with mode 0666 so the umask applies (``mkstemp``'s 0600 would hide
    shared results from other users), synced, then moved into place with ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.parent / f".{path.name}.{os.urandom(6).hex()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(data):
                data(str(tmp))
            else:
                fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _to_numpy(v):
    if hasattr(v, "detach"):
        v = v.detach().cpu()
        if str(v.dtype) == "torch.bfloat16":
            v = v.float()
        v = v.numpy()
    import numpy as np
    return np.ascontiguousarray(v)


class ResultStore:
    """``get(key) -> record | None``, ``get_arrays(key) -> {name: ndarray} | None``,
    ``put(key, record, arrays=None)``, ``path_for(key)``, ``__contains__``."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_cache_root()

    def path_for(self, key: str) -> Path:
        """Path of the record JSON for ``key``."""
        if not key or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"store keys are lowercase hex digests, got {key!r}")
        return self.root / key[:2] / f"{key}.json"

    def _arrays_path(self, key: str) -> Path:
        return self.path_for(key).with_suffix(".safetensors")

    def put(self, key: str, record: dict, arrays: dict | None = None) -> Path:
        """Write ``record`` (strict JSON) and optional named arrays atomically; returns the JSON path."""
        path = self.path_for(key)
        wrapper = {"schema": SCHEMA, "key": key, "record": record,
                   "checksum": hashlib.sha256(_canonical(record).encode()).hexdigest(), "arrays": None}
        if arrays:
            from safetensors.numpy import save
            blob = save({k: _to_numpy(v) for k, v in arrays.items()})
            atomic_write(self._arrays_path(key), blob)
            wrapper["arrays"] = {"file": self._arrays_path(key).name, "sha256": hashlib.sha256(blob).hexdigest()}
        atomic_write(path, _canonical(wrapper).encode())
        return path

    def _load_wrapper(self, key: str):
        path = self.path_for(key)
        try:
            wrapper = json.loads(path.read_text())
            record = wrapper["record"]
            ok = (wrapper.get("schema") == SCHEMA and wrapper.get("key") == key
                  and hashlib.sha256(_canonical(record).encode()).hexdigest() == wrapper.get("checksum"))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return wrapper if ok else None

    def get(self, key: str) -> dict | None:
        """The stored record, or None when missing, corrupt, or its arrays are missing/corrupt."""
        wrapper = self._load_wrapper(key)
        if wrapper is None:
            return None
        if wrapper.get("arrays") and self._read_arrays(key, wrapper) is None:
            return None
        return wrapper["record"]

    def _read_arrays(self, key: str, wrapper: dict):
        try:
            blob = self._arrays_path(key).read_bytes()
        except OSError:
            return None
        if hashlib.sha256(blob).hexdigest() != wrapper["arrays"].get("sha256"):
            return None
        from safetensors.numpy import load
        try:
            return load(blob)
        except Exception:
            return None

    def get_with_arrays(self, key: str) -> tuple[dict, dict] | None:
        """``(record, arrays)`` in one read, or None when missing, corrupt, or stored without arrays."""
        wrapper = self._load_wrapper(key)
        if wrapper is None or not wrapper.get("arrays"):
            return None
        arrays = self._read_arrays(key, wrapper)
        return None if arrays is None else (wrapper["record"], arrays)

    def get_arrays(self, key: str) -> dict | None:
        """The stored arrays ({name: ndarray}), or None when missing or corrupt."""
        wrapper = self._load_wrapper(key)
        if wrapper is None or not wrapper.get("arrays"):
            return None
        return self._read_arrays(key, wrapper)

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None
