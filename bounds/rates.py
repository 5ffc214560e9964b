"""Rate forms (a, b) of the variance term V(r, N) = c r^a N^{-b} (docs/theory.md, R): plain numbers, no sympy.

``paper`` = G1, the paper's claimed p(r)/sqrt(N): (1, 1/2); ``covering`` = G2's sqrt(p(r)/N) up to logs: (1/2, 1/2);
``fast`` = p(r)/N, the well-specified reduced-rank regression rate: (1, 1).
"""
from __future__ import annotations

#: rate form name -> (a, b)
RATE_FORMS: dict[str, tuple[float, float]] = {"paper": (1.0, 0.5), "covering": (0.5, 0.5), "fast": (1.0, 1.0)}

#: rate form name -> where it comes from
RATE_FORM_SOURCE: dict[str, str] = {
    "paper": "G1, the paper's claimed rate p(r)/sqrt(N)",
    "covering": "G2, the covering-number rate sqrt(p(r)/N) up to logs",
    "fast": "fast rate p(r)/N (well-specified reduced-rank regression)",
}
