r"""The activation-cloning MI experiment (THEORY.md I): mutual information between teacher and Low-Rank Clone
student activations, against rank and against training step, with the I1/I2/I3 bounds evaluated on the
measured quantities.

For LRC students at several ranks r (and at checkpoints during training of one of them), teacher and student
activations :math:`h_T\in\mathbb R^{d}`, :math:`h_S\in\mathbb R^{r}` are collected on held-out text at one
``layer`` and ``term`` (default: the residual stream after layer 0), first positions dropped (they repeat).

**Resolution.** Both activations are deterministic functions of discrete text, so their MI as continuous
variables is not finite. Every quantity is therefore computed for the activations read through independent
Gaussian noise at a stated resolution, :math:`\tilde h_T = h_T + \xi_T`, :math:`\tilde h_S = h_S + \xi_S`,
:math:`\xi\sim N(0,\sigma_n^2 I)` with :math:`\sigma_n` = ``noise_rel`` times the RMS (about the mean) of
that side's coordinates. Then, for the quantity every estimator targets, :math:`I(\tilde h_T;\tilde h_S)`:

- **I1** (lower bound): :math:`I(\tilde h_T;\tilde h_S)\ge h(\tilde h_T) - \frac d2\log(2\pi e\,\varepsilon^2/d)`
  with :math:`\varepsilon^2 = \mathbb E\|\tilde h_T - g(\tilde h_S)\|^2` the clone MSE of an affine read-out g
  fitted (least squares) on half of the held-out sequences and measured on the other half, and
  :math:`h(\tilde h_T)` the Kozachenko-Leonenko entropy (``i1_bound``). I1 is a valid lower bound only when
  :math:`h(\tilde h_T)` is known exactly; with the KL entropy (biased by several nats in 64 dimensions, with a
  data-dependent sign: :mod:`.validate_bounds` measures it above the true MI on planted Gaussian pairs) it is
  an *estimate*, and every row says so in ``i1_kind`` (``"estimate"``; ``"bound"`` is reserved for a
  closed-form entropy) with the entropy named in ``i1_entropy``. The same with the Gaussian entropy of the
  teacher covariance is reported as ``i1_bound_gaussian_entropy``: it overstates h and is *not* a bound for
  non-Gaussian activations.
- **I2** (cap, data processing then the Gaussian channel): :math:`I(\tilde h_T;\tilde h_S)\le I(h_T; h_S+\xi_S)
  \le \frac r2\log(1+\operatorname{tr}\Sigma_S/(r\sigma_n^2))` (``i2_cap``; eigenvalue form ``i2_cap_eigen``).
- **I3** (PCA): the best rank-r affine clone has :math:`\varepsilon^2 \ge \sum_{k>r}\lambda_k` (eigenvalues of
  the covariance of :math:`\tilde h_T`); I1 at that MSE is ``i3_bound`` (KL entropy, same entropy as
  ``i1_bound``, so ``i1_bound <= i3_bound`` for the affine read-out) and the catalog's Gaussian form
  ``i3_bound_gaussian``. :func:`pca_curve` gives the whole curve over r.

The bound formulas are evaluated through ``bounds.catalog`` (I1, I2, I3), never re-typed here.

**Training.** The students are trained by the one LRC training loop, ``empirical.training.distill.train_students``
(its ``on_checkpoint`` hook measures the student during training).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from .infonce import InfoNCEConfig

#: columns of every record :func:`run` returns (one per rank x step x estimator)
COLUMNS = ("track", "rank", "step", "steps_total", "is_final", "layer", "term", "estimator", "mi", "ceiling",
           "mi_warning", "clone_mse", "clone_mse_per_dim", "clone_mse_lrc", "test_loss", "teacher_entropy_kl",
           "teacher_entropy_gaussian", "i1_bound", "i1_kind", "i1_entropy", "i1_bound_gaussian_entropy", "i3_bound",
           "i3_bound_gaussian",
           "i2_cap", "i2_cap_eigen", "noise_rel", "sigma_n_teacher", "sigma_n_student", "n_rows", "d_teacher",
           "d_student", "seed", "seconds")


@dataclass(frozen=True)
class CloningConfig:
    """The cloning experiment. ``distill`` (empirical.config.DistillConfig) fixes the teacher, data, N and
    the LRC training recipe; its ``rank`` is ignored in favour of ``ranks``. ``trajectory_rank`` (default:
    the largest rank, which is what ``figures.mutual_info`` draws against step) is the student measured at
    ``checkpoints`` (default: log-spaced steps from B's ``measure.log_spaced_steps``)."""

    distill: object = None  # DistillConfig; None -> DistillConfig(steps=300)
    ranks: tuple[int, ...] = (2, 4, 8, 16, 32)
    trajectory_rank: int | None = None
    checkpoints: tuple[int, ...] | None = None
    n_checkpoints: int = 6
    layer: int = 0
    term: str = "resid"
    heldout_sequences: int = 128
    skip_positions: int = 8
    noise_rel: float = 0.2
    estimators: tuple[str, ...] = ("gaussian", "ksg", "infonce")
    k: int = 3
    infonce: InfoNCEConfig = field(default_factory=lambda: InfoNCEConfig(steps=300))
    kl_k: int = 3
    seed: int = 0


def preset(name: str) -> CloningConfig:
    """Named configurations: ``smoke`` (tiny 1-layer width-16 teacher, 3 ranks, seconds; for tests and CI),
    ``quick`` (DESIGN.md's 2-layer width-64 teacher, ranks 2..32, 300 LRC steps; minutes on 2 CPU cores)."""
    from empirical.config import DataConfig, DistillConfig, TeacherConfig, TeacherTrainConfig

    if name == "smoke":
        tm = TeacherConfig(d_model=16, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=32, context=16)
        tc = TeacherTrainConfig(model=tm, data=DataConfig(context=16, heldout_sequences=64), steps=40, batch_size=16)
        dc = DistillConfig(teacher=tc, samples=128, steps=20, batch_size=16, probe_size=8, eval_sequences=32)
        return CloningConfig(distill=dc, ranks=(2, 8), trajectory_rank=8, n_checkpoints=2, heldout_sequences=48,
                             skip_positions=4, infonce=InfoNCEConfig(steps=40, hidden=32, batch_size=64))
    if name == "quick":
        return CloningConfig()
    raise ValueError(f"unknown cloning preset {name!r} (smoke, quick)")


def _distill_config(cfg: CloningConfig):
    from empirical.config import DistillConfig

    return cfg.distill if cfg.distill is not None else DistillConfig(steps=300)


def _bound(rid: str):
    from bounds import catalog

    return catalog.get(rid)


# ------------------------------------------------------------------------------------------ measurement
def pca_curve(h_t, noise_rel: float = 0.2, entropy: float | None = None, *, seed: int = 0):
    """I3 over r = 0..d-1 from the spectrum of the (noise-regularized) teacher activations ``h_t`` (n x d):
    DataFrame ``rank, pca_tail, i3_bound_gaussian`` (catalog I3, Gaussian teacher) and, when the KL
    ``entropy`` of the same noisy activations is given, ``i3_bound`` (catalog I1 at the PCA tail)."""
    import pandas as pd

    from bounds.information import i3_curve

    h = _noisy(np.asarray(h_t, float), noise_rel, np.random.default_rng(seed))[0]
    lam = np.sort(np.linalg.eigvalsh(np.cov(h, rowvar=False)))[::-1]
    d = lam.size
    tails = np.cumsum(lam[::-1])[::-1]
    out = pd.DataFrame({"rank": np.arange(d), "pca_tail": tails, "i3_bound_gaussian": i3_curve(lam)})
    if entropy is not None:
        out["i3_bound"] = _bound("I1")(h_T=entropy, d=d, eps2=tails)
    return out


def _noisy(a: np.ndarray, noise_rel: float, rng: np.random.Generator):
    """``a + sigma xi`` with sigma = noise_rel * RMS of the centred coordinates; returns (noisy, sigma)."""
    sigma = noise_rel * float(np.sqrt(np.mean((a - a.mean(0)) ** 2)))
    return a + sigma * rng.standard_normal(a.shape), sigma


def _affine_clone_mse(hs_fit, ht_fit, hs_eval, ht_eval) -> float:
    """E||h_T - g(h_S)||^2 (summed over coordinates) on the eval rows, g affine least squares on fit rows."""
    a = np.hstack([hs_fit, np.ones((len(hs_fit), 1))])
    w, *_ = np.linalg.lstsq(a, ht_fit, rcond=None)
    pred = np.hstack([hs_eval, np.ones((len(hs_eval), 1))]) @ w
    return float(np.mean(np.sum((ht_eval - pred) ** 2, axis=1)))


def measure_pair(h_t, h_s, seq_id, cfg: CloningConfig, *, seed: int = 0) -> tuple[dict, list[dict]]:
    """Everything the records need for one (teacher, student) activation pair.

    ``h_t`` (n x d), ``h_s`` (n x r), ``seq_id`` (n,) the held-out sequence of each row (the clone read-out is
    fitted on even sequences and measured on odd ones). Returns (shared quantities, one dict per estimator
    with ``estimator``, ``mi``, ``ceiling``, ``mi_warning``: the estimator's one-line note when its known bias
    is large, e.g. KSG in 64 + r dimensions, else "").
    """
    from .entropy import gaussian_entropy, kl_entropy
    from .validate import estimate

    rng = np.random.default_rng(seed)
    h_t = np.asarray(h_t, float)
    h_s = np.asarray(h_s, float)
    d, r = h_t.shape[1], h_s.shape[1]
    ht_n, sig_t = _noisy(h_t, cfg.noise_rel, rng)
    hs_n, sig_s = _noisy(h_s, cfg.noise_rel, rng)
    fit = (np.asarray(seq_id) % 2) == 0
    eps2 = _affine_clone_mse(hs_n[fit], ht_n[fit], hs_n[~fit], ht_n[~fit])
    h_kl = kl_entropy(ht_n, k=cfg.kl_k)
    cov_t = np.cov(ht_n, rowvar=False)
    h_gauss = gaussian_entropy(cov=cov_t)
    lam = np.sort(np.linalg.eigvalsh(cov_t))[::-1]
    tail_r = float(np.sum(lam[min(r, d):])) if r < d else 0.0
    from bounds.information import i2_cap, i2_cap_eigen, i3_curve

    cov_s = np.atleast_2d(np.cov(h_s, rowvar=False))
    shared = {
        "clone_mse": eps2, "clone_mse_per_dim": eps2 / d,
        "teacher_entropy_kl": h_kl, "teacher_entropy_gaussian": h_gauss,
        "i1_bound": float(_bound("I1")(h_T=h_kl, d=d, eps2=eps2)),
        "i1_kind": "estimate", "i1_entropy": "kozachenko-leonenko",  # an estimated entropy: no bound (INFERENCE §5)
        "i1_bound_gaussian_entropy": float(_bound("I1")(h_T=h_gauss, d=d, eps2=eps2)),
        "i3_bound": float(_bound("I1")(h_T=h_kl, d=d, eps2=tail_r)) if r < d else float("inf"),
        "i3_bound_gaussian": float(i3_curve(lam)[r]) if r < d else float("inf"),
        "i2_cap": float(i2_cap(cov_s, sig_s)),
        "i2_cap_eigen": float(i2_cap_eigen(np.clip(np.linalg.eigvalsh(cov_s), 0, None), sig_s)),
        "noise_rel": cfg.noise_rel, "sigma_n_teacher": sig_t, "sigma_n_student": sig_s,
        "n_rows": int(h_t.shape[0]), "d_teacher": d, "d_student": r,
    }
    per_est = []
    for name in cfg.estimators:
        out = estimate(name, ht_n, hs_n, k=cfg.k, infonce=cfg.infonce, seed=seed)
        per_est.append({"estimator": name, "mi": out["estimate"], "ceiling": out["ceiling"],
                        "mi_warning": out["warning"]})
    return shared, per_est


# ---------------------------------------------------------------------------------------------- training
def _heldout(splits, cfg: CloningConfig):
    seqs = splits.heldout[:cfg.heldout_sequences]
    return seqs


def _activations(student, seqs, cfg: CloningConfig):
    """(h_t, h_s, seq_id) at cfg.layer/cfg.term on held-out inputs, positions < skip_positions dropped."""
    from empirical.training.measure import collect_activations

    inp = seqs[:, :-1]
    b, t = inp.shape
    h_t, h_s = collect_activations(student, inp, cfg.layer, cfg.term)
    pos = np.tile(np.arange(t), b)
    seq_id = np.repeat(np.arange(b), t)
    keep = pos >= min(cfg.skip_positions, t - 1)
    return h_t[keep], h_s[keep], seq_id[keep]


def _heldout_losses(student, seqs, dcfg) -> tuple[float, float]:
    """Held-out CE of the student (nats/token) and the LRC clone loss (sum of element-mean MSE terms)."""
    import torch
    import torch.nn.functional as F

    from empirical.config import CLONE_TERMS

    with torch.no_grad():
        inp, tgt = seqs[None, :, :-1], seqs[None, :, 1:]
        out = student(inp, terms=CLONE_TERMS)
        ce = F.cross_entropy(out.logits.float().reshape(-1, out.logits.shape[-1]), tgt.reshape(-1))
        clone = sum(v for v in out.clone.values())
    return float(ce), float(clone[0])


def _train(teacher, rank: int, dcfg, checkpoints, on_checkpoint):
    """Train one LRC student of ``rank`` with the recipe of ``dcfg`` through B's training loop
    (:func:`empirical.training.distill.train_students`, without its probe logging); ``on_checkpoint(step, student)``
    runs at each step in ``checkpoints`` (before that step's update) and at ``steps`` (after the last)."""
    from empirical.training.distill import train_students

    return train_students(dataclasses.replace(dcfg, rank=rank), teacher=teacher, log=False,
                          checkpoints=checkpoints, on_checkpoint=on_checkpoint).student


def run(cfg: CloningConfig | None = None, store=None, verbose: bool = False):
    """Run the experiment; returns a pandas DataFrame with :data:`COLUMNS` (one row per rank x step x
    estimator; ``is_final`` marks end-of-training rows, the MI-vs-rank view) — the input of
    ``figures.mutual_info``."""
    import pandas as pd
    import torch

    from empirical.data.corpus import make_splits
    from empirical.training.measure import log_spaced_steps
    from empirical.training.teacher_training import get_teacher

    cfg = cfg or CloningConfig()
    dcfg = _distill_config(cfg)
    teacher, t_record = get_teacher(dcfg.teacher, store=store, verbose=verbose)
    splits = make_splits(dcfg.teacher.data)
    splits.student_train(dcfg.samples)  # raises for an N larger than the corpus allows
    heldout = _heldout(splits, cfg)
    checkpoints = cfg.checkpoints if cfg.checkpoints is not None else log_spaced_steps(dcfg.steps,
                                                                                       cfg.n_checkpoints)
    traj_rank = cfg.trajectory_rank if cfg.trajectory_rank is not None else max(cfg.ranks)
    rows: list[dict] = []

    def record(rank):
        def on_checkpoint(step, student):
            t0 = time.perf_counter()
            student.eval()
            seqs = heldout.to(next(student.parameters()).device)  # the student trains on the config's device
            with torch.no_grad():
                h_t, h_s, seq_id = _activations(student, seqs, cfg)
            test_loss, clone_lrc = _heldout_losses(student, seqs, dcfg)
            shared, per_est = measure_pair(h_t, h_s, seq_id, cfg, seed=cfg.seed)
            for e in per_est:
                rows.append({"track": "cloning", "rank": rank, "step": step, "steps_total": dcfg.steps,
                             "is_final": step == dcfg.steps, "layer": cfg.layer, "term": cfg.term, **e,
                             "clone_mse_lrc": clone_lrc, "test_loss": test_loss, **shared, "seed": cfg.seed,
                             "seconds": time.perf_counter() - t0})
            if verbose:
                mis = ", ".join(f"{e['estimator']} {e['mi']:.2f}" for e in per_est)
                print(f"rank {rank} step {step}: clone MSE {shared['clone_mse']:.3g}, I1 {shared['i1_bound']:.2f}, "
                      f"I2 cap {shared['i2_cap']:.1f}; MI {mis}", flush=True)
        return on_checkpoint

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        for rank in cfg.ranks:
            marks = checkpoints if rank == traj_rank else ()
            _train((teacher, t_record), rank, dcfg, marks, record(rank))
        if traj_rank not in cfg.ranks:
            _train((teacher, t_record), traj_rank, dcfg, checkpoints, record(traj_rank))
    df = pd.DataFrame(rows)
    return df[[c for c in COLUMNS if c in df.columns]]
