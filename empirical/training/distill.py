r"""LRC distillation runs: :func:`distill` (one config -> one record) and :func:`distill_many` (many configs,
trained in stacked groups; same records as one-by-one runs up to float rounding).

The one training loop is :func:`train_students` (-> :class:`Training`, the trained student and what
measuring it needs; :func:`make_records` turns it into records). It serves every caller: distill, the MI
cloning experiment (``on_checkpoint``), and data-parallel runs (empirical.training.ddp: ``batch_slicer``, ``wrap``,
``reduce``). Its pieces are public too: :func:`per_student_clip`, :func:`make_optimizer`, and the objective
and evaluation of :mod:`empirical.training.objective`.

Per run, measured (notes/RECORD.md): train/held-out CE (plain and prediction-smoothed), the gap, per-term
clone MSE (held-out, summed over layers), full-batch squared gradient norm of the training objective on a
fixed probe batch (the first ``probe_size`` training sequences) at log-spaced steps with its running
average, β (HVP power iteration on the probe), σ² (spread of ``sigma2_batches`` minibatch gradients, at the
end of training), Δ = L(θ₀) − min_t L(θ_t) on the probe (L* is estimated by the best loss seen).
Losses are in nats per token. Each student trains on its own dataset, the (seed, N) draw of the student
pool (:meth:`empirical.data.corpus.Splits.draw`: N training rows and ``eval_sequences`` held-out rows, shared
by every rank at that (seed, N)); training losses are evaluated on its first ``eval_sequences`` training rows
(all of them when N is smaller), held-out losses on its held-out rows. Convergence (:mod:`empirical.training.plateau`):
per student the steps used, the step at which the smoothed objective plateaued (or None) and its relative
improvement over the last window at the end.
"""
from __future__ import annotations

import dataclasses
import math
import sys
import time

import numpy as np
import torch

from bounds.errors import UsageError

from empirical.training import measure
from empirical.config import CLONE_TERMS, DistillConfig, config_hash, to_dict
from empirical.data.corpus import make_splits
from empirical.runtime.device import resolve_device
from empirical.runtime.optim import make_adamw
from empirical.training.objective import ObjectiveModule, TeacherTargets, evaluate, objective
from empirical.training.plateau import PlateauMonitor
from empirical.models.lrc import LRCStudent
from empirical.cache.store import ResultStore
from empirical.models.teacher import math_attention
from empirical.training.teacher_training import get_teacher, lr_factor, versions



def validate(cfg: DistillConfig) -> None:
    """Raise :class:`UsageError` (one line) for an impossible config."""
    if cfg.rank < 1:
        raise UsageError(f"--rank must be >= 1, got {cfg.rank}")
    if cfg.optimizer not in ("adamw", "sgd"):
        raise UsageError(f"--optimizer must be adamw or sgd, got {cfg.optimizer!r}")
    if cfg.schedule not in ("linear", "constant"):
        raise UsageError(f"schedule must be linear or constant, got {cfg.schedule!r}")
    bad = [t for t in cfg.clone_terms if t not in CLONE_TERMS]
    if bad:
        raise UsageError(f"unknown clone terms {bad} (choose from {', '.join(CLONE_TERMS)})")
    if cfg.init not in ("normal", "svd"):
        raise UsageError(f"--init must be normal or svd, got {cfg.init!r}")
    if cfg.init == "svd" and cfg.rank > cfg.teacher.model.d_model:
        raise UsageError(f"--init svd needs rank <= teacher width {cfg.teacher.model.d_model}")
    if cfg.rank > cfg.teacher.model.d_model:  # LRC shrinks the width: d_S = r <= d_T (BUGS.md B14)
        raise UsageError(f"--rank {cfg.rank} exceeds the teacher width d_T = {cfg.teacher.model.d_model} "
                         "(the student is at most as wide as its teacher)")
    if cfg.tau <= 0:
        raise UsageError(f"--tau must be > 0, got {cfg.tau}")
    if not 0 < cfg.smoothing_alpha < 1:
        raise UsageError(f"smoothing_alpha must be in (0, 1), got {cfg.smoothing_alpha}")
    make_splits(cfg.teacher.data).draw(cfg.seed, cfg.samples, cfg.eval_sequences)  # raises with the max N


