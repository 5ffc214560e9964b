"""Per-key advisory locks so that two sweeps sharing one result store never compute or write a result twice.

The store (:mod:`empirical.cache.store`) already makes every write atomic (unique temporary name + ``os.replace``),
so a reader never sees a half-written record. What atomic writes alone allow is *duplicate work*: two sweeps
that both find key ``k`` missing both train it and the later ``os.replace`` silently wins. :func:`run_once`
closes that gap with the classic check - lock - re-check pattern:

1. ``store.get(k)`` hit -> return it (no lock taken; the common, cached case stays lock-free);
2. take an exclusive ``fcntl.flock`` on ``<store root>/.locks/<k[:2]>/<k>.lock`` (blocking);
3. ``store.get(k)`` again: another process may have finished it while we waited -> return that;
4. otherwise compute, ``store.put``, release.

``flock`` locks belong to the open file description, so they are released by the kernel when the holder
exits or is killed (no stale locks after a crash; the lock file itself stays, empty, and is harmless).
They work between processes of one machine and on local filesystems; on NFS ``flock`` is emulated with
POSIX locks on Linux >= 2.6.12 (set ``LRKD_LOCKS=off`` on a filesystem without working locks: then
duplicates are possible again, never corruption).
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Callable

LOCK_DIR = ".locks"


def lock_path(root: str | os.PathLike, key: str) -> Path:
    """Lock file of ``key`` under store root ``root`` (created on demand)."""
    if not key or any(c not in "0123456789abcdef" for c in key):
        raise ValueError(f"lock keys are lowercase hex digests, got {key!r}")
    return Path(root) / LOCK_DIR / key[:2] / f"{key}.lock"


@contextlib.contextmanager
def key_lock(root: str | os.PathLike, key: str, blocking: bool = True):
    """Exclusive inter-process lock on ``key``. Yields True when held; with ``blocking=False`` yields False
    at once if another process holds it (the body then must not compute ``key``)."""
    if os.environ.get("LRKD_LOCKS", "on").lower() == "off":
        yield True
        return
    import fcntl

    path = lock_path(root, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def run_once(store, key: str, compute: Callable[[], dict | tuple], force: bool = False) -> tuple[dict, bool]:
    """The record of ``key``: from ``store`` (an :class:`empirical.cache.store.ResultStore`) when present, else
    ``compute()`` under the key's lock and stored. ``compute`` returns the record, or ``(record, arrays)``
    to store named arrays beside it. Returns ``(record, computed_here)``.

    Whatever the number of processes (sweeps, pool workers, submitit jobs) calling this for the same key at
    once, ``compute`` runs in exactly one of them (unless ``force``: a forced call recomputes under the lock
    and overwrites; forced calls are serialised, never interleaved).
    """
    if not force:
        rec = store.get(key)
        if rec is not None:
            return rec, False
    with key_lock(store.root, key):
        if not force:
            rec = store.get(key)
            if rec is not None:
                return rec, False
        out = compute()
        rec, arrays = out if isinstance(out, tuple) else (out, None)
        store.put(key, rec, arrays=arrays)
        return rec, True


def run_once_at(root: str | os.PathLike, key: str, fn: Callable, *args, force: bool = False) -> tuple[dict, bool]:
    """:func:`run_once` on ``ResultStore(root)`` computing ``fn(*args)``; module level and picklable, so it is
    what an executor job runs: ``executor.submit(run_once_at, root, key, fn, *args)``."""
    from empirical.cache.store import ResultStore

    return run_once(ResultStore(root), key, lambda: fn(*args), force=force)


@contextlib.contextmanager
def keys_lock(root: str | os.PathLike, keys):
    """Exclusive locks on several keys at once, taken in sorted order (so two holders of overlapping key
    sets cannot deadlock) and released together."""
    with contextlib.ExitStack() as stack:
        for key in sorted(set(keys)):
            stack.enter_context(key_lock(root, key))
        yield


def run_many_once(store, keys: list, compute: Callable[[list], list], force: bool = False) -> tuple[list, list]:
    """Batch form of :func:`run_once` for work that is computed together (e.g. stacked students).

    Under the locks of all ``keys``: the stored ones are read; ``compute(missing)`` gets the list of indices
    into ``keys`` that are missing (all of them when ``force``) and returns their records in that order;
    each is stored. Returns ``(records, computed_flags)`` aligned with ``keys``. Any number of processes
    doing this on overlapping key sets compute each key once.
    """
    recs: list = [None] * len(keys)
    if not force:
        recs = [store.get(k) for k in keys]
        if all(r is not None for r in recs):
            return recs, [False] * len(keys)
    with keys_lock(store.root, keys):
        if not force:
            recs = [store.get(k) for k in keys]
        missing = [i for i, r in enumerate(recs) if r is None or force]
        flags = [False] * len(keys)
        if missing:
            for i, rec in zip(missing, compute(missing), strict=True):
                store.put(keys[i], rec)
                recs[i], flags[i] = rec, True
        return recs, flags
