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
    np.testing.assert_allclose(getattr(_fast, name)(**kw), res(**kw), rtol=1e-13)
    # and on plain floats (the numpy-free path of `lrkd rank`)
    one = {n: float(v[0]) for n, v in kw.items()}
    assert getattr(_fast, name)(**one) == pytest.approx(res(**one), rel=1e-13)
    assert _fast.FORMULAS[rid] == res.formula_text()
