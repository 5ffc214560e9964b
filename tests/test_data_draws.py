"""Per-(seed, N) student datasets (shared/INFERENCE.md rule 1): each draw is its own training and held-out set,
draws differ across seeds, are not nested across N, never touch the teacher's text, and are what training uses."""
import pytest
import torch

from bounds.errors import UsageError
from empirical.config import DataConfig, tiny_distill_config
from empirical.data.corpus import make_splits


def _rows(t: torch.Tensor) -> set:
    return set(map(bytes, t.to(torch.uint8).numpy()))


@pytest.fixture(scope="module")
def splits():
    return make_splits(DataConfig(context=64))


def test_draws_differ_across_seeds_and_are_not_nested_across_n(splits):
    a, ha = splits.draw(0, 32, 512)
    b, hb = splits.draw(1, 32, 512)
    c, _ = splits.draw(0, 128, 512)
    assert len(set(a.tolist()) & set(b.tolist())) < 8     # independent draws of 32 from ~3000 rows share ~0
    assert not set(a.tolist()) <= set(c.tolist())         # N = 32 is not a subset of N = 128 at the same seed
    assert len(set(ha.tolist()) & set(hb.tolist())) < 200  # held-out sets differ too (overlap ~ 512^2 / 3053)
    a2, ha2 = splits.draw(0, 32, 512)
    assert torch.equal(a, a2) and torch.equal(ha, ha2)     # deterministic


def test_draw_is_disjoint_from_its_heldout_and_from_the_teacher(splits):
    tr, held = splits.draw(3, 48, 512)
    assert len(tr) == 48 and len(held) == 512 and not set(tr.tolist()) & set(held.tolist())
    teacher = _rows(splits.teacher)
    assert not (_rows(splits.student_pool[tr]) & teacher) and not (_rows(splits.student_pool[held]) & teacher)


def test_draw_larger_than_the_pool_is_one_clear_error(splits):
    with pytest.raises(UsageError, match=f"max N = {splits.max_samples - 512}"):
        splits.draw(0, splits.max_samples - 511, 512)
    assert len(splits.draw(0, splits.max_samples - 512, 512)[0]) == splits.max_samples - 512


def test_training_uses_each_students_own_draw():
    from empirical.training.distill import train_students

    from empirical.models.teacher import Decoder

    cfgs = [tiny_distill_config(rank=4, samples=n, seed=s, steps=2) for s, n in ((0, 16), (1, 16), (2, 24))]
    teacher = Decoder(cfgs[0].teacher.model, torch.Generator().manual_seed(0)).eval()  # untrained: data only
    tr = train_students(cfgs, log=False, teacher=(teacher, {}))
    for c, pos, held in zip(cfgs, tr.train_pos, tr.heldout_rows):
        want_train, want_held = tr.splits.draw(c.seed, c.samples, c.eval_sequences)
        assert torch.equal(tr.pool[pos], tr.splits.student_pool[want_train])
        assert torch.equal(held, want_held)
        gens = [torch.Generator().manual_seed(7) for _ in cfgs]
        batch = tr.indices(gens, 64)
    # every minibatch row of a student is one of its own training rows
    for s, pos in enumerate(tr.train_pos):
        assert set(batch[s].tolist()) <= set(pos.tolist())
