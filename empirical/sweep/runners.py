"""Adapter between the sweep (empirical.sweep) and the training code: grid -> configs, config -> record,
records -> tables.

This is the only place that knows which function trains which config: the transformer track's
:class:`empirical.config.DistillConfig` goes to :func:`empirical.training.distill.distill`; the synthetic linear track's
config goes to :func:`empirical.synthetic.run`. Records follow notes/RECORD.md; :func:`runs_table` and
:func:`traj_table` flatten them into the tables the report and figures read.
"""
from __future__ import annotations

import time

from bounds.jsonable import jsonable as _jsonable

#: scalar record fields copied into runs.csv (RECORD.md), in this order
RUN_COLUMNS = ("config_hash", "track", "experiment", "status", "failure_reason", "seed", "rank", "samples", "tokens",
               "steps_used", "plateau_reached", "final_rel_improvement",
               "params", "m", "d", "vocab", "train_loss", "test_loss", "gap", "train_loss_smoothed",
               "test_loss_smoothed", "smoothing_alpha", "loss_range_B", "beta", "sigma2", "delta", "loss_init",
               "loss_best", "optimizer", "lr", "steps", "horizon", "grad_norm_sq_running_avg", "batch_size", "code_bits", "param_norm", "lipschitz",
               "spectrum_alpha", "device", "wall_s")


def key(cfg) -> str:
    """The store key of a config (content hash incl. cache and package version)."""
    from empirical.config import config_hash
    return config_hash(cfg)


# ------------------------------------------------------------------------------------------- grids

def synthetic_configs(grid, device: str = "cpu") -> list:
    """Synthetic-track configs, all on the grid's one planted teacher (``teacher_seed``): the (rank x samples x
    seed) generalization grid (exact rank-r ERM), SGD convergence runs at the fixed step 0.5/beta, then the
    horizon experiment (one SGD run per horizon T at eta*(T), per rank and seed)."""
    from empirical.synthetic import SyntheticConfig

    track = dict(m=grid.m, d=grid.d, alpha=grid.alpha, noise=grid.noise, teacher_seed=grid.teacher_seed)
    out = []
    for n in grid.samples:
        for r in grid.ranks:
            for s in grid.seeds:
                out.append(SyntheticConfig(**track, rank=r, samples=n, steps=0, seed=s, optimizer="rrr",
                                           experiment="gen"))
    for r in grid.conv_ranks:
        for s in grid.seeds:
            out.append(SyntheticConfig(**track, rank=r, samples=grid.conv_samples, steps=grid.conv_steps, seed=s,
                                       optimizer="sgd", experiment="conv"))
    for r in grid.horizon_ranks:
        for s in grid.seeds:
            for t in grid.horizons:
                out.append(SyntheticConfig(**track, rank=r, samples=grid.horizon_samples, steps=t, seed=s,
                                           optimizer="sgd", experiment="horizon", lr_rule="c1_horizon",
                                           batch_size=grid.horizon_batch, n_log_points=0))
    return out


def transformer_configs(grid, device: str = "cpu") -> list:
    """Transformer-track (LRC) configs over ranks x samples x seeds, sharing one teacher (the grid's recipe:
    optimizer, lr, init, alpha, tau; beta/sigma^2 measured on SGD runs only)."""
    import dataclasses

    from empirical.config import (DataConfig, DistillConfig, PlateauRule, TeacherConfig, TeacherTrainConfig,
                                  swiglu_d_ff)

    d_ff = swiglu_d_ff(grid.d_model)
    teacher = TeacherTrainConfig(model=TeacherConfig(d_model=grid.d_model, n_layers=grid.n_layers, d_ff=d_ff),
                                 data=DataConfig(corpus=grid.corpus), steps=grid.teacher_steps, device=device)
    sgd = grid.optimizer == "sgd"  # beta and sigma^2 only feed C1, which applies to SGD only
    return [DistillConfig(teacher=teacher, rank=r, samples=n, steps=grid.steps, seed=s, device=device,
                          beta_iters=grid.beta_iters if sgd else 0, sigma2_batches=grid.sigma2_batches if sgd else 0,
                          eval_sequences=grid.eval_sequences, n_log_points=grid.n_log_points,
                          batch_size=grid.batch_size, optimizer=grid.optimizer, lr=grid.lr, init=grid.init,
                          alpha=grid.alpha, tau=grid.tau,
                          plateau=dataclasses.replace(PlateauRule(), stop=grid.plateau_stop))
            for n in grid.samples for r in grid.ranks for s in grid.seeds]


