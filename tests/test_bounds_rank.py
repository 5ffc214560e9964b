"""R1/R2/R3: the sympy closed forms against brute force (grid argmins, integer scans) written out here."""
import numpy as np
import pytest

from bounds import catalog, recommend
from bounds.rank import RATE_FORMS, alpha_for_half


def _risk(r, s, c, alpha, a, b, N):
    """The risk model of THEORY R, typed independently of bounds/: power-law tail integral + variance."""
    return s * r ** (1 - 2 * alpha) / (2 * alpha - 1) + c * r**a / N**b


def _cases(n, seed):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        case = dict(s=10 ** rng.uniform(-2, 2), c=10 ** rng.uniform(-2, 2), alpha=rng.uniform(0.55, 3.0),
                    a=rng.uniform(0.2, 2.0), b=rng.uniform(0.2, 1.5), N=10 ** rng.uniform(1, 6))
        r_star = catalog.get("R1")(**case)
        if 1e-2 < r_star < 1e5:
            out.append(case)
    return out


GRID = np.geomspace(1e-3, 1e6, 400_001)


def _grid_argmin(case):
    return GRID[np.argmin(_risk(GRID, **case))]


@pytest.mark.parametrize("case", _cases(20, seed=0))
def test_r1_closed_form_equals_grid_argmin(case):
    assert catalog.get("R1")(**case) == pytest.approx(_grid_argmin(case), rel=1e-4)


@pytest.mark.parametrize("case", _cases(10, seed=1))
def test_gamma_equals_slope_of_brute_force_argmins(case):
    lo, hi = dict(case, N=case["N"]), dict(case, N=case["N"] * 10)
    r_hi = catalog.get("R1")(**hi)
    if not 1e-2 < r_hi < 1e5:
        pytest.skip("r* left the grid")
    slope = np.log10(_grid_argmin(hi) / _grid_argmin(lo))
    gamma = catalog.get("R1.gamma")(alpha=case["alpha"], a=case["a"], b=case["b"])
    assert gamma == pytest.approx(slope, abs=1e-3)


def test_alpha_for_gamma_half_matches_theory():
    # THEORY.md R1: gamma = 1/2 for the fast rate with alpha = 1, G2 with alpha = 3/4, G1 only at alpha = 1/2
    assert {f: float(alpha_for_half(f)) for f in RATE_FORMS} == {"paper": 0.5, "covering": 0.75, "fast": 1.0}
    for form, (a, b) in RATE_FORMS.items():
        assert catalog.get(f"R1.alpha_half.{form}")() == float(alpha_for_half(form))
        alpha = catalog.get("R1.alpha_half")(a=a, b=b)
        if alpha > 0.5:  # the brute-force argmin grows as sqrt(N) exactly there
            case = dict(s=1.0, c=1.0, alpha=alpha, a=a, b=b)
            r1, r2 = _grid_argmin(dict(case, N=1e3)), _grid_argmin(dict(case, N=1e5))
            assert np.log10(r2 / r1) / 2 == pytest.approx(0.5, abs=1e-3)


@pytest.mark.parametrize("form", list(RATE_FORMS))
def test_r1_integer_rank_is_the_integer_argmin(form):
    a, b = RATE_FORMS[form]
    rng = np.random.default_rng(4)
    for _ in range(20):
        s, c, alpha, N = 10 ** rng.uniform(-1, 2), 10 ** rng.uniform(-1, 1), rng.uniform(0.6, 2.0), 10 ** rng.uniform(1, 6)
        r_max = 500
        ks = np.arange(1, r_max + 1)
        brute = int(ks[np.argmin(_risk(ks.astype(float), s, c, alpha, a, b, N))])
        rank, _ = recommend.r1_rank(s, c, alpha, form, N, r_max)
        assert rank == brute


@pytest.mark.parametrize("form", list(RATE_FORMS))
def test_r2_budget_rank_is_the_largest_rank_within_budget(form):
    a, b = RATE_FORMS[form]
    rng = np.random.default_rng(5)
    for _ in range(30):
        eps, c, N = 10 ** rng.uniform(-3, 0), 10 ** rng.uniform(-2, 2), 10 ** rng.uniform(1, 7)
        ks = np.arange(0, 20001)
        within = ks[c * ks.astype(float) ** a / N**b <= eps]
        rank, r_real = recommend.r2_rank(eps, c, form, N, 20000)
        assert rank == int(within.max())
        assert r_real == pytest.approx(catalog.get("R2")(epsilon=eps, c=c, a=a, b=b, N=N), rel=1e-12)


@pytest.mark.parametrize("form", list(RATE_FORMS))
def test_r3_rank_is_the_brute_force_argmin(form):
    a, b = RATE_FORMS[form]
    rng = np.random.default_rng(6)
    for _ in range(10):
        sv = np.sort(rng.gamma(0.5, size=60))[::-1] * 10
        c, N = 10 ** rng.uniform(-2, 2), 10 ** rng.uniform(1, 6)
        objective = [np.sum(sv[r:] ** 2) + c * r**a / N**b for r in range(1, 61)]
        assert recommend.r3_rank(sv, c, form, N) == int(np.argmin(objective)) + 1
        # and the curve is the catalog's R3 objective
        curve = recommend.r3_objective_curve(sv, c, form, N)
        r = np.arange(61, dtype=float)
        tails = np.array([np.sum(sv[k:] ** 2) for k in range(61)])
        np.testing.assert_allclose(curve, catalog.get("R3")(tail=tails, c=c, r=r, a=a, b=b, N=N), rtol=1e-12)


def test_r1_rejects_alpha_at_or_below_half():
    with pytest.raises(ValueError):
        recommend.r1_rank(1.0, 1.0, 0.5, "fast", 100, 10)
