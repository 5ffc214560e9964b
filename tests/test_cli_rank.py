"""`lrkd rank` through a real subprocess: --json parses and is right; every bad input exits 2 with one line."""
import json

import numpy as np
import pytest
from conftest import run_lrkd

from bounds.params import lrc_trainable_params


def _ok(*args):
    proc = run_lrkd("rank", *args)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_json_shape_and_alpha():
    out = json.loads(_ok("--samples", "10000", "--shape", "300", "200", "--alpha", "1.0", "--json").stdout)
    assert out["inputs"]["samples"] == 10000 and out["inputs"]["shape"] == [300, 200]
    recs = {r["method"]: r for r in out["recommendations"]}
    assert set(recs) == {f"R{i}/{f}" for i in (1, 2) for f in ("paper", "covering", "fast")}
    for r in recs.values():
        assert r["params"] == r["rank"] * 500 and r["assumption"] and r["formula"]
    # R1 under the fast rate: integer argmin of s r^(1-2a)/(2a-1) + C (m+d) r / N, brute force over ranks
    ks = np.arange(1, 201, dtype=float)
    risk = ks ** (1 - 2.0) / (2.0 - 1) + 500 * ks / 10000
    assert recs["R1/fast"]["rank"] == int(ks[np.argmin(risk)])
    assert recs["R1/fast"]["gamma"] == pytest.approx(0.5)


def test_rate_filter_and_teacher_config(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"hidden_size": 64, "num_hidden_layers": 2, "tie_word_embeddings": False}))
    out = json.loads(_ok("--samples", "5000", "--teacher-config", str(cfg), "--alpha", "0.8",
                         "--rate", "covering", "--json").stdout)
    methods = [r["method"] for r in out["recommendations"]]
    assert methods == ["R1/covering", "R2/covering"]
    for r in out["recommendations"]:
        assert r["params"] == lrc_trainable_params(64, 2, r["rank"], tied_embeddings=False)
    assert out["inputs"]["max_rank"] == 64


def test_spectrum_gives_r3_and_baselines(tmp_path):
    rng = np.random.default_rng(0)
    m, n, k = 120, 80, 5
    X = rng.normal(size=(m, k)) @ rng.normal(size=(k, n)) * 3 + 0.1 * rng.normal(size=(m, n))
    np.save(tmp_path / "w.npy", X)
    out = json.loads(_ok("--samples", "1000", "--shape", str(m), str(n), "--spectrum", str(tmp_path / "w.npy"),
                         "--noise-sigma", "0.1", "--boot", "200", "--json").stdout)
    recs = {r["method"]: r for r in out["recommendations"]}
    assert recs["gavish-donoho/known-sigma"]["rank"] == k
    assert recs["gavish-donoho/unknown-sigma"]["rank"] == k
    assert {"R3/paper", "R3/covering", "R3/fast", "effective-rank", "energy-90", "energy-95", "energy-99"} <= set(recs)
    assert out["spectrum"]["n_singular_values"] == n and len(out["spectrum"]["alpha_ci95"]) == 2


def test_text_output_names_assumptions():
    proc = _ok("--samples", "100", "--shape", "10", "20")
    assert "R2/paper" in proc.stdout and "R1 needs the spectrum exponent" in proc.stdout


@pytest.fixture
def bad_files(tmp_path):
    np.save(tmp_path / "nan.npy", np.array([1.0, np.nan]))
    (tmp_path / "junk.npy").write_bytes(b"garbage")
    (tmp_path / "cfg.json").write_text(json.dumps({"hidden_size": 64}))
    return tmp_path


BAD = [
    ["--samples", "0", "--shape", "3", "4"],
    ["--samples", "-5", "--shape", "3", "4"],
    ["--samples", "1.5", "--shape", "3", "4"],
    ["--samples", "10", "--shape", "0", "4"],
    ["--samples", "10", "--shape", "3.5", "4"],
    ["--samples", "10", "--shape", "3"],
    ["--samples", "10"],
    ["--samples", "10", "--shape", "3", "4", "--teacher-config", "{d}/cfg.json"],
    ["--samples", "10", "--shape", "3", "4", "--alpha", "0.5"],
    ["--samples", "10", "--shape", "3", "4", "--alpha", "-1"],
    ["--samples", "10", "--shape", "3", "4", "--alpha", "nan"],
    ["--samples", "10", "--shape", "3", "4", "--alpha", "1", "--spectrum", "{d}/nan.npy"],
    ["--samples", "10", "--shape", "3", "4", "--spectrum", "{d}/missing.npy"],
    ["--samples", "10", "--shape", "3", "4", "--spectrum", "{d}/junk.npy"],
    ["--samples", "10", "--shape", "3", "4", "--spectrum", "{d}/nan.npy"],
    ["--samples", "10", "--teacher-config", "{d}/cfg.json"],
    ["--samples", "10", "--teacher-config", "{d}/nope.json"],
    ["--samples", "10", "--shape", "3", "4", "--tensor", "x"],
    ["--samples", "10", "--shape", "3", "4", "--rate", "slow"],
]


