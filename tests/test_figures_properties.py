"""Properties every figure must have, checked on the drawn artists (no pixels):

1. every drawn series has a legend entry, or is a faint raw trace, or belongs to a family whose one legend entry
   is in the panel (``figures.style.FAMILY_ATTR``), or is a marked band cut whose entry is in the panel;
2. no two differently named series in one panel share colour *and* style (line style, marker, width, alpha);
3. the axis limits contain every drawn point, and every band unless the panel marks its cuts (``GID_CLIPPED``).

The checks are applied to each figure module built from small synthetic data, and shown to fail on planted bad
figures (a test that cannot fail checks nothing).
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from figures import style  # noqa: E402

# ------------------------------------------------------------------------------------------------ the checks


def _lines(ax):
    return [ln for ln in ax.get_lines() if len(ln.get_xdata()) and ln.get_visible()]


def _axes(fig):
    return [ax for ax in fig.axes if ax.get_visible() and ax.axison]


def _legend_texts(ax) -> list[str]:
    leg = ax.get_legend()
    return [t.get_text() for t in leg.get_texts()] if leg is not None else []


def unlegended_series(fig) -> list[str]:
    """Drawn series that a reader cannot name from the legend."""
    bad = []
    for ax in _axes(fig):
        texts = _legend_texts(ax)
        for ln in _lines(ax):
            gid, label = ln.get_gid(), ln.get_label()
            if gid == style.GID_RAW and ln.get_alpha() is not None and ln.get_alpha() <= 0.5:
                continue  # faint raw traces: one legend entry per panel names them all
            family = getattr(ln, style.FAMILY_ATTR, None)
            if family is not None and any(t.startswith(family) for t in texts):
                continue
            if gid == style.GID_CLIPPED and any(ln2.get_gid() == style.GID_CLIPPED and ln2.get_label() in texts
                                                 for ln2 in _lines(ax)):
                continue
            if label.startswith("_") or label not in texts:
                bad.append(f"{ax.get_title()!r}: {label!r}")
    return bad


def _look(ln) -> tuple:
    alpha = ln.get_alpha()
    return (to_hex(ln.get_color()), str(ln.get_linestyle()), str(ln.get_marker()), round(float(ln.get_linewidth()), 2),
            None if alpha is None else round(float(alpha), 2))


def lookalike_series(fig) -> list[str]:
    """Pairs of differently named series in one panel drawn in the same colour and style."""
    bad = []
    for ax in _axes(fig):
        seen: dict[tuple, str] = {}
        for ln in _lines(ax):
            if ln.get_gid() in (style.GID_RAW, style.GID_CLIPPED):
                continue
            name = getattr(ln, style.FAMILY_ATTR, None) or ln.get_label()
            look = _look(ln)
            if look in seen and seen[look] != name:
                bad.append(f"{ax.get_title()!r}: {seen[look]!r} and {name!r} look alike {look}")
            seen.setdefault(look, name)
    return bad


def _outside(values, lim, log: bool) -> np.ndarray:
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    lo, hi = sorted(lim)
    tol = 1e-9 * max(abs(lo), abs(hi), 1e-300)
    out = (v < lo - tol) | (v > hi + tol)
    return v[out | (v <= 0)] if log else v[out]


def points_outside_limits(fig) -> list[str]:
    """Drawn points or band edges outside the axis limits, in panels that do not mark a cut."""
    bad = []
    for ax in _axes(fig):
        marked = any(ln.get_gid() == style.GID_CLIPPED for ln in _lines(ax))
        logx, logy = ax.get_xscale() == "log", ax.get_yscale() == "log"
        for ln in _lines(ax):
            tr = ln.get_transform()
            check_x = tr in (ax.transData, ax.get_xaxis_transform())
            check_y = tr in (ax.transData, ax.get_yaxis_transform())
            if check_x and len(o := _outside(ln.get_xdata(), ax.get_xlim(), logx)):
                bad.append(f"{ax.get_title()!r}: {ln.get_label()!r} x={o[:3]} outside {ax.get_xlim()}")
            if check_y and len(o := _outside(ln.get_ydata(), ax.get_ylim(), logy)):
                bad.append(f"{ax.get_title()!r}: {ln.get_label()!r} y={o[:3]} outside {ax.get_ylim()}")
        for coll in ([] if marked else ax.collections):  # seed bands (fill_between), unless cuts are marked
            for path in coll.get_paths():
                y = path.vertices[:, 1]
                if len(o := _outside(y, ax.get_ylim(), logy)):
                    bad.append(f"{ax.get_title()!r}: band y={o[:3]} outside {ax.get_ylim()}")
    return bad


def problems(fig) -> list[str]:
    fig.canvas.draw()  # limits and legends as a reader sees them
    return unlegended_series(fig) + lookalike_series(fig) + points_outside_limits(fig)


# --------------------------------------------------------------------------------- the checks can fail


def test_checks_fail_on_planted_bad_figures():
    fig, ax = plt.subplots()
    ax.plot([1, 2], [1, 2], color="C0", label="a")
    ax.plot([1, 2], [2, 3], color="C0", label="b")        # same colour and style as "a"
    ax.plot([1, 2], [3, 1], color="C1")                    # no legend entry
    ax.legend()
    ax.set_ylim(0, 2.5)                                    # cuts "b" and the unlabelled line silently
    fig.canvas.draw()
    assert any("'b'" in p for p in lookalike_series(fig))
    assert len(unlegended_series(fig)) == 1
    assert len(points_outside_limits(fig)) == 2
    plt.close(fig)

    fig, ax = plt.subplots()                               # a band running below 0 on a log axis, unmarked
    ax.plot([1, 2], [1, 2], label="m")
    ax.fill_between([1, 2], [-1, 1], [2, 3])
    ax.set_yscale("log")
    ax.legend()
    fig.canvas.draw()
    assert points_outside_limits(fig)
    plt.close(fig)


def test_a_legend_family_needs_its_entry():
    """A curve of a family passes only while the family's legend entry is there."""
    df = pd.concat([style.rows("p", "G1 (fitted)|r=1", "fitted", [1, 2], [1, 2], color_=0),
                    style.rows("p", "G1 (fitted)|r=2", "fitted", [1, 2], [2, 4], color_=1)])
    fig = style.draw_long(df, {"p": dict(xlabel="x", ylabel="y")})
    assert problems(fig) == []
    fig.axes[0].get_legend().remove()
    fig.axes[0].legend(handles=[])
    assert len(unlegended_series(fig)) == 2
    plt.close(fig)


