"""bounds.catalog: every result's compiled evaluator equals sympy's evalf at random points (hypothesis),
broadcasts over arrays, and carries the metadata the CLI and reports print."""
import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from bounds import catalog
from bounds.symbols import LATEX_NAMES

ALL_IDS = catalog.all_ids(derived=True)

# sampling range per argument name (log-uniform for positive scales); chosen inside each result's domain
RANGES = {
    "alpha": (0.55, 5.0), "a": (0.1, 2.0), "b": (0.1, 2.0), "corr": (0.01, 0.99), "alpha_s": (1e-3, 0.99),
    "B": (0.1, 10.0), "rho": (1.0, 100.0), "R": (1.0, 100.0), "N": (100.0, 1e8), "delta": (1e-6, 0.5),
    "h_T": (-100.0, 100.0), "logdet_T": (-100.0, 100.0), "logdet_xx": (-50.0, 50.0),
    "logdet_yy": (-50.0, 50.0), "logdet_joint": (-150.0, 0.0), "sigma": (1e-3, 1e2), "V": (2.0, 1e6),
    "r": (1.0, 1e3), "D": (1e3, 1e6), "tr_S": (1e-6, 1e6),
}
DEFAULT = (1e-3, 1e3)
LINEAR = {"h_T", "logdet_T", "logdet_xx", "logdet_yy", "logdet_joint", "corr", "alpha_s", "alpha", "a", "b"}


def _draw(data, name):
    lo, hi = RANGES.get(name, DEFAULT)
    u = data.draw(st.floats(0.0, 1.0), label=name)
    return lo + u * (hi - lo) if name in LINEAR else math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))


def test_primary_ids_are_theory_results():
    ids = [res.id for res in catalog.all_results()]
    assert ids == ["C1", "C2", "G1", "G2", "G3", "R1", "R2", "R3", "I1", "I2", "I3", "GaussianMI"]


@pytest.mark.parametrize("rid", ALL_IDS)
@settings(max_examples=25)
@given(data=st.data())
def test_evaluator_equals_evalf(rid, data):
    res = catalog.get(rid)
    point = {name: _draw(data, name) for name in res.arg_names}
    got = res(**point)
    ref = res.evalf(**point)
    assert math.isfinite(ref)
    assert math.isclose(got, ref, rel_tol=1e-10, abs_tol=1e-12 * (1 + max([abs(v) for v in point.values()], default=0))), (point, got, ref)


@pytest.mark.parametrize("rid", ALL_IDS)
def test_metadata_and_latex(rid):
    res = catalog.get(rid)
    assert res.id == rid and res.statement and res.reference and res.title
    assert isinstance(res.assumptions, tuple) and all(isinstance(a, str) and a for a in res.assumptions)
    assert set(res.expr.free_symbols) <= set(res.args)
    assert res.latex.startswith(res.lhs_latex)
    # LaTeX is sympy.latex's, not retyped (log1p, used for accuracy, is printed as log(1 + x))
    from sympy.codegen.cfunctions import log1p

    assert res.latex.endswith(sp.latex(res.expr.replace(log1p, lambda x: sp.log(1 + x)), symbol_names=LATEX_NAMES))
    assert res.formula_text().startswith(f"{res.lhs} {res.relation} ")
    d = res.to_dict()
    assert d["id"] == rid and d["args"] == list(res.arg_names)
    if res.derived_from:
        assert res.derived_from in catalog.PRIMARY_IDS


def test_arrays_broadcast_like_scalar_calls():
    g2 = catalog.get("G2")
    p = np.array([1e3, 1e6, 1e9])
    N = np.array([[1e3], [1e5]])
    grid = g2(B=5.0, p=p, N=N, rho=1.0, R=10.0, delta=0.05)
    assert grid.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            assert grid[i, j] == pytest.approx(g2(B=5.0, p=p[j], N=N[i, 0], rho=1.0, R=10.0, delta=0.05), rel=1e-14)


def test_constant_results_broadcast_to_scalar():
    assert catalog.get("R1.alpha_half.covering")() == 0.75


def test_evaluator_is_compiled_once():
    res = catalog.get("G3")
    assert res.evaluator is res.evaluator
    assert catalog.get("G3") is res


def test_call_rejects_wrong_names():
    with pytest.raises(TypeError):
        catalog.get("G1")(C_G=1.0, p=10.0)
    with pytest.raises(TypeError):
        catalog.get("G1")(C_G=1.0, p=10.0, N=5.0, bogus=1.0)


def test_unknown_id():
    with pytest.raises(KeyError):
        catalog.get("G9")


def test_g2_huge_magnitudes_do_not_overflow():
    # covering term p*log(3 rho R sqrt(N)/B): the product rho*R overflows a float, the expanded logs do not
    value = catalog.get("G2")(B=5.0, p=1e300, N=1e10, rho=1e200, R=1e200, delta=0.05)
    ref = catalog.get("G2").evalf(B=5.0, p=1e300, N=1e10, rho=1e200, R=1e200, delta=0.05)
    assert math.isfinite(value) and value == pytest.approx(ref, rel=1e-10)


def test_evaluators_survive_intermediate_overflow_and_underflow():
    """B10: an intermediate over/underflow must not turn a modest value into nan/inf/0 (references computed
    independently with math in log form)."""
    import math

    bits = catalog.get("G3.loss_range_bits")(V=1e22, alpha_s=1e-287)  # V/alpha = 1e309 overflows
    assert bits == pytest.approx((math.log(1e22) - math.log(1e-287)) / math.log(2), rel=1e-12)
    r1 = catalog.get("R1")(s=1.0, c=5e-324, alpha=1.0, a=1.0, b=0.5, N=100.0)  # N^b s/(a c) overflows
    assert r1 == pytest.approx(math.exp(0.5 * (math.log(10.0) - math.log(5e-324))), rel=1e-12)
    # d = eps2 = 1e300: d/2 log(eps2/d) = 0 exactly (the expanded d log eps2 - d log d cancelled to garbage)
    assert catalog.get("I1.gaussian")(logdet_T=1.0, d=1e300, eps2=1e300) == pytest.approx(0.5, rel=1e-12)
    # C1 at eta*: 2 sqrt(2 beta Delta / T) sigma with a product beta * sigma^2 that overflows
    assert catalog.get("C1.at_eta_star")(Delta=1e-300, beta=1e300, sigma=1e300, T=1e300) == pytest.approx(
        2 * math.sqrt(2.0) * 1e150, rel=1e-12)
    # unchanged where nothing over/underflows, and still nan outside the domain (G2 at 3 rho R sqrt(N) < B)
    assert math.isnan(catalog.get("G2")(B=3001.0, p=1e6, N=1e4, rho=1.0, R=10.0, delta=0.05))


def test_log1p_forms_keep_their_digits_near_zero_and_one():
    """Cancellation without any floating-point flag: log(1 + x) for x < 1e-16 and 1 - rho^2 for small rho."""
    import math

    mi = catalog.get("GaussianMI.corr")
    assert mi(corr=1e-100) == pytest.approx(0.5e-200, rel=1e-12)  # -log(1 - rho^2)/2 ~ rho^2/2
    d = 2.0 ** -52  # rho = 1 - d: 1 - rho^2 = d (2 - d)
    assert mi(corr=1 - d) == pytest.approx(-0.5 * (math.log(d) + math.log(2 - d)), rel=1e-14)
    bits = catalog.get("G3.loss_range_bits")(V=1e-300, alpha_s=1e-260)  # x = (1 - alpha) V / alpha = 1e-40
    assert bits == pytest.approx(1e-40 / math.log(2), rel=1e-12)
