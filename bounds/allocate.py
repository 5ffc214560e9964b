"""Per-matrix rank allocation: spend a parameter budget where the singular-value tails lose the most.

Matrices :math:`W_i\\in\\mathbb R^{m_i\\times n_i}` with singular values :math:`\\sigma_{i1}\\ge\\sigma_{i2}\\ge\\dots`;
rank :math:`r_i` costs :math:`k_i r_i` parameters, :math:`k_i = m_i+n_i` (LoRA or SVD factors). Minimise the
total Eckart–Young tail energy (Eckart & Young 1936), optionally plus a variance price λ per parameter:

.. math:: \\min_{r}\\ \\sum_i T_i(r_i) + \\lambda\\sum_i k_i r_i \\quad\\text{s.t.}\\quad \\sum_i k_i r_i \\le P,
          \\qquad T_i(r) = \\sum_{k>r}\\sigma_{ik}^2 .

Raising :math:`r_i` by one gains :math:`\\sigma_{i,r_i+1}^2` at cost :math:`k_i`. The tails are convex (the gains
do not increase), so taking increments in decreasing order of gain per parameter is marginal allocation
(Fox 1966): every prefix of that order minimises :math:`\\sum_i T_i + \\mu\\sum_i k_ir_i` for the current ratio μ,
hence is optimal for the parameters it spends (Everett 1963); with equal :math:`k_i` it is optimal for any
budget. With unequal costs the increment that no longer fits is skipped and cheaper ones still taken
(fill); the uniform allocation (one rank for all, capped per matrix) filled the same way is kept when better,
so the result is never worse than uniform at the same budget. With a price λ and no budget the answer is
exact: take every increment with :math:`\\sigma^2_{i,r+1} > \\lambda k_i`. With a calibrated surface
(:func:`allocate_with_variance`) the budget itself is chosen: the prefix minimising
:math:`A\\sum_iT_i + C P^a N^{-b}`.

Numpy only; a model folder is read through :mod:`bounds.modules` and :mod:`bounds.spectrum_io`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from bounds.modules import LinearModule


def tail_energies(singular_values) -> np.ndarray:
    """:math:`T(r) = \\sum_{k>r}\\sigma_k^2` for r = 0..K (``T[K] = 0``)."""
    e = np.sort(np.asarray(singular_values, dtype=float))[::-1] ** 2
    return np.concatenate([np.cumsum(e[::-1])[::-1], [0.0]])


def total_tail(tails: list[np.ndarray], ranks) -> float:
    """:math:`\\sum_i T_i(r_i)`."""
    return float(sum(t[min(int(r), t.size - 1)] for t, r in zip(tails, ranks)))


def _increments(tails, costs):
    """All increments (matrix, from-rank) in decreasing gain per parameter, ties by matrix then rank."""
    idx, ks, ratio = [], [], []
    for i, (t, c) in enumerate(zip(tails, costs)):
        gains = -np.diff(t)
        if np.any(np.diff(gains) > 1e-12 * max(gains[0], 1e-300)):
            raise ValueError(f"matrix {i}: the tail energies are not convex (singular values not sorted)")
        idx.append(np.full(gains.size, i))
        ks.append(np.arange(gains.size))
        ratio.append(gains / c)
    idx, ks, ratio = np.concatenate(idx), np.concatenate(ks), np.concatenate(ratio)
    order = np.lexsort((ks, idx, -ratio))
    return idx[order], ks[order], ratio[order]


def _fill(ranks: np.ndarray, tails, costs, budget: float, order) -> np.ndarray:
    """Take, in ``order``, every next increment of a matrix that still fits the budget."""
    ranks = ranks.copy()
    spent = float(np.dot(ranks, costs))
    for i, k in zip(*order[:2]):
        if k == ranks[i] and spent + costs[i] <= budget:
            ranks[i] += 1
            spent += costs[i]
    return ranks


def greedy_prefix(tails, costs, budget: float) -> np.ndarray:
    """The longest prefix of the marginal-allocation order within ``budget`` (optimal for what it spends)."""
    idx, _, _ = _increments(tails, costs)
    spent = np.cumsum(np.asarray(costs, dtype=float)[idx])
    n = int(np.searchsorted(spent, budget * (1 + 1e-12), side="right"))
    return np.bincount(idx[:n], minlength=len(tails)).astype(int)


def uniform_ranks(tails, costs, budget: float) -> np.ndarray:
    """One rank u for every matrix (capped at each matrix's size), the largest with :math:`\\sum_i k_i r_i \\le P`."""
    caps = np.array([t.size - 1 for t in tails])
    costs = np.asarray(costs, dtype=float)
    u = 0
    while u < caps.max() and float(np.dot(np.minimum(u + 1, caps), costs)) <= budget * (1 + 1e-12):
        u += 1
    return np.minimum(u, caps).astype(int)


def allocate(tails, costs, budget: float | None = None, price: float = 0.0) -> np.ndarray:
    """Ranks minimising :math:`\\sum_i T_i(r_i) + \\lambda\\sum_ik_ir_i` within ``budget`` (see the module
    docstring). ``budget=None`` needs ``price > 0`` (then exact)."""
    costs = np.asarray(costs, dtype=float)
    if np.any(costs <= 0):
        raise ValueError("costs must be positive")
    order = _increments(tails, costs)
    worth = order[2] > price                                   # increments that pay for their variance price
    order = (order[0][worth], order[1][worth], order[2][worth])
    if budget is None:
        if not price > 0:
            raise ValueError("allocate needs a budget or a positive price")
        return np.bincount(order[0], minlength=len(tails)).astype(int)
    spent = np.cumsum(costs[order[0]])
    n = int(np.searchsorted(spent, budget * (1 + 1e-12), side="right"))
    prefix = np.bincount(order[0][:n], minlength=len(tails)).astype(int)
    best = _fill(prefix, tails, costs, budget, order)
    uni = uniform_ranks(tails, costs, budget)
    if price > 0:  # the uniform start must also not pay for increments worth less than their price
        uni = np.minimum(uni, np.bincount(order[0], minlength=len(tails)))
    uni = _fill(uni, tails, costs, budget, order)

    def objective(r):
        return total_tail(tails, r) + price * float(np.dot(r, costs))
    return best if objective(best) <= objective(uni) else uni


def allocate_with_variance(tails, costs, *, A: float, C: float, a: float, b: float, N: float) -> np.ndarray:
    """Ranks minimising the calibrated loss surface's rank-dependent part over the matrices,

    .. math:: A\\sum_i T_i(r_i) + C\\,P^{a}N^{-b},\\qquad P = \\sum_i k_i r_i ,

    (:mod:`bounds.surface` fitted with tail(r) = Σ_i T_i(r) and p(r) = Σ_i k_i r of uniform-rank pilot runs). Each
    prefix of the marginal-allocation order is optimal for the parameters it spends (Everett 1963), so the
    minimum over prefixes is exact whenever every budget is a prefix end (equal :math:`k_i`); the prefixes are
    evaluated at once (cumulative gains and costs)."""
    costs = np.asarray(costs, dtype=float)
    idx, _, ratio = _increments(tails, costs)
    gains = ratio * costs[idx]
    spent = np.concatenate([[0.0], np.cumsum(costs[idx])])
    tail = float(sum(t[0] for t in tails)) - np.concatenate([[0.0], np.cumsum(gains)])
    with np.errstate(divide="ignore"):
        objective = A * tail + C * spent ** a * float(N) ** (-b)
    j = int(np.argmin(objective))
    return np.bincount(idx[:j], minlength=len(tails)).astype(int)


@dataclass(frozen=True, eq=False)
class Allocation:
    """Per-module ranks at a parameter budget, with the uniform allocation at the same budget for comparison."""

    modules: tuple[LinearModule, ...]
    ranks: tuple[int, ...]
    uniform: tuple[int, ...]
    tail: float
    uniform_tail: float
    total_energy: float
    budget: float
    info: dict = field(default_factory=dict)

    @property
    def params(self) -> int:
        return int(sum(m.per_rank * r for m, r in zip(self.modules, self.ranks)))

    @property
    def uniform_params(self) -> int:
        return int(sum(m.per_rank * r for m, r in zip(self.modules, self.uniform)))

    @property
    def ratio(self) -> float:
        """Allocated / uniform tail energy (< 1: the allocation keeps more of the matrices)."""
        return self.tail / self.uniform_tail if self.uniform_tail > 0 else (1.0 if self.tail == 0 else math.inf)

    def rank_pattern(self) -> dict[str, int]:
        """PEFT ``LoraConfig(rank_pattern=...)``: full module name -> rank (modules allocated rank 0 left out)."""
        return {m.name: int(r) for m, r in zip(self.modules, self.ranks) if r > 0}

    def to_dict(self) -> dict:
        return {"budget_params": self.budget, "params": self.params, "uniform_params": self.uniform_params,
                "tail_energy": self.tail, "uniform_tail_energy": self.uniform_tail,
                "total_energy": self.total_energy, "tail_ratio_vs_uniform": self.ratio,
                "modules": [{"name": m.name, "shape": [m.out_features, m.in_features], "rank": int(r),
                             "uniform_rank": int(u)} for m, r, u in zip(self.modules, self.ranks, self.uniform)],
                "rank_pattern": self.rank_pattern(),
                "modules_at_rank_0": [m.name for m, r in zip(self.modules, self.ranks) if r == 0], **self.info}


def allocate_modules(modules: list[LinearModule], spectra: list, *, budget_params: float,
                     price: float = 0.0) -> Allocation:
    """:func:`allocate` on given modules and their singular values."""
    if not budget_params > 0:
        raise ValueError(f"the parameter budget must be positive, got {budget_params}")
    tails = [tail_energies(s) for s in spectra]
    costs = [m.per_rank for m in modules]
    ranks = allocate(tails, costs, budget_params, price)
    uni = uniform_ranks(tails, costs, budget_params)
    return Allocation(tuple(modules), tuple(int(r) for r in ranks), tuple(int(u) for u in uni),
                      total_tail(tails, ranks), total_tail(tails, uni), float(sum(t[0] for t in tails)),
                      float(budget_params))


def allocate_modules_with_variance(modules: list[LinearModule], spectra: list, *, A: float, C: float, a: float,
                                   b: float, N: float) -> Allocation:
    """:func:`allocate_with_variance` on modules; the uniform comparison spends the same parameters."""
    tails = [tail_energies(s) for s in spectra]
    costs = [m.per_rank for m in modules]
    ranks = allocate_with_variance(tails, costs, A=A, C=C, a=a, b=b, N=N)
    budget = float(np.dot(ranks, costs))
    uni = uniform_ranks(tails, costs, budget)
    variance = C * budget ** a * float(N) ** (-b)
    return Allocation(tuple(modules), tuple(int(r) for r in ranks), tuple(int(u) for u in uni),
                      total_tail(tails, ranks), total_tail(tails, uni), float(sum(t[0] for t in tails)), budget,
                      {"mode": "calibrated variance", "objective": A * total_tail(tails, ranks) + variance,
                       "variance_term": variance, "constants": {"A": A, "C": C, "a": a, "b": b, "N": float(N)}})


def total_tail_function(tails: list[np.ndarray], costs):
    """(tail(r), p(r)) of a uniform rank r over the matrices, for calibrating pilot runs made at uniform ranks:
    :math:`\\mathrm{tail}(r) = \\sum_i T_i(\\min(r, K_i))`, :math:`p(r) = \\sum_i k_i\\min(r, K_i)`."""
    caps = np.array([t.size - 1 for t in tails])
    costs = np.asarray(costs, dtype=float)

    def tail(r):
        r = np.asarray(r, dtype=int)
        return sum(t[np.minimum(r, t.size - 1)] for t in tails)

    def params(r):
        r = np.asarray(r, dtype=float)
        return sum(c * np.minimum(r, k) for c, k in zip(costs, caps))
    return tail, params


def model_spectra(folder, modules: list[LinearModule]) -> list[np.ndarray]:
    """Singular values of each module's weight (read through :func:`bounds.spectrum_io.read_spectrum`)."""
    from bounds.spectrum_io import read_spectrum

    return [read_spectrum(folder, module=m.name).singular_values for m in modules]


def allocate_model(folder, *, budget_fraction: float | None = None, budget_params: float | None = None,
                   targets: tuple[str, ...] | None = None) -> Allocation:
    """Allocate over a model folder's (targeted) matrices; the budget is ``budget_params`` or a fraction of the
    dense parameter count :math:`\\sum_i m_in_i` (SVD-LLM's parameter ratio)."""
    from bounds.modules import modules_from_folder, select

    modules = select(modules_from_folder(folder), targets)
    dense = sum(m.dense for m in modules)
    if budget_params is None:
        if budget_fraction is None or not 0 < budget_fraction:
            raise ValueError("give budget_params or a positive budget_fraction")
        budget_params = budget_fraction * dense
    alloc = allocate_modules(modules, model_spectra(folder, modules), budget_params=budget_params)
    return Allocation(alloc.modules, alloc.ranks, alloc.uniform, alloc.tail, alloc.uniform_tail,
                      alloc.total_energy, alloc.budget,
                      {"dense_params": dense, "budget_fraction_of_dense": budget_params / dense})


def allocation_summary(model_folder, budget_fraction: float = 0.1, targets=None) -> dict:
    """For a report: allocated vs uniform tail energy at equal parameters, and a few markdown lines.

    The uniform allocation is the largest one rank for all within ``budget_fraction`` of the dense count; the
    allocation gets exactly the parameters the uniform one spends (equal parameters, not merely equal budget)."""
    from bounds.modules import modules_from_folder, select

    modules = select(modules_from_folder(model_folder), targets)
    spectra = model_spectra(model_folder, modules)
    dense = sum(m.dense for m in modules)
    costs = [m.per_rank for m in modules]
    uni = uniform_ranks([tail_energies(s) for s in spectra], costs, budget_fraction * dense)
    alloc = allocate_modules(modules, spectra, budget_params=float(np.dot(uni, costs)))
    d = alloc.to_dict()
    ranks = np.array(alloc.ranks)
    kinds: dict[str, list[int]] = {}
    for m, r in zip(alloc.modules, alloc.ranks):
        kinds.setdefault(".".join(p for p in m.name.split(".")[2:] if not p.isdigit()) or m.name, []).append(r)
    md = [f"Per-matrix rank allocation ({len(alloc.modules)} matrices, uniform rank {max(alloc.uniform)} = "
          f"{alloc.uniform_params / dense:.1%} of the dense parameters, same parameter count allocated): "
          f"tail energy allocated / uniform = **{alloc.ratio:.3f}** "
          f"(energy lost {alloc.tail / alloc.total_energy:.2%} vs {alloc.uniform_tail / alloc.total_energy:.2%}).",
          "Allocated ranks by kind (min–max over layers): "
          + "; ".join(f"{k} {min(v)}–{max(v)}" for k, v in kinds.items()) + "."]
    return {"budget_fraction": budget_fraction, "tail_ratio_vs_uniform": alloc.ratio, "params": alloc.params,
            "uniform_params": alloc.uniform_params, "uniform_rank": int(max(alloc.uniform)),
            "rank_min": int(ranks.min()), "rank_max": int(ranks.max()), "allocation": d, "markdown": md}
