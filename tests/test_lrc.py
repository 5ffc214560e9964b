"""LRC student: identity clone, gradients only on projections and student norms, merge, p(r), stacking."""
import dataclasses

import pytest
import torch

from empirical.config import CLONE_TERMS, TeacherConfig
from empirical.training.losses import cross_entropy, forward_kl
from empirical.models.lrc import LRCStudent
from empirical.models.teacher import LAYER_MATRICES, Decoder


pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = TeacherConfig(d_model=16, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=24, context=12)


def _teacher(cfg=TINY, seed=0):
    t = Decoder(cfg, torch.Generator().manual_seed(seed))
    with torch.no_grad():  # a "trained" teacher: norms far from 1, larger weights
        for p in t.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return t


def _tokens(S, B=3, T=12, seed=1):
    return torch.randint(0, 256, (S, B, T), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("tied", [True, False])
def test_identity_projections_clone_exactly(tied):
    cfg = dataclasses.replace(TINY, tied_embeddings=tied)
    t = _teacher(cfg)
    s = LRCStudent(t, cfg.d_model, seeds=(0,))
    with torch.no_grad():
        for z in s.z.values():
            z.copy_(torch.eye(cfg.d_model).expand_as(z))
        for l, layer in enumerate(t.layers):  # the student's own norms set to the teacher's values
            s.norms[f"{l}_attn_norm"].copy_(layer["attn_norm"][None])
            s.norms[f"{l}_ffn_norm"].copy_(layer["ffn_norm"][None])
        s.norms["final"].copy_(t.final_norm[None])
        tok = _tokens(1)
        out = s(tok)
    assert set(out.clone) == {(l, term) for l in range(cfg.n_layers) for term in CLONE_TERMS}
    for v in out.clone.values():
        assert v.item() < 1e-10
    assert torch.allclose(out.logits, out.teacher_logits, atol=1e-5)
    # and the comparison can fail: perturb one projection and the clone terms of that layer move
    with torch.no_grad():
        s.z["1_gate"].add_(0.1)
        out2 = s(tok)
    assert out2.clone[(1, "gate")].item() > 1e-4 and out2.clone[(0, "gate")].item() < 1e-10


def test_gradients_reach_only_projections_and_student_norms():
    t = _teacher()
    s = LRCStudent(t, 5, seeds=(0, 1))
    tok = _tokens(2)
    out = s(tok)
    loss = cross_entropy(out.logits[..., :-1, :], tok[..., 1:]) + forward_kl(out.teacher_logits, out.logits, 4.0) \
        + 0.2 * sum(v.sum() for v in out.clone.values())
    loss.backward()
    for n, p in s.named_parameters():
        if n.startswith("teacher."):
            assert p.grad is None and not p.requires_grad, n
        else:
            assert p.grad is not None and p.grad.abs().sum() > 0, n
    names = {n for n, _ in s.named_parameters() if not n.startswith("teacher.")}
    expected = {f"z.{l}_{m}" for l in range(2) for m in LAYER_MATRICES} | {"z.emb"} | \
        {f"norms.{l}_{k}" for l in range(2) for k in ("attn_norm", "ffn_norm")} | {"norms.final"}
    assert names == expected


@pytest.mark.parametrize("tied", [True, False])
def test_merge_gives_the_same_logits(tied):
    cfg = dataclasses.replace(TINY, tied_embeddings=tied)
    s = LRCStudent(_teacher(cfg), 6, seeds=(3, 4))
    with torch.no_grad():
        for p in s.trainable_parameters():
            p.add_(0.3 * torch.randn_like(p))
        tok = _tokens(2)
        co = s(tok).logits
        for k in range(2):
            m = s.merge(k)
            assert m.cfg.d_model == 6 and m.cfg.hd == cfg.hd and m.cfg.d_ff == cfg.d_ff
            assert torch.allclose(m(tok[k]), co[k], atol=1e-5, rtol=1e-5)
        # merged students differ from each other (the test would notice a swapped index)
        assert not torch.allclose(s.merge(0)(tok[0]), co[1], atol=1e-3)


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("rank", [1, 7])
def test_trainable_count_is_analytic_p_of_r(tied, rank):
    cfg = dataclasses.replace(TINY, tied_embeddings=tied)
    s = LRCStudent(_teacher(cfg), rank, seeds=(0,))
    d, L = cfg.d_model, cfg.n_layers
    independent = 7 * L * d * rank + d * rank * (1 if tied else 2) + (2 * L + 1) * rank
    counted = sum(p.numel() for p in s.parameters() if p.requires_grad)
    assert counted == independent == s.num_trainable_per_student()
    from bounds.params import lrc_trainable_params
    assert lrc_trainable_params(d, L, rank, tied_embeddings=tied, include_norms=True) == counted


def test_stacked_student_equals_the_same_student_alone():
    t = _teacher()
    both = LRCStudent(t, 4, seeds=(11, 12))
    alone = LRCStudent(t, 4, seeds=(12,))
    tok = _tokens(2)
    with torch.no_grad():
        a, b = both(tok), alone(tok[1:])
    assert torch.allclose(a.logits[1], b.logits[0], atol=1e-6)
    for key in a.clone:
        assert torch.allclose(a.clone[key][1], b.clone[key][0], atol=1e-7)


def test_svd_init_is_orthonormal_and_shared():
    s = LRCStudent(_teacher(), 5, seeds=(0,), init="svd")
    z = s.z["0_q"][0]
    assert torch.allclose(z.T @ z, torch.eye(5), atol=1e-5)
    assert torch.equal(s.z["1_down"], s.z["0_q"])
