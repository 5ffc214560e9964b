"""One object per result of docs/theory.md: its sympy expression, symbols, assumptions, LaTeX, reference and a
numpy evaluator compiled once (``sympy.lambdify(args, expr, "numpy", cse=True)``, fixed argument order).

A :class:`Result` reads as ``lhs <relation> expr``, e.g. ``gen <= 2B/sqrt(N) + ...``. Call it with keyword
arguments named like its symbols; numpy arrays broadcast::

    G2 = bounds.catalog.get("G2")
    G2(B=5.5, p=np.array([1e3, 1e6]), N=1e4, rho=1.0, R=10.0, delta=0.05)

The compiled evaluator is plain numpy: outside a result's assumptions it may return NaN (e.g. G2's square
root of a negative number when :math:`3\\rho R\\sqrt N \\le B`). :meth:`Result.check_domain` names the violated
assumption instead (the symbols' own domains, positive / non-negative / finite, and the result's ``domain``
conditions, decided at 40 digits with an unbounded exponent so that huge or tiny inputs cannot flip them);
:meth:`Result.checked` is ``check_domain`` + evaluation that never returns NaN or inf silently.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import sympy as sp
from sympy.printing.latex import LatexPrinter

from bounds.symbols import LATEX_NAMES

_RELATIONS = {"<=": r"\le", ">=": r"\ge", "=": "="}
_DPS = 40  # mpmath digits for domain conditions and the exact fallback of :meth:`Result.checked`


class DomainError(ValueError):
    """Arguments outside a result's assumptions (or where its value is not a real number); one-line message."""


class FloatRangeError(OverflowError):
    """The exact value is a real number but beyond the float range (|x| > 1.8e308); one-line message."""


