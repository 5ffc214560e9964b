"""The sweep's sizes, in ONE place: grids, presets, and plan(preset) -> frozen run configs.

A preset lists every size of every experiment of ``paper_repro.py``; :func:`describe` prints it at start.
:func:`plan` turns a preset into a list of frozen run configs (the synthetic linear track's and the
transformer track's, from :mod:`empirical.config` / :mod:`empirical.synthetic`) through
:mod:`empirical.sweep.runners`, the one module that knows each track's configs. Running them is
:mod:`empirical.sweep.run`.

May import: the standard library and :mod:`empirical.sweep.runners`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass


# ------------------------------------------------------------------------------------------- presets

#: weight of LRC's clone terms on the transformer track's presets (decided by measurement: README)
ALPHA = 0.2

@dataclass(frozen=True)
class SyntheticGrid:
    """Synthetic linear track: teacher W (m x d) with spectrum sigma_k = s k^-alpha, noise tau."""

    ranks: tuple[int, ...]
    samples: tuple[int, ...]
    seeds: tuple[int, ...]
    m: int = 24
    d: int = 24
    alpha: float = 1.0
    noise: float = 0.5
    conv_ranks: tuple[int, ...] = ()   # SGD runs with a long trajectory for the convergence figure
    conv_samples: int = 512
    conv_steps: int = 2000
    teacher_seed: int = 0               # the one planted W of the track (a run's seed draws its dataset)
    horizons: tuple[int, ...] = ()      # claim C in its setting: one SGD run per horizon T at eta*(T), per seed
    horizon_ranks: tuple[int, ...] = ()
    horizon_samples: int = 512
    horizon_batch: int = 32


@dataclass(frozen=True)
class TransformerGrid:
    """Transformer (LRC) track on the embedded corpus: ranks x N (student sequences) x seeds; each (seed, N)
    its own training and held-out draw from the student pool (shared by the ranks)."""

    ranks: tuple[int, ...]
    samples: tuple[int, ...]
    seeds: tuple[int, ...]
    steps: int = 200
    teacher_steps: int = 600
    d_model: int = 64
    n_layers: int = 2
    beta_iters: int = 20        # Hessian power iterations (beta); SGD runs only (C1 applies to SGD only)
    sigma2_batches: int = 16    # minibatch gradients for sigma^2; SGD runs only
    eval_sequences: int = 512   # held-out sequences per (seed, N) draw (and at most this many train ones evaluated)
    n_log_points: int = 16      # log-spaced trajectory points (each measures the probe's grad norm)
    batch_size: int = 32
    corpus: str | None = None   # UTF-8 text file; None: the embedded pydoc_data corpus
    optimizer: str = "adamw"
    lr: float = 1e-2
    init: str = "normal"        # "normal": LRC's N(0, 0.02^2); "svd": top-r right singular vectors of the teacher
    alpha: float = 0.2          # weight of LRC's clone terms (0: CE + KL only)
    tau: float = 8.0
    plateau_stop: bool = False  # stop at the plateau of the smoothed objective (else it is only recorded)


@dataclass(frozen=True)
class MIGrid:
    """Activation-cloning MI experiment (empirical.mi.cloning) on the transformer track's teacher."""

    ranks: tuple[int, ...]
    steps: int = 200
    samples: int = 512
    heldout_sequences: int = 128
    estimators: tuple[str, ...] = ("gaussian", "ksg")
    infonce_steps: int = 300
    n_checkpoints: int = 6      # training steps at which the largest-rank student is measured
    seeds: tuple[int, ...] = (0,)


@dataclass(frozen=True)
class Preset:
    """Every size of every experiment, in one place."""

    name: str
    synthetic: SyntheticGrid
    transformer: TransformerGrid | None
    mi: MIGrid | None
    workers: int = 2
    budget: str = ""


PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        name="smoke", budget="<= 60 s on 2 CPU cores (tests)",
        synthetic=SyntheticGrid(ranks=(1, 2, 4, 8), samples=(32, 64, 128), seeds=(0, 1), m=12, d=12, noise=0.3,
                                conv_ranks=(2, 8), conv_samples=128, conv_steps=300,
                                horizons=(25, 50, 100, 200, 400, 800, 1600), horizon_ranks=(2,),
                                horizon_samples=128),
        transformer=TransformerGrid(ranks=(4, 8), samples=(16, 32), seeds=(0,), steps=20, teacher_steps=60,
                                    d_model=32, n_layers=1, beta_iters=4, sigma2_batches=4, eval_sequences=64,
                                    n_log_points=4, batch_size=16, init="svd", alpha=ALPHA),
        mi=MIGrid(ranks=(2, 8), steps=20, samples=128, heldout_sequences=16, n_checkpoints=3),
        workers=2),
    "quick": Preset(
        name="quick", budget="<= 10 min on 2 CPU cores (default of python paper_repro.py)",
        synthetic=SyntheticGrid(ranks=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64),
                                samples=(64, 128, 256, 512, 1024, 2048, 4096, 8192), seeds=(0, 1, 2, 3, 4), m=64,
                                d=64, noise=0.5, conv_ranks=(2, 8, 32), conv_samples=512, conv_steps=2000,
                                # 40 runs: ~9 s in one process, 23 s on 2 workers of a busy machine (measured:
                                # ~1.8 s per seed for the 8 horizons, the catalog import ~1.4 s per worker)
                                horizons=(50, 100, 200, 400, 800, 1600, 3200, 6400), horizon_ranks=(4,),
                                horizon_samples=512),
        # the regime where held-out CE turns up with rank (measured): SVD-initialised students overfit within
        # 150 steps at N = 16-48 sequences; normal init stays far from it on a CPU budget. 5-7 s per student
        # (2 CPU cores, 1 thread per worker); 512 held-out sequences per (seed, N): the eval noise must shrink
        transformer=TransformerGrid(ranks=(8, 16, 32, 64), samples=(16, 24, 32, 48, 64, 128), seeds=(0, 1, 2, 3, 4),
                                    steps=150, teacher_steps=400, eval_sequences=512, n_log_points=4,
                                    batch_size=16, init="svd", alpha=ALPHA),
        mi=MIGrid(ranks=(2, 8, 32), steps=80, samples=512, heldout_sequences=32, n_checkpoints=3, seeds=(0, 1, 2)),
        workers=2),
    "full": Preset(
        name="full", budget="<= 15 min on one H200-class GPU",
        synthetic=SyntheticGrid(ranks=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128),
                                samples=(64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384), seeds=tuple(range(8)),
                                m=128, d=128, noise=0.5, conv_ranks=(4, 16, 64), conv_samples=2048,
                                conv_steps=20000, horizons=tuple(50 * 2**k for k in range(9)),
                                horizon_ranks=(4, 16), horizon_samples=2048),
        transformer=TransformerGrid(ranks=(4, 8, 16, 32, 64, 128, 256),
                                    samples=(16, 32, 64, 128, 256, 512, 1024, 2048), seeds=(0, 1, 2, 3, 4),
                                    steps=300, teacher_steps=2000, d_model=256, n_log_points=8, batch_size=16,
                                    init="svd", alpha=ALPHA),
        mi=MIGrid(ranks=(2, 4, 8, 16, 32, 64), steps=400, samples=2048, heldout_sequences=256,
                  estimators=("gaussian", "ksg", "infonce"), seeds=(0, 1, 2, 3, 4)),
        workers=4),
}


def get_preset(name: str) -> Preset:
    """The preset called ``name`` (KeyError lists the known ones)."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[name]


def describe(preset: Preset) -> str:
    """Multi-line text listing every size of ``preset`` (printed at start by paper_repro.py)."""
    lines = [f"preset {preset.name!r} ({preset.budget}); workers={preset.workers}"]
    for part in ("synthetic", "transformer", "mi"):
        grid = getattr(preset, part)
        if grid is None:
            lines.append(f"  {part}: off")
            continue
        fields = ", ".join(f"{f.name}={getattr(grid, f.name)}" for f in dataclasses.fields(grid))
        lines.append(f"  {part}: {fields}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- plan

def plan(preset: Preset | str, device: str = "cpu") -> list:
    """Every run config of ``preset`` (frozen dataclasses), in a deterministic order: synthetic
    generalization grid, synthetic convergence runs, the synthetic horizon experiment, the transformer grid, then the cloning MI experiment
    (one config per seed, on the transformer track's teacher)."""
    from empirical.sweep import runners

    if isinstance(preset, str):
        preset = get_preset(preset)
    cfgs = list(runners.synthetic_configs(preset.synthetic, device))
    if preset.transformer is not None:
        cfgs += list(runners.transformer_configs(preset.transformer, device))
        if preset.mi is not None:
            cfgs += list(runners.cloning_configs(preset.mi, preset.transformer, device))
    return cfgs
