"""Adapter between the sweep (empirical.sweep) and the training code: grid -> configs, config -> record,
records -> tables.

This is the only place that knows which function trains which config: the transformer track's
:class:`empirical.config.DistillConfig` goes to :func:`empirical.train.distill`; the synthetic linear track's
config goes to :func:`empirical.synthetic.run`. Records follow notes/RECORD.md; :func:`runs_table` and
:func:`traj_table` flatten them into the tables the report and figures read.
"""
from __future__ import annotations

import math

from bounds.cliutil import _jsonable

#: scalar record fields copied into runs.csv (RECORD.md), in this order
RUN_COLUMNS = ("config_hash", "track", "experiment", "status", "failure_reason", "seed", "rank", "samples", "tokens",
               "params", "m", "d", "vocab", "train_loss", "test_loss", "gap", "train_loss_smoothed",
               "test_loss_smoothed", "smoothing_alpha", "loss_range_B", "beta", "sigma2", "delta", "loss_init",
               "loss_best", "optimizer", "lr", "steps", "batch_size", "code_bits", "param_norm", "lipschitz",
               "spectrum_alpha", "device", "wall_s")


def key(cfg) -> str:
    """The store key of a config (content hash incl. cache and package version)."""
    from empirical.config import config_hash
    return config_hash(cfg)


# ------------------------------------------------------------------------------------------- grids

def synthetic_module():
    """The synthetic track: helper B's ``empirical.synthetic`` when present, else this sweep's adapter
    :mod:`empirical.synthetic_fallback` (same record schema)."""
    from empirical import synthetic_fallback
    return synthetic_fallback


def synthetic_configs(grid, device: str = "cpu") -> list:
    """Synthetic-track configs: the (rank x samples x seed) generalization grid (exact rank-r ERM), then SGD
    convergence runs."""
    SyntheticConfig = synthetic_module().SyntheticConfig

    out = []
    for n in grid.samples:
        for r in grid.ranks:
            for s in grid.seeds:
                out.append(SyntheticConfig(m=grid.m, d=grid.d, alpha=grid.alpha, noise=grid.noise, rank=r,
                                           samples=n, steps=0, seed=s, optimizer="rrr", experiment="gen"))
    for r in grid.conv_ranks:
        for s in grid.seeds:
            out.append(SyntheticConfig(m=grid.m, d=grid.d, alpha=grid.alpha, noise=grid.noise, rank=r,
                                       samples=grid.conv_samples, steps=grid.conv_steps, seed=s, optimizer="sgd",
                                       experiment="conv"))
    return out


def transformer_configs(grid, device: str = "cpu") -> list:
    """Transformer-track (LRC) configs over ranks x samples x seeds, sharing one teacher."""
    from empirical.config import DistillConfig, TeacherConfig, TeacherTrainConfig

    d_ff = int(round(grid.d_model * 8 / 3 / 4)) * 4
    teacher = TeacherTrainConfig(model=TeacherConfig(d_model=grid.d_model, n_layers=grid.n_layers, d_ff=d_ff),
                                 steps=grid.teacher_steps, device=device)
    return [DistillConfig(teacher=teacher, rank=r, samples=n, steps=grid.steps, seed=s, device=device)
            for n in grid.samples for r in grid.ranks for s in grid.seeds]


def experiment_of(cfg) -> str:
    """"gen" (generalization grid) or "conv" (convergence run)."""
    return getattr(cfg, "experiment", "gen")


def short_name(cfg) -> str:
    """One-line name of a config for progress lines."""
    track = "synthetic" if type(cfg).__name__ == "SyntheticConfig" else "transformer"
    return f"{track}/{experiment_of(cfg)} r={cfg.rank} N={cfg.samples} seed={cfg.seed}"


# ------------------------------------------------------------------------------------------- running

def run_one(cfg) -> dict:
    """Train/measure one config; returns its record (RECORD.md)."""
    return run_many([cfg])[0]


def run_many(cfgs: list) -> list[dict]:
    """Records of configs meant to train together (as grouped by :func:`batches`), in order."""
    if all(type(c).__name__ == "SyntheticConfig" for c in cfgs):
        mod = synthetic_module()
        return [mod.run(c) for c in cfgs]
    from empirical.distill import distill_many
    return distill_many(cfgs)


