r"""A small LLaMA-style decoder, written plainly: RMSNorm, rotary embeddings, SwiGLU FFN, causal attention via
``scaled_dot_product_attention``, grouped-query attention through KV heads, tied or untied embeddings.

The forward pass is one function, :func:`decoder_forward`, over explicit weight tensors, so the LRC student
(empirical.models.lrc) runs the very same computation with its projected weights, and the merged student is just a
:class:`Decoder` of width r. Weights use torch's (out, in) layout:

- embedding E (V, d), per layer: q (H·h, d), k (H_kv·h, d), v (H_kv·h, d), o (d, H·h), gate/up (d_ff, d),
  down (d, d_ff), attn_norm/ffn_norm (d,); final_norm (d,); lm_head (V, d) (= E when tied).

Block: :math:`x \leftarrow x + W_o\,\mathrm{Attn}(\mathrm{RoPE}(W_q \bar x), \mathrm{RoPE}(W_k \bar x), W_v \bar x)`
with :math:`\bar x = \mathrm{RMSNorm}(x)`, then :math:`x \leftarrow x + W_{down}(\mathrm{SiLU}(W_{gate}\bar x)\odot
W_{up}\bar x)`; :math:`\mathrm{RMSNorm}(x) = x / \sqrt{\mathrm{mean}(x^2) + \epsilon} \odot w` (Zhang & Sennrich
2019); RoPE as in Su et al. 2021 (rotate-half convention of LLaMA/HF).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from empirical.config import TeacherConfig

LAYER_MATRICES = ("q", "k", "v", "o", "gate", "up", "down")


def math_attention():
    """Context forcing the plain (math) SDPA kernel, which supports double backward (Hessian-vector
    products); the fused CPU flash kernel does not."""
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
        return sdpa_kernel(SDPBackend.MATH)
    except ImportError:  # torch < 2.3
        return torch.backends.cuda.sdp_kernel(enable_flash=False, enable_mem_efficient=False, enable_math=True)


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    r""":math:`x / \sqrt{\mathrm{mean}(x^2) + \epsilon} \odot w` over the last dimension (torch's fused
    ``F.rms_norm`` when available and the weight is a plain vector)."""
    if _HAS_RMS_NORM and weight.dim() == 1:
        return F.rms_norm(x, (x.shape[-1],), weight, eps)
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


_HAS_RMS_NORM = hasattr(F, "rms_norm")


def rope_tables(context: int, head_dim: int, base: float, device=None, dtype=torch.float32):
    r"""cos/sin tables (T, h) for RoPE, :math:`\theta_i = base^{-2i/h}` (rotate-half layout)."""
    inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    ang = torch.arange(context, dtype=torch.float64)[:, None] * inv[None, :]
    ang = torch.cat([ang, ang], dim=-1)
    return ang.cos().to(device=device, dtype=dtype), ang.sin().to(device=device, dtype=dtype)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (B, H, T, h) by position: x·cos + rotate_half(x)·sin."""
    h = x.shape[-1] // 2
    rot = torch.cat([-x[..., h:], x[..., :h]], dim=-1)
    return x * cos + rot * sin


