"""Byte-level text data and the deterministic teacher / student-train / held-out split.

The default corpus is the documentation bundled with every CPython (``pydoc_data.topics``, ~466k bytes of
English prose and code); ``DataConfig.corpus`` may name any UTF-8 file. Tokens are bytes (vocabulary 256).
The corpus is cut into non-overlapping sequences of ``context + 1`` bytes (input = first ``context``, target
= shifted by one), permuted by ``seed``, then split into disjoint parts: the teacher's training part, the
held-out part, and the student-training pool. Repeated chunks are dropped first, so no sequence of the
teacher's part reappears verbatim in the student's parts. The teacher never sees student or held-out text.

Student datasets (shared/INFERENCE.md rule 1): each (seed, N) draws its own training set and its own held-out
set from the student pool (:meth:`Splits.draw`): a permutation of the pool seeded by (seed, N), training rows
its first N, held-out rows the next ``n_heldout``. Draws at different seeds differ, draws at different N of one
seed are not nested, and every rank at one (seed, N) shares that dataset. The fixed ``heldout`` part is the
teacher's held-out set (and the MI experiment's activations).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from bounds.errors import UsageError

from empirical.config import DataConfig


@lru_cache(maxsize=8)
def load_corpus_bytes(corpus: str | None = None) -> bytes:
    """The corpus as UTF-8 bytes: the embedded ``pydoc_data.topics`` text when ``corpus`` is None."""
    if corpus is None:
        import pydoc_data.topics as topics
        return "".join(topics.topics[k] for k in sorted(topics.topics)).encode("utf-8")
    path = Path(corpus)
    if not path.is_file():
        raise UsageError(f"corpus file {corpus!r} does not exist or is not a file")
    raw = path.read_bytes()
    if not raw:
        raise UsageError(f"corpus file {corpus!r} is empty")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"corpus file {corpus!r} is not UTF-8 text (bad byte at offset {exc.start})") from None
    return raw


@dataclass(frozen=True)
class Splits:
    """Disjoint parts of one corpus, each a LongTensor of shape (n, context + 1) of byte tokens."""

    teacher: torch.Tensor
    heldout: torch.Tensor
    student_pool: torch.Tensor
    context: int

    @property
    def max_samples(self) -> int:
        """Largest N (student training sequences) this corpus allows."""
        return int(self.student_pool.shape[0])

    def student_train(self, n: int) -> torch.Tensor:
        """The first ``n`` sequences of the student pool; :class:`UsageError` when ``n`` is too large."""
        if n < 1:
            raise UsageError(f"the number of samples must be >= 1, got {n}")
        if n > self.max_samples:
            raise UsageError(f"--samples {n} is more than this corpus allows with context {self.context} "
                             f"(max N = {self.max_samples})")
        return self.student_pool[:n]

    def draw(self, seed: int, n: int, n_heldout: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Student-pool row indices ``(train (n,), heldout (n_heldout,))`` of the dataset of (``seed``, ``n``):
        a permutation of the pool seeded by (seed, n), training rows first, held-out rows next (disjoint).
        :class:`UsageError` when the pool has fewer than ``n + n_heldout`` sequences."""
        if n < 1:
            raise UsageError(f"the number of samples must be >= 1, got {n}")
        if n + n_heldout > self.max_samples:
            raise UsageError(f"--samples {n} is more than this corpus allows with context {self.context} and "
                             f"{n_heldout} held-out sequences per dataset (max N = {self.max_samples - n_heldout})")
        g = torch.Generator()
        g.manual_seed(draw_seed(seed, n))
        perm = torch.randperm(self.max_samples, generator=g)
        return perm[:n].clone(), perm[n:n + n_heldout].clone()


def draw_seed(seed: int, n: int) -> int:
    """The generator seed of dataset (``seed``, ``n``): distinct for distinct pairs with 0 <= n < 2^31."""
    return 7_919 + int(seed) * 2**31 + int(n)


_CACHE: dict = {}


def make_splits(cfg: DataConfig) -> Splits:
    """Cut, shuffle (by ``cfg.seed``) and split the corpus. Deterministic; memoised per config."""
    if cfg in _CACHE:
        return _CACHE[cfg]
    if cfg.context < 1:
        raise UsageError(f"context must be >= 1, got {cfg.context}")
    if not 0.0 < cfg.teacher_fraction < 1.0:
        raise UsageError(f"teacher_fraction must be in (0, 1), got {cfg.teacher_fraction}")
    raw = load_corpus_bytes(cfg.corpus)
    seq = cfg.context + 1
    n = len(raw) // seq
    if n < 4:
        name = "the embedded corpus" if cfg.corpus is None else f"corpus {cfg.corpus!r}"
        raise UsageError(f"{name} is too short: {len(raw)} bytes; need at least {4 * seq} "
                         f"(4 sequences of context+1 = {seq} bytes)")
    # drop repeated chunks (the docs repeat some passages) so the parts are disjoint in content, not only
    # in position; the first occurrence is kept
    seen: set = set()
    keep = []
    for i in range(n):
        chunk = raw[i * seq:(i + 1) * seq]
        if chunk not in seen:
            seen.add(chunk)
            keep.append(i)
    tokens = torch.frombuffer(bytearray(raw[: n * seq]), dtype=torch.uint8).to(torch.long).view(n, seq)
    tokens = tokens[torch.tensor(keep, dtype=torch.long)]
    n = tokens.shape[0]
    g = torch.Generator()
    g.manual_seed(cfg.seed)
    tokens = tokens[torch.randperm(n, generator=g)]
    n_teacher = max(1, min(n - 2, int(cfg.teacher_fraction * n)))
    rest = n - n_teacher
    n_held = max(1, min(cfg.heldout_sequences, rest // 2))
    splits = Splits(teacher=tokens[:n_teacher].clone(), heldout=tokens[n_teacher:n_teacher + n_held].clone(),
                    student_pool=tokens[n_teacher + n_held:].clone(), context=cfg.context)
    _CACHE[cfg] = splits
    return splits
