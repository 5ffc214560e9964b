"""The adaptable linear modules of a model, by name and shape, without torch or PEFT.

From a model folder the names and shapes are read from the safetensors header (``model.safetensors`` or the
shards of ``model.safetensors.index.json``; no tensor data is read): every 2-D ``<module>.weight`` except the
embeddings and the LM head (names containing ``embed`` or ``lm_head``), shape (out, in) as ``nn.Linear``
stores it. From a ``config.json`` alone the shapes of the decoder blocks of LLaMA-style models (q/k/v/o,
gate/up/down, HF module names ``model.layers.{i}.self_attn.q_proj`` ...) and BERT-style encoders
(``encoder.layer.{i}.attention.self.query`` ...) are derived from the hidden, intermediate, head and KV-head
sizes.

Target matching follows PEFT's ``target_modules`` list rule: a module is targeted when its name equals a target
or ends with ``"." + target``. A name used as a key of PEFT's ``rank_pattern`` matches the module of that
full name (PEFT matches the key as a suffix of the module path, so a wrapping prefix such as ``base_model.``
does not break it).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

from bounds.cliutil import UsageError

LLAMA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
_EXCLUDE = ("embed", "lm_head")


@dataclass(frozen=True)
class LinearModule:
    """One adaptable matrix: its module name (no ``.weight``) and shape (out, in)."""

    name: str
    out_features: int
    in_features: int

    @property
    def per_rank(self) -> int:
        """Parameters per unit rank of a rank-r factorization (LoRA's A and B, or SVD's U and V): m + n."""
        return self.out_features + self.in_features

    @property
    def dense(self) -> int:
        return self.out_features * self.in_features

    @property
    def max_rank(self) -> int:
        return min(self.out_features, self.in_features)


def _header(path: str) -> dict:
    from bounds.spectrum_io import safetensors_header

    return safetensors_header(path)


def _weight_files(folder: str) -> list[str]:
    single = os.path.join(folder, "model.safetensors")
    if os.path.exists(single):
        return [single]
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        try:
            with open(index, encoding="utf-8") as fh:
                weight_map = json.load(fh).get("weight_map", {})
        except (OSError, ValueError, UnicodeDecodeError, AttributeError):
            raise UsageError(f"{index}: not a safetensors index") from None
        return [os.path.join(folder, f) for f in sorted(set(weight_map.values()))]
    raise UsageError(f"{folder} has no model.safetensors or model.safetensors.index.json")


def modules_from_folder(folder) -> list[LinearModule]:
    """Every adaptable 2-D weight of a model folder, in the file's name order."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise UsageError(f"model folder not found: {folder}")
    out = []
    for path in _weight_files(folder):
        for name, info in sorted(_header(path).items()):
            shape = info.get("shape", []) if isinstance(info, dict) else []
            if not name.endswith(".weight") or len(shape) != 2 or any(x in name for x in _EXCLUDE):
                continue
            out.append(LinearModule(name[: -len(".weight")], int(shape[0]), int(shape[1])))
    if not out:
        raise UsageError(f"{folder}: no 2-D weight matrices found")
    return out


def modules_from_config(config) -> list[LinearModule]:
    """The block matrices of a LLaMA-style or BERT-style ``config.json`` (see the module docstring)."""
    from bounds.params import _load_config, teacher_arch_from_config

    data = _load_config(config)
    arch = teacher_arch_from_config(data)
    h, L = arch.hidden_size, arch.num_layers
    ff = arch.intermediate_size or 4 * h
    heads = arch.num_heads or 1
    head_dim = int(data.get("head_dim") or h // heads)
    kv = (arch.num_kv_heads or heads) * head_dim
    q = heads * head_dim
    if data.get("model_type") == "bert":
        block = (("attention.self.query", q, h), ("attention.self.key", q, h), ("attention.self.value", q, h),
                 ("attention.output.dense", h, q), ("intermediate.dense", ff, h), ("output.dense", h, ff))
        prefix = "encoder.layer"
    else:
        block = (("self_attn.q_proj", q, h), ("self_attn.k_proj", kv, h), ("self_attn.v_proj", kv, h),
                 ("self_attn.o_proj", h, q), ("mlp.gate_proj", ff, h), ("mlp.up_proj", ff, h),
                 ("mlp.down_proj", h, ff))
        prefix = "model.layers"
    return [LinearModule(f"{prefix}.{i}.{name}", o, n) for i in range(L) for name, o, n in block]


def parse_targets(text: str | None) -> tuple[str, ...] | None:
    """``"q_proj,v_proj"`` -> ("q_proj", "v_proj"); None or "all" -> None (every module)."""
    if text is None or text.strip() in ("", "all"):
        return None
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    if not names:
        raise UsageError("--targets: expected module names such as q_proj,v_proj")
    return names


def select(modules: list[LinearModule], targets: tuple[str, ...] | None) -> list[LinearModule]:
    """The modules PEFT's ``target_modules=targets`` would adapt; :class:`UsageError` when none match."""
    if targets is None:
        return list(modules)
    chosen = [m for m in modules if any(m.name == t or m.name.endswith("." + t) for t in targets)]
    missing = [t for t in targets if not any(m.name == t or m.name.endswith("." + t) for m in modules)]
    if missing:
        example = modules[0].name.rsplit(".", 1)[-1] if modules else "?"
        raise UsageError(f"--targets: no module named {', '.join(missing)} (module names end like {example!r})")
    return chosen
