"""`import bounds` and `lrkd rank` never import torch, pandas or matplotlib (checked in a fresh interpreter);
`lrkd rank` from --alpha does not even import sympy or numpy."""
import json
import subprocess
import sys

from conftest import ROOT

HEAVY = ("torch", "pandas", "matplotlib")


def _modules_after(code: str) -> set:
    probe = code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def _top(mods):
    return {m.split(".")[0] for m in mods}


def test_bounds_modules_do_not_import_heavy_packages():
    code = ("import bounds, bounds.catalog, bounds.fit, bounds.params, bounds.recommend, bounds.spectrum_io, "
            "empirical.commands.rank, empirical.commands.bounds\n"
            "from bounds import catalog\n"
            "catalog.get('G2')(B=1, p=10, N=100, rho=1, R=1, delta=0.1); catalog.get('I2')(r=2, tr_S=1, sigma_n=1)")
    assert not _top(_modules_after(code)) & set(HEAVY)


def test_lrkd_rank_imports_stay_light(tmp_path):
    import numpy as np

    np.save(tmp_path / "s.npy", np.arange(1, 30, dtype=float)[::-1])
    run = ("import paper_repro, io, contextlib\n"
           "with contextlib.redirect_stdout(io.StringIO()):\n"
           "    assert paper_repro.cli({argv!r}) == 0\n")
    fast = _top(_modules_after(run.format(argv=["rank", "--samples", "100", "--shape", "30", "40", "--alpha", "1", "--json"])))
    assert not fast & {*HEAVY, "sympy", "numpy", "scipy"}
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 64, "num_hidden_layers": 2, "model_type": "llama"}))
    advice = _top(_modules_after(run.format(argv=["rank", "--samples", "2M", "--unit", "tokens", "--teacher-config",
                                                  str(tmp_path / "config.json"), "--adapter", "lora", "--reference",
                                                  "16@20B", "--alpha", "1", "--plan-pilot", "--json"])))
    assert not advice & {*HEAVY, "sympy", "numpy", "scipy"}
    spec = _top(_modules_after(run.format(argv=["rank", "--samples", "100", "--shape", "30", "40",
                                                "--spectrum", str(tmp_path / "s.npy"), "--json"])))
    assert not spec & {*HEAVY, "sympy"}
