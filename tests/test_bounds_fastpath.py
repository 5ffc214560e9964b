"""bounds/_fast.py (what `lrkd rank` evaluates) is exactly what sympy prints from the catalog now, and its
functions agree with the catalog's compiled evaluators."""
import numpy as np
import pytest

from bounds import _fast, catalog, codegen


def test_generated_file_is_current():
    assert codegen.TARGET.read_text(encoding="utf-8") == codegen.generate(), \
        "bounds/_fast.py is stale: run `python -m bounds.codegen`"


@pytest.mark.parametrize("name, rid", list(codegen.FAST_FUNCTIONS.items()))
def test_fast_function_equals_catalog(name, rid):
    res = catalog.get(rid)
    rng = np.random.default_rng(0)
    ranges = {"alpha": (0.6, 3.0), "a": (0.2, 2.0), "b": (0.2, 1.5)}
    kw = {n: rng.uniform(*ranges.get(n, (0.5, 50.0)), size=64) for n in res.arg_names}
    fast = getattr(_fast, name)
    if name in codegen.MATH_FUNCTIONS:  # printed with math: scalars only
        got = np.array([fast(**{n: float(v[i]) for n, v in kw.items()}) for i in range(64)])
    else:
        got = fast(**kw)
    np.testing.assert_allclose(got, res(**kw), rtol=1e-13, atol=1e-13)
    # and on plain floats (the numpy-free path of `lrkd rank`)
    one = {n: float(v[0]) for n, v in kw.items()}
    assert getattr(_fast, name)(**one) == pytest.approx(res(**one), rel=1e-13)
    assert _fast.FORMULAS[rid] == res.formula_text()


def test_log_forms_are_the_log_of_r1_and_r2():
    """R1.log / R2.log equal log(R1) / log(R2) where those are representable (independent: numpy log of the
    catalog's direct forms), and stay finite where the direct forms overflow."""
    r1, r2 = catalog.get("R1"), catalog.get("R2")
    for s, c, alpha, a, b, n in [(2.0, 3.0, 0.8, 1.0, 0.5, 1e4), (1e-5, 7.0, 1.7, 0.5, 0.5, 10.0)]:
        assert _fast.r1_log_star(np.log(s), np.log(c), alpha, a, b, n) == pytest.approx(
            np.log(r1(s=s, c=c, alpha=alpha, a=a, b=b, N=n)), rel=1e-12)
        assert _fast.r2_log_budget(0.1, np.log(c), a, b, n) == pytest.approx(
            np.log(r2(epsilon=0.1, c=c, a=a, b=b, N=n)), rel=1e-12)
    # c = 5e-324 (B8): r* = (10 / 5e-324)^(1/2) ~ 1.42e162; the log form never overflows
    got = _fast.r1_log_star(0.0, np.log(5e-324), 1.0, 1.0, 0.5, 100.0)
    assert got == pytest.approx(0.5 * (np.log(10.0) - np.log(5e-324)), rel=1e-14)
