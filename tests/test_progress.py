"""Progress on long work: the sweep's cost-weighted ETA, its progress lines, and teacher-training progress.

Planted: a sweep whose runs take ``true rate of their kind x expected cost x noise`` seconds (rates 0.5 to 3,
unknown to the ETA, cheap runs first and the expensive transformer students last, as in the quick preset). The weighted
ETA must track the true remaining time better than the count-based one (it fails if costs are ignored or the
calibration is wrong: the count-based estimate is ~10x too low until the last runs).
"""
import numpy as np

from empirical.config import tiny_distill_config, tiny_teacher_config
from empirical.runtime.clock import fmt_duration
from empirical.sweep import progress, runners
from empirical.synthetic import SyntheticConfig


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _planted_sweep():
    cfgs = [SyntheticConfig(rank=r, samples=64, seed=s) for r in (1, 2, 4) for s in range(10)]
    cfgs += [SyntheticConfig(rank=2, optimizer="sgd", steps=st, seed=s) for st in (300, 2000) for s in range(3)]
    cfgs += [tiny_distill_config(rank=r, steps=st, seed=s) for r in (4, 8) for st in (200, 400) for s in range(2)]
    # the cost model's constants are off by up to 3x, differently per kind
    true_rate = {"synthetic/rrr": 0.5, "synthetic/sgd": 1.5, "transformer": 3.0}
    rng = np.random.default_rng(0)
    times = [true_rate[progress.cost_kind(c)] * progress.expected_cost(c) * rng.lognormal(0, 0.2) for c in cfgs]
    return cfgs, times


def test_weighted_eta_beats_the_unweighted_one_on_planted_costs():
    cfgs, times = _planted_sweep()
    clock = FakeClock()
    eta = progress.ETA(cfgs, clock=clock)
    err_w, err_u = [], []
    for i, (c, t) in enumerate(zip(cfgs, times)):
        clock.t += t
        eta.finished(c, t)
        truth = sum(times[i + 1:])
        err_w.append(abs(eta.remaining() - truth))
        err_u.append(abs(eta.unweighted() - truth))
    assert eta.remaining() == 0.0 and eta.unweighted() == 0.0
    # better at every progress line (before a kind has a finished run it borrows the pooled rate, so it is low
    # there too, by the planted 0.5/3 on the transformer runs: the limit of any prior)
    assert all(w < u for w, u in zip(err_w[:-1], err_u[:-1]))
    # once a run of each kind is calibrated: within 50 % of the truth, and 4x better than the count-based ETA
    first_tf = next(i for i, c in enumerate(cfgs) if progress.cost_kind(c) == "transformer")
    for i in range(first_tf, len(cfgs) - 1):
        assert err_w[i] <= 0.5 * sum(times[i + 1:]), i
    assert np.mean(err_w[first_tf:]) < 0.25 * np.mean(err_u[first_tf:])


def test_eta_absorbs_parallel_workers():
    """With two runs at a time the sweep's wall clock advances half as fast as the summed run time."""
    cfgs = [SyntheticConfig(optimizer="sgd", steps=1000, seed=s) for s in range(8)]
    clock = FakeClock()
    eta = progress.ETA(cfgs, clock=clock)
    for k in range(4):  # two runs of 1 s each finish every second of wall time
        clock.t += 1.0
        eta.finished(cfgs[2 * k], 1.0)
        eta.finished(cfgs[2 * k + 1], 1.0)
        assert abs(eta.remaining() - (3 - k)) < 1e-9


def test_sweep_progress_lines_carry_elapsed_and_eta(tmp_path):
    from empirical.sweep.run import run_sweep

    cfgs = [SyntheticConfig(m=6, d=5, rank=r, samples=16, seed=0) for r in (1, 2)]
    cfgs.append(SyntheticConfig(m=6, d=5, rank=1, samples=16, seed=0, optimizer="sgd", steps=20))
    lines = []
    run_sweep(cfgs, runners.Store(tmp_path), workers=1, log=lines.append)
    runs = [ln for ln in lines if ln.startswith("[")]
    assert [ln.split("]")[0] for ln in runs] == ["[1/3", "[2/3", "[3/3"]
    assert all(" elapsed " in ln and " ETA " in ln for ln in runs)
    assert runs[-1].endswith("ETA 0:00")


def test_duration_format():
    assert [fmt_duration(s) for s in (0, 59.4, 61, 3600, 3725, None, float("nan"), -1)] == \
        ["0:00", "0:59", "1:01", "1:00:00", "1:02:05", "?", "?", "?"]


def test_teacher_training_prints_progress_every_tenth_of_its_steps(tmp_path, capsys):
    from empirical.cache.store import ResultStore
    from empirical.training.teacher_training import get_teacher, train_teacher

    lines = []
    train_teacher(tiny_teacher_config(steps=20), log=lines.append)
    assert [ln.split(":")[0] for ln in lines] == [f"teacher step {s}/20 ({5 * s}%)" for s in range(2, 21, 2)]
    assert all("loss " in ln and "elapsed " in ln and "ETA " in ln for ln in lines)
    assert lines[-1].endswith("ETA 0:00")
    get_teacher(tiny_teacher_config(steps=5, seed=1), store=ResultStore(tmp_path), verbose=True)
    err = capsys.readouterr().err
    assert "teacher step 5/5 (100%)" in err and err.count("teacher step") == 5
