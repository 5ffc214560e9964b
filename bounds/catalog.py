"""The one catalog of docs/theory.md's results: ``get(id)`` and ``all_results()``.

Every bound, identity and derived quantity lives here exactly once (as a :class:`bounds.result.Result`);
other code evaluates it through the catalog, never by retyping the formula::

    from bounds import catalog
    catalog.get("G2")(B=5.5, p=1e6, N=1e4, rho=1.0, R=10.0, delta=0.05)

Results are derived lazily per family (C, G, R, I) and cached, so asking for G2 never pays for the sympy
solves of C1 or R1.
"""
from __future__ import annotations

import importlib
from functools import lru_cache

#: docs/theory.md's results in display order
PRIMARY_IDS: tuple[str, ...] = ("C1", "C2", "G1", "G2", "G3", "R1", "R2", "R3", "I1", "I2", "I3", "GaussianMI")

#: family module of each id prefix
_FAMILY = {"C": "bounds.convergence", "G": "bounds.generalization", "R": "bounds.rank",
           "I": "bounds.information", "GaussianMI": "bounds.information"}


def _family_module(result_id: str) -> str | None:
    if result_id.startswith("GaussianMI"):
        return _FAMILY["GaussianMI"]
    return _FAMILY.get(result_id[:1]) if result_id[:1] in "CGRI" and result_id[1:2] in "123." else None


@lru_cache(maxsize=None)
def _family(module_name: str) -> dict:
    module = importlib.import_module(module_name)
    return {res.id: res for res in module.results()}


def get(result_id: str):
    """The :class:`~bounds.result.Result` with this id (e.g. ``"G2"``, ``"C1.eta_star"``); ``KeyError`` if unknown."""
    module_name = _family_module(result_id)
    family = _family(module_name) if module_name else {}
    if result_id not in family:
        raise KeyError(f"unknown result id {result_id!r}; known: {', '.join(PRIMARY_IDS)} and their derived "
                       "ids (listed by `lrkd bounds --all`)")
    return family[result_id]


def all_results(derived: bool = False) -> list:
    """docs/theory.md's results (C1 ... GaussianMI) in order; with ``derived=True`` each is followed by its derived
    quantities (eta*, gamma, alpha for gamma = 1/2, loss ranges, Gaussian forms, ...)."""
    out = []
    for rid in PRIMARY_IDS:
        out.append(get(rid))
        if derived:
            family = _family(_family_module(rid))
            out.extend(res for res in family.values() if res.derived_from == rid)
    return out


def all_ids(derived: bool = True) -> list[str]:
    """Every id :func:`get` accepts (primary ids first when ``derived=False``)."""
    if not derived:
        return list(PRIMARY_IDS)
    return [res.id for res in all_results(derived=True)]
