r"""I1 / I2 / I3 and the MI estimators on jointly Gaussian teacher/student activations with known MI
(INFERENCE.md §5: validate every bound path where the truth is known before it is used on real activations).

**Planted pair.** Teacher :math:`h_T\sim N(0,\Sigma_T)` in :math:`\mathbb R^d` with a power-law spectrum
:math:`\lambda_k = k^{-1}` in a Haar-random basis (activations have decaying spectra); student
:math:`h_S = A h_T + \eta\in\mathbb R^r`, :math:`\eta\sim N(0, s^2 I_r)`, with ``A`` the top-r principal
directions (``"pca"``, the best rank-r linear student) or a Gaussian matrix (``"random"``). The pair goes
through :func:`.cloning.measure_pair`, the code path used on real activations, which reads both sides through
Gaussian noise of std :math:`\sigma_T, \sigma_S` (``noise_rel`` x RMS). The quantity every number targets is
then known in closed form (THEORY.md, Gaussian MI):

.. math:: I(\tilde h_T;\tilde h_S) = \tfrac12\log\frac{\det C_{TT}\,\det C_{SS}}{\det C},\quad
          C = \begin{pmatrix}\Sigma_T+\sigma_T^2 I & \Sigma_T A^\top\\ A\Sigma_T & A\Sigma_T A^\top
          + (s^2+\sigma_S^2) I\end{pmatrix},

and so is the teacher entropy :math:`h(\tilde h_T) = \tfrac12\log((2\pi e)^d\det(\Sigma_T+\sigma_T^2 I))`.

**What is a bound.** I1 :math:`= h(\tilde h_T) - \tfrac d2\log(2\pi e\,\varepsilon^2/d)` is a lower bound on
the MI when :math:`h(\tilde h_T)` is exact (``i1_true_entropy``, role ``"lower bound"``). With the
Kozachenko-Leonenko entropy (``i1_kl_entropy``, what the cloning rows report) it is an *estimate*: the KL
entropy's bias in 64 dimensions is several nats, with a sign that depends on the data (role ``"estimate"``).
The Gaussian plug-in entropy of the sample covariance (``i1_gaussian_entropy``) is exact in expectation up to
the Wishart bias (about :math:`-d^2/(4n)` nats, which makes I1 smaller) for a Gaussian teacher only: a bound
here, an overstatement for non-Gaussian activations. I2 (``i2_cap``) is an upper bound. I3 (``i3_*``) is I1 at
the PCA-tail MSE, the smallest MSE any rank-r affine read-out can reach (Eckart-Young), so I3 >= I1 for every
affine clone: it is the best I1 certificate a rank-r linear clone could give, *not* a bound on this student's
MI (role ``"reference"``).

Cost: :func:`gaussian_bound_check` at the quick preset's sizes (d = 64, n = 1792, ranks 2, 8, 32, two
students, one seed; Gaussian and KSG estimators) took 8.8 s on the shared 2-core machine at load ~6, of which
about 4 s is importing torch (KSG's brute-force path) and 0.7 s a case is KSG in 64 + r dimensions; InfoNCE
(``estimators=(..., "infonce")``) adds its critic training, several seconds a case.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

#: (quantity, role); a lower bound must be <= the true MI, a cap >= it
QUANTITIES = (("i1_true_entropy", "lower bound"), ("i1_gaussian_entropy", "lower bound"),
              ("i1_kl_entropy", "estimate"), ("i3_gaussian", "reference"), ("i3_kl", "reference"),
              ("i2_cap", "upper bound"))


@dataclass(frozen=True)
class BoundCheckSizes:
    """Sizes of the planted cases: the quick preset's cloning experiment by default (teacher width 64,
    128 held-out sequences x 14 kept positions = 1792 rows, the MI grid's ranks)."""

    d: int = 64
    n: int = 1792
    positions: int = 14  # rows per held-out sequence (the clone read-out is fitted on even sequences)
    ranks: tuple[int, ...] = (2, 8, 32)
    students: tuple[str, ...] = ("pca", "random")
    student_noise: float = 0.3  # s / RMS of A h_T
    noise_rel: float = 0.2  # the cloning experiment's resolution
    seeds: tuple[int, ...] = (0,)
    estimators: tuple[str, ...] = ("gaussian", "ksg")  # + "infonce": ~5-10 s a case more (critic training)


def planted_pair(d: int, r: int, n: int, student: str, student_noise: float, rng: np.random.Generator):
    """``(h_t, h_s, sigma_t, cov_joint)``: n samples of the planted Gaussian pair (module docstring) and its
    population covariance (teacher first); ``sigma_t`` is unused here (the noise is added by measure_pair)."""
    from .samples import random_rotation

    lam = 1.0 / np.arange(1, d + 1)
    q = random_rotation(d, rng)
    cov_t = (q * lam) @ q.T
    if student == "pca":
        a = q[:, :r].T
    elif student == "random":
        a = rng.standard_normal((r, d)) / np.sqrt(d)
    else:
        raise ValueError(f"student must be 'pca' or 'random', got {student!r}")
    signal = a @ cov_t @ a.T
    s2 = student_noise**2 * float(np.trace(signal)) / r
    cov_s = signal + s2 * np.eye(r)
    cov = np.block([[cov_t, cov_t @ a.T], [a @ cov_t, cov_s]])
    h_t = rng.standard_normal((n, d)) @ np.linalg.cholesky(cov_t).T
    h_s = h_t @ a.T + np.sqrt(s2) * rng.standard_normal((n, r))
    return h_t, h_s, cov