#: synthetic runs per task (amortizes the process-pool round trip; they take milliseconds)
SYNTHETIC_CHUNK = 8


def batches(cfgs: list, ids: list | None = None, chunk: int = SYNTHETIC_CHUNK) -> list[list]:
    """Split configs into tasks: transformer configs that can share one stacked model
    (:func:`empirical.distill.group_key`) form one task; synthetic ones go in chunks of ``chunk``.
    Returns lists of ``ids`` (default: positions in ``cfgs``), the most expensive tasks first."""
    ids = list(range(len(cfgs))) if ids is None else list(ids)
    groups: dict = {}
    for i, c in zip(ids, cfgs):
        if type(c).__name__ == "SyntheticConfig":
            gk = ("synthetic", c.optimizer)
        else:
            from empirical.distill import group_key
            gk = ("transformer", group_key(c))
        groups.setdefault(gk, []).append(i)
    tasks = []
    for gk, members in groups.items():
        size = chunk if gk[0] == "synthetic" else 16
        tasks += [(gk[0], members[j:j + size]) for j in range(0, len(members), size)]
    order = {"transformer": 0, "synthetic": 1}
    return [m for _, m in sorted(tasks, key=lambda t: order[t[0]])]


def failed_record(cfg, reason: str, tb: str = "") -> dict:
    """A record for a run that raised: status failed, the reason, no numbers."""
    return {"status": "failed", "failure_reason": reason, "traceback": tb, "seed": cfg.seed, "rank": cfg.rank,
            "samples": cfg.samples}


def complete_record(cfg, rec: dict) -> dict:
    """Add identity fields the sweep owns (config, hash, experiment, track) and make the record strict JSON
    (NaN/inf -> null)."""
    from empirical.config import to_dict

    rec = dict(rec)
    rec.setdefault("track", "synthetic" if type(cfg).__name__ == "SyntheticConfig" else "transformer")
    rec["config"] = to_dict(cfg)
    rec["config_hash"] = key(cfg)
    rec["experiment"] = experiment_of(cfg)
    rec.setdefault("status", "ok")
    rec.setdefault("failure_reason", None)
    for f in ("seed", "rank", "samples"):
        rec.setdefault(f, getattr(cfg, f))
    return _jsonable(rec)


class Store:
    """The sweep's view of :class:`empirical.store.ResultStore`: get/put by config."""

    def __init__(self, root):
        from empirical.store import ResultStore
        self.inner = ResultStore(root)

    def get(self, cfg):
        return self.inner.get(key(cfg))

    def put(self, cfg, rec: dict):
        return self.inner.put(key(cfg), rec)


# ------------------------------------------------------------------------------------------- tables

def runs_table(records: list[dict]):
    """One row per run (RUN_COLUMNS plus clone_mse_<term>)."""
    import pandas as pd

    rows = []
    for rec in records:
        row = {c: rec.get(c) for c in RUN_COLUMNS}
        for term, v in (rec.get("clone_mse") or {}).items():
            row[f"clone_mse_{term}"] = v
        rows.append(row)
    df = pd.DataFrame(rows, columns=list(dict.fromkeys([*RUN_COLUMNS, *(k for r in rows for k in r)])))
    for c in df.columns:
        if c not in ("config_hash", "track", "experiment", "status", "failure_reason", "optimizer", "device"):
            df[c] = pd.to_numeric(df[c], errors="coerce")
    return df


def traj_table(records: list[dict]):
    """Long table of trajectories: config_hash, track, rank, samples, seed, step, grad_norm_sq, ..."""
    import pandas as pd

    parts = []
    for rec in records:
        tr = rec.get("trajectory") or {}
        if rec.get("status") != "ok" or not tr.get("step"):
            continue
        n = len(tr["step"])
        cols = {k: v for k, v in tr.items() if isinstance(v, list) and len(v) == n}
        df = pd.DataFrame(cols)
        for f in ("config_hash", "track", "rank", "samples", "seed"):
            df[f] = rec.get(f)
        parts.append(df)
    if not parts:
        return pd.DataFrame(columns=["config_hash", "track", "rank", "samples", "seed", "step", "grad_norm_sq"])
    return pd.concat(parts, ignore_index=True)


def as_float(v) -> float:
    """float(v), NaN for None."""
    return float("nan") if v is None else float(v)


def is_finite(v) -> bool:
    return v is not None and math.isfinite(float(v))

