"""Frozen run configurations of the transformer track, with a stable content hash.

A config is a frozen dataclass; :func:`to_dict` gives its canonical JSON-able form (nested dataclasses become
dicts, tuples lists) and :func:`config_hash` the sha256 of that form plus the cache version and the package
version, which names its result in a :class:`empirical.cache.store.ResultStore`.

Defaults follow DESIGN.md's expected magnitudes (a 2-layer, width-64 byte-level teacher, context 64+1,
600 AdamW teacher steps at batch 32; LRC students trained 400 AdamW steps at batch 32).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

#: bump when a change makes stored results incomparable with new ones
CACHE_VERSION = 1

CLONE_TERMS: tuple[str, ...] = ("q", "k", "v", "attn", "gate", "up", "ffn")


@dataclass(frozen=True)
class DataConfig:
    """Corpus and split. ``corpus=None`` is the embedded ``pydoc_data.topics`` text; else a UTF-8 file path.

    The corpus is cut into non-overlapping sequences of ``context + 1`` bytes, shuffled by ``seed``, and
    split into a teacher part (``teacher_fraction``), a held-out part (``heldout_sequences``, at most half of
    the rest: the teacher's held-out set) and the student pool (the rest), from which each student dataset
    (seed, N) draws its own training and held-out rows (:meth:`empirical.data.corpus.Splits.draw`).
    """

    corpus: str | None = None
    context: int = 64
    teacher_fraction: float = 0.5
    heldout_sequences: int = 512
    seed: int = 0


def swiglu_d_ff(d_model: int) -> int:
    r"""LLaMA's SwiGLU width for width :math:`d`: :math:`\tfrac83 d` (parameter-matched to a 4d GELU FFN),
    rounded to a multiple of 4 (172 for the default d = 64)."""
    return int(round(d_model * 8 / 3 / 4)) * 4


@dataclass(frozen=True)
class TeacherConfig:
    """Architecture of the LLaMA-style decoder (also used for the merged student, with ``d_model = r``)."""

    vocab: int = 256
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    n_kv_heads: int = 4
    d_ff: int = 172
    context: int = 64
    tied_embeddings: bool = True
    head_dim: int | None = None  # None: d_model // n_heads
    rope_base: float = 10000.0
    norm_eps: float = 1e-5

    @property
    def hd(self) -> int:
        """Head dimension (explicit ``head_dim`` or ``d_model // n_heads``)."""
        return self.head_dim if self.head_dim is not None else self.d_model // self.n_heads


@dataclass(frozen=True)
class TeacherTrainConfig:
    """One teacher training run: architecture, data split, AdamW with a linear schedule."""

    model: TeacherConfig = field(default_factory=TeacherConfig)
    data: DataConfig = field(default_factory=DataConfig)
    steps: int = 600
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.1
    warmup_frac: float = 0.05
    grad_clip: float = 1.0
    seed: int = 0
    device: str = "cpu"


@dataclass(frozen=True)
class PlateauRule:
    r"""The convergence criterion of a student's training objective (:mod:`empirical.training.plateau`):
    smooth the per-step minibatch objective :math:`L_t` by an EMA, :math:`s_t = (1-a)s_{t-1} + a L_t`
    (:math:`a` = ``ema``), and call it converged at the first step :math:`t \ge` ``min_steps`` where
    :math:`(s_{t-K} - s_t)/|s_{t-K}| < \varepsilon` (:math:`K` = ``window``, :math:`\varepsilon` = ``eps``).
    ``stop``: end training there (a stacked group ends when every student has converged); otherwise the
    criterion is only recorded."""

    ema: float = 0.05
    window: int = 50
    eps: float = 0.01
    min_steps: int = 100
    stop: bool = False


@dataclass(frozen=True)
class DistillConfig:
    """One LRC distillation run (``rank`` = student width r, ``samples`` = N student training sequences).

    Loss = ``ce_weight``·CE + ``kl_weight``·KL_τ(teacher‖student) [batchmean, no τ²] + ``alpha``·Σ clone MSE
    over ``clone_terms``. lr 1e-2: at r = 16, N = 512 (400 steps) held-out CE was 2.60 / 2.27 / 2.06 nats
    at lr 3e-3 / 1e-2 / 3e-2 (students are still improving at 400 steps; 1e-2 is the measured middle).
    Defaults: τ = 8 (≈ √context, see empirical.training.losses), α = 0.2 (LRC-1.5B), all seven
    clone terms, AdamW lr 1e-2 with LRC's linear schedule (0.5 % warmup) and grad clip 1.0.
    Data: the (``seed``, ``samples``) dataset of the student pool (training rows and ``eval_sequences``
    held-out rows, :meth:`empirical.data.corpus.Splits.draw`); ``plateau`` the recorded (or, with
    ``plateau.stop``, applied) convergence criterion.
    """

    teacher: TeacherTrainConfig = field(default_factory=TeacherTrainConfig)
    rank: int = 16
    samples: int = 512
    steps: int = 400
    batch_size: int = 32
    optimizer: str = "adamw"  # "adamw" | "sgd"
    lr: float = 1e-2
    weight_decay: float = 0.0
    momentum: float = 0.0  # SGD only
    warmup_frac: float = 0.005
    schedule: str = "linear"  # "linear" (warmup then linear decay to 0) | "constant"
    grad_clip: float | None = 1.0
    tau: float = 8.0
    alpha: float = 0.2
    ce_weight: float = 1.0
    kl_weight: float = 1.0
    clone_terms: tuple[str, ...] = CLONE_TERMS
    init: str = "normal"  # "normal" (N(0, init_std^2), LRC) | "svd" (top-r right singular vectors)
    init_std: float = 0.02
    seed: int = 0
    device: str = "cpu"
    # measurement
    smoothing_alpha: float = 0.01
    probe_size: int = 64
    n_log_points: int = 16
    beta_iters: int = 8
    sigma2_batches: int = 16
    eval_sequences: int = 512  # held-out sequences drawn per (seed, N), and at most this many train ones evaluated
    plateau: PlateauRule = field(default_factory=PlateauRule)
    teacher_cache_max_mb: float = 256.0  # precompute teacher targets for the N sequences if they fit


def to_dict(cfg) -> dict:
    """Canonical JSON-able dict of a (nested) config dataclass: tuples become lists."""
    def conv(v):
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        return v
    return conv(dataclasses.asdict(cfg))


def package_version() -> str:
    """Installed ``lrkd`` version (``0+unknown`` when not installed)."""
    try:
        from importlib.metadata import version
        return version("lrkd")
    except Exception:  # pragma: no cover - not installed
        return "0+unknown"


def config_hash(cfg) -> str:
    r"""sha256 of canonical JSON of ``(asdict(cfg), CACHE_VERSION, package version, config class name)``."""
    payload = {"config": to_dict(cfg), "cache_version": CACHE_VERSION, "lrkd": package_version(),
               "kind": type(cfg).__name__}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def from_dict(cls, d: dict):
    """Rebuild a (nested) config dataclass from :func:`to_dict` output."""
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in d:
            continue
        v = d[f.name]
        if dataclasses.is_dataclass(f.default_factory() if f.default_factory is not dataclasses.MISSING else None):
            v = from_dict(type(f.default_factory()), v)
        elif isinstance(v, list):
            v = tuple(v)
        kwargs[f.name] = v
    return cls(**kwargs)


def tiny_teacher_config(steps: int = 40, seed: int = 0, device: str = "cpu") -> TeacherTrainConfig:
    """A seconds-scale teacher for tests and smoke runs: width 16, 2 layers, 2 heads (1 KV head), d_ff 32,
    context 16."""
    return TeacherTrainConfig(
        model=TeacherConfig(d_model=16, n_layers=2, n_heads=2, n_kv_heads=1, d_ff=32, context=16),
        data=DataConfig(context=16, heldout_sequences=256), steps=steps, batch_size=16, lr=1e-2, seed=seed,
        device=device)


def tiny_distill_config(rank: int = 4, samples: int = 32, steps: int = 40, seed: int = 0, **kw) -> DistillConfig:
    """A seconds-scale LRC run on :func:`tiny_teacher_config` (small probe/eval sets, few β/σ² iterations)."""
    base = dict(teacher=tiny_teacher_config(), rank=rank, samples=samples, steps=steps, batch_size=16, lr=1e-2,
                seed=seed, probe_size=16, n_log_points=6, beta_iters=4, sigma2_batches=4, eval_sequences=64,
                tau=4.0)
    base.update(kw)
    return DistillConfig(**base)
