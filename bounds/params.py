"""Trainable parameter counts p(r): Low-Rank Clone students and free rank-r factorizations.

LRC (Hao et al. 2025, code ``CURRENTF/LowRankClone``; ../shared/LRC.md): the teacher is frozen; per layer one
trainable projection of size :math:`d_T\\times r` for each of q, k, v, o, gate, up, down (never shared across
layers), one for the embedding (reused by the LM head when the teacher ties embeddings, else a second one),
and the student's own RMSNorm weights (two per layer plus the final norm, width r):

.. math:: p(r) = 7 L d_T r + (1 + [\\text{untied}])\\, d_T r + (2L + 1) r .

Head count, head_dim, KV heads, d_ff and vocabulary do not enter: they stay the teacher's and are frozen.
A free rank-r factorization :math:`W \\approx UV^\\top` of an :math:`m\\times d` matrix has :math:`r(m+d)`.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

from bounds.cliutil import UsageError

#: config.json keys accepted for each quantity, first match wins (HF LLaMA/Qwen2 names first, then GPT-2/T5)
_KEYS = {
    "hidden_size": ("hidden_size", "n_embd", "d_model"),
    "num_layers": ("num_hidden_layers", "n_layer", "num_layers"),
    "intermediate_size": ("intermediate_size", "n_inner", "d_ff"),
    "num_heads": ("num_attention_heads", "n_head", "num_heads"),
    "num_kv_heads": ("num_key_value_heads",),
    "vocab_size": ("vocab_size",),
}
_REQUIRED = ("hidden_size", "num_layers")


@dataclass(frozen=True)
class TeacherArch:
    """The teacher facts LRC's parameter count needs (the rest are recorded for reports)."""

    hidden_size: int
    num_layers: int
    tied_embeddings: bool = True
    intermediate_size: int | None = None
    num_heads: int | None = None
    num_kv_heads: int | None = None
    vocab_size: int | None = None

    def trainable_params(self, rank: int, *, include_norms: bool = True) -> int:
        """:func:`lrc_trainable_params` for this teacher."""
        return lrc_trainable_params(self.hidden_size, self.num_layers, rank,
                                    tied_embeddings=self.tied_embeddings, include_norms=include_norms)

    def params_per_rank(self, *, include_norms: bool = True) -> int:
        """p(r)/r: LRC's count is linear in r, p(r) = r * params_per_rank."""
        return self.trainable_params(1, include_norms=include_norms)


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def lrc_trainable_params(d_teacher: int, n_layers: int, rank: int, *, tied_embeddings: bool = True,
                         include_norms: bool = True) -> int:
    """LRC's trainable parameter count :math:`p(r) = 7 L d_T r + (1+[\\text{untied}]) d_T r + (2L+1) r`.

    The last term (student RMSNorm weights) is dropped with ``include_norms=False``.
    """
    _check_int("d_teacher", d_teacher, 1)
    _check_int("n_layers", n_layers, 1)
    _check_int("rank", rank, 0)
    projections = 7 * n_layers * d_teacher * rank + d_teacher * rank * (1 if tied_embeddings else 2)
    norms = (2 * n_layers + 1) * rank if include_norms else 0
    return projections + norms


def free_factorization_params(m: int, d: int, r: int) -> int:
    """Parameters of a free rank-r factorization of an m x d matrix: :math:`r(m+d)`."""
    _check_int("m", m, 1)
    _check_int("d", d, 1)
    _check_int("r", r, 0)
    return r * (m + d)


def _load_config(config) -> dict:
    if isinstance(config, dict):
        return config
    path = os.fspath(config)
    if os.path.isdir(path):
        path = os.path.join(path, "config.json")
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise UsageError(f"teacher config not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read teacher config {path}: {exc.__class__.__name__}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"teacher config {path} is not valid JSON (line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise UsageError(f"teacher config {path} must be a JSON object")
    return data


def teacher_arch_from_config(config) -> TeacherArch:
    """A :class:`TeacherArch` from a HuggingFace-style ``config.json`` (a dict, a file, or a model folder).

    Needs the hidden size (``hidden_size``/``n_embd``/``d_model``) and layer count
    (``num_hidden_layers``/``n_layer``/``num_layers``); a missing one raises :class:`UsageError` naming it.
    ``tie_word_embeddings`` missing means untied (the LLaMA/Qwen2 config default).
    """
    data = _load_config(config)
    values, missing = {}, []
    for field_name, keys in _KEYS.items():
        found = next((data[k] for k in keys if k in data and data[k] is not None), None)
        if found is None:
            if field_name in _REQUIRED:
                missing.append("/".join(keys))
            continue
        if isinstance(found, bool) or not isinstance(found, int) or found < 1:
            raise UsageError(f"teacher config: {keys[0]} must be a positive integer, got {found!r}")
        values[field_name] = found
    if missing:
        raise UsageError(f"teacher config is missing {', '.join(missing)}")
    tied = data.get("tie_word_embeddings", False)
    if not isinstance(tied, bool):
        raise UsageError(f"teacher config: tie_word_embeddings must be true or false, got {tied!r}")
    return TeacherArch(tied_embeddings=tied, **values)


def lrc_params_from_config(config, rank: int, *, include_norms: bool = True) -> int:
    """:func:`lrc_trainable_params` for the teacher described by a HuggingFace-style ``config.json``."""
    return teacher_arch_from_config(config).trainable_params(rank, include_norms=include_norms)