def _noisy_truth(cov: np.ndarray, d: int, sig_t: float, sig_s: float) -> tuple[float, float]:
    """(true MI of the noise-read pair, true entropy of the noisy teacher), nats."""
    from bounds.information import gaussian_mi

    from .entropy import gaussian_entropy

    c = cov.copy()
    c[:d, :d] += sig_t**2 * np.eye(d)
    c[d:, d:] += sig_s**2 * np.eye(c.shape[0] - d)
    return float(gaussian_mi(c, d)), gaussian_entropy(cov=c[:d, :d])


def run(sizes: BoundCheckSizes | None = None):
    """Every case of ``sizes``: a tidy DataFrame, one row per (case, quantity) with ``rank, student, seed,
    quantity, role, value, true_mi, error`` (value - truth), ``right_side`` (lower bound <= truth, cap >=
    truth; NaN for estimates and references), ``kind`` ("bound" / "estimate" / "reference"), ``seconds``.
    Estimators appear as quantities ``mi_<name>`` with role ``"estimator"``."""
    import pandas as pd

    from bounds import catalog

    from .cloning import CloningConfig, measure_pair

    sizes = sizes or BoundCheckSizes()
    cfg = CloningConfig(noise_rel=sizes.noise_rel, estimators=sizes.estimators)
    i1 = catalog.get("I1")
    rows = []
    for seed in sizes.seeds:
        for r in sizes.ranks:
            for student in sizes.students:
                t0 = time.perf_counter()
                rng = np.random.default_rng([seed, r, sizes.d, sizes.n, len(student)])
                h_t, h_s, cov = planted_pair(sizes.d, r, sizes.n, student, sizes.student_noise, rng)
                seq_id = np.arange(sizes.n) // sizes.positions
                shared, per_est = measure_pair(h_t, h_s, seq_id, cfg, seed=seed)
                truth, h_true = _noisy_truth(cov, sizes.d, shared["sigma_n_teacher"], shared["sigma_n_student"])
                values = {
                    "i1_true_entropy": float(i1(h_T=h_true, d=sizes.d, eps2=shared["clone_mse"])),
                    "i1_gaussian_entropy": shared["i1_bound_gaussian_entropy"],
                    "i1_kl_entropy": shared["i1_bound"],
                    "i3_gaussian": shared["i3_bound_gaussian"], "i3_kl": shared["i3_bound"],
                    "i2_cap": shared["i2_cap"],
                }
                roles = dict(QUANTITIES)
                seconds = time.perf_counter() - t0
                for q, v in values.items():
                    rows.append(_row(seed, r, student, q, roles[q], v, truth, seconds))
                for e in per_est:
                    rows.append(_row(seed, r, student, f"mi_{e['estimator']}", "estimator", e["mi"], truth, seconds))
    return pd.DataFrame(rows)


def _row(seed, r, student, quantity, role, value, truth, seconds) -> dict:
    right = {"lower bound": value <= truth, "upper bound": value >= truth}.get(role, float("nan"))
    kind = {"lower bound": "bound", "upper bound": "bound", "estimate": "estimate"}.get(role, role)
    return {"seed": seed, "rank": r, "student": student, "quantity": quantity, "role": role, "kind": kind,
            "value": float(value), "true_mi": truth, "error": float(value) - truth, "right_side": right,
            "seconds": seconds}


def gaussian_bound_check(sizes: BoundCheckSizes | None = None) -> dict:
    """Summary for the report: per quantity, on how many planted cases it lies on the right side of the true
    MI (``"I1 (true entropy) <= true MI in k of n cases"``), per estimator the mean and worst bias (nats),
    and the wall time. Keys: ``cases``, ``quantities`` (quantity -> dict(role, kind, right_side, of,
    mean_error, worst_error, text)), ``seconds``, ``sizes``."""
    import dataclasses

    t0 = time.perf_counter()
    sizes = sizes or BoundCheckSizes()
    df = run(sizes)
    out = {}
    for q, g in df.groupby("quantity", sort=False):
        role = g["role"].iloc[0]
        worst = g.loc[g["error"].abs().idxmax(), "error"]
        entry = {"role": role, "kind": g["kind"].iloc[0], "of": int(len(g)), "mean_error": float(g["error"].mean()),
                 "worst_error": float(worst)}
        if role in ("lower bound", "upper bound"):
            k = int(g["right_side"].astype(bool).sum())
            entry["right_side"] = k
            rel = "<=" if role == "lower bound" else ">="
            entry["text"] = f"{q} {rel} true MI in {k} of {len(g)} cases"
        else:
            above = int((g["error"] > 0).sum())
            entry["above_truth"] = above
            entry["text"] = (f"{q} ({role}): above the true MI in {above} of {len(g)} cases, "
                             f"mean error {entry['mean_error']:+.2f} nats")
        out[q] = entry
    return {"cases": int(df.groupby(["seed", "rank", "student"]).ngroups), "quantities": out,
            "seconds": time.perf_counter() - t0, "sizes": dataclasses.asdict(sizes)}
