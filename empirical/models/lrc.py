r"""The Low-Rank Clone student (Hao et al. 2025; code ``CURRENTF/LowRankClone``, see shared/LRC.md).

One module holds the frozen teacher and ``S`` co-trained students (S = 1 for a single run; S > 1 stacks
students of the same rank so several seeds / sample sizes train in one batched pass). Each student has, per
layer, one trainable projection :math:`Z \in \mathbb{R}^{d_T \times r}` per matrix (never shared):

- q, k, v, gate, up: :math:`W^S = W^T Z` (output in the teacher's q/k/v/d_ff space; RoPE and the head
  layout are the teacher's);
- o, down: :math:`W^S = Z^\top W^T` (output in student width r);
- embedding :math:`E^S = E^T Z_{emb}`; the LM head reuses :math:`Z_{emb}` when the teacher ties embeddings,
  else it has its own :math:`Z_{lm}`;

plus its own RMSNorm weights (2 per layer + final, init 1). Trainable count
:math:`p(r) = 7 L d_T r + d_T r\,(1\text{ tied} | 2) + (2L+1) r` (``bounds.params.lrc_trainable_params``).

Clone terms (element-mean MSE, per layer; LRC code): q, k, v before RoPE and ``attn`` (attention output
before W_o), all in the teacher's width; ``gate``, ``up`` (width d_ff, alignment-free); ``ffn``: the student's
FFN output (width r) against the teacher's FFN output through :math:`Z_{down}`, i.e. :math:`y_T Z_{down}`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from empirical.config import CLONE_TERMS
from empirical.models.teacher import LAYER_MATRICES, Decoder, decoder_forward

#: matrices whose student weight is W^T Z (input side projected) vs Z^T W^T (output side projected)
_IN_PROJECTED = ("q", "k", "v", "gate", "up")
_OUT_PROJECTED = ("o", "down")


@dataclass
class LRCOutput:
    """Student logits (S, B, T, V), teacher logits (S, B, T, V) and clone MSEs {(layer, term): (S,)}."""

    logits: torch.Tensor
    teacher_logits: torch.Tensor
    clone: dict


class LRCStudent(nn.Module):
    """Frozen teacher + ``len(seeds)`` stacked LRC students of rank ``rank``.

    ``init``: ``"normal"`` (LRC: every Z ~ N(0, init_std²)) or ``"svd"`` (every Z = the top-r right singular
    vectors of the teacher's embedding matrix, one shared orthonormal basis of the residual stream; an
    option, not LRC's recipe). Student s is initialised from ``torch.Generator().manual_seed(seeds[s])``
    alone, so a student's initial weights do not depend on which others share the batch.
    """

    def __init__(self, teacher: Decoder, rank: int, seeds=(0,), init: str = "normal", init_std: float = 0.02):
        super().__init__()
        for p in teacher.parameters():
            p.requires_grad_(False)
        self.teacher = teacher
        self.cfg = teacher.cfg
        self.rank = int(rank)
        self.n_students = len(seeds)
        d, L = self.cfg.d_model, self.cfg.n_layers
        names = [f"{l}.{m}" for l in range(L) for m in LAYER_MATRICES] + ["emb"]
        if not self.cfg.tied_embeddings:
            names.append("lm")
        if init == "normal":
            zs = []
            for seed in seeds:
                g = torch.Generator().manual_seed(int(seed))
                zs.append(torch.randn(len(names), d, rank, generator=g) * init_std)
            z = torch.stack(zs, dim=1)  # (n_names, S, d, r)
        elif init == "svd":
            if rank > d:
                raise ValueError(f"svd init needs rank <= d_T = {d}, got {rank}")
            _, _, vh = torch.linalg.svd(teacher.emb.detach().double().cpu(), full_matrices=False)
            basis = vh[:rank].T.float()  # (d, r)
            z = basis.expand(len(names), len(seeds), d, rank).clone()
        else:
            raise ValueError(f"unknown init {init!r} (expected 'normal' or 'svd')")
        dev = teacher.emb.device
        self.z = nn.ParameterDict({n.replace(".", "_"): nn.Parameter(z[i].to(dev)) for i, n in enumerate(names)})
        S = self.n_students
        self.norms = nn.ParameterDict({f"{l}_{k}": nn.Parameter(torch.ones(S, rank, device=dev))
                                       for l in range(L) for k in ("attn_norm", "ffn_norm")})
        self.norms["final"] = nn.Parameter(torch.ones(S, rank, device=dev))

    # ------------------------------------------------------------------ weights
    def trainable_parameters(self) -> list[nn.Parameter]:
        """Projections and student norms (everything with requires_grad), in a fixed order."""
        return [p for n, p in self.named_parameters() if not n.startswith("teacher.")]

    def num_trainable_per_student(self) -> int:
        """Trainable parameters of one student: p(r)."""
        return sum(p[0].numel() for p in self.trainable_parameters())

    def student_weights(self):
        """Stacked student weights ``(emb (S,V,r), layers [dict], final_norm (S,r), lm_head (S,V,r))``."""
        T = self.teacher
        emb = torch.matmul(T.emb, self.z["emb"])
        layers = []
        for l, tw in enumerate(T.layer_weights()):
            w = {"attn_norm": self.norms[f"{l}_attn_norm"], "ffn_norm": self.norms[f"{l}_ffn_norm"]}
            for m in _IN_PROJECTED:
                w[m] = torch.matmul(tw[m], self.z[f"{l}_{m}"])
            for m in _OUT_PROJECTED:
                w[m] = torch.matmul(self.z[f"{l}_{m}"].transpose(1, 2), tw[m])
            layers.append(w)
        head = emb if self.cfg.tied_embeddings else torch.matmul(T.lm_head, self.z["lm"])
        return emb, layers, self.norms["final"], head

    # ------------------------------------------------------------------ forward
    @torch.no_grad()
    def teacher_targets(self, tokens: torch.Tensor):
        """Teacher logits and per-layer activations for tokens (..., T) (no grad)."""
        cap: list = []
        logits = self.teacher(tokens, capture=cap)
        return logits, cap

    def forward(self, tokens: torch.Tensor, terms=CLONE_TERMS, targets=None) -> LRCOutput:
        """Run both streams on tokens (S, B, T) (student s reads ``tokens[s]``).

        ``targets``: precomputed ``teacher_targets(tokens)`` (e.g. from a cache), else computed here; its
        logits may be None when the caller does not need them (``teacher_logits`` is then None).
        """
        if tokens.dim() == 2 and self.n_students == 1:
            tokens = tokens.unsqueeze(0)
        t_logits, t_cap = targets if targets is not None else self.teacher_targets(tokens)
        emb, layers, final, head = self.student_weights()
        s_cap: list = []
        logits = decoder_forward(tokens, emb, layers, final, head, self.cfg, self.teacher.rope_cos,
                                 self.teacher.rope_sin, capture=s_cap)
        clone = {}
        S = self.n_students
        for l, (sc, tc) in enumerate(zip(s_cap, t_cap)):
            for term in terms:
                if term == "ffn":
                    tgt = torch.bmm(tc["ffn"].reshape(S, -1, self.cfg.d_model), self.z[f"{l}_down"])
                    tgt = tgt.view(sc["ffn"].shape)
                else:
                    tgt = tc[term]
                diff = F.mse_loss(sc[term].float(), tgt.float(), reduction="none")
                clone[(l, term)] = diff.reshape(S, -1).mean(1)
        return LRCOutput(logits=logits, teacher_logits=t_logits, clone=clone)

    # ------------------------------------------------------------------ merge
    @torch.no_grad()
    def merge(self, student: int = 0) -> Decoder:
        r"""Standalone :class:`Decoder` of width r (teacher's heads, head_dim, KV heads, d_ff) whose weights
        are the teacher's multiplied by student ``student``'s projections; its logits equal the co-trained
        student's."""
        cfg = dataclasses.replace(self.cfg, d_model=self.rank, head_dim=self.cfg.hd)
        out = Decoder(cfg).to(self.teacher.emb.device)
        emb, layers, final, head = self.student_weights()
        out.emb.copy_(emb[student])
        for l, w in enumerate(layers):
            for k, v in w.items():
                out.layers[l][k].copy_(v[student])
        out.final_norm.copy_(final[student])
        if out.lm_head is not None:
            out.lm_head.copy_(head[student])
        for p in out.parameters():
            p.requires_grad_(True)
        return out
