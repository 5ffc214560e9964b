"""The cloning experiment: measurements on a jointly Gaussian teacher/student pair against closed forms,
and an end-to-end smoke run through the LRC student (records usable by figures.mutual_info)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from empirical.mi import cloning


def _logdet(a):
    return np.linalg.slogdet(a)[1]


@pytest.fixture(scope="module")
def gaussian_case():
    rng = np.random.default_rng(0)
    d, r, n = 6, 2, 6000
    b = rng.standard_normal((d, d))
    cov_t = b @ b.T / d + 0.2 * np.eye(d)
    h_t = rng.multivariate_normal(np.zeros(d), cov_t, size=n)
    a = rng.standard_normal((d, r))
    h_s = h_t @ a  # a deterministic rank-r linear student
    cfg = cloning.CloningConfig(noise_rel=0.3, estimators=("gaussian",))
    shared, per_est = cloning.measure_pair(h_t, h_s, np.arange(n) // 50, cfg, seed=1)
    return dict(d=d, r=r, h_t=h_t, h_s=h_s, a=a, cov_t=cov_t, shared=shared, per_est=per_est)


def test_noise_levels_are_stated_fraction_of_rms(gaussian_case):
    c = gaussian_case
    for key, h in (("sigma_n_teacher", c["h_t"]), ("sigma_n_student", c["h_s"])):
        assert c["shared"][key] == pytest.approx(0.3 * np.sqrt(np.mean((h - h.mean(0)) ** 2)), rel=1e-12)


def test_measure_pair_against_gaussian_closed_form(gaussian_case):
    c = gaussian_case
    s, d, r = c["shared"], c["d"], c["r"]
    st, ss = s["sigma_n_teacher"], s["sigma_n_student"]
    # population covariance of (h_T + xi_T, A^T h_T + xi_S), with the sample covariance of h_T as Sigma_T
    ct = np.cov(c["h_t"], rowvar=False)
    tt = ct + st**2 * np.eye(d)
    ts = ct @ c["a"]
    sss = c["a"].T @ ct @ c["a"] + ss**2 * np.eye(r)
    truth = 0.5 * (_logdet(tt) + _logdet(sss) - _logdet(np.block([[tt, ts], [ts.T, sss]])))
    mi = {e["estimator"]: e["mi"] for e in c["per_est"]}
    assert mi["gaussian"] == pytest.approx(truth, abs=0.05)
    # clone MSE of the best affine read-out = trace of the conditional covariance
    eps2 = np.trace(tt - ts @ np.linalg.solve(sss, ts.T))
    assert s["clone_mse"] == pytest.approx(eps2, rel=0.05)
    assert s["clone_mse_per_dim"] == pytest.approx(eps2 / d, rel=0.05)
    # I1 (typed here from THEORY.md I1 as an independent reference) is a lower bound, I2 a cap
    i1 = s["teacher_entropy_kl"] - d / 2 * np.log(2 * np.pi * np.e * s["clone_mse"] / d)
    assert s["i1_bound"] == pytest.approx(i1, rel=1e-12)
    assert s["i1_bound"] <= truth + 0.05
    assert truth <= s["i2_cap_eigen"] <= s["i2_cap"] + 1e-9
    cov_s = np.atleast_2d(np.cov(c["h_s"], rowvar=False))
    assert s["i2_cap"] == pytest.approx(r / 2 * np.log1p(np.trace(cov_s) / (r * ss**2)), rel=1e-12)
    # entropies: KL close to the Gaussian closed form, and the Gaussian plug-in equal to it
    h_true = 0.5 * (d * np.log(2 * np.pi * np.e) + _logdet(tt))
    assert s["teacher_entropy_gaussian"] == pytest.approx(h_true, abs=0.05)
    assert s["teacher_entropy_kl"] == pytest.approx(h_true, abs=0.3)
    # I3 >= I1 (the affine read-out has rank <= r, so its MSE is at least the PCA tail)
    assert s["i3_bound"] >= s["i1_bound"]
    lam = np.sort(np.linalg.eigvalsh(tt))[::-1]
    i3g = 0.5 * np.sum(np.log(lam)) - d / 2 * np.log(lam[r:].sum() / d)
    assert s["i3_bound_gaussian"] == pytest.approx(i3g, abs=0.05)


def test_pca_curve_increasing_and_matches_reference():
    rng = np.random.default_rng(3)
    h = rng.standard_normal((3000, 5)) * np.array([3.0, 2.0, 1.0, 0.5, 0.2])
    curve = cloning.pca_curve(h, noise_rel=0.1, entropy=-1.0)
    assert list(curve["rank"]) == [0, 1, 2, 3, 4]
    assert np.all(np.diff(curve["i3_bound_gaussian"]) > 0) and np.all(np.diff(curve["i3_bound"]) > 0)
    np.testing.assert_allclose(curve["i3_bound"], -1.0 - 5 / 2 * np.log(2 * np.pi * np.e * curve["pca_tail"] / 5))


@pytest.fixture
def one_torch_thread():
    """Tiny models run several times faster on one thread, and far faster when the CPU is shared."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def test_smoke_run_end_to_end(tmp_path, one_torch_thread):
    from empirical.cache.store import ResultStore
    from figures import mutual_info

    cfg = dataclasses.replace(cloning.preset("smoke"), estimators=("gaussian", "ksg"))
    df = cloning.run(cfg, store=ResultStore(tmp_path))
    assert list(df.columns) == list(cloning.COLUMNS)
    steps = sorted(df.loc[df["rank"] == 8, "step"].unique())
    assert steps[0] == 0 and steps[-1] == cfg.distill.steps and len(steps) >= 3
    assert sorted(df.loc[df["rank"] == 2, "step"].unique()) == [cfg.distill.steps]
    assert len(df) == 2 * (len(steps) + 1)
    assert (df.groupby(["rank", "step"])["estimator"].nunique() == 2).all()
    assert df["mi"].notna().all() and np.isfinite(df["i1_bound"]).all() and (df["i2_cap"] > 0).all()
    assert (df["d_student"] == df["rank"]).all() and (df["d_teacher"] == 16).all()
    traj = df[(df["rank"] == 8) & (df["estimator"] == "gaussian")].sort_values("step")
    assert traj["clone_mse_lrc"].iloc[-1] < traj["clone_mse_lrc"].iloc[0]  # training lowers LRC's clone loss
    fig_df = mutual_info.compute(df)
    assert {"vs rank", "vs step"} <= set(fig_df["panel"])
