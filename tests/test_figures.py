"""Figure modules: compute(...) returns the long frame of what is drawn, plot(df) renders under Agg and draws
the expected number of curves of each kind (counted by artist gid); figures.io writes PNG + PDF + CSV.
No pixel baselines. Data come from the small real computations of test_tightness (reduced-rank regression,
SGD on least squares)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from bounds import tightness  # noqa: E402
from figures import convergence, gen_rank, gen_samples, io, mutual_info, optimal_rank, style  # noqa: E402
from figures import tightness as tightness_fig  # noqa: E402
from test_tightness import rrr_runs, sgd_traj  # noqa: E402


@pytest.fixture(scope="module")
def tables():
    runs = rrr_runs(ranks=(1, 2, 4, 8), samples=(64, 128, 256, 512), seeds=(0, 1, 2)).assign(experiment="gen")
    runs["config_hash"] = [f"g{i}" for i in range(len(runs))]
    # a bounded-loss stand-in so the explicit bounds can be evaluated: losses clipped at B = 4 (nats-like units)
    B = 4.0
    runs = runs.assign(train_loss_smoothed=runs["train_loss"].clip(upper=B), test_loss_smoothed=runs["test_loss"].clip(upper=B),
                       loss_range_B=B, lipschitz=1.0, param_norm=3.0)
    conv, traj = sgd_traj(seeds=(0, 1))
    conv = conv.assign(experiment="conv", rank=conv["rank"] * 0 + np.array([2, 2]))
    all_runs = tightness._finish_runs(pd.concat([runs, conv], ignore_index=True))
    t = tightness.Tables(runs=all_runs, traj=traj, mi=pd.DataFrame())
    return t, tightness.judge(t)


def _kinds(df, panel=None):
    d = df if panel is None else df[df["panel"] == panel]
    return d.groupby("kind")["series"].nunique().to_dict()


def horizon_tables(t):
    """``t`` plus the synthetic track's horizon experiment (real runs: one SGD run per T at eta*(T), two ranks,
    three datasets) and the claim C report on both."""
    from empirical.sweep import runners
    from empirical.synthetic import SyntheticConfig, run

    cfgs = [SyntheticConfig(m=8, d=8, noise=0.5, rank=r, samples=64, steps=T, seed=s, optimizer="sgd",
                            experiment="horizon", lr_rule="c1_horizon", batch_size=8, n_log_points=0)
            for r in (1, 2) for s in (0, 1, 2) for T in (20, 40, 80, 160, 320, 640, 1280)]
    hz = runners.runs_table([runners.complete_record(c, run(c)) for c in cfgs])
    runs = tightness._finish_runs(pd.concat([t.runs, hz], ignore_index=True))
    t2 = tightness.Tables(runs=runs, traj=t.traj, mi=t.mi)
    return t2, {"claims": {"C": tightness.claim_C(runs, t.traj, n_boot=200)}}


def _c1_oracle(rows, T):
    """C1, 2 Delta/(eta T) + beta eta sigma^2 (Ghadimi & Lan), typed here as the oracle."""
    return 2 * rows["delta"] / (rows["lr"] * T) + rows["beta"] * rows["lr"] * rows["sigma2"]


def test_convergence_horizon_panel_is_the_rate_test(tables):
    """Layout after the judge moved (issue 12 item 8): the rate test's fit is the horizon experiment's
    (``by_track``/``fits``), drawn on its own panel with the measured points, C1 at each T and the -1/2
    reference; the fixed-eta running average is a second panel whose fitted slope is labelled a description."""
    t, rep = horizon_tables(tables[0])
    df = convergence.compute(t.runs, t.traj, rep)
    assert np.isfinite(df[["x", "y", "lo", "hi"]]).all().all()
    hz_panel, fixed_panel = convergence._panel(convergence.HORIZON, "synthetic"), convergence._panel(convergence.FIXED, "synthetic")
    assert list(dict.fromkeys(df["panel"]))[0] == hz_panel
    h = df[df["panel"] == hz_panel]
    assert _kinds(df, hz_panel) == {"measured": 2, "theory": 2, "fitlaw": 1, "fitted": 1, "note": 2}
    runs = t.runs[t.runs["experiment"] == "horizon"]
    for r, g in runs.groupby("rank"):
        meas = h[(h["kind"] == "measured") & h["series"].str.endswith(f"r={r:g}")].set_index("x")
        want = g.groupby("horizon")["grad_norm_sq_running_avg"].agg(["mean", "min", "max"])
        np.testing.assert_allclose(meas.loc[want.index.to_numpy(float), ["y", "lo", "hi"]].to_numpy(), want.to_numpy())
        th = h[(h["kind"] == "theory") & h["series"].str.contains(f"r={r:g} ")].set_index("x")
        bound = g.assign(c1=_c1_oracle(g, g["horizon"])).groupby("horizon")["c1"].median()
        np.testing.assert_allclose(th.loc[bound.index.to_numpy(float), "y"], bound.to_numpy(), rtol=1e-9)
    fits = rep["claims"]["C"]["by_track"]["synthetic"]["fits"]
    fit = fits["upper half"]
    law = h[h["kind"] == "fitlaw"].sort_values("x")
    assert np.polyfit(np.log(law["x"]), np.log(law["y"]), 1)[0] == pytest.approx(fit["exponent"], abs=1e-9)
    assert (law["x"].min(), law["x"].max()) == pytest.approx(tuple(fit["span"]))
    assert "upper half" in law["series"].iloc[0] and "fitted" in law["series"].iloc[0]
    ref = h[h["kind"] == "fitted"].sort_values("x")
    assert np.polyfit(np.log(ref["x"]), np.log(ref["y"]), 1)[0] == pytest.approx(-0.5)
    verdict = rep["claims"]["C"]["by_track"]["synthetic"]["verdict"]
    assert any(verdict in n for n in h.loc[h["kind"] == "note", "series"])
    # the fixed-eta panel: the old trajectories, their slope labelled a description, no -1/2 reference there
    f = df[df["panel"] == fixed_panel]
    desc = next(d for d in rep["claims"]["C"]["description_fits"] if d["track"] == "synthetic")
    dl = f[f["kind"] == "fitlaw"].sort_values("x")
    assert np.polyfit(np.log(dl["x"]), np.log(dl["y"]), 1)[0] == pytest.approx(desc["exponent"], abs=1e-9)
    assert dl["series"].iloc[0].startswith("description") and (f["kind"] != "fitted").all()
    fig = convergence.plot(df)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert any("description" in tt for tt in titles) and any("η*(T)" in tt for tt in titles)


def test_convergence_draws_measured_bound_and_fitted(tables):
    """The fixed-eta panel alone (no horizon experiment: the judge has no rate fit). Was: one panel per track whose
    fitted law came from ``claims.C.fits``; now that slope is ``description_fits`` and no -1/2 reference is drawn
    over the fixed-eta data."""
    t, rep = tables
    df = convergence.compute(t.runs, t.traj, rep)
    assert set(df.columns) >= set(style.COLUMNS) and np.isfinite(df[["x", "y", "lo", "hi"]]).all().all()
    ranks = t.runs.loc[t.runs["experiment"] == "conv", "rank"].nunique()
    k = _kinds(df)
    assert k["measured"] == ranks and k["theory"] == ranks and k["fitlaw"] == 1 and "fitted" not in k
    fit = next(f for f in rep["claims"]["C"]["description_fits"] if f["track"] == "synthetic")
    law = df[df["kind"] == "fitlaw"].sort_values("x")
    slope = np.polyfit(np.log(law["x"]), np.log(law["y"]), 1)[0]
    assert slope == pytest.approx(fit["exponent"], abs=1e-9)
    assert (law["x"].min(), law["x"].max()) == pytest.approx(tuple(fit["span"]))
    # the plotted C1 line is 2 Delta/(eta T) + beta eta sigma^2 at each run's measured constants, median over
    # seeds, at every logged step T >= 1
    conv = t.runs[t.runs["experiment"] == "conv"]
    th = df[df["kind"] == "theory"].sort_values("x")
    want = {T: np.median(_c1_oracle(conv, T)) for T in th["x"].unique()}
    np.testing.assert_allclose(th["y"].to_numpy(), [want[x] for x in th["x"]], rtol=1e-9)
    fig = convergence.plot(df)
    assert style.count_curves(fig, style.GID_MEASURED) == ranks
    assert style.count_curves(fig, style.GID_THEORY) == ranks
    assert style.count_curves(fig, style.GID_FITTED) == 1  # the description's fitted law
    labels = [ln.get_label() for ax in fig.axes for ln in ax.get_lines() if ln.get_gid() == style.GID_FITTED]
    assert all("fitted" in lb for lb in labels)
    assert "nats" in fig.axes[0].get_ylabel()


@pytest.mark.parametrize("module, vary", [(gen_rank, "rank"), (gen_samples, "samples")])
def test_generalization_figures(tables, module, vary):
    t, rep = tables
    df = module.compute(t.runs, rep)
    assert np.isfinite(df[["x", "y", "lo", "hi"]]).all().all()
    k = _kinds(df, "synthetic")
    # measured gap, G1 with a fitted constant, the fitted law; G2 and G3 explicit; the loss range B
    assert k == {"measured": 1, "fitted": 1, "fitlaw": 1, "theory": 2, "ceiling": 1}
    meas = df[(df["kind"] == "measured")]
    gen = t.runs[t.runs["experiment"] == "gen"]
    fixed = "samples" if vary == "rank" else "rank"
    level = sorted(gen[fixed].unique())[len(gen[fixed].unique()) // 2]
    expect = gen[gen[fixed] == level].groupby(vary)["gap"].mean()
    expect = expect[expect > 0]
    np.testing.assert_allclose(meas.set_index("x")["y"].loc[expect.index.to_numpy(float)], expect.to_numpy())
    fig = module.plot(df)
    assert style.count_curves(fig, style.GID_MEASURED) == 1
    assert style.count_curves(fig, style.GID_FITTED) == 2
    assert style.count_curves(fig, style.GID_THEORY) == 2
    assert fig.axes[0].get_xscale() == "log" and fig.axes[0].get_yscale() == "log"


def test_optimal_rank_figure(tables):
    t, rep = tables
    df = optimal_rank.compute(t.runs, rep)
    n_samples = t.runs.loc[t.runs["experiment"] == "gen", "samples"].nunique()
    assert _kinds(df, "U synthetic")["measured"] == n_samples
    rstar = df[(df["panel"] == "r*") & (df["kind"] == "measured")]
    cens = df[(df["panel"] == "r*") & (df["kind"] == "censored")]
    # brute force, independent of the report code: the argmin over ranks of the seed-mean held-out loss; at an
    # edge of the grid it is censored and drawn only as a one-sided marker at that edge, inside it as a point
    # whose interval contains it (r* = 1 at the bottom of a grid starting at 1 is exact, not censored)
    gen = t.runs[(t.runs["experiment"] == "gen") & (t.runs["status"] == "ok")]
    for n, g in gen.groupby("samples"):
        mean = g.groupby("rank")["test_loss"].mean()
        r = mean.idxmin()
        if r == mean.index.max() or (r == mean.index.min() > 1):
            row = cens[cens["x"] == n]
            assert len(row) == 1 and row["y"].iloc[0] == r and not len(rstar[rstar["x"] == n]), n
            assert ("≥" in row["series"].iloc[0]) == (r == mean.index.max())
        else:
            row = rstar[rstar["x"] == n]
            assert len(row) == 1 and row["y"].iloc[0] == r and row["lo"].iloc[0] <= r <= row["hi"].iloc[0], n
    # the synthetic U-curves are rescaled per N by their seed mean: 0 at its argmin, 1 at its max
    u = df[(df["panel"] == "U synthetic") & (df["kind"] == "measured")]
    for _, g in u.groupby("series"):
        assert g["y"].min() == pytest.approx(0.0) and g["y"].max() == pytest.approx(1.0)
    fig = optimal_rank.plot(df)
    assert style.count_curves(fig, style.GID_MEASURED) == n_samples + (len(rstar) > 0)
    assert style.count_curves(fig, style.GID_CENSORED) == cens["series"].nunique()


def test_optimal_rank_censored_transformer_is_one_sided_and_labels_tokens():
    """A transformer track whose loss falls with rank at every N: every r* is censored (r* >= 16), drawn as
    upward triangles, with no line through them; the U-curve labels give N in sequences and tokens."""
    rows = [{"track": "transformer", "status": "ok", "experiment": "gen", "rank": r, "samples": n, "seed": s,
             "tokens": n * 64, "test_loss": 3.0 - 0.1 * np.log2(r) + 0.01 * s}
            for r in (4, 8, 16) for n in (32, 128) for s in (0, 1, 2)]
    df = optimal_rank.compute(pd.DataFrame(rows), None)
    r = df[df["panel"] == "r*"]
    assert set(r["kind"]) == {"censored"} and set(r["y"]) == {16.0} and "≥" in r["series"].iloc[0]
    assert set(df.loc[df["panel"] == "U transformer", "series"]) == {"N=32 seq = 2,048 tok", "N=128 seq = 8,192 tok"}
    fig = optimal_rank.plot(df)
    ax = next(a for a in fig.axes if a.get_title().startswith("r*"))
    (ln,) = [ln for ln in ax.get_lines() if ln.get_gid() == style.GID_CENSORED and len(ln.get_xdata())]
    assert ln.get_linestyle() == "None" and ln.get_marker() == "^"


def test_tightness_figure(tables):
    t, _ = tables
    df = tightness_fig.compute(t.runs)
    gen = t.runs[t.runs["experiment"] == "gen"]
    ranks = gen["rank"].nunique()
    k3 = _kinds(df, "G3")
    assert k3["measured"] == ranks and k3["ceiling"] == ranks + 1
    pts = tightness.g_bound_points(gen)
    r = pts[pts["rank"] == 1].groupby("samples").apply(lambda g: (g["g3_bound"] / g["test_loss_smoothed"]).mean(),
                                                       include_groups=False)
    got = df[(df["panel"] == "G3") & (df["kind"] == "measured") & (df["series"].str.startswith("r=1 "))]
    np.testing.assert_allclose(got.set_index("x")["y"].loc[r.index.to_numpy(float)], r.to_numpy())
    fig = tightness_fig.plot(df)
    assert style.count_curves(fig, style.GID_MEASURED) == sum(_kinds(df, p).get("measured", 0) for p in ("G2", "G3"))


def test_mutual_info_figure_from_a_gaussian_computation():
    """A jointly Gaussian teacher/student pair with known MI: the drawn estimate is the table's, the cap dashed."""
    rng = np.random.default_rng(0)
    rows = []
    for r in (1, 2, 4):
        for step in (10, 100):
            rho = np.linspace(0.9, 0.5, r) * (1 - 1 / step)
            exact = -0.5 * np.sum(np.log(1 - rho**2))
            rows.append(dict(rank=r, step=step, estimator="gaussian", mi=exact + 0.01 * rng.standard_normal(),
                             clone_mse=1 - rho.mean(), i1_bound=exact * 0.5, i3_bound=exact * 0.7,
                             i2_cap=0.5 * r * np.log(1 + 1 / 0.01)))
    mi = pd.DataFrame(rows)
    df = mutual_info.compute(mi)
    assert _kinds(df, "vs rank") == {"measured": 1, "theory": 2, "ceiling": 1}
    fig = mutual_info.plot(df)
    assert style.count_curves(fig, style.GID_MEASURED) == 2  # vs rank and vs step
    assert style.count_curves(fig, style.GID_CEILING) == 2


def test_empty_frames_still_render():
    for module in (gen_rank, gen_samples, optimal_rank, tightness_fig, mutual_info, convergence):
        fig = module.plot(pd.DataFrame(columns=style.COLUMNS))
        assert fig.axes


def test_io_writes_png_pdf_and_the_drawn_csv(tmp_path, tables):
    t, rep = tables
    df = gen_rank.compute(t.runs, rep)
    paths = io.save(gen_rank.plot(df), df, tmp_path, "gen_rank")
    assert paths["png"].read_bytes()[:4] == b"\x89PNG" and paths["pdf"].read_bytes()[:4] == b"%PDF"
    back = pd.read_csv(paths["csv"])
    pd.testing.assert_frame_equal(back, df.reset_index(drop=True), check_dtype=False)