def test_cut_bands_are_marked_and_inside():
    df = style.rows("p", "gap", "measured", [1, 2, 4], [0.5, 0.2, 0.1], lo=[-0.1, 0.1, 0.05], hi=[1, 0.3, 0.2])
    fig = style.draw_long(df, {"p": dict(xlabel="x", ylabel="y", logx=True, logy=True)})
    ax = fig.axes[0]
    cut = [ln for ln in ax.get_lines() if ln.get_gid() == style.GID_CLIPPED]
    assert len(cut) == 1 and list(cut[0].get_xdata()) == [1.0]
    assert cut[0].get_ydata()[0] >= ax.get_ylim()[0]
    assert problems(fig) == []
    plt.close(fig)


# ---------------------------------------------------------------------------------- every figure module


@pytest.fixture(scope="module")
def tables():
    from test_tightness import rrr_runs, sgd_traj

    from bounds import tightness

    runs = rrr_runs(ranks=(1, 2, 4, 8), samples=(64, 128, 256, 512), seeds=(0, 1, 2)).assign(experiment="gen")
    runs["config_hash"] = [f"g{i}" for i in range(len(runs))]
    B = 4.0
    runs = runs.assign(train_loss_smoothed=runs["train_loss"].clip(upper=B),
                       test_loss_smoothed=runs["test_loss"].clip(upper=B), loss_range_B=B, lipschitz=1.0,
                       param_norm=3.0)
    conv, traj = sgd_traj(seeds=(0, 1))
    conv = conv.assign(experiment="conv", rank=conv["rank"] * 0 + np.array([2, 2]))
    all_runs = tightness._finish_runs(pd.concat([runs, conv], ignore_index=True))
    t = tightness.Tables(runs=all_runs, traj=traj, mi=pd.DataFrame())
    return t, tightness.judge(t)


def _mi_frame():
    rows = []
    for r in (1, 2, 4):
        for step in (10, 100):
            rho = np.linspace(0.9, 0.5, r) * (1 - 1 / step)
            exact = -0.5 * np.sum(np.log(1 - rho**2))
            rows.append(dict(rank=r, step=step, estimator="gaussian", mi=exact, clone_mse=1 - rho.mean(),
                             i1_bound=exact * 0.5, i3_bound=exact * 0.7, i2_cap=0.5 * r * np.log(1 + 1 / 0.01)))
    return pd.DataFrame(rows)


def _real_frame():
    from test_real_figure import _synthetic_spectra, _synthetic_sweep

    from figures import real_model

    sweep = _synthetic_sweep()
    # one seed below 0 at the smallest N: its band must be cut visibly, not silently
    sweep.loc[(sweep["student"] == "free") & (sweep["n_train"] == 400) & (sweep["seed"] == 1), "gap"] *= -1
    return real_model.compute(sweep=sweep, spectra=_synthetic_spectra(), n_boot=50)


