"""bounds.params: LRC's trainable count, by enumeration of LRC.md's matrices, against a small instantiated
co-trained student's numel, and read from HuggingFace-style config.json files."""
import json

import pytest

from bounds.cliutil import UsageError
from bounds.params import (free_factorization_params, lrc_params_from_config, lrc_trainable_params,
                           teacher_arch_from_config)


def _enumerate(d_t, L, r, tied, norms):
    """LRC.md, matrix by matrix: per layer q, k, v, o, gate, up, down projections of d_T x r; embedding
    projection (and an LM-head one when untied); RMSNorm weights (2 per layer + final) of width r."""
    shapes = [(d_t, r)] * 7 * L + [(d_t, r)] * (1 if tied else 2)
    if norms:
        shapes += [(r,)] * (2 * L + 1)
    total = 0
    for shape in shapes:
        n = 1
        for s in shape:
            n *= s
        total += n
    return total


@pytest.mark.parametrize("d_t, L, r", [(64, 2, 8), (3072, 28, 1536), (17, 3, 1), (5, 1, 0)])
@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("norms", [True, False])
def test_lrc_count_equals_enumeration(d_t, L, r, tied, norms):
    assert lrc_trainable_params(d_t, L, r, tied_embeddings=tied, include_norms=norms) == _enumerate(d_t, L, r, tied, norms)


def test_lrc_1_5b_matches_the_paper():
    # LRC.md: 28 * 7 * 3072 * 1536 + 3072 * 1536 ~ 0.93B
    p = lrc_trainable_params(3072, 28, 1536, include_norms=False)
    assert p == 28 * 7 * 3072 * 1536 + 3072 * 1536
    assert 0.92e9 < p < 0.94e9


def test_free_factorization():
    assert free_factorization_params(300, 200, 7) == 7 * 500


@pytest.mark.parametrize("bad", [(0, 2, 3), (4, 0, 3), (4, 2, -1), (4.0, 2, 3), (True, 2, 3)])
def test_rejects_bad_sizes(bad):
    with pytest.raises(ValueError):
        lrc_trainable_params(*bad)


def test_reads_hf_config(tmp_path):
    cfg = {"hidden_size": 3072, "num_hidden_layers": 28, "tie_word_embeddings": True, "intermediate_size": 8192,
           "num_attention_heads": 24, "num_key_value_heads": 8, "vocab_size": 128256}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    assert lrc_params_from_config(path, 1536) == lrc_trainable_params(3072, 28, 1536, tied_embeddings=True)
    assert lrc_params_from_config(tmp_path, 8) == lrc_trainable_params(3072, 28, 8)  # the folder works too
    arch = teacher_arch_from_config(cfg)
    assert (arch.num_kv_heads, arch.vocab_size, arch.intermediate_size) == (8, 128256, 8192)
    untied = dict(cfg)
    del untied["tie_word_embeddings"]  # LLaMA/Qwen2 default: untied
    assert lrc_params_from_config(untied, 4) == lrc_trainable_params(3072, 28, 4, tied_embeddings=False)
    gpt2 = {"n_embd": 768, "n_layer": 12, "tie_word_embeddings": True}
    assert lrc_params_from_config(gpt2, 4) == lrc_trainable_params(768, 12, 4)


@pytest.mark.parametrize("cfg, word", [({"num_hidden_layers": 2}, "hidden_size"), ({"hidden_size": 8}, "num_hidden_layers"),
                                       ({}, "hidden_size"), ({"hidden_size": -3, "num_hidden_layers": 2}, "hidden_size")])
def test_missing_or_bad_keys_raise_usage_error_naming_them(cfg, word):
    with pytest.raises(UsageError, match=word):
        lrc_params_from_config(cfg, 4)


def test_bad_files(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        lrc_params_from_config(tmp_path / "nope.json", 4)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UsageError, match="JSON"):
        lrc_params_from_config(bad, 4)


@pytest.mark.parametrize("tied", [True, False])
def test_equals_numel_of_an_instantiated_lrc_student(tied):
    torch = pytest.importorskip("torch")
    lrc = pytest.importorskip("empirical.models.lrc")
    from empirical.config import TeacherConfig
    from empirical.models.teacher import Decoder

    cfg = TeacherConfig(vocab=32, d_model=16, n_layers=2, n_heads=2, n_kv_heads=2, d_ff=24, context=8,
                        tied_embeddings=tied)
    student = lrc.LRCStudent(Decoder(cfg, generator=torch.Generator().manual_seed(0)), rank=4, seeds=(0,))
    trainable = sum(p.numel() for p in student.parameters() if p.requires_grad)
    assert trainable == lrc_trainable_params(16, 2, 4, tied_embeddings=tied)