def _fmt_point(names, values) -> str:
    return ", ".join(f"{n}={float(v):g}" for n, v in zip(names, values))


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
    ``derived_from`` names the result a derived quantity came from (``None`` for the theory's results).
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
    #: conditions beyond the symbols' own domains, as (words, sympy relational in ``args``), e.g.
    #: ``("3 rho R sqrt(N) > B", 3*rho*R*sqrt(N) > B)``; checked by :meth:`check_domain`
    domain: tuple = ()

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
        for text, cond in self.domain:
            if not isinstance(cond, sp.core.relational.Relational) or not cond.free_symbols <= set(self.args):
                raise ValueError(f"{self.id}: domain condition {text!r} must be a relation in its args")

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
        """Evaluate at keyword arguments named like the symbols; arrays broadcast; returns float or ndarray.

        The compiled numpy evaluator runs first. If it raised any floating-point exception (overflow, underflow,
        invalid, divide: an intermediate such as ``N**b * s`` may overflow, or underflow to a subnormal, while
        the value is modest), every element is recomputed at 40 digits by mpmath (unbounded exponent) and
        replaced wherever that value is real: by the value inside the float range, by +-inf beyond it. Elements
        outside the result's domain stay NaN (see :meth:`check_domain`). Without an exception nothing changes.
        """
        vals = [np.asarray(v, dtype=float) for v in self._values(kwargs)]
        raised: list[str] = []
        with np.errstate(all="call", call=lambda kind, _flag: raised.append(kind)):
            out = self.evaluator(*vals)
            out = np.asarray(out, dtype=float)
        shape = np.broadcast_shapes(*(v.shape for v in vals)) if vals else ()
        out = np.broadcast_to(out, shape).copy() if out.shape != shape else out
        if raised:
            out = np.array(out, dtype=float)  # writable
            grid = [np.broadcast_to(v, shape) for v in vals]
            for idx in np.ndindex(*shape):
                exact = self._exact([g[idx] for g in grid])
                if exact is not None:
                    out[idx] = exact
        return float(out) if out.ndim == 0 else out

    def _exact(self, point):
        """The value at one point as a float (+-inf beyond the float range), computed at 40 digits by mpmath;
        ``None`` where it is not a real number or the inputs are not finite."""
        import mpmath

        if not all(np.isfinite(v) for v in point):
            return None
        with mpmath.workdps(_DPS):
            try:
                val = self._mp_evaluator(*[mpmath.mpf(float(v)) for v in point])
            except (ZeroDivisionError, ValueError, TypeError, OverflowError):
                return None
            if isinstance(val, mpmath.mpc):
                if val.imag != 0:
                    return None
                val = val.real
            val = mpmath.mpf(val)
            if mpmath.isnan(val):
                return None
            if mpmath.isinf(val) or abs(val) > np.finfo(float).max:
                return float("inf") if val > 0 else float("-inf")
            return float(val)

    @cached_property
    def _mp_domain(self):
        """Each domain condition as (words, mpmath function of args giving lhs - rhs, relation class)."""
        return [(text, sp.lambdify(self.args, cond.lhs - cond.rhs, "mpmath"), type(cond))
                for text, cond in self.domain]

    @cached_property
    def _mp_evaluator(self):
        return sp.lambdify(self.args, self.expr, "mpmath")

    def _grid(self, kwargs: dict):
        """(broadcast arrays of every argument, shape) for element-wise checks."""
        vals = [np.asarray(v, dtype=float) for v in self._values(kwargs)]
        shape = np.broadcast_shapes(*(v.shape for v in vals)) if vals else ()
        return [np.broadcast_to(v, shape) for v in vals], shape

    def _where(self, grid, idx, shape) -> str:
        at = f" (element {idx[0] if len(idx) == 1 else idx})" if shape else ""
        return f"{_fmt_point(self.arg_names, [g[idx] for g in grid])}{at}"

    def domain_violation(self, **kwargs) -> str | None:
        """One line naming the first assumption the arguments violate, or ``None`` when they satisfy all.

        Checked: every value finite; the symbols' domains (``positive`` -> > 0, ``nonnegative`` -> >= 0); then
        the result's ``domain`` conditions, at 40 digits with mpmath's unbounded exponent (exact for the
        binary inputs up to rounding far below float precision), element by element for arrays.
        """
        import mpmath

        grid, shape = self._grid(kwargs)
        for sym, vals in zip(self.args, grid):
            checks = [(~np.isfinite(vals), "finite")]
            if sym.is_positive:
                checks.append((vals <= 0, "> 0"))
            elif sym.is_nonnegative:
                checks.append((vals < 0, ">= 0"))
            for bad, need in checks:
                if np.any(bad):
                    idx = tuple(np.argwhere(bad)[0])
                    at = f" (element {idx[0] if len(idx) == 1 else idx})" if shape else ""
                    return f"{self.id} needs {sym.name} {need}, got {sym.name}={float(vals[idx]):g}{at}"
        for text, fn, rel in self._mp_domain:
            with mpmath.workdps(_DPS):
                for idx in np.ndindex(*shape):
                    diff = fn(*[mpmath.mpf(float(g[idx])) for g in grid])
                    ok = {sp.StrictGreaterThan: diff > 0, sp.GreaterThan: diff >= 0,
                          sp.StrictLessThan: diff < 0, sp.LessThan: diff <= 0}.get(rel)
                    if ok is None:
                        raise TypeError(f"{self.id}: unsupported relation in domain condition {text!r}")
                    if not ok:
                        return f"{self.id} needs {text}; violated at {self._where(grid, idx, shape)}"
        return None

    def check_domain(self, **kwargs) -> None:
        """Raise :class:`DomainError` (one line naming the violated assumption) unless the arguments satisfy
        the result's assumptions; see :meth:`domain_violation`."""
        reason = self.domain_violation(**kwargs)
        if reason is not None:
            raise DomainError(reason)

    def checked(self, **kwargs):
        """:meth:`check_domain`, then the value (:meth:`__call__`); never a silent NaN or inf.

        Raises :class:`DomainError` where the value is not a real number although the named assumptions hold
        (listing all of them), and :class:`FloatRangeError` where the exact value is beyond the float range.
        """
        self.check_domain(**kwargs)
        value = self(**kwargs)
        out = np.atleast_1d(np.asarray(value, dtype=float))
        bad = ~np.isfinite(out)
        if not bad.any():
            return value
        grid, shape = self._grid(kwargs)
        grid = [np.atleast_1d(g) for g in grid]
        idx = tuple(np.argwhere(bad)[0])
        where = self._where(grid, idx, shape)
        if np.isnan(out[idx]):
            raise DomainError(f"{self.id} is undefined (not a real number) at {where}; its assumptions: "
                              + "; ".join(self.assumptions))
        raise FloatRangeError(f"{self.id} = {'+' if out[idx] > 0 else '-'}inf at {where}: the value is beyond the "
                              "float range (|x| > 1.8e308)")

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