def _mi_validation_frame():
    from test_mi_validate import TINY

    from empirical.mi import validate
    from figures import mi_validation

    return mi_validation.compute(validate.run(TINY))


def _convergence_frame(t):
    """Both panels: the horizon experiment (rate test) and the fixed-eta trajectories."""
    from test_figures import horizon_tables

    from figures import convergence

    t2, rep = horizon_tables(t)
    return convergence.compute(t2.runs, t2.traj, rep)


BUILDERS = {
    "convergence": lambda t, rep: _convergence_frame(t),
    "gen_rank": lambda t, rep: __import__("figures.gen_rank").gen_rank.compute(t.runs, rep),
    "gen_samples": lambda t, rep: __import__("figures.gen_samples").gen_samples.compute(t.runs, rep),
    "tightness": lambda t, rep: __import__("figures.tightness").tightness.compute(t.runs),
    "real_model": lambda t, rep: _real_frame(),
    "optimal_rank": lambda t, rep: __import__("figures.optimal_rank").optimal_rank.compute(t.runs, rep),
    "mutual_info": lambda t, rep: __import__("figures.mutual_info").mutual_info.compute(_mi_frame()),
    "mi_validation": lambda t, rep: _mi_validation_frame(),
}
@pytest.mark.parametrize("name", list(BUILDERS))
def test_figure_properties(tables, name):
    import importlib

    t, rep = tables
    df = BUILDERS[name](t, rep)
    fig = importlib.import_module(f"figures.{name}").plot(df)
    assert problems(fig) == []
    plt.close(fig)


def _tick_labels(ax) -> set[str]:
    ax.figure.canvas.draw()
    return {t.get_text() for t in ax.get_xticklabels() if t.get_visible() and t.get_text()}


@pytest.mark.parametrize("module_name, vary", [("gen_rank", "rank"), ("tightness", "samples")])
def test_end_ticks_are_labelled(module_name, vary):
    """Issue 16: gen_rank left r = 16 and tightness N = 32 without a tick label. With few measured values on a
    log x axis, every one of them (the ends included) is a labelled tick."""
    import importlib

    from test_tightness import rrr_runs

    from bounds import tightness

    runs = rrr_runs(ranks=(4, 8, 16), samples=(32, 128, 512), seeds=(0, 1)).assign(experiment="gen")
    runs = runs.assign(train_loss_smoothed=runs["train_loss"].clip(upper=4.0),
                       test_loss_smoothed=runs["test_loss"].clip(upper=4.0), loss_range_B=4.0)
    t = tightness.Tables(runs=tightness._finish_runs(runs), traj=pd.DataFrame(), mi=pd.DataFrame())
    module = importlib.import_module(f"figures.{module_name}")
    df = module.compute(t.runs, tightness.judge(t)) if module_name == "gen_rank" else module.compute(t.runs)
    fig = module.plot(df)
    want = {"rank": {"4", "8", "16"}, "samples": {"32", "128", "512"}}[vary]
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    assert axes and all(want <= _tick_labels(ax) for ax in axes)
    plt.close(fig)


def test_gen_samples_fit_does_not_hide_g1_and_marks_interpolation(tables):
    """Issue 16: G1 was hidden under the fitted law where the two coincide, and the synthetic N = d point (gap near
    interpolation) set the y-range unexplained. The fitted law is drawn wide and beneath G1; N = d is marked."""
    from figures import gen_samples

    t, rep = tables
    runs = t.runs.copy()
    runs.loc[runs["track"] == "synthetic", "d"] = 64.0  # the smallest N of the fixture: exactly at interpolation
    df = gen_samples.compute(runs, rep)
    mark = df[(df["kind"] == "ceiling") & df["series"].str.startswith("N = d")]
    assert len(mark) == 2 and set(mark["x"]) == {64.0}
    fig = gen_samples.plot(df)
    ax = fig.axes[0]
    law = [ln for ln in ax.get_lines() if ln.get_gid() == style.GID_FITTED and ln.get_label().startswith("fit r^")]
    g1 = [ln for ln in ax.get_lines() if ln.get_gid() == style.GID_FITTED and ln.get_label().startswith("G1")]
    assert len(law) == 1 and len(g1) == 1
    assert law[0].get_zorder() < g1[0].get_zorder() and law[0].get_linewidth() > 2 * g1[0].get_linewidth()
    vertical = [ln for ln in ax.get_lines() if ln.get_gid() == style.GID_CEILING and ln.get_label().startswith("N = d")]
    assert len(vertical) == 1 and list(vertical[0].get_xdata()) == [64.0, 64.0]
    assert problems(fig) == []
    plt.close(fig)