def experiment_of(cfg) -> str:
    """"gen" (generalization grid), "conv" (convergence run) or "horizon" (one SGD run per horizon T)."""
    return getattr(cfg, "experiment", "gen")


def track_of(cfg) -> str:
    """"synthetic", "transformer" or "mi" (the activation-cloning experiment)."""
    return {"SyntheticConfig": "synthetic", "CloningConfig": "mi"}.get(type(cfg).__name__, "transformer")


def short_name(cfg) -> str:
    """One-line name of a config for progress lines."""
    if track_of(cfg) == "mi":
        return f"mi/cloning ranks={list(cfg.ranks)} N={cfg.distill.samples} seed={cfg.seed}"
    horizon = f" T={cfg.steps}" if experiment_of(cfg) == "horizon" else ""
    return f"{track_of(cfg)}/{experiment_of(cfg)} r={cfg.rank} N={cfg.samples}{horizon} seed={cfg.seed}"


# ------------------------------------------------------------------------------------------- running

def run_many(cfgs: list, store_root=None) -> list[dict]:
    """Records of configs meant to train together (as grouped by :func:`batches`), in order. Teachers are
    loaded from (or trained into) the store at ``store_root`` (default: the user cache)."""
    kinds = {type(c).__name__ for c in cfgs}
    if kinds == {"SyntheticConfig"}:
        from empirical import synthetic as mod
        return [mod.run(c) for c in cfgs]
    from empirical.cache.store import ResultStore
    store = ResultStore(store_root) if store_root is not None else None
    if kinds == {"CloningConfig"}:
        from empirical.mi import cloning
        out = []
        for c in cfgs:
            t0 = time.perf_counter()
            df = cloning.run(c, store=store)
            out.append({"track": "mi", "status": "ok", "failure_reason": None, "seed": c.seed,
                        "rank": max(c.ranks), "samples": c.distill.samples, "train_loss": 0.0, "test_loss": 0.0,
                        "rows": df.to_dict("records"), "wall_s": time.perf_counter() - t0})
        return out
    from empirical.training.distill import distill_many
    return distill_many(cfgs, store=store)


def teachers(cfgs: list) -> list:
    """The distinct teacher configs the transformer and cloning configs need (to train once, up front)."""
    seen = {}
    for c in cfgs:
        t = getattr(c, "teacher", None) or getattr(getattr(c, "distill", None), "teacher", None)
        if t is not None:
            seen.setdefault(key(t), t)
    return list(seen.values())


def prepare_teachers(cfgs: list, store_root, log=print) -> None:
    """Train (or find in the store) every teacher of ``cfgs`` in this process, so parallel workers never
    train the same teacher twice."""
    need = teachers(cfgs)
    if not need:
        return
    from empirical.cache.store import ResultStore
    from empirical.training.teacher_training import get_teacher
    store = ResultStore(store_root) if store_root is not None else None
    for t in need:
        get_teacher(t, store=store, verbose=True)
        log(f"teacher {key(t)[:12]} ready")


#: synthetic runs per task (amortizes the process-pool round trip; they take milliseconds)
SYNTHETIC_CHUNK = 8
#: stacked transformer students per task: stacking saves little per student on CPU (cost ~ linear in the
#: students), so small tasks balance the workers better (a 9-student group on one of 2 workers left the other idle);
#: on a GPU up to 16 train together
TRANSFORMER_CHUNK = 5


