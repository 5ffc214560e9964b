"""The validation suite's frame (schema, truth, summary arithmetic) and its figure (data drawn, renders)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from empirical.mi import validate
from empirical.mi.infonce import InfoNCEConfig
from empirical.mi.samples import gaussian_pair
from figures import mi_validation, style

TINY = validate.ValidationConfig(dims=((1, 1), (2, 2)), mis=(0.5, 2.0), samples=(1000,),
                                 families=("gaussian", "cube"), seeds=2,
                                 infonce=InfoNCEConfig(steps=60, hidden=32, batch_size=64))


@pytest.fixture(scope="module")
def raw():
    return validate.run(TINY)


def test_raw_frame_schema_and_grid(raw):
    assert set(raw.columns) >= {"estimator", "family", "dx", "dy", "dims", "n", "true_mi", "seed", "estimate",
                                "ceiling", "error", "seconds"}
    assert len(raw) == 3 * 2 * 2 * 1 * 2 * 2  # estimators x families x dims x n x mis x seeds
    np.testing.assert_allclose(raw["error"], raw["estimate"] - raw["true_mi"])
    inf = raw[raw["estimator"] == "infonce"]
    np.testing.assert_allclose(inf["ceiling"], np.log(64))
    assert (inf["estimate"] <= inf["ceiling"] + 1e-9).all()
    assert raw.loc[raw["estimator"] != "infonce", "ceiling"].isna().all()


def test_gaussian_estimator_on_gaussian_family_is_accurate(raw):
    g = raw[(raw["estimator"] == "gaussian") & (raw["family"] == "gaussian")]
    assert (g["error"].abs() < 0.15).all()


def test_make_task_truth_is_invariant_to_family():
    """Same seed -> the same underlying Gaussian pair; families differ only by the marginal maps."""
    xg, yg = validate.make_task("gaussian", 500, 2, 2, 1.0, 3)
    xc, yc = validate.make_task("cube", 500, 2, 2, 1.0, 3)
    np.testing.assert_allclose(xc, xg**3)
    np.testing.assert_allclose(yc, yg**3)
    xa, _ = validate.make_task("asinh", 500, 2, 2, 1.0, 3)
    np.testing.assert_allclose(np.sinh(xa) / 4.0, xg, atol=1e-9)  # invertible
    with pytest.raises(ValueError, match="unknown family"):
        validate.transform("square", xg, np.random.default_rng(0))


def test_summary_matches_manual_groupby(raw):
    s = validate.summarize(raw)
    row = s[(s["estimator"] == "ksg") & (s["family"] == "cube") & (s["dims"] == "2+2") & (s["true_mi"] == 2.0)]
    e = raw[(raw["estimator"] == "ksg") & (raw["family"] == "cube") & (raw["dims"] == "2+2")
            & (raw["true_mi"] == 2.0)]["estimate"].to_numpy()
    assert row["mean"].item() == pytest.approx(e.mean())
    assert row["bias"].item() == pytest.approx(e.mean() - 2.0)
    assert row["std"].item() == pytest.approx(e.std(ddof=1))
    assert row["rmse"].item() == pytest.approx(np.sqrt(np.mean((e - 2.0) ** 2)))
    assert set(s["warned"]) <= {0.0, 0.5, 1.0}  # a fraction of the 2 seeds
    for (est, dims, mi), g in raw.groupby(["estimator", "dims", "true_mi"]):
        got = s[(s["estimator"] == est) & (s["dims"] == dims) & (s["true_mi"] == mi)]["warned"]
        assert np.allclose(got, [(g[g["family"] == f]["warning"] != "").mean() for f in sorted(set(g["family"]))])
    t = validate.family_table(s)
    assert len(t) == 3 * 2 and set(t.columns) >= {"mean_abs_bias", "mean_std", "worst_bias", "worst_task"}


def test_figure_data_and_render(raw):
    df = mi_validation.compute(raw)
    assert list(df.columns) == style.COLUMNS
    assert df["panel"].nunique() == 3 * 2
    truth = df[df["kind"] == "theory"]
    np.testing.assert_allclose(truth["x"], truth["y"])  # the truth line is y = x
    meas = df[(df["kind"] == "measured") & (df["panel"] == "ksg | gaussian") & (df["series"] == "1+1 dims")]
    ref = raw[(raw["estimator"] == "ksg") & (raw["family"] == "gaussian") & (raw["dims"] == "1+1")]
    ref = ref.groupby("true_mi")["estimate"].agg(["mean", "min", "max"])
    np.testing.assert_allclose(meas.sort_values("x")[["y", "lo", "hi"]].to_numpy(), ref.to_numpy())
    ceilings = df[df["kind"] == "ceiling"]
    assert set(ceilings["panel"]) == {"infonce | gaussian", "infonce | cube"}
    np.testing.assert_allclose(ceilings["y"], np.log(64))
    fig = mi_validation.plot(df)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 6
    assert len({ax.get_ylim() for ax in visible}) == 1  # shared y-limits
    assert all("nats" in ax.get_xlabel() and "nats" in ax.get_ylabel() for ax in visible)
    assert style.count_curves(fig, style.GID_CEILING) == 2
    assert style.count_curves(fig, style.GID_THEORY) == 6
    # the faint lines are one per seed, and the legend says so (issue 16: it said "per-step values")
    raw_series = df[(df["kind"] == "raw") & (df["panel"] == "ksg | gaussian")]["series"].unique()
    ref = raw[(raw["estimator"] == "ksg") & (raw["family"] == "gaussian")]
    assert sorted(raw_series) == sorted({f"{d} dims seed {s}" for d, s in zip(ref["dims"], ref["seed"])})
    labels = {t.get_text() for ax in visible for t in ax.get_legend().get_texts()}
    assert "one seed (faint)" in labels and not any("per-step" in t for t in labels)
    assert "1+1 dims" in labels and "dimensions of X and Y" in fig._suptitle.get_text()


def test_figure_empty_frame():
    assert mi_validation.compute(pd.DataFrame()).empty


@pytest.mark.slow
def test_full_low_dim_sweep_tolerances():
    """Larger sweep: where the estimators are known to work (low dim, moderate MI, 1e4 samples)."""
    cfg = validate.ValidationConfig(dims=((1, 1), (2, 2)), mis=(0.1, 0.5, 1.0, 2.0), samples=(10_000,),
                                    families=validate.FAMILIES, seeds=3, estimators=("gaussian", "ksg"))
    s = validate.summarize(validate.run(cfg))
    g = s[(s["estimator"] == "gaussian") & (s["family"] == "gaussian")]
    assert (g["bias"].abs() < 0.03 * g["true_mi"] + 0.01).all()
    k = s[(s["estimator"] == "ksg") & (s["dims"] == "1+1")]
    assert (k["bias"].abs() < 0.06).all()
    k2 = s[(s["estimator"] == "ksg") & (s["dims"] == "2+2") & s["family"].isin(["gaussian", "asinh"])]
    assert (k2["bias"].abs() < 0.1).all()


@pytest.mark.slow
def test_gaussian_estimator_unbiased_32x32_few_samples():
    """32+32 dims, 1000 samples, 8 nats: bias-corrected Gaussian MI unbiased over seeds."""
    est = [validate.estimate("gaussian", *gaussian_pair(1000, 32, 32, 8.0, s)[:2])["estimate"] for s in range(60)]
    se = np.std(est, ddof=1) / np.sqrt(len(est))
    assert abs(np.mean(est) - 8.0) < 3.5 * se
