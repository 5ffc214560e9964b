"""torch.compile is an execution option for LRC students too: one compiled student step (objective forward
and backward through :class:`empirical.training.objective.ObjectiveModule`, two stacked students, clone terms
on) gives the eager objective and gradients up to float rounding. A compiled graph that dropped a term (the
KL, a clone MSE, a norm) would move them by far more than the tolerance."""
import pytest
import torch

from empirical.config import CLONE_TERMS, tiny_distill_config
from empirical.models.lrc import LRCStudent
from empirical.models.teacher import Decoder
from empirical.training.objective import ObjectiveModule, TeacherTargets


def _step(module, params, tokens, idx):
    for p in params:
        p.grad = None
    obj = module(tokens, idx)
    obj.sum().backward()
    return obj.detach().clone(), [p.grad.detach().clone() for p in params]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_compiled_student_step_matches_eager(one_torch_thread):
    cfg = tiny_distill_config(rank=4, init="svd")
    teacher = Decoder(cfg.teacher.model, torch.Generator().manual_seed(0)).eval()
    student = LRCStudent(teacher, cfg.rank, seeds=[0, 1], init="svd")
    params = student.trainable_parameters()
    g = torch.Generator().manual_seed(1)
    pool = torch.randint(0, cfg.teacher.model.vocab, (32, cfg.teacher.model.context + 1), generator=g)
    targets = TeacherTargets(student, pool, CLONE_TERMS, cfg.tau, budget_mb=64, dev=torch.device("cpu"))
    idx = torch.randint(32, (2, 8), generator=g)
    module = ObjectiveModule(student, targets, cfg, CLONE_TERMS)
    obj_e, grads_e = _step(module, params, pool[idx], idx)
    try:
        obj_c, grads_c = _step(torch.compile(module), params, pool[idx], idx)
    except Exception as exc:  # inductor needs a working C++ toolchain
        pytest.skip(f"torch.compile unavailable here: {type(exc).__name__}: {str(exc).splitlines()[0][:80]}")
    torch.testing.assert_close(obj_c, obj_e, rtol=1e-4, atol=1e-5)
    for a, b in zip(grads_c, grads_e):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5)
    # the planted difference the tolerance must catch: the same step without the clone terms
    obj_nc, _ = _step(ObjectiveModule(student, targets, cfg, ()), params, pool[idx], idx)
    assert (obj_e - obj_nc).abs().min() > 1e-3
