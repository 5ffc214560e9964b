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


def _g2_direct(B, p, N, rho, R, delta):
    """G2 typed independently (math module), for the domain tests."""
    import math

    return 2 * B / math.sqrt(N) + B * math.sqrt((p * math.log(3 * rho * R * math.sqrt(N) / B)
                                                 + math.log(1 / delta)) / (2 * N))


@pytest.mark.parametrize("argv, needle", [
    # G2 at 3 rho R sqrt(N) = 3000 < B: the log is negative, numpy gives sqrt(negative) = nan (B9)
    (["G2", "B=3001", "p=1e6", "N=1e4", "rho=1", "R=10", "delta=0.05"], "3 rho R sqrt(N) > B"),
    (["G2", "B=5", "p=1e6", "N=1e4", "rho=1", "R=10", "delta=2"], "delta < 1"),
    (["GaussianMI.corr", "corr=0.5,1"], "corr < 1"),
    (["GaussianMI.corr", "corr=1.5"], "corr < 1"),
    (["GaussianMI", "logdet_xx=0", "logdet_yy=0", "logdet_joint=1"], "Fischer"),
    (["C1", "Delta=1", "beta=2", "sigma=1", "T=10", "eta=1"], "eta <= 1/beta"),
    (["C1", "Delta=1", "beta=2", "sigma=-1", "T=10", "eta=0.1"], "sigma >= 0"),
    (["C2.eta_star", "Delta=1", "beta=2", "sigma=1", "T=10", "D=4", "r=8"], "r <= D"),
    (["I2", "r=2", "tr_S=-1", "sigma_n=1"], "tr_S >= 0"),
    (["R1", "s=1", "c=1", "alpha=0.5", "a=1", "b=0.5", "N=100"], "alpha > 1/2"),
    (["G3", "emp_risk=6", "B=5", "C_bits=100", "N=1000", "delta=0.05"], "emp_risk <= B"),
    (["G1", "C_G=1e300", "p=1e300", "N=1"], "float range"),  # 1e600: not representable
])
def test_eval_outside_assumptions_is_one_line_exit_2(capsys, argv, needle):
    rc, out, err = _in_process(capsys, "--eval", *argv)
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1, (rc, out, err)
    assert needle in err and "nan" not in err.lower().replace("nan)", ""), err


def test_eval_at_the_edge_of_g2s_domain(capsys):
    """Just inside 3 rho R sqrt(N) > B the value matches an independent formula; just outside it is refused."""
    point = dict(p=1e6, N=1e4, rho=1.0, R=10.0, delta=0.05)
    args = [f"{k}={v!r}" for k, v in point.items()]
    rc, out, err = _in_process(capsys, "--eval", "G2", "B=2999.5", *args, "--json")
    assert rc == 0, err
    # rel 1e-9: near the edge the catalog's expanded sum of logs cancels to ~1e-4 (a few digits lost)
    assert json.loads(out)["value"] == pytest.approx(_g2_direct(2999.5, **point), rel=1e-9)
    rc, _, err = _in_process(capsys, "--eval", "G2", "B=3000.5", *args)
    assert rc == 2 and "3 rho R sqrt(N) > B" in err


def test_check_domain_api_names_the_assumption_and_accepts_valid_points():
    from bounds.result import DomainError

    g2 = catalog.get("G2")
    ok = dict(B=5.0, p=1e6, N=np.array([1e4, 1e5]), rho=1.0, R=10.0, delta=0.05)
    assert g2.domain_violation(**ok) is None
    g2.check_domain(**ok)
    with pytest.raises(DomainError, match=r"3 rho R sqrt\(N\) > B.*element 0"):
        g2.check_domain(**dict(ok, N=np.array([1e-2, 1e4])))
    # huge magnitudes do not flip the condition: 3 * 1e200 * 1e200 * 1e100 overflows a float, the condition holds
    assert g2.domain_violation(B=1e300, p=1.0, N=1e200, rho=1e200, R=1e200, delta=0.5) is None
    assert "3 rho R" in g2.domain_violation(B=1e-300, p=1.0, N=1e-300, rho=1e-300, R=1e-300, delta=0.5)
    # the numpy evaluator itself still returns nan there (documented); checked() refuses it
    assert np.isnan(g2(B=3001.0, p=1e6, N=1e4, rho=1.0, R=10.0, delta=0.05))
    with pytest.raises(DomainError):
        g2.checked(B=3001.0, p=1e6, N=1e4, rho=1.0, R=10.0, delta=0.05)


def test_checked_recovers_a_representable_value_the_float_evaluator_overflows():
    """C1 at eta*: with Delta = 1e-300, beta = sigma = T = 1e300 the float evaluator overflows an intermediate
    product, although the value, 2 sqrt(2 beta Delta / T) sigma = 2 sqrt(2) 1e150, is representable."""
    res = catalog.get("C1.at_eta_star")
    point = dict(Delta=1e-300, beta=1e300, sigma=1e300, T=1e300)
    expected = 2 * np.sqrt(2.0) * 1e150
    assert res.checked(**point) == pytest.approx(expected, rel=1e-12)
