"""`lrkd tightness` on bad CSVs (exit 2, one line naming the column and the first bad line) and on the runs.csv
that `lrkd repro` writes (its text columns accepted), checked in a real subprocess."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import run_lrkd


def _runs(n_seeds=2) -> pd.DataFrame:
    rows = [dict(rank=r, samples=n, seed=s, train_loss=1.0, test_loss=1.0 + 0.3 * r / np.sqrt(n))
            for s in range(n_seeds) for n in (64, 128, 256) for r in (1, 2, 4)]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("col, value", [("samples", 0), ("samples", -100), ("rank", 0), ("rank", -4), ("rank", 2.5),
                                        ("train_loss", -5.0), ("test_loss", float("inf")), ("test_loss", float("nan"))])
def test_bad_value_exits_2_naming_column_and_line(tmp_path, col, value):
    df = _runs()
    df[col] = df[col].astype(float)
    df.loc[4, col] = value
    p = tmp_path / "bad.csv"
    df.to_csv(p, index=False)
    proc = run_lrkd("tightness", str(p), "--json", "--n-boot", "50")
    assert proc.returncode == 2, proc.stdout[-500:] + proc.stderr[-2000:]
    err = proc.stderr.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1 and proc.stdout == ""
    assert repr(col) in err and "line 6" in err, err


def test_runs_csv_written_by_repro_is_accepted(tmp_path):
    """A runs.csv with the text columns `lrkd repro` writes (device, status, failure_reason, config_hash,
    experiment, optimizer, track) and a failed run with empty losses: read, not rejected."""
    df = _runs(3).assign(track="synthetic", experiment="gen", optimizer="rrr", status="ok", failure_reason="",
                         device="cpu", config_hash=lambda d: [f"h{i}" for i in range(len(d))], wall_s=0.1)
    df.loc[len(df)] = dict(df.iloc[0], status="failed", failure_reason="RuntimeError: boom", train_loss=np.nan,
                           test_loss=np.nan, config_hash="hx")
    p = tmp_path / "runs.csv"
    df.to_csv(p, index=False)
    proc = run_lrkd("tightness", str(p), "--json", "--n-boot", "50")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rep = json.loads(proc.stdout)
    assert rep["n_ok"] == len(df) - 1 and rep["n_failed"] == 1
    assert rep["run_counts"]["by_kind"] == [{"track": "synthetic", "kind": "gen/rrr", "n": len(df) - 1, "used_by": "G, R"}]
    assert rep["claims"]["G"]["by_track"]["synthetic"]["n_runs"] == len(df) - 1


def test_report_wording(tmp_path):
    p = tmp_path / "m.csv"
    _runs(3).to_csv(p, index=False)
    md = run_lrkd("tightness", str(p), "--n-boot", "50").stdout
    assert "paper's claim" in md and "seed statement" not in md and "docs/theory.md" in md
    assert "runs used of" in md and "contradicted' if any track" in md
