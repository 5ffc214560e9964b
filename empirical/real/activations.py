"""Real text through the real teacher: each chosen matrix's input and output activations, per token.

Text: the embedded corpus (``pydoc_data.topics`` through :func:`empirical.data.load_corpus_bytes`, or any
UTF-8 file), tokenized once with the model's own WordPiece tokenizer, cut into non-overlapping chunks of
``seq_len - 2`` tokens, each wrapped as ``[CLS] chunk [SEP]``. The chunks are permuted by ``seed`` and split
into *disjoint* training and held-out sequences (tokens inside a sequence are not independent, so the split is
by sequence, never by token).

Capture: a forward hook on each chosen ``nn.Linear`` records its input :math:`x \\in \\mathbb{R}^d` and output
:math:`y = W x + b \\in \\mathbb{R}^m` at every non-special token position (``[CLS]``/``[SEP]`` are dropped:
their activations are outliers of a different kind). Sample size N in the cloning experiments is a number of
token vectors drawn from the training sequences.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ActivationConfig:
    """Which text goes through the teacher: sequence length (tokens incl. [CLS]/[SEP]), numbers of training and
    held-out sequences, split seed, corpus file (None: the embedded corpus), forward batch size."""

    seq_len: int = 128
    n_train_seqs: int = 192
    n_heldout_seqs: int = 64
    seed: int = 0
    corpus: str | None = None
    batch_size: int = 32


@dataclass(frozen=True, eq=False)
class Activations:
    """Per-token inputs ``x`` (n, d) and outputs ``y`` (n, m) of one matrix, float32, for the training and
    held-out sequences; ``seq_train``/``seq_test`` give each row's sequence index."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    seq_train: np.ndarray
    seq_test: np.ndarray


@functools.lru_cache(maxsize=2)
def corpus_token_ids(corpus: str | None = None) -> tuple[int, ...]:
    """The whole corpus tokenized with the model's tokenizer (no special tokens); cached in memory."""
    from empirical.data import load_corpus_bytes
    from empirical.real import minilm

    _, tokenizer = minilm.load()
    text = load_corpus_bytes(corpus).decode("utf-8")
    # tokenize paragraph by paragraph: one call on 466k characters would exceed the model's max length warning
    ids: list[int] = []
    for part in tokenizer([p for p in text.split("\n\n") if p.strip()], add_special_tokens=False,
                          verbose=False)["input_ids"]:
        ids.extend(part)
    return tuple(ids)


def sequences(config: ActivationConfig) -> tuple[np.ndarray, np.ndarray]:
    """(train, heldout) int64 arrays of shape (n, seq_len): disjoint ``[CLS] chunk [SEP]`` sequences."""
    from empirical.real import minilm

    _, tokenizer = minilm.load()
    ids = np.asarray(corpus_token_ids(config.corpus), dtype=np.int64)
    body = config.seq_len - 2
    n_chunks = ids.size // body
    need = config.n_train_seqs + config.n_heldout_seqs
    if n_chunks < need:
        raise ValueError(f"the corpus gives {n_chunks} sequences of {config.seq_len} tokens; {need} requested")
    chunks = ids[: n_chunks * body].reshape(n_chunks, body)
    order = np.random.default_rng(config.seed).permutation(n_chunks)
    cls = np.full((n_chunks, 1), tokenizer.cls_token_id, dtype=np.int64)
    sep = np.full((n_chunks, 1), tokenizer.sep_token_id, dtype=np.int64)
    seqs = np.concatenate([cls, chunks, sep], axis=1)[order]
    return seqs[: config.n_train_seqs], seqs[config.n_train_seqs: need]


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
    """Run the training and held-out sequences through the teacher and capture each named ``nn.Linear``'s
    input/output (module names as in :func:`empirical.real.minilm.matrix_names`). Cached in memory."""
    from empirical.real import minilm

    model, _ = minilm.load(device)
    train, test = sequences(config)
    a = _run(model, train, list(names), config.batch_size)
    b = _run(model, test, list(names), config.batch_size)
    per = config.seq_len - 2
    seq_train = np.repeat(np.arange(train.shape[0]), per)
    seq_test = np.repeat(np.arange(test.shape[0]), per)
    return {n: Activations(n, a[n][0], a[n][1], b[n][0], b[n][1], seq_train, seq_test) for n in names}
