"""The sweep: sizes (``presets``: grids, presets, ``plan``), the one adapter from a config to its training function
and record (``runners``), running with cache and resume (``run``), and where runs execute (``executors``).

One sweep's path: ``presets.plan`` -> ``run.run_sweep`` -> ``runners.run_many`` -> :mod:`empirical.training` /
:mod:`empirical.synthetic` / :mod:`empirical.mi` -> :mod:`empirical.cache.store`.

Layer: above every experiment (training, synthetic, mi, real); may import them, :mod:`empirical.cache` and
:mod:`bounds`. This package's public API is re-exported here (``empirical.sweep.plan``, ``run_sweep``, ...).
"""
from empirical.sweep.presets import PRESETS, MIGrid, Preset, SyntheticGrid, TransformerGrid, describe, get_preset, plan
from empirical.sweep.run import SLOW_ENV, SweepStats, _init_worker, execute_batch, run_sweep, stored_batch

__all__ = ["PRESETS", "MIGrid", "Preset", "SyntheticGrid", "TransformerGrid", "describe", "get_preset", "plan",
           "SLOW_ENV", "SweepStats", "_init_worker", "execute_batch", "run_sweep", "stored_batch"]
