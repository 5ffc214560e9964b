"""C1/C2: the sympy-derived optimal step really minimizes the bound (checked by numeric minimization), and
the optimized bound has log-log slope -1/2 in T (sympy limit), -1 without gradient noise."""
import numpy as np
import pytest
import sympy as sp
from scipy.optimize import minimize_scalar

from bounds import catalog
from bounds.symbols import T, sigma


def _random_points(n, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        yield dict(Delta=10 ** rng.uniform(-2, 2), beta=10 ** rng.uniform(-2, 2), sigma=10 ** rng.uniform(-3, 1),
                   T=10 ** rng.uniform(0, 6), D=10 ** rng.uniform(3, 6), r=10 ** rng.uniform(0, 2.9))


@pytest.mark.parametrize("cid", ["C1", "C2"])
def test_eta_star_minimizes_the_bound_over_admissible_steps(cid):
    bound, eta_star, at_star = (catalog.get(cid), catalog.get(f"{cid}.eta_star"), catalog.get(f"{cid}.at_eta_star"))
    capped = 0
    for point in _random_points(40, seed=1 if cid == "C1" else 2):
        kw = {k: v for k, v in point.items() if k in eta_star.arg_names}
        beta = kw["beta"]
        # minimize B(eta) over log(eta) in (1e-12/beta, 1/beta]: the admissible steps
        res = minimize_scalar(lambda le: bound(**kw, eta=np.exp(le)), bounds=(np.log(1e-12 / beta), np.log(1 / beta)),
                              method="bounded", options={"xatol": 1e-12})
        eta_num = float(np.exp(res.x))
        assert eta_star(**kw) == pytest.approx(eta_num, rel=1e-4)
        assert at_star(**kw) == pytest.approx(bound(**kw, eta=eta_num), rel=1e-6)
        assert at_star(**kw) <= bound(**kw, eta=eta_num) * (1 + 1e-12)
        assert catalog.get(f"{cid}.rate")(**kw) >= at_star(**kw) * (1 - 1e-12)
        capped += eta_star(**kw) == pytest.approx(1 / beta)
    assert 0 < capped < 40  # both regimes (capped at 1/beta and interior) were exercised


@pytest.mark.parametrize("rid", ["C1.rate", "C2.rate", "C1.at_eta_star", "C2.at_eta_star"])
def test_loglog_slope_in_T(rid):
    expr = catalog.get(rid).expr
    slope = sp.limit(T * sp.diff(sp.log(expr), T), T, sp.oo)
    assert slope == sp.Rational(-1, 2)
    if rid.endswith(".rate"):
        noiseless = expr.subs(sigma, 0)
        assert sp.limit(T * sp.diff(sp.log(noiseless), T), T, sp.oo) == -1


def test_c2_with_full_rank_is_c1():
    for point in _random_points(5, seed=3):
        kw = {k: point[k] for k in ("Delta", "beta", "sigma", "T")}
        assert catalog.get("C2.rate")(**kw, D=7.0, r=7.0) == pytest.approx(catalog.get("C1.rate")(**kw), rel=1e-12)


def test_sigma_zero_takes_the_capped_step():
    kw = dict(Delta=1.0, beta=2.0, sigma=0.0, T=10.0)
    assert catalog.get("C1.eta_star")(**kw) == pytest.approx(0.5)
    assert catalog.get("C1.at_eta_star")(**kw) == pytest.approx(2 * 2.0 * 1.0 / 10.0)