def group_key(cfg: DistillConfig):
    """Configs with equal keys train together in one stacked model."""
    return (dataclasses.replace(cfg, seed=0, samples=1), min(cfg.samples, cfg.probe_size),
            min(cfg.samples, cfg.eval_sequences))


def distill(cfg: DistillConfig, store: ResultStore | None = None, verbose: bool = False) -> dict:
    """Run one LRC distillation and return its record (the teacher comes from the cache, trained if missing)."""
    return distill_many([cfg], store=store, verbose=verbose)[0]


def distill_many(cfgs, store: ResultStore | None = None, verbose: bool = False, max_group: int = 16) -> list[dict]:
    """Run many configs, stacking up to ``max_group`` compatible ones per model; records in input order."""
    cfgs = list(cfgs)
    for c in cfgs:
        validate(c)
    groups: dict = {}
    for i, c in enumerate(cfgs):
        groups.setdefault(group_key(c), []).append(i)
    out: list = [None] * len(cfgs)
    for idxs in groups.values():
        for j in range(0, len(idxs), max_group):
            part = idxs[j:j + max_group]
            for i, rec in zip(part, _run_group([cfgs[i] for i in part], store, verbose)):
                out[i] = rec
    return out


# ---------------------------------------------------------------------------------------------- internals

def per_student_clip(params, max_norm: float) -> None:
    """Clip each stacked student's gradient (dim 0 of every parameter) to global norm ``max_norm``."""
    S = params[0].shape[0]
    sq = sum(p.grad.double().pow(2).reshape(S, -1).sum(1) for p in params)
    scale = (max_norm / (sq.sqrt() + 1e-6)).clamp(max=1.0)
    for p in params:
        p.grad.mul_(scale.to(p.grad.dtype).view(S, *([1] * (p.dim() - 1))))


def make_optimizer(params, cfg: DistillConfig):
    """``(optimizer, scheduler)`` of the distillation recipe ``cfg``: fused AdamW or SGD(+momentum), and the
    :func:`empirical.training.teacher_training.lr_factor` schedule stepped once per step."""
    params = list(params)
    if cfg.optimizer == "adamw":
        opt = make_adamw(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg.steps, cfg.warmup_frac, cfg.schedule))
    return opt, sched


@dataclasses.dataclass
class Training:
    """The state :func:`train_students` leaves: the trained (stacked) student and what measuring it needs."""

    cfgs: list
    student: LRCStudent
    params: list
    teacher: object
    teacher_record: dict
    splits: object
    pool: torch.Tensor        # the union of the students' training rows (CPU); Training.indices index it
    pool_dev: torch.Tensor    # the same on the device
    targets: TeacherTargets
    terms: tuple
    dev: torch.device
    probe_size: int
    trajectory: dict          # log-spaced probe measurements (empty lists with log=False)
    minibatch_objective: list  # per step, (S,) numpy arrays (reduced over processes under DDP)
    train_s: float
    t0: float
    stopped_at_step: list = dataclasses.field(default_factory=list)  # per student: first non-finite step or None
    stopped_value: list = dataclasses.field(default_factory=list)    # its objective there
    train_pos: list = dataclasses.field(default_factory=list)   # per student: its N training rows, as pool positions
    heldout_rows: list = dataclasses.field(default_factory=list)  # per student: its held-out student-pool rows
    plateau: PlateauMonitor | None = None                        # the convergence criterion, fed every step
    steps_used: int = 0                                          # optimizer steps taken (the group's)

    @property
    def base(self) -> DistillConfig:
        return self.cfgs[0]

    def indices(self, gens, size) -> torch.Tensor:
        """Pool positions (S, size) of a minibatch: per student uniform with replacement from its N training
        rows, drawn from its generator in ``gens``."""
        return torch.stack([pos[torch.randint(int(c.samples), (size,), generator=g)]
                            for c, g, pos in zip(self.cfgs, gens, self.train_pos)])

    def batch(self, gens, size):
        """A minibatch: (tokens (S, size, T+1) on the device, indices (S, size))."""
        idx = self.indices(gens, size)
        return self.pool_dev[idx.to(self.dev)], idx

    def probe_loss(self):
        """:func:`objective` on the fixed probe batch (each student's first ``probe_size`` training rows)."""
        probe_idx = torch.stack([pos[:self.probe_size] for pos in self.train_pos])
        return objective(self.student, self.pool_dev[probe_idx.to(self.dev)], probe_idx, self.targets, self.base,
                         self.terms)


