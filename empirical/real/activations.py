"""Real text through the real teacher: each chosen matrix's input and output activations, per token.

Text: the embedded corpus (``pydoc_data.topics`` through :func:`empirical.data.corpus.load_corpus_bytes`, or any
UTF-8 file), tokenized once with the model's own WordPiece tokenizer, cut into non-overlapping chunks of
``seq_len - 2`` tokens, each wrapped as ``[CLS] chunk [SEP]``. ``ActivationConfig.seed`` picks which
``n_train_seqs + n_heldout_seqs`` chunks form the *pool* (a seeded permutation of all chunks, first ones kept).

Capture: a forward hook on each chosen ``nn.Linear`` records its input :math:`x \\in \\mathbb{R}^d` and output
:math:`y = W x + b \\in \\mathbb{R}^m` at every non-special token position (``[CLS]``/``[SEP]`` are dropped:
their activations are outliers of a different kind). Every pool sequence goes through the model exactly once
per sweep (:func:`capture`, cached in memory).

Split: *per run*, not per capture. :meth:`Activations.split` draws a random partition of the pool's sequences
into ``n_train_seqs`` training and ``n_heldout_seqs`` held-out sequences from the run's seed (by sequence,
never by token: tokens inside a sequence are not independent; the two sets are disjoint). Why: text sequences
are heterogeneous, so the clone error on one fixed held-out set differs from the population error by an
amount :math:`\\Delta` shared by every run that uses that set. With one split for the whole sweep (the first
version of this module), the measured gap :math:`\\widehat{\\mathrm{gap}} = \\mathrm{gap} + \\Delta` carried a
common offset of about ±0.5 (whole-pool fits: +0.40..+0.64; the pools swapped: −0.55..+0.04), which bent the
fitted exponents of gap ∝ p^a N^-b (a = 0.33-0.47, b = 0.85-0.96 against G1's 1, 1/2), and the seed bands
could not show it because every seed shared the split. With the split drawn from the run's seed,
:math:`\\Delta` is a random variable with mean ≈ 0 over splits: it varies across seeds, shrinks in the seed
mean as :math:`1/\\sqrt{\\#\\text{seeds}}` and appears in the seed bands and the bootstrap CIs. Runs with the same
seed share their split across r and N (a paired design: one seed's curve in r or N is free of split noise).
Sample size N in the cloning experiments is a number of token vectors drawn from the run's training sequences.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


#: second entry of the split's seed sequence: the split stream is independent of the token draw (same seed)
SPLIT_STREAM = 0x5E9


@dataclass(frozen=True)
class ActivationConfig:
    """Which text goes through the teacher: sequence length (tokens incl. [CLS]/[SEP]), numbers of training and
    held-out sequences of each run's split (their sum is the captured pool), the seed choosing the pool's
    chunks, corpus file (None: the embedded corpus), forward batch size."""

    seq_len: int = 128
    n_train_seqs: int = 192
    n_heldout_seqs: int = 64
    seed: int = 0
    corpus: str | None = None
    batch_size: int = 32


@dataclass(frozen=True)
class Split:
    """One run's partition of the pool: row indices (into :attr:`Activations.x`) of the training and held-out
    tokens, and the pool sequence ids on each side (sorted, disjoint)."""

    rows_train: np.ndarray
    rows_test: np.ndarray
    seqs_train: np.ndarray
    seqs_test: np.ndarray


@dataclass(frozen=True, eq=False)
class Activations:
    """Per-token inputs ``x`` (n, d) and outputs ``y`` (n, m) of one matrix, float32, for every pool sequence;
    ``seq`` gives each row's pool sequence id; each run's split puts ``n_train_seqs`` of them on the training
    side and the rest on the held-out side (:meth:`split`). ``fixed_split``: when set, every seed gets the
    split of that seed (the single shared split of the first version; for comparisons only)."""

    name: str
    x: np.ndarray
    y: np.ndarray
    seq: np.ndarray
    n_train_seqs: int
    fixed_split: int | None = None

    def split(self, seed: int) -> Split:
        """The run's split: a permutation of the pool's sequence ids drawn from
        ``default_rng([seed, SPLIT_STREAM])``; the first ``n_train_seqs`` ids train, the rest are held out."""
        s = seed if self.fixed_split is None else self.fixed_split
        ids = np.unique(self.seq)
        if not 0 < self.n_train_seqs < ids.size:
            raise ValueError(f"n_train_seqs={self.n_train_seqs} must lie in (0, {ids.size}) pool sequences")
        perm = np.random.default_rng([s, SPLIT_STREAM]).permutation(ids)
        tr, te = np.sort(perm[: self.n_train_seqs]), np.sort(perm[self.n_train_seqs:])
        is_train = np.isin(self.seq, tr)
        return Split(np.flatnonzero(is_train), np.flatnonzero(~is_train), tr, te)


@functools.lru_cache(maxsize=2)
def corpus_token_ids(corpus: str | None = None) -> tuple[int, ...]:
    """The whole corpus tokenized with the model's tokenizer (no special tokens); cached in memory."""
    from empirical.data.corpus import load_corpus_bytes
    from empirical.real import minilm

    _, tokenizer = minilm.load()
    text = load_corpus_bytes(corpus).decode("utf-8")
    # tokenize paragraph by paragraph: one call on 466k characters would exceed the model's max length warning
    ids: list[int] = []
    for part in tokenizer([p for p in text.split("\n\n") if p.strip()], add_special_tokens=False,
                          verbose=False)["input_ids"]:
        ids.extend(part)
    return tuple(ids)


