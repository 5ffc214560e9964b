"""`lrkd bounds`: listing (--json, --latex), --eval against the catalog, and bad input exiting 2 with one
line. A real subprocess for the JSON listing, one --eval and a few bad inputs; the other cases call the
same dispatcher in-process (sympy's derivations are then paid once, not once per case)."""
import json

import numpy as np
import pytest
from conftest import run_lrkd

import paper_repro
from bounds import catalog


def _in_process(capsys, *argv):
    """(exit status, stdout, stderr) of ``lrkd bounds *argv`` run through the dispatcher in this process."""
    try:
        rc = paper_repro.cli(["bounds", *argv])
    except SystemExit as exc:  # argparse errors
        rc = exc.code
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_json_lists_every_result_with_its_fields():
    proc = run_lrkd("bounds", "--json", "--all")
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)["results"]
    ids = [r["id"] for r in results]
    assert ids == catalog.all_ids(derived=True)
    for r in results:
        assert r["statement"] and r["formula"] and r["latex"] and r["reference"] and isinstance(r["assumptions"], list)


def test_latex_and_text(capsys):
    rc, out, _ = _in_process(capsys, "--latex")
    assert rc == 0
    for rid in catalog.PRIMARY_IDS:
        assert f"[{rid}]" in out
        assert catalog.get(rid).latex in out
    rc, out, _ = _in_process(capsys)
    assert rc == 0
    for res in catalog.all_results():
        assert res.formula_text() in out and res.statement in out


def test_eval_matches_catalog_and_broadcasts():
    proc = run_lrkd("bounds", "--eval", "G2", "B=5.5", "p=1e3,1e6", "N=1e4", "rho=1", "R=10", "delta=0.05", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    expected = catalog.get("G2")(B=5.5, p=np.array([1e3, 1e6]), N=1e4, rho=1.0, R=10.0, delta=0.05)
    np.testing.assert_allclose(out["value"], expected, rtol=1e-14)


def test_eval_derived_quantity(capsys):
    rc, out, _ = _in_process(capsys, "--eval", "C1.eta_star", "Delta=1", "beta=2", "sigma=0.1", "T=100", "--json")
    assert rc == 0
    # eta* = min(1/beta, sqrt(2 Delta/(beta sigma^2 T))) = min(0.5, 1.0)
    assert json.loads(out)["value"] == pytest.approx(0.5)


BAD = [
    ["--eval", "G9"],
    ["--eval", "G2", "B=5.5"],
    ["--eval", "G1", "C_G=1", "p=2", "N=3", "x=4"],
    ["--eval", "G1", "C_G=1", "p=__import__('os')", "N=3"],
    ["--eval", "G1", "C_G=1", "p=2", "N=nan"],
    ["--eval", "G1", "C_G=1", "p=2", "N=-3"],
    ["--eval", "G1", "C_G=1", "p=2", "N"],
    ["--eval", "G1", "C_G=1", "p=1,2", "N=1,2,3"],
    ["--eval", "G1", "C_G=1", "C_G=2", "p=2", "N=3"],
    ["p=2"],
    ["--latex", "--eval", "G1", "C_G=1", "p=2", "N=3"],
    ["--json", "--latex"],
]


@pytest.mark.parametrize("argv", BAD, ids=[" ".join(a) for a in BAD])
def test_bad_input_exits_2_with_one_line_in_process(argv, capsys):
    rc, out, err = _in_process(capsys, *argv)
    assert rc == 2, out + err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("lrkd bounds")
    assert out == ""


@pytest.mark.parametrize("argv", [BAD[0], BAD[3], BAD[-1]], ids=["unknown id", "code as value", "argparse"])
def test_bad_input_exits_2_with_one_line(argv):
    proc = run_lrkd("bounds", *argv)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("lrkd bounds")
    assert proc.stdout == ""
