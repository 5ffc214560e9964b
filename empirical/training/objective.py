r"""The LRC training objective and the evaluation of trained students, for stacked students (dim 0 = student).

:class:`TeacherTargets` precomputes (or computes per batch) the frozen teacher's KL statistics and clone
activations; :func:`objective` is CE + KL_tau(teacher||student) + alpha * sum of clone MSEs per student;
:class:`ObjectiveModule` wraps it for DistributedDataParallel; :func:`evaluate` gives per-student CE, smoothed CE,
KL and clone MSE on a set of sequences. The training loop that uses them is :mod:`empirical.training.distill`.

May import: torch, :mod:`empirical.config`, :mod:`empirical.models`, :mod:`empirical.runtime`,
:mod:`empirical.training.losses`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from empirical.config import DistillConfig
from empirical.models.lrc import LRCStudent
from empirical.runtime.device import autocast
from empirical.training.losses import cross_entropy, forward_kl, forward_kl_from_stats, smoothed_nll, teacher_kl_stats

_CHUNK = 64


class TeacherTargets:
    """Teacher targets for the ``pool`` sequences (in training: the union of a stacked group's training rows) —
    the KL stats at τ (:func:`teacher_kl_stats`) and
    the clone activations — precomputed once (in fixed chunks of 64 sequences) when they fit in the memory
    budget; otherwise computed per batch."""

    @staticmethod
    def bytes_per_sequence(cfg, terms) -> int:
        """float32 bytes the cached targets of one sequence take: the teacher's softmax (V) and negative
        entropy (1) per position, and each clone term's activation per layer."""
        widths = {"q": cfg.n_heads * cfg.hd, "k": cfg.n_kv_heads * cfg.hd, "v": cfg.n_kv_heads * cfg.hd,
                  "attn": cfg.n_heads * cfg.hd, "gate": cfg.d_ff, "up": cfg.d_ff, "ffn": cfg.d_model}
        return cfg.context * (cfg.vocab + 1 + cfg.n_layers * sum(widths[t] for t in terms)) * 4

    def __init__(self, student: LRCStudent, pool: torch.Tensor, terms, tau: float, budget_mb: float, dev):
        self.student, self.terms, self.tau, self.dev = student, tuple(terms), tau, dev
        self.cached = pool.shape[0] * self.bytes_per_sequence(student.cfg, self.terms) <= budget_mb * 2**20
        if self.cached:
            parts = [self._compute(pool[i:i + _CHUNK, :-1].to(dev)) for i in range(0, pool.shape[0], _CHUNK)]
            self.pt = torch.cat([p[0] for p in parts])
            self.negh = torch.cat([p[1] for p in parts])
            self.caps = [{t: torch.cat([p[2][l][t] for p in parts]) for t in self.terms}
                         for l in range(student.cfg.n_layers)]

    def _compute(self, tokens):
        with autocast(self.dev):
            logits, cap = self.student.teacher_targets(tokens)
        pt, negh = teacher_kl_stats(logits, self.tau)
        return pt, negh, [{t: c[t].float() for t in self.terms} for c in cap]

    def get(self, idx: torch.Tensor, tokens: torch.Tensor):
        """``(p_T, Σ p_T log p_T, caps)`` for pool rows ``idx`` (S, B) whose inputs are ``tokens`` (S, B, T)."""
        if not self.cached:
            return self._compute(tokens)
        idx = idx.to(self.pt.device)
        return self.pt[idx], self.negh[idx], [{t: c[t][idx] for t in self.terms} for c in self.caps]


def objective(student, tokens, idx, targets, cfg, terms):
    r"""Per-student (objective, ce, kl, clone total), each of shape (S,), for token rows ``tokens`` (S, B, T+1)
    whose pool indices are ``idx`` (S, B): :math:`w_{ce}\,\mathrm{CE} + w_{kl}\,\mathrm{KL}_\tau + \alpha\sum\mathrm{MSE}`
    (shared/LRC.md); ``targets`` a :class:`TeacherTargets`, ``terms`` the clone terms (() for none)."""
    inp, tgt = tokens[..., :-1], tokens[..., 1:]
    S, B = inp.shape[:2]
    pt, negh, caps = targets.get(idx, inp)
    with autocast(tokens.device):
        out = student(inp, terms=terms, targets=(None, caps))
    ce = cross_entropy(out.logits, tgt, reduction="none").view(S, -1).mean(1)
    obj = cfg.ce_weight * ce
    kl = torch.zeros_like(ce)
    if cfg.kl_weight:
        kl = forward_kl_from_stats(pt, negh, out.logits, cfg.tau, reduction="none").view(S, -1).sum(1) / B
        obj = obj + cfg.kl_weight * kl
    clone = torch.zeros_like(ce)
    if terms:
        clone = sum(out.clone.values())
        obj = obj + cfg.alpha * clone
    return obj, ce, kl, clone


@torch.no_grad()
def evaluate(student, seqs: torch.Tensor, cfg, dev, terms):
    """Per-student CE, smoothed CE, KL(τ=1, per token) and clone MSE per term (summed over layers) on
    ``seqs``: (n, T+1), the same sequences for every student, or (S, n, T+1), each student its own."""
    S = student.n_students
    if seqs.dim() == 2:
        seqs = seqs.unsqueeze(0).expand(S, *seqs.shape)
    sums = {"ce": torch.zeros(S, dtype=torch.float64), "sm": torch.zeros(S, dtype=torch.float64),
            "kl": torch.zeros(S, dtype=torch.float64)}
    clone = {t: torch.zeros(S, dtype=torch.float64) for t in terms}
    ntok = 0
    a = cfg.smoothing_alpha
    for i in range(0, seqs.shape[1], _CHUNK):
        tok = seqs[:, i:i + _CHUNK].to(dev)
        with autocast(dev):
            out = student(tok[..., :-1], terms=terms)
        lp = F.log_softmax(out.logits.float(), -1)
        tgt = tok[..., 1:]
        logp = lp.gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
        n = tgt[0].numel()
        sums["ce"] += (-logp).reshape(S, -1).sum(1).double().cpu()
        sm = smoothed_nll(logp, a, lp.shape[-1])
        sums["sm"] += sm.reshape(S, -1).sum(1).double().cpu()
        sums["kl"] += forward_kl(out.teacher_logits, out.logits, 1.0, reduction="none").reshape(S, -1).sum(1).double().cpu()
        for (l, t), v in out.clone.items():
            clone[t] += v.double().cpu() * n
        ntok += n
    res = {k: (v / ntok).numpy() for k, v in sums.items()}
    res["clone"] = {t: (v / ntok).numpy() for t, v in clone.items()}
    return res


class ObjectiveModule(torch.nn.Module):
    """:func:`objective` as a module whose forward returns the per-student objective (S,): what
    ``DistributedDataParallel`` wraps (it needs a module whose forward produces the loss)."""

    def __init__(self, student: LRCStudent, targets: TeacherTargets, cfg: DistillConfig, terms):
        super().__init__()
        self.student, self.targets, self.cfg, self.terms = student, targets, cfg, tuple(terms)

    def forward(self, tokens, idx):
        return objective(self.student, tokens, idx, self.targets, self.cfg, self.terms)[0]
