"""`lrkd mi`: --json schema, estimates against the closed form, and every bad input -> one line, exit 2."""
from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_lrkd

from empirical.mi.samples import gaussian_pair


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("mi")
    x, y, _ = gaussian_pair(3000, 2, 2, 1.0, 0)
    np.save(d / "x.npy", x)
    np.save(d / "y.npy", y)
    return d


def _bad(result):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lrkd mi: error:"), result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_json_single_estimator(pair):
    r = run_lrkd("mi", "--x", str(pair / "x.npy"), "--y", str(pair / "y.npy"), "--estimator", "ksg", "--k", "4",
                 "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["estimator"] == "ksg" and out["k"] == 4 and out["n"] == 3000 and out["dx"] == 2
    assert out["mi"] == pytest.approx(1.0, abs=0.1)


def test_json_all_estimators(pair):
    r = run_lrkd("mi", "--x", str(pair / "x.npy"), "--y", str(pair / "y.npy"), "--steps", "150", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [o["estimator"] for o in out] == ["gaussian", "ksg", "infonce"]
    for o in out:
        assert isinstance(o["mi"], float) and o["units"] == "nats"
        assert o["mi"] == pytest.approx(1.0, abs=0.2)
    assert out[0]["canonical_correlations"] and out[2]["ceiling"] == pytest.approx(np.log(128))


def test_text_output(pair):
    r = run_lrkd("mi", "--x", str(pair / "x.npy"), "--y", str(pair / "y.npy"), "--estimator", "gaussian")
    assert r.returncode == 0 and "gaussian" in r.stdout and "canonical correlations" in r.stdout


def test_bad_inputs(pair, tmp_path):
    x, y = str(pair / "x.npy"), str(pair / "y.npy")
    np.save(tmp_path / "short.npy", np.zeros((10, 2)))
    np.save(tmp_path / "nan.npy", np.where(np.eye(3000, 2) > 0, np.nan, 1.0))
    np.save(tmp_path / "three.npy", np.zeros((3000, 2, 2)))
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}] * 3000, dtype=object), allow_pickle=True)
    np.save(tmp_path / "tiny_x.npy", np.arange(3.0))
    np.save(tmp_path / "tiny_y.npy", np.arange(3.0) ** 2)
    (tmp_path / "text.npy").write_text("not an array")
    np.savez(tmp_path / "arch.npz", a=np.zeros(3))
    cases = [
        ("--x", x, "--y", str(tmp_path / "short.npy")),  # mismatched rows
        ("--x", x, "--y", str(tmp_path / "nan.npy")),  # NaN
        ("--x", x, "--y", str(tmp_path / "three.npy")),  # wrong ndim
        ("--x", x, "--y", str(tmp_path / "obj.npy")),  # pickled objects
        ("--x", x, "--y", str(tmp_path / "text.npy")),  # unreadable
        ("--x", x, "--y", str(tmp_path / "arch.npz")),  # an archive, not an array
        ("--x", x, "--y", str(tmp_path / "missing.npy")),  # no such file
        ("--x", x, "--y", str(tmp_path)),  # a directory
        ("--x", str(tmp_path / "tiny_x.npy"), "--y", str(tmp_path / "tiny_y.npy"), "--estimator", "ksg"),  # too few
        ("--x", x),  # missing --y
        ("--validate", "--x", x),
        ("--x", x, "--y", y, "--k", "0"),
        ("--x", x, "--y", y, "--estimator", "mine"),
    ]
    for args in cases:
        _bad(run_lrkd("mi", *args))


def test_validate_smoke_json_writes_outputs(tmp_path):
    out = tmp_path / "val"
    r = run_lrkd("mi", "--validate", "--preset", "smoke", "--json", "--out", str(out))
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["units"] == "nats" and res["table"] and res["summary"]
    assert {t["estimator"] for t in res["table"]} == {"gaussian", "ksg", "infonce"}
    for name in ("mi_validation.png", "mi_validation.pdf", "mi_validation.csv", "mi_validation_raw.csv",
                 "mi_validation_summary.csv"):
        assert (out / name).stat().st_size > 0


def test_validate_out_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    _bad(run_lrkd("mi", "--validate", "--out", str(f)))


# ------------------------------------------------------------------------ issue 16: messages, --shrinkage
def test_misnamed_files_say_what_they_are(pair, tmp_path):
    x = str(pair / "x.npy")
    (tmp_path / "text.npy").write_text("a,b\n1,2\n")
    np.savetxt(tmp_path / "x.csv", np.zeros((5, 2)), delimiter=",")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}] * 3, dtype=object), allow_pickle=True)
    (tmp_path / "empty.npy").write_bytes(b"")
    for name, words in [("text.npy", "CSV/text table"), ("x.csv", "CSV/text table"),
                        ("obj.npy", "Python objects"), ("empty.npy", "is empty")]:
        r = run_lrkd("mi", "--x", str(tmp_path / name), "--y", x)
        _bad(r)
        assert words in r.stderr and "numpy.save" in r.stderr and "pickled" not in r.stderr, r.stderr


def test_identical_arrays_name_the_shrinkage_flag(pair):
    x = str(pair / "x.npy")
    r = run_lrkd("mi", "--x", x, "--y", x, "--estimator", "gaussian", "--shrinkage", "off")
    _bad(r)
    assert "--shrinkage" in r.stderr and "infinite" in r.stderr
    r = run_lrkd("mi", "--x", x, "--y", x, "--estimator", "gaussian", "--json")  # auto: flagged finite value
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["shrinkage"] > 0 and out["warning"]
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("lrkd mi: warning: Gaussian MI:")


def test_shrinkage_flag_reaches_the_estimator(pair):
    args = ("mi", "--x", str(pair / "x.npy"), "--y", str(pair / "y.npy"), "--estimator", "gaussian", "--json")
    auto = json.loads(run_lrkd(*args).stdout)
    lw = json.loads(run_lrkd(*args, "--shrinkage", "ledoit-wolf").stdout)
    assert auto["shrinkage"] == 0 and auto["warning"] == "" and auto["mi"] == pytest.approx(1.0, abs=0.1)
    assert lw["shrinkage"] > 0 and lw["shrinkage_mode"] == "ledoit-wolf" and lw["warning"]
    _bad(run_lrkd(*args, "--shrinkage", "sometimes"))


def test_ksg_warning_is_one_stderr_line(tmp_path):
    x, y, _ = gaussian_pair(600, 16, 16, 2.3, 0)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    r = run_lrkd("mi", "--x", str(tmp_path / "x.npy"), "--y", str(tmp_path / "y.npy"), "--estimator", "ksg")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lrkd mi: warning: KSG biased towards 0: 16+16 dims")


def test_help_describes_the_grids():
    r = run_lrkd("mi", "--help")
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    assert "issue's grid" not in text and "--shrinkage {auto,off,ledoit-wolf}" in text
    assert "32+32 dims" in text and "1+1" in text
    from empirical.mi.validate import PRESETS  # the hand-written description matches the grids

    for name, cfg in PRESETS.items():
        part = text.split(f"{name} (", 1)[1].split(")", 1)[0]
        for n in cfg.samples:
            assert f"n={n}" in part or f"{n}" in part, (name, n, part)
        for dx, dy in (cfg.dims[0], cfg.dims[-1]):
            assert f"{dx}+{dy}" in part, (name, dx, dy, part)
