"""`lrkd bounds`: the derived bounds (id, statement, assumptions, formula), or one evaluated at your numbers.

    lrkd bounds [--json | --latex | --markdown] [--all]
    lrkd bounds --eval ID name=value ... [--json]

Values are numbers, or comma lists of numbers (arrays, broadcast together). Only the result's own argument
names are accepted and values are parsed with ``float`` alone: user text is never evaluated.
Values outside the result's assumptions (:meth:`bounds.result.Result.check_domain`, e.g. G2 with
3 rho R sqrt(N) <= B) and values beyond the float range are refused in one line (exit 2), never printed
as nan/inf.
"""
from __future__ import annotations

import math
import sys

from bounds.cliutil import UsageError


def configure(parser) -> None:
    """Arguments of ``lrkd bounds``."""
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="machine-readable output")
    fmt.add_argument("--latex", action="store_true", help="LaTeX of every formula (from sympy.latex)")
    fmt.add_argument("--markdown", action="store_true",
                     help="the theory document docs/theory.md (claims, statements, assumptions, formulas, references)")
    parser.add_argument("--all", action="store_true",
                        help="also list the derived quantities (eta*, gamma, alpha for gamma = 1/2, ...)")
    parser.add_argument("--eval", metavar="ID", help="evaluate one result (e.g. G2, C1.eta_star) at name=value ...")
    parser.add_argument("values", nargs="*", metavar="name=value",
                        help="arguments of --eval; a comma list is an array (e.g. N=100,1000,10000)")


def _parse_value(name: str, text: str):
    parts = text.split(",")
    values = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            raise UsageError(f"{name}: expected a number or a comma list of numbers, got {text!r}") from None
        if not math.isfinite(value):
            raise UsageError(f"{name}: expected finite numbers, got {text!r}")
        values.append(value)
    return values[0] if len(parts) == 1 else values


def _parse_assignments(result, items: list[str]) -> dict:
    allowed = result.arg_names
    out = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"expected name=value, got {item!r}")
        if name not in allowed:
            raise UsageError(f"{result.id} has no argument {name!r}; its arguments: {', '.join(allowed) or '(none)'}")
        if name in out:
            raise UsageError(f"{name} given twice")
        out[name] = _parse_value(name, text.strip())
    missing = [n for n in allowed if n not in out]
    if missing:
        raise UsageError(f"{result.id} needs {', '.join(missing)} (arguments: {', '.join(allowed)})")
    return out


def _evaluate(args) -> int:
    import numpy as np

    from bounds import catalog
    from bounds.cliutil import emit_json
    from bounds.result import DomainError, FloatRangeError

    try:
        result = catalog.get(args.eval)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    values = _parse_assignments(result, args.values)
    lengths = {len(v) for v in values.values() if isinstance(v, list)}
    if len(lengths) > 1:
        raise UsageError(f"comma lists must have the same length, got lengths {sorted(lengths)}")
    try:  # the result's assumptions, then a value that is never a silent NaN or inf
        value = result.checked(**values)
    except (DomainError, FloatRangeError) as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        emit_json({"id": result.id, "formula": result.formula_text(), "inputs": values,
                   "value": np.asarray(value).tolist(), "units": result.units})
        return 0
    print(f"[{result.id}] {result.formula_text()}")
    if values:
        print("  " + ", ".join(f"{k} = {v}" for k, v in values.items()))
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    print(f"  {result.lhs} {result.relation} " + ", ".join(f"{x:.6g}" for x in arr)
          + (f"  [{result.units}]" if result.units else ""))
    return 0


def run(args) -> int:
    """List the bounds, or evaluate one (``--eval``)."""
    if args.eval is not None:
        if args.latex or args.markdown:
            flag = "--latex" if args.latex else "--markdown"
            raise UsageError(f"{flag} lists formulas; it does not combine with --eval")
        return _evaluate(args)
    if args.values:
        raise UsageError(f"unexpected arguments {' '.join(args.values)!r} (name=value needs --eval ID)")
    if args.markdown:
        if args.all:
            raise UsageError("--markdown always includes the derived quantities; drop --all")
        from bounds import theory_doc

        sys.stdout.write(theory_doc.generate())
        return 0
    from bounds import catalog

    results = catalog.all_results(derived=args.all)
    if args.json:
        from bounds.cliutil import emit_json

        emit_json({"results": [res.to_dict() for res in results]})
        return 0
    for res in results:
        indent = "    " if res.derived_from else ""
        if args.latex:
            print(f"{indent}% [{res.id}] {res.title}\n{indent}{res.latex}")
            continue
        print(f"{indent}[{res.id}] {res.title}: {res.statement}")
        print(f"{indent}    {res.formula_text()}")
        for item in res.assumptions:
            print(f"{indent}    - {item}")
        print(f"{indent}    ref: {res.reference}; args: {', '.join(res.arg_names) or '(none)'}")
    return 0