def linear(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``x @ w.T`` for a shared weight (out, in), or per student for a stacked weight (S, out, in) with
    ``x`` of shape (S, ..., in) (one batched matmul)."""
    if w.dim() == 2:
        return F.linear(x, w)
    S = w.shape[0]
    y = torch.bmm(x.reshape(S, -1, x.shape[-1]), w.transpose(1, 2))
    return y.view(*x.shape[:-1], w.shape[1])


def norm_weight(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """RMSNorm weight (d,) as is, or stacked (S, d) reshaped to broadcast over ``x`` (S, ..., d)."""
    return w if w.dim() == 1 else w.view(w.shape[0], *([1] * (x.dim() - 2)), w.shape[1])


def embed(tokens: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
    """Embedding lookup; with a stacked table (S, V, d) student s reads ``tokens[s]``."""
    if emb.dim() == 2:
        return F.embedding(tokens, emb)
    S, V, d = emb.shape
    flat = tokens.reshape(S, -1) + torch.arange(S, device=tokens.device)[:, None] * V
    return F.embedding(flat, emb.reshape(S * V, d)).view(*tokens.shape, d)


def attention(xn, wq, wk, wv, cfg: TeacherConfig, cos, sin):
    """Causal (GQA) attention on normalised input ``xn`` (..., T, d_in).

    Returns ``(q, k, v, a)``: q/k/v projections before RoPE (..., T, ·) and the attention output before
    the output projection ``a`` (..., T, H·h) — the LRC clone points.
    """
    lead, T = xn.shape[:-2], xn.shape[-2]
    H, Hk, hd = cfg.n_heads, cfg.n_kv_heads, cfg.hd
    # one fused matmul for q, k, v (weights concatenated along their output dimension), and RoPE applied to
    # q and k together (they are adjacent in that output)
    qkv = linear(xn, torch.cat([wq, wk, wv], dim=-2))
    q, k, v = qkv.split([H * hd, Hk * hd, Hk * hd], dim=-1)
    qk = qkv[..., :(H + Hk) * hd].reshape(-1, T, H + Hk, hd).transpose(1, 2)
    qk = apply_rope(qk, cos[:T], sin[:T])
    qh, kh = qk[:, :H], qk[:, H:]
    vh = v.reshape(-1, T, Hk, hd).transpose(1, 2)
    if Hk != H:
        kh = kh.repeat_interleave(H // Hk, dim=1)
        vh = vh.repeat_interleave(H // Hk, dim=1)
    a = F.scaled_dot_product_attention(qh, kh, vh, is_causal=True)
    return q, k, v, a.transpose(1, 2).reshape(*lead, T, H * hd)


def decoder_forward(tokens, emb, layers, final_norm, lm_head, cfg: TeacherConfig, cos, sin,
                    capture: list | None = None):
    r"""Logits (B, T, V) of the decoder with the given weights.

    Weights are either shared 2-D tensors (one model; tokens (B, T)) or stacked per student with a leading
    dimension S (S models in one batched pass; tokens (S, B, T)), see :func:`linear`.
    ``layers`` is a list of dicts with keys ``attn_norm, q, k, v, o, ffn_norm, gate, up, down``. When
    ``capture`` is a list, one dict per layer is appended with the activations ``q, k, v`` (before RoPE),
    ``attn`` (attention output before W_o), ``gate``, ``up`` (pre-activation FFN projections), ``ffn`` (FFN
    output) and ``resid`` (residual stream after the layer).
    """
    x = embed(tokens, emb)
    for w in layers:
        xn = rms_norm(x, norm_weight(w["attn_norm"], x), cfg.norm_eps)
        q, k, v, a = attention(xn, w["q"], w["k"], w["v"], cfg, cos, sin)
        x = x + linear(a, w["o"])
        xn = rms_norm(x, norm_weight(w["ffn_norm"], x), cfg.norm_eps)
        g, u = linear(xn, torch.cat([w["gate"], w["up"]], dim=-2)).chunk(2, dim=-1)
        f = linear(F.silu(g) * u, w["down"])
        x = x + f
        if capture is not None:
            capture.append({"q": q, "k": k, "v": v, "attn": a, "gate": g, "up": u, "ffn": f, "resid": x})
    return linear(rms_norm(x, norm_weight(final_norm, x), cfg.norm_eps), lm_head)


class Decoder(nn.Module):
    """LLaMA-style decoder with parameters ``emb``, ``layers.{i}.{name}``, ``final_norm`` (+ ``lm_head``)."""

    def __init__(self, cfg: TeacherConfig, generator: torch.Generator | None = None):
        super().__init__()
        self.cfg = cfg
        d, V, hd = cfg.d_model, cfg.vocab, cfg.hd
        H, Hk, dff = cfg.n_heads, cfg.n_kv_heads, cfg.d_ff
        if H % Hk:
            raise ValueError(f"n_heads={H} must be a multiple of n_kv_heads={Hk}")

        def init(*shape, std=0.02):
            return nn.Parameter(torch.randn(*shape, generator=generator) * std)

        out_std = 0.02 / math.sqrt(2 * cfg.n_layers)
        self.emb = init(V, d)
        self.layers = nn.ModuleList()
        for _ in range(cfg.n_layers):
            layer = nn.ParameterDict({
                "attn_norm": nn.Parameter(torch.ones(d)),
                "q": init(H * hd, d), "k": init(Hk * hd, d), "v": init(Hk * hd, d),
                "o": init(d, H * hd, std=out_std),
                "ffn_norm": nn.Parameter(torch.ones(d)),
                "gate": init(dff, d), "up": init(dff, d), "down": init(d, dff, std=out_std),
            })
            self.layers.append(layer)
        self.final_norm = nn.Parameter(torch.ones(d))
        self.lm_head = None if cfg.tied_embeddings else init(V, d)
        cos, sin = rope_tables(cfg.context, hd, cfg.rope_base)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def layer_weights(self) -> list[dict]:
        """Per-layer weight dicts in the layout :func:`decoder_forward` takes."""
        return [dict(layer.items()) for layer in self.layers]

    def head(self) -> torch.Tensor:
        """LM-head matrix (V, d): the embedding when tied."""
        return self.emb if self.lm_head is None else self.lm_head

    def forward(self, tokens: torch.Tensor, capture: list | None = None) -> torch.Tensor:
        """Logits (B, T, V) for byte tokens (B, T); see :func:`decoder_forward` for ``capture``."""
        return decoder_forward(tokens, self.emb, self.layer_weights(), self.final_norm, self.head(), self.cfg,
                               self.rope_cos, self.rope_sin, capture=capture)

    def num_params(self) -> int:
        """Number of parameters (the tied LM head counted once)."""
        return sum(p.numel() for p in self.parameters())
