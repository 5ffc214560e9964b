"""One object per result of THEORY.md: its sympy expression, symbols, assumptions, LaTeX, reference and a
numpy evaluator compiled once (``sympy.lambdify(args, expr, "numpy", cse=True)``, fixed argument order).

A :class:`Result` reads as ``lhs <relation> expr``, e.g. ``gen <= 2B/sqrt(N) + ...``. Call it with keyword
arguments named like its symbols; numpy arrays broadcast::

    G2 = bounds.catalog.get("G2")
    G2(B=5.5, p=np.array([1e3, 1e6]), N=1e4, rho=1.0, R=10.0, delta=0.05)
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import sympy as sp
from sympy.printing.latex import LatexPrinter

from bounds.symbols import LATEX_NAMES

_RELATIONS = {"<=": r"\le", ">=": r"\ge", "=": "="}


class _Latex(LatexPrinter):
    """sympy's LaTeX printer, writing ``log1p(x)`` (used for accuracy near 0) as ``\\log(1 + x)``."""

    def _print_log1p(self, expr, exp=None):
        inner = self._print(1 + expr.args[0])
        tex = rf"\log{{\left({inner} \right)}}"
        return tex if exp is None else rf"{tex}^{{{exp}}}"


@dataclass(frozen=True, eq=False)
class Result:
    """A bound, identity or derived quantity: ``lhs relation expr(args)``.

    ``args`` fixes the argument order of the compiled evaluator; every free symbol of ``expr`` is in it.
    ``derived_from`` names the result a derived quantity came from (``None`` for THEORY's results).
    """

    id: str
    title: str
    statement: str
    assumptions: tuple[str, ...]
    expr: sp.Expr
    args: tuple[sp.Symbol, ...]
    reference: str
    lhs: str = "bound"
    lhs_latex: str = r"\mathrm{bound}"
    relation: str = "<="
    units: str = ""
    derived_from: str | None = None

    def __post_init__(self):
        if self.relation not in _RELATIONS:
            raise ValueError(f"relation must be one of {tuple(_RELATIONS)}, got {self.relation!r}")
        free = self.expr.free_symbols
        missing = free - set(self.args)
        if missing:
            raise ValueError(f"{self.id}: symbols {sorted(map(str, missing))} are not in args")
        names = [a.name for a in self.args]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.id}: duplicate argument names {names}")

    @property
    def arg_names(self) -> tuple[str, ...]:
        """The keyword names :meth:`__call__` takes, in the evaluator's order."""
        return tuple(a.name for a in self.args)

    @cached_property
    def latex(self) -> str:
        """``lhs \\le expr`` typeset by ``sympy.latex`` (never retyped)."""
        return f"{self.lhs_latex} {_RELATIONS[self.relation]} {_Latex({'symbol_names': LATEX_NAMES}).doprint(self.expr)}"

    @cached_property
    def evaluator(self):
        """The compiled numpy function of ``args`` (positional, in order); built once, on first use."""
        return sp.lambdify(self.args, self.expr, "numpy", cse=True)

    def formula_text(self) -> str:
        """Plain-text formula, ``lhs <= expr`` with sympy's string printer."""
        return f"{self.lhs} {self.relation} {sp.sstr(self.expr)}"

    def _values(self, kwargs: dict) -> list:
        names = self.arg_names
        missing = [n for n in names if n not in kwargs]
        extra = [n for n in kwargs if n not in names]
        if missing or extra:
            raise TypeError(f"{self.id} takes {', '.join(names)}; missing {missing}, unexpected {extra}")
        return [kwargs[n] for n in names]

    def __call__(self, **kwargs):
        """Evaluate at keyword arguments named like the symbols; arrays broadcast; returns float or ndarray."""
        vals = [np.asarray(v, dtype=float) for v in self._values(kwargs)]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = self.evaluator(*vals)
        out = np.asarray(out, dtype=float)
        shape = np.broadcast_shapes(*(v.shape for v in vals)) if vals else ()
        out = np.broadcast_to(out, shape).copy() if out.shape != shape else out
        return float(out) if out.ndim == 0 else out

    def evalf(self, precision: int = 30, **kwargs) -> float:
        """Reference value by substitution and ``evalf`` (slow; for tests and spot checks, never in loops)."""
        subs = {sym: sp.Float(repr(float(v)), precision + 10) for sym, v in zip(self.args, self._values(kwargs))}
        return float(sp.N(self.expr.subs(subs), precision))

    def to_dict(self) -> dict:
        """JSON-ready description: id, title, statement, assumptions, formula, LaTeX, arguments, reference."""
        return {
            "id": self.id, "title": self.title, "statement": self.statement,
            "assumptions": list(self.assumptions), "formula": self.formula_text(), "latex": self.latex,
            "args": list(self.arg_names), "reference": self.reference, "units": self.units,
            "derived_from": self.derived_from,
        }