@pytest.mark.parametrize("argv", BAD, ids=[" ".join(a) for a in BAD])
def test_bad_input_exits_2_with_one_line(argv, bad_files):
    proc = run_lrkd("rank", *[a.format(d=bad_files) for a in argv])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("lrkd rank")
    assert proc.stdout == ""


def test_abbreviated_flags_are_refused():
    """B3: with argparse's allow_abbrev a typo '--sample 3' silently replaced '--samples 100'."""
    proc = run_lrkd("rank", "--samples", "100", "--shape", "8", "8", "--alpha", "1", "--sample", "3")
    assert proc.returncode == 2 and "--sample" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    proc = run_lrkd("rank", "--samp", "100", "--shape", "8", "8")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def _head_plus_bulk(tmp_path):
    """sigma_k = 3 k^-0.9 for k <= 20 (alpha = 0.9 planted), then a flat noise bulk at the level of sigma_20."""
    k = np.arange(1, 61, dtype=float)
    sv = np.where(k <= 20, 3.0 * k**-0.9, 3.0 * 20.0**-0.9 * np.exp(-0.002 * (k - 20)))
    path = tmp_path / "sv.npy"
    np.save(path, sv)
    return path, sv


def test_fit_range_keeps_a_noise_bulk_out_of_the_power_law_fit(tmp_path):
    path, sv = _head_plus_bulk(tmp_path)
    base = ["--samples", "1000", "--shape", "60", "80", "--boot", "50", "--json", "--spectrum", str(path)]
    full, head, ranged = (json.loads(_ok(*base, *extra).stdout)["spectrum"]
                          for extra in ([], ["--k-max", "20"], ["--fit-range", "3", "20"]))
    # independent reference: least squares of log sigma_k^2 on log k over the same k (exact power law there)
    for spec, (lo, hi) in ((head, (1, 20)), (ranged, (3, 20))):
        k = np.arange(lo, hi + 1)
        slope, intercept = np.polyfit(np.log(k), np.log(sv[lo - 1:hi] ** 2), 1)
        assert spec["fit_k_span"] == [lo, hi] and "--fit-range" in spec["fit_k_span_from"]
        assert spec["alpha"] == pytest.approx(-slope / 2, rel=1e-6) and spec["alpha"] == pytest.approx(0.9, rel=1e-6)
        assert spec["log_s"] == pytest.approx(intercept, rel=1e-6, abs=1e-6)
    assert full["fit_k_span"] == [1, 60] and full["alpha"] < 0.7  # the bulk flattens the default fit
    text = run_lrkd("rank", *[a for a in base if a != "--json"], "--k-max", "20").stdout
    assert "over k = 1..20 (--fit-range/--k-max)" in text


@pytest.mark.parametrize("extra, needle", [
    (["--k-max", "61"], "exceeds the 60 singular values"),
    (["--fit-range", "5", "6"], "at least 3"),
    (["--fit-range", "9", "3"], "at least 3"),
    (["--k-max", "0"], "--k-max"),
    (["--k-max", "10", "--fit-range", "1", "10"], "not allowed with"),
])
def test_fit_range_bad_values(tmp_path, extra, needle):
    path, _ = _head_plus_bulk(tmp_path)
    proc = run_lrkd("rank", "--samples", "100", "--shape", "60", "80", "--spectrum", str(path), *extra)
    assert proc.returncode == 2 and needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_fit_range_needs_a_spectrum():
    proc = run_lrkd("rank", "--samples", "100", "--shape", "8", "8", "--alpha", "1", "--k-max", "5")
    assert proc.returncode == 2 and "--k-max needs --spectrum" in proc.stderr


def test_shape_is_taken_from_a_spectrum_matrix(tmp_path):
    """Without --shape/--teacher-config, a --spectrum matrix supplies its shape: the answer equals the one with
    the explicit --shape; singular values alone (no shape) or no spectrum at all are refused in one line."""
    W = np.random.default_rng(1).standard_normal((12, 7))
    np.save(tmp_path / "m.npy", W)
    np.save(tmp_path / "sv.npy", np.linalg.svd(W, compute_uv=False))
    base = ["--samples", "100", "--boot", "20", "--json", "--spectrum", str(tmp_path / "m.npy")]
    inferred, explicit = (json.loads(_ok(*base, *extra).stdout) for extra in ([], ["--shape", "12", "7"]))
    assert inferred["inputs"]["shape"] == [12, 7] and inferred["inputs"]["shape_from"] == "the --spectrum matrix"
    assert inferred["recommendations"] == explicit["recommendations"]
    for argv in (["--samples", "100", "--spectrum", str(tmp_path / "sv.npy")], ["--samples", "100"]):
        proc = run_lrkd("rank", *argv)
        assert proc.returncode == 2 and "--shape" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
