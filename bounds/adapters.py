"""One notion of rank across LRC, LoRA and SVD truncation: trainable parameters p(r), and conversions at equal p.

- LRC student width r (:mod:`bounds.params`, ../shared/LRC.md):
  :math:`p_{\\mathrm{LRC}}(r) = 7Ld_Tr + (1+[\\text{untied}])d_Tr + (2L+1)r`.
- LoRA rank r on each targeted module :math:`W_i\\in\\mathbb R^{m_i\\times n_i}` (Hu et al. 2021: :math:`B_iA_i`,
  :math:`A_i\\in\\mathbb R^{r\\times n_i}`, :math:`B_i\\in\\mathbb R^{m_i\\times r}`):
  :math:`p_{\\mathrm{LoRA}}(r) = r\\sum_i (m_i+n_i)`.
- SVD truncation to rank r of each targeted matrix (:math:`U_i\\Sigma_iV_i^\\top`, Σ folded into a factor):
  :math:`r(m_i+n_i)` stored numbers against :math:`m_in_i` dense — the same count as LoRA at the same r and
  targets; it replaces the matrix (compression :math:`\\sum_i r(m_i+n_i)/\\sum_i m_in_i`) where LoRA adds to it.

Equal trainable parameters: the rank r' of adapter B with :math:`p_B(r') \\le p_A(r)` as close as possible,
:math:`r' = \\lfloor p_A(r)/k_B \\rfloor` for a count :math:`p_B(r) = k_B r` linear in r (all three are).
"""
from __future__ import annotations

from dataclasses import dataclass

from bounds.modules import LinearModule
from bounds.params import TeacherArch

ADAPTERS = ("lrc", "lora", "svd")


@dataclass(frozen=True)
class AdapterCount:
    """p(r) = per_rank * r for one adapter on one model; ``max_rank`` caps r; ``dense`` is what SVD replaces."""

    adapter: str
    per_rank: int
    max_rank: int
    n_modules: int
    dense: int | None = None
    description: str = ""

    def params(self, rank: int) -> int:
        """:math:`p(r) = k r`."""
        if rank < 0:
            raise ValueError(f"rank must be >= 0, got {rank}")
        return self.per_rank * int(rank)

    def rank_for_params(self, params: float) -> int:
        """The largest r with p(r) <= params (0 when even r = 1 costs more), capped at ``max_rank``."""
        return int(min(max(params, 0) // self.per_rank, self.max_rank))


def lrc_count(arch: TeacherArch) -> AdapterCount:
    """LRC's count from :meth:`bounds.params.TeacherArch.params_per_rank` (the one implementation)."""
    return AdapterCount("lrc", arch.params_per_rank(), arch.hidden_size, 7 * arch.num_layers,
                        description=f"LRC student width (d_T = {arch.hidden_size}, L = {arch.num_layers})")


def factorized_count(adapter: str, modules: list[LinearModule]) -> AdapterCount:
    """LoRA or SVD at one rank r on every module of ``modules``: :math:`r\\sum_i(m_i+n_i)`."""
    if adapter not in ("lora", "svd"):
        raise ValueError(f"adapter must be lora or svd, got {adapter!r}")
    if not modules:
        raise ValueError("no modules to adapt")
    what = "LoRA rank per adapted module" if adapter == "lora" else "SVD truncation rank per matrix"
    return AdapterCount(adapter, sum(m.per_rank for m in modules), min(m.max_rank for m in modules), len(modules),
                        dense=sum(m.dense for m in modules), description=f"{what} ({len(modules)} modules)")


def conversions(rank: int, source: AdapterCount, others: list[AdapterCount]) -> list[dict]:
    """The rank of each other adapter at the trainable parameters of ``source`` at ``rank``."""
    p = source.params(rank)
    out = []
    for other in others:
        r = other.rank_for_params(p)
        row = {"adapter": other.adapter, "rank": r, "params": other.params(r), "description": other.description}
        if other.dense:
            row["fraction_of_dense"] = other.params(r) / other.dense
            row["break_even_rank"] = other.dense // other.per_rank  # r(m+n) = mn: SVD stops compressing
        out.append(row)
    return out
