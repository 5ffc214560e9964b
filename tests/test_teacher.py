"""Teacher: causal, RoPE relative, GQA, a naive reference forward, tied/untied parameter counts."""
import math

import pytest
import torch

from empirical.config import TeacherConfig
from empirical.models.teacher import Decoder, apply_rope, rope_tables

pytestmark = pytest.mark.usefixtures("one_torch_thread")


TINY = TeacherConfig(d_model=16, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=24, context=12)


def _naive_forward(m: Decoder, tokens):
    """Independent loop implementation: explicit softmax attention with a causal mask, complex RoPE."""
    c = m.cfg
    hd, H, Hk = c.hd, c.n_heads, c.n_kv_heads
    T = tokens.shape[-1]
    freqs = 1.0 / (c.rope_base ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    ang = torch.arange(T, dtype=torch.float64)[:, None] * freqs[None]
    rot = torch.polar(torch.ones_like(ang), ang)

    def rope(x):  # x (T, hd) in rotate-half layout: pairs (i, i + hd/2)
        z = torch.complex(x[:, : hd // 2].double(), x[:, hd // 2:].double()) * rot
        return torch.cat([z.real, z.imag], -1).float()

    def norm(x, w):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + c.norm_eps) * w

    out = []
    for seq in tokens:
        x = m.emb[seq]
        for lw in m.layers:
            xn = norm(x, lw["attn_norm"])
            q, k, v = xn @ lw["q"].T, xn @ lw["k"].T, xn @ lw["v"].T
            heads = []
            for h in range(H):
                kv = h // (H // Hk)
                qh = rope(q[:, h * hd:(h + 1) * hd])
                kh = rope(k[:, kv * hd:(kv + 1) * hd])
                s = qh @ kh.T / math.sqrt(hd)
                s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
                heads.append(torch.softmax(s, -1) @ v[:, kv * hd:(kv + 1) * hd])
            x = x + torch.cat(heads, -1) @ lw["o"].T
            xn = norm(x, lw["ffn_norm"])
            x = x + (torch.nn.functional.silu(xn @ lw["gate"].T) * (xn @ lw["up"].T)) @ lw["down"].T
        out.append(norm(x, m.final_norm) @ m.head().T)
    return torch.stack(out)


@pytest.mark.parametrize("cfg", [TINY, TeacherConfig(d_model=16, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=20,
                                                     context=8, tied_embeddings=False)])
def test_forward_matches_naive_reference(cfg):
    m = Decoder(cfg, torch.Generator().manual_seed(0))
    with torch.no_grad():  # non-trivial norms so they matter
        for p in m.parameters():
            p.add_(0.3 * torch.randn_like(p))
    tok = torch.randint(0, 256, (3, cfg.context), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(m(tok), _naive_forward(m, tok), atol=2e-4, rtol=1e-4)


def test_causal():
    m = Decoder(TINY, torch.Generator().manual_seed(0))
    tok = torch.randint(0, 256, (2, 12))
    tok2 = tok.clone()
    tok2[:, 7:] = (tok2[:, 7:] + 1) % 256
    with torch.no_grad():
        a, b = m(tok), m(tok2)
    assert torch.equal(a[:, :7], b[:, :7]) and not torch.allclose(a[:, 7:], b[:, 7:])


def test_rope_scores_depend_only_on_relative_position():
    cos, sin = rope_tables(20, 8, 10000.0)
    q, k = torch.randn(8), torch.randn(8)
    def score(i, j):
        return (apply_rope(q.expand(20, 8), cos, sin)[i] * apply_rope(k.expand(20, 8), cos, sin)[j]).sum()
    assert torch.allclose(score(5, 2), score(15, 12), atol=1e-5)
    assert not torch.allclose(score(5, 2), score(5, 3), atol=1e-3)


def test_parameter_counts_tied_and_untied():
    d, L, V, H, Hk, f = 16, 2, 256, 4, 2, 24
    hd = d // H
    per_layer = d * H * hd * 2 + 2 * d * Hk * hd + 3 * d * f + 2 * d
    tied = V * d + L * per_layer + d
    assert Decoder(TINY).num_params() == tied
    import dataclasses
    assert Decoder(dataclasses.replace(TINY, tied_embeddings=False)).num_params() == tied + V * d