def train_students(cfgs, *, store: ResultStore | None = None, verbose: bool = False, teacher=None, device=None,
                   log: bool = True, checkpoints=(), on_checkpoint=None, batch_slicer=None, wrap=None,
                   reduce=None) -> Training:
    """THE LRC training loop (one config, or a group of stacked configs with equal :func:`group_key`).

    ``teacher`` ``(model, record)`` (default: :func:`empirical.training.teacher_training.get_teacher` of the config, from
    ``store``); ``device`` (default: the config's). ``log``: measure the probe objective, its loss terms and
    the full-batch squared gradient norm at log-spaced steps (``Training.trajectory``).
    ``on_checkpoint(step, student)`` is called at each step in ``checkpoints`` before that step's update, and
    with ``step = steps`` after the last one (no module of the student depends on train/eval mode).
    A student whose minibatch objective is not finite stops there (``Training.stopped_at_step``; its
    gradients are zeroed from then on); the loop ends when every student has stopped (the final probe log
    and checkpoint are then at that step).

    Data parallelism (empirical.training.ddp): every process draws the same GLOBAL minibatch indices (S, B);
    ``batch_slicer(idx)`` returns the rows this process trains on; ``wrap(module)`` wraps the
    :class:`ObjectiveModule` (e.g. in DistributedDataParallel, which averages the gradients over processes
    in backward); ``reduce(x)`` turns the logged per-step objective (a detached float64 tensor) into the
    global one. The defaults (identity) are the single-process run.
    """
    cfgs = [cfgs] if isinstance(cfgs, DistillConfig) else list(cfgs)
    t0 = time.perf_counter()
    base = cfgs[0]
    S = len(cfgs)
    dev = resolve_device(base.device) if device is None else torch.device(device)
    teacher, t_record = teacher if teacher is not None else get_teacher(base.teacher, store=store, verbose=verbose)
    splits = make_splits(base.teacher.data)
    terms = tuple(base.clone_terms) if base.alpha else ()
    student = LRCStudent(teacher, base.rank, seeds=[c.seed for c in cfgs], init=base.init,
                         init_std=base.init_std).to(dev)
    params = student.trainable_parameters()
    draws = [splits.draw(c.seed, c.samples, c.eval_sequences) for c in cfgs]  # each (seed, N) its own dataset
    union = torch.unique(torch.cat([tr_rows for tr_rows, _ in draws]))        # sorted; targets cached once
    train_pos = [torch.searchsorted(union, tr_rows) for tr_rows, _ in draws]
    pool = splits.student_pool[union]
    targets = TeacherTargets(student, pool, terms, base.tau, budget_mb=base.teacher_cache_max_mb, dev=dev)
    tr = Training(cfgs=cfgs, student=student, params=params, teacher=teacher, teacher_record=t_record,
                  splits=splits, pool=pool, pool_dev=pool.to(dev), targets=targets, terms=terms, dev=dev,
                  probe_size=min(base.samples, base.probe_size),
                  trajectory={k: [] for k in ("step", "grad_norm_sq", "objective", "train_loss", "clone_mse")},
                  minibatch_objective=[], train_s=float("nan"), t0=t0, stopped_at_step=[None] * S,
                  stopped_value=[None] * S, train_pos=train_pos, heldout_rows=[h for _, h in draws],
                  plateau=PlateauMonitor(S, base.plateau))
    gens = [torch.Generator().manual_seed(c.seed + 1_000_003) for c in cfgs]
    opt, sched = make_optimizer(params, base)
    forward = ObjectiveModule(student, targets, base, terms)
    forward = wrap(forward) if wrap is not None else forward
    log_steps = set(measure.log_spaced_steps(base.steps, base.n_log_points)) if log else set()
    marks = set(checkpoints) if on_checkpoint is not None else set()
    traj = tr.trajectory

    def log_point(step):
        obj, ce, _, clone = tr.probe_loss()
        gn = measure.grad_norm_sq_of(obj, params)
        traj["step"].append(step)
        traj["grad_norm_sq"].append(gn.numpy())
        traj["objective"].append(obj.detach().double().cpu().numpy())
        traj["train_loss"].append(ce.detach().double().cpu().numpy())
        traj["clone_mse"].append(clone.detach().double().cpu().numpy())

    alive = np.ones(S, dtype=bool)
    last = base.steps
    for step in range(base.steps):
        if step in marks:
            on_checkpoint(step, student)
        if step in log_steps:
            log_point(step)
        idx = tr.indices(gens, base.batch_size)  # the global batch
        if batch_slicer is not None:
            idx = batch_slicer(idx)
        obj = forward(tr.pool_dev[idx.to(dev)], idx)
        mb = obj.detach().double()
        mb = (reduce(mb) if reduce is not None else mb).cpu().numpy()  # global: every process decides alike
        tr.minibatch_objective.append(mb)
        converged = tr.plateau.update(mb)
        diverged = alive & ~np.isfinite(mb)
        for s_ in np.flatnonzero(diverged):  # a non-finite objective stops that student (BUGS.md B12)
            tr.stopped_at_step[s_], tr.stopped_value[s_] = step, float(mb[s_])
        alive &= ~diverged
        if not alive.any():
            last = step
            break
        opt.zero_grad(set_to_none=True)
        obj.sum().backward()
        if not alive.all():
            dead = torch.from_numpy(~alive).to(dev)
            for p in params:
                if p.grad is not None:
                    p.grad[dead] = 0
        if base.grad_clip:
            per_student_clip(params, base.grad_clip)
        opt.step()
        sched.step()
        if base.plateau.stop and (converged | ~alive).all():  # every student converged (or stopped)
            last = step + 1
            break
        if verbose and (step + 1) % max(1, base.steps // 10) == 0:
            print(f"step {step + 1}/{base.steps}  objective {obj.detach().mean().item():.4f}", file=sys.stderr, flush=True)
    if log and last not in log_steps - {base.steps}:  # not logged yet at the step the loop ended
        log_point(last)
    if on_checkpoint is not None and last not in marks - {base.steps}:
        on_checkpoint(last, student)
    tr.steps_used = last
    tr.train_s = time.perf_counter() - t0
    return tr


def _run_group(cfgs: list[DistillConfig], store, verbose, **hooks) -> list[dict]:
    tr = train_students(cfgs, store=store, verbose=verbose, **hooks)
    return make_records(tr)


def make_records(tr: Training) -> list[dict]:
    """End-of-run measurements of a :func:`train_students` result (trained with ``log=True``) -> one record
    per config (notes/RECORD.md)."""
    cfgs, base, student, params, targets = tr.cfgs, tr.base, tr.student, tr.params, tr.targets
    t0, train_s, dev, terms, pool, splits = tr.t0, tr.train_s, tr.dev, tr.terms, tr.pool, tr.splits
    teacher, t_record, traj, mb_obj = tr.teacher, tr.teacher_record, tr.trajectory, tr.minibatch_objective
    P = tr.probe_size
    S = len(cfgs)
    ctx = splits.context
    probe_loss, batch_from = tr.probe_loss, tr.batch

    # ---------------------------------------------------------------- end-of-run measurements
    t_eval = time.perf_counter()
    E = min(base.samples, base.eval_sequences)
    ev_train = evaluate(student, torch.stack([pool[pos[:E]] for pos in tr.train_pos]), base, dev, terms=())
    ev_test = evaluate(student, torch.stack([splits.student_pool[h] for h in tr.heldout_rows]), base, dev,
                       terms=CLONE_TERMS)
    rel_impr = tr.plateau.improvement() if tr.plateau.smoothed else np.full(S, np.nan)
    t_beta = time.perf_counter()
    beta = np.full(S, np.nan)
    if base.beta_iters > 0 and not all(k is not None for k in tr.stopped_at_step):
        hg = [torch.Generator().manual_seed(c.seed + 3_000_017) for c in cfgs]
        with math_attention():
            beta = measure.hessian_top_eig(lambda: probe_loss()[0], params, base.beta_iters, hg).numpy()
    t_sigma = time.perf_counter()
    sigma2 = np.full(S, np.nan)
    if base.sigma2_batches > 1 and not all(k is not None for k in tr.stopped_at_step):
        sg = [torch.Generator().manual_seed(c.seed + 2_000_003) for c in cfgs]

        def mb_loss(_k):
            tok, idx = batch_from(sg, base.batch_size)
            return objective(student, tok, idx, targets, base, terms)[0]
        sigma2 = measure.gradient_variance(mb_loss, params, base.sigma2_batches).numpy()
    wall = time.perf_counter() - t0
    timing = {"train_s": train_s, "eval_s": t_beta - t_eval, "beta_s": t_sigma - t_beta,
              "sigma2_s": time.perf_counter() - t_sigma, "group_wall_s": wall}

    p_r = student.num_trainable_per_student()
    d_T = teacher.cfg.d_model
    from bounds._fast import g3_loss_range  # catalog G3.loss_range, B = log(V / alpha), generated code
    B_range = g3_loss_range(teacher.cfg.vocab, base.smoothing_alpha)
    vers = versions()
    records = []
    for s, c in enumerate(cfgs):
        col = lambda key: [float(v[s]) for v in traj[key]]  # noqa: E731
        gn = col("grad_norm_sq")
        objs = col("objective")
        loss_best = float(min(objs))
        train, test = float(ev_train["ce"][s]), float(ev_test["ce"][s])
        finite = all(math.isfinite(x) for x in (train, test, loss_best))
        stop = tr.stopped_at_step[s]
        reason = None
        if stop is not None:
            reason = (f"non-finite objective ({tr.stopped_value[s]}) at step {stop} "
                      f"(optimizer {c.optimizer}, lr {c.lr})")
        elif not finite:
            reason = "non-finite loss"
        records.append({
            "track": "transformer", "config": to_dict(c), "config_hash": config_hash(c), "seed": c.seed,
            "versions": vers, "device": str(dev), "status": "failed" if reason else "ok",
            "failure_reason": reason, "stopped_at_step": stop, "wall_s": wall / S, "train_s": train_s / S,
            "group_size": S, "timing_group": timing, "teacher_targets_cached": bool(targets.cached),
            "rank": c.rank, "samples": c.samples, "tokens": c.samples * ctx, "context": ctx, "params": p_r,
            "m": d_T, "d": d_T, "vocab": teacher.cfg.vocab, "n_layers": teacher.cfg.n_layers,
            "train_loss": train, "test_loss": test,
            "train_loss_smoothed": float(ev_train["sm"][s]), "test_loss_smoothed": float(ev_test["sm"][s]),
            "smoothing_alpha": c.smoothing_alpha, "loss_range_B": B_range,
            "gap": test - train, "gap_smoothed": float(ev_test["sm"][s] - ev_train["sm"][s]),
            "test_kl": float(ev_test["kl"][s]), "train_kl": float(ev_train["kl"][s]),
            "clone_mse": {t: float(v[s]) for t, v in ev_test["clone"].items()},
            "clone_mse_total": float(sum(v[s] for v in ev_test["clone"].values())),
            "beta": float(beta[s]), "sigma2": float(sigma2[s]),
            "delta": objs[0] - loss_best, "loss_init": objs[0], "loss_best": loss_best,
            "loss_star_is_estimate": True,
            "optimizer": c.optimizer, "lr": c.lr, "steps": c.steps, "batch_size": c.batch_size,
            "probe_size": P, "eval_train_sequences": E, "eval_heldout_sequences": int(len(tr.heldout_rows[s])),
            "steps_used": int(stop if stop is not None else tr.steps_used),
            "plateau_step": tr.plateau.plateau_step[s], "plateau_reached": tr.plateau.plateau_step[s] is not None,
            "final_rel_improvement": float(rel_impr[s]) if np.isfinite(rel_impr[s]) else None,  # None: < window steps
            "teacher": {"config_hash": t_record["config_hash"], "test_loss": t_record["test_loss"],
                        "params": t_record["params"]},
            "trajectory": {"step": list(traj["step"]), "grad_norm_sq": gn,
                           "grad_norm_sq_running_avg": measure.running_average(traj["step"], gn),
                           "objective": objs, "train_loss": col("train_loss"), "clone_mse": col("clone_mse"),
                           "minibatch_objective": [float(v[s]) for v in mb_obj]},
        })
    return records