def batches(cfgs: list, ids: list | None = None, chunk: int = SYNTHETIC_CHUNK) -> list[list]:
    """Split configs into tasks: transformer configs that can share one stacked model
    (:func:`empirical.training.distill.group_key`) form one task; synthetic ones go in chunks of ``chunk``.
    Returns lists of ``ids`` (default: positions in ``cfgs``), the most expensive tasks first."""
    ids = list(range(len(cfgs))) if ids is None else list(ids)
    groups: dict = {}
    for i, c in zip(ids, cfgs):
        if type(c).__name__ == "SyntheticConfig":
            gk = ("synthetic", c.optimizer)
        elif type(c).__name__ == "CloningConfig":
            gk = ("cloning", i)
        else:
            from empirical.training.distill import group_key
            gk = ("transformer", group_key(c))
        groups.setdefault(gk, []).append(i)
    tasks = []
    for gk, members in groups.items():
        first = cfgs[ids.index(members[0])]
        size = (chunk if gk[0] == "synthetic" else 1 if gk[0] == "cloning"
                else TRANSFORMER_CHUNK if getattr(first, "device", "cpu") == "cpu" else 16)
        tasks += [(gk[0], members[j:j + size]) for j in range(0, len(members), size)]
    order = {"cloning": 0, "transformer": 1, "synthetic": 2}
    return [m for _, m in sorted(tasks, key=lambda t: order[t[0]])]


def failed_record(cfg, reason: str, tb: str = "") -> dict:
    """A record for a run that raised: status failed, the reason, no numbers."""
    return {"status": "failed", "failure_reason": reason, "traceback": tb, "seed": cfg.seed,
            "rank": getattr(cfg, "rank", None), "samples": getattr(cfg, "samples", None)}


def complete_record(cfg, rec: dict) -> dict:
    """Add identity fields the sweep owns (config, hash, experiment, track) and make the record strict JSON
    (NaN/inf -> null)."""
    from empirical.config import to_dict

    rec = dict(rec)
    rec.setdefault("track", track_of(cfg))
    rec["config"] = to_dict(cfg)
    rec["config_hash"] = key(cfg)
    rec["experiment"] = experiment_of(cfg)
    rec.setdefault("status", "ok")
    rec.setdefault("failure_reason", None)
    for f in ("seed", "rank", "samples"):
        rec.setdefault(f, getattr(cfg, f, None))
    return _jsonable(rec)


class Store:
    """The sweep's view of :class:`empirical.cache.store.ResultStore`: get/put by config."""

    def __init__(self, root):
        from empirical.cache.store import ResultStore
        self.inner = ResultStore(root)

    def get(self, cfg):
        return self.inner.get(key(cfg))

    def put(self, cfg, rec: dict):
        return self.inner.put(key(cfg), rec)

    def has_file(self, cfg) -> bool:
        """Whether a record file exists for ``cfg`` (even one that :meth:`get` rejects as corrupt)."""
        return self.inner.path_for(key(cfg)).exists()


# ------------------------------------------------------------------------------------------- tables

def runs_table(records: list[dict]):
    """One row per run (RUN_COLUMNS plus clone_mse_<term>)."""
    import pandas as pd

    rows = []
    for rec in records:
        if rec.get("track") == "mi":
            continue
        row = {c: rec.get(c) for c in RUN_COLUMNS}
        for term, v in sorted((rec.get("clone_mse") or {}).items()):
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
        if rec.get("status") != "ok" or not tr.get("step") or rec.get("track") == "mi":
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


def mi_table(records: list[dict]):
    """Long MI table of the cloning experiment's records (one row per rank x step x estimator x seed)."""
    import pandas as pd

    parts = [pd.DataFrame(r["rows"]).assign(config_hash=r["config_hash"]) for r in records
             if r.get("track") == "mi" and r.get("status") == "ok" and r.get("rows")]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def cloning_configs(grid, transformer_grid, device: str = "cpu") -> list:
    """Cloning-experiment configs (one per seed) on the transformer track's teacher."""
    from empirical.config import DistillConfig
    from empirical.mi.cloning import CloningConfig
    from empirical.mi.infonce import InfoNCEConfig

    base = transformer_configs(transformer_grid, device)[0]
    # the MI experiment keeps LRC's recipe (normal init, batch 32): the transformer grid's SVD init and batch 16
    # are chosen for measuring r*(N), not for cloning
    dcfg = DistillConfig(teacher=base.teacher, samples=grid.samples, steps=grid.steps, device=device, batch_size=32)
    return [CloningConfig(distill=dcfg, ranks=tuple(grid.ranks), trajectory_rank=max(grid.ranks),
                          heldout_sequences=grid.heldout_sequences, estimators=tuple(grid.estimators),
                          n_checkpoints=grid.n_checkpoints,
                          infonce=InfoNCEConfig(steps=grid.infonce_steps), seed=s) for s in grid.seeds]