def sequences(config: ActivationConfig) -> np.ndarray:
    """The pool: int64 array of shape (n_train_seqs + n_heldout_seqs, seq_len) of distinct ``[CLS] chunk [SEP]``
    sequences, the first chunks of a ``config.seed``-permutation of the corpus's chunks."""
    from empirical.real import minilm

    _, tokenizer = minilm.load()
    ids = np.asarray(corpus_token_ids(config.corpus), dtype=np.int64)
    body = config.seq_len - 2
    n_chunks = ids.size // body
    need = config.n_train_seqs + config.n_heldout_seqs
    if n_chunks < need:
        raise ValueError(f"the corpus gives {n_chunks} sequences of {config.seq_len} tokens; {need} requested")
    chunks = ids[: n_chunks * body].reshape(n_chunks, body)
    order = np.random.default_rng(config.seed).permutation(n_chunks)[:need]
    cls = np.full((need, 1), tokenizer.cls_token_id, dtype=np.int64)
    sep = np.full((need, 1), tokenizer.sep_token_id, dtype=np.int64)
    return np.concatenate([cls, chunks[order], sep], axis=1)


def _run(model, seqs: np.ndarray, names: list[str], batch_size: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    import torch

    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        raise KeyError(f"no such module in the model: {missing[:3]}")
    store: dict[str, tuple[list, list]] = {n: ([], []) for n in names}
    device = next(model.parameters()).device

    def hook(name):
        def fn(_module, args, output):
            store[name][0].append(args[0][:, 1:-1].detach().float().cpu())  # drop [CLS], [SEP]
            store[name][1].append(output[:, 1:-1].detach().float().cpu())
        return fn

    handles = [modules[n].register_forward_hook(hook(n)) for n in names]
    try:
        with torch.no_grad():
            for i in range(0, seqs.shape[0], batch_size):
                batch = torch.as_tensor(seqs[i: i + batch_size], device=device)
                model(input_ids=batch, attention_mask=torch.ones_like(batch))
    finally:
        for h in handles:
            h.remove()
    out = {}
    for n, (xs, ys) in store.items():
        x, y = torch.cat(xs), torch.cat(ys)
        out[n] = (x.reshape(-1, x.shape[-1]).numpy(), y.reshape(-1, y.shape[-1]).numpy())
    return out


@functools.lru_cache(maxsize=4)
def capture(names: tuple[str, ...], config: ActivationConfig = ActivationConfig(),
            device: str = "cpu") -> dict[str, Activations]:
    """Run every pool sequence through the teacher once and capture each named ``nn.Linear``'s input/output
    (module names as in :func:`empirical.real.minilm.matrix_names`). Cached in memory: a sweep captures once,
    and each run splits the pool by its own seed (:meth:`Activations.split`)."""
    from empirical.real import minilm

    model, _ = minilm.load(device)
    pool = sequences(config)
    a = _run(model, pool, list(names), config.batch_size)
    seq = np.repeat(np.arange(pool.shape[0]), config.seq_len - 2)
    return {n: Activations(n, a[n][0], a[n][1], seq, config.n_train_seqs) for n in names}
